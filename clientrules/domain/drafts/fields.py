"""The fields a draft template can use, documented, and how their values are written (pure).

A draft is filled from plain values only: text, numbers, true/false, and lists
of records (plain dicts) whose keys are documented here. Dates and amounts are
already written in plain words ("15 December 2025", "1,000.00 EUR"), so a template
never needs to format anything. :data:`FIELDS` is the whole set: a template
that uses another name is refused when the rule file is checked. Their values
for one client come from :func:`clientrules.domain.next_steps.fields.draft_fields`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Union

import attrs


FieldValue = Union[str, int, float, bool, list[Any]]


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
        "what the draft is about, in the client's terms (never the rules' ids or descriptions, which are yours)",
        ["payments: invoices paid after their due date"],
    ),
    "advice": FieldDoc(
        "the advice of the rules that gave the verdict: words for you, not for the client",
        ["Offer a payment plan or ask for upfront payment."],
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
        {"id": "INV-2", "amount": "1,000.00 EUR", "due_on": "14 January 2026", "paid_on": "4 February 2026", "days_late": 21},
    ),
    "open_invoices": _records(
        "invoices not fully paid yet, oldest first (a voided invoice never)",
        {"id": "the invoice id", "amount": "its amount", "owed": "what is still owed on it", "due_on": "its due date"},
        {"id": "INV-7", "amount": "1,000.00 EUR", "owed": "1,000.00 EUR", "due_on": "8 April 2026"},
    ),
    "owed_to_us": FieldDoc(
        "the total still owed on the open invoices, with its currency (empty when nothing is owed)", "1,000.00 EUR"
    ),
    "overdue_invoices": _records(
        "open invoices past their due date, oldest first (a voided invoice is never owed)",
        {
            "id": "the invoice id",
            "owed": "what is still owed on it",
            "due_on": "its due date",
            "days_overdue": "days since its due date",
        },
        {"id": "INV-5", "owed": "1,000.00 EUR", "due_on": "10 May 2026", "days_overdue": 22},
    ),
    "overdue_total": FieldDoc("the total owed on the overdue invoices (empty when none)", "1,000.00 EUR"),
    "invoices_not_yet_due": _records(
        "open invoices whose due date has not come yet, oldest first",
        {"id": "the invoice id", "owed": "what is still owed on it", "due_on": "its due date"},
        {"id": "INV-6", "owed": "800.00 EUR", "due_on": "30 June 2026"},
    ),
    "not_yet_due_total": FieldDoc("the total owed on invoices not yet due (empty when none)", "800.00 EUR"),
    "deposits_requested": _records(
        "deposits asked for, oldest first",
        {"amount": "the amount asked for", "purpose": "what it was for (may be empty)", "on": "when it was asked for"},
        {"amount": "1,920.00 EUR", "purpose": "pre-production samples", "on": "8 April 2026"},
    ),
    "deposits_received": FieldDoc("the total of the deposits received (empty when none)", "1,920.00 EUR"),
    "deposit_outstanding": FieldDoc(
        "deposits asked for and not received: what was asked for minus what arrived (empty when none)",
        "1,920.00 EUR",
    ),
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
    "missed_deadlines": _records(
        "deadlines we missed in the last 365 days, oldest first (our side)",
        {"deliverable": "what we delivered late", "on": "when"},
        {"deliverable": "spring catalogue layout", "on": "12 March 2026"},
    ),
    "breached_clause": FieldDoc(
        "the clause they broke (the latest ContractBreached of the last 365 days; empty when none)",
        "exclusivity (clause 4)",
    ),
    "breached_on": FieldDoc("the date of that breach (empty when none)", "3 April 2026"),
    "incident_on": FieldDoc(
        "the date of the latest incident of the last 365 days (empty when none; never its details)", "3 May 2026"
    ),
    "contract_id": FieldDoc("the latest contract's id (empty when there is none)", "C-77"),
    "contract_ends_on": FieldDoc("the date the latest contract ends (empty when none or open-ended)", "31 December 2026"),
    "contract_in_force": FieldDoc(
        "true while the latest contract runs (open-ended, before its end, or renewing at its end)", True
    ),
    "contract_auto_renews": FieldDoc("true when the contract in force renews at its end unless notice is given", False),
    "notice_days": FieldDoc(
        "the notice that applies when ending it, in days: the contract's, else notice_days in [drafts] "
        "(at least 30 for a client phased out)",
        30,
    ),
    "notice_by": FieldDoc(
        "the last day the notice can reach the client (today, unless a renewing contract leaves time)", "1 June 2026"
    ),
    "last_day_of_work": FieldDoc(
        "the last day of work when ending it: the end of a fixed contract, the end of the term a non-renewal "
        "notice reaches in time, else today plus the notice",
        "31 December 2026",
    ),
    "notice_text": FieldDoc(
        "the notice in one or two sentences, as the contract has it (its end, a non-renewal, its notice period) "
        "or your notice_days",
        "We will fulfil our contract (C-77) as promised, until 31 December 2026. "
        "That will be our last day of work for you.",
    ),
    "phase_out": FieldDoc(
        "true when the client brings at least 20% of the monthly revenue: phased out, with at least 30 days' notice",
        False,
    ),
    "currency": FieldDoc("the client's currency (its own, else your business's)", "EUR"),
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
