"""The fields a draft template can use, documented, and how their values are written (pure).

A draft is filled from plain values only: text, numbers, true/false, and lists
of records (plain dicts) whose keys are documented here. Dates and amounts are
already written in plain words ("15 December 2025", "1,000.00"), so a template
never needs to format anything. :data:`FIELDS` is the whole set: a template
that uses another name is refused when the rule file is checked. Their values
for one client come from :func:`clientrules.domain.next_steps.fields.draft_fields`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping, Union

import attrs

FieldValue = Union[str, int, float, bool, list[Any]]
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


@attrs.frozen
class FieldDoc:
    """One field of the drafts: what it means, an example value, and for a list of records its keys."""

    meaning: str
    example: FieldValue
    keys: Mapping[str, str] | None = None

    @property
    def empty(self) -> FieldValue:
        """The value the field has when the client's history holds nothing for it."""
        if isinstance(self.example, bool):
            return False
        if isinstance(self.example, (int, float)):
            return 0
        return [] if isinstance(self.example, list) else ""


def _records(meaning: str, keys: Mapping[str, str], *examples: Mapping[str, Any]) -> FieldDoc:
    return FieldDoc(meaning, [dict(example) for example in examples], keys)


#: Every field a draft template may use.
FIELDS: dict[str, FieldDoc] = {
    "client_id": FieldDoc("the client's id in the ledger", "acme-late"),
    "client_name": FieldDoc(
        "the client's name (from ClientOnboarded; the id when there is none; [erased] once erased)", "Acme Wholesale"
    ),
    "business": FieldDoc("your business's name (business in [drafts]; empty when not set)", "Atelier Marie"),
    "signature": FieldDoc("who signs the notes (signature in [drafts], else business)", "Marie, Atelier Marie"),
    "today": FieldDoc("the date the steps are worked out for", "1 June 2026"),
    "client_since": FieldDoc("the date the relationship started", "1 September 2025"),
    "verdict": FieldDoc(
        "the decision in plain words: keep, renegotiate, refer out or terminate", "renegotiate"
    ),
    "reasons": FieldDoc(
        "why, in the words of each rule that gave the verdict (its description)",
        ["A chronic late payer nobody has talked to yet"],
    ),
    "advice": FieldDoc(
        "the advice of the rules that gave the verdict", ["Offer a payment plan or ask for upfront payment."]
    ),
    "options": FieldDoc(
        "what to offer, from the kind of problem (upfront payment, a new rate, a written SOP...)",
        ["upfront payment or a deposit before work starts"],
    ),
    "late_invoices": _records(
        "the late invoices behind the decision (last 12 months), oldest first",
        {
            "id": "the invoice id",
            "amount": "its amount",
            "due_on": "its due date",
            "paid_on": "the date it was fully paid (empty while unpaid)",
            "days_late": "days between the due date and the payment (or today, while unpaid)",
        },
        {"id": "INV-2", "amount": "1,000.00", "due_on": "14 January 2026", "paid_on": "4 February 2026", "days_late": 21},
    ),
    "open_invoices": _records(
        "invoices not fully paid yet, oldest first",
        {"id": "the invoice id", "amount": "its amount", "owed": "what is still owed on it", "due_on": "its due date"},
        {"id": "INV-7", "amount": "1,000.00", "owed": "1,000.00", "due_on": "8 April 2026"},
    ),
    "owed_to_us": FieldDoc("the total still owed on the open invoices (empty when nothing is owed)", "1,000.00"),
    "deposits_requested": _records(
        "deposits asked for, oldest first",
        {"amount": "the amount asked for", "purpose": "what it was for (may be empty)", "on": "when it was asked for"},
        {"amount": "1,920.00", "purpose": "pre-production samples", "on": "8 April 2026"},
    ),
    "deposits_received": FieldDoc("the total of the deposits received (empty when none)", "1,920.00"),
    "unpaid_scope_changes": _records(
        "extra work they asked for and would not pay for, behind the decision",
        {"description": "what was asked", "on": "when"},
        {"description": "extra banner sizes", "on": "2 April 2026"},
    ),
    "hours": FieldDoc("hours worked for them in the last 90 days (empty when none)", "50"),
    "unbillable_hours": FieldDoc("of those, the hours that could not be billed (empty when none)", "20"),
    "unbillable_share": FieldDoc("the unbillable share of those hours, as a percentage", "40%"),
    "unanswered_followups": _records(
        "our follow-ups they have not answered, oldest first",
        {"topic": "what we asked about", "on": "when"},
        {"topic": "summer catalogue brief", "on": "28 April 2026"},
    ),
    "silent_days": FieldDoc("days since the first unanswered follow-up (0 when none)", 34),
    "contract_id": FieldDoc("the latest contract's id (empty when there is none)", "C-77"),
    "contract_ends_on": FieldDoc("the date the latest contract ends (empty when none or open-ended)", "31 December 2026"),
    "contract_in_force": FieldDoc("true while the latest contract runs", True),
    "last_day_of_work": FieldDoc(
        "the last day of work when ending it: the contract's end while one runs, else today plus notice_days",
        "31 December 2026",
    ),
    "outgrown_need": FieldDoc(
        "the need they outgrew us with (the latest NeedOutgrown)", "24/7 support across three continents"
    ),
    "partner": FieldDoc(
        "the company to refer them to (the latest ClientReferredOut, else partner in [drafts]; may be empty)",
        "Big Support Co",
    ),
    "plan_summary": FieldDoc("the latest plan agreed (empty when none)", "change requests quoted before work starts"),
    "review_on": FieldDoc(
        "when to review the plan: the latest plan's review date, else today plus 30 days", "1 July 2026"
    ),
}


def plain_date(day: dt.date) -> str:
    """``15 December 2025``: a date as owners write it, the same in every locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def plain_amount(amount: Decimal | float) -> str:
    """``1,000.00``: two decimals with thousands separators."""
    return f"{Decimal(str(amount)):,.2f}"


def sample_fields() -> dict[str, FieldValue]:
    """Every field with its documented example value."""
    return {name: doc.example for name, doc in FIELDS.items()}


def empty_fields() -> dict[str, FieldValue]:
    """Every field as it reads for a client whose history holds nothing for it."""
    return {name: doc.empty for name, doc in FIELDS.items()}


@attrs.frozen
class DraftSettings:
    """What the owner sets in ``[drafts]`` besides the templates."""

    business: str = ""
    signature: str = ""
    partner: str = ""
    #: days of notice when ending a client with no contract running
    notice_days: int = 14
