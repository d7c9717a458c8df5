"""The fields a draft template can use, documented, and their values for one client (pure).

A draft is filled from plain values only: text, numbers, true/false, and lists
of records (plain dicts) whose keys are documented here. Dates and amounts are
already written in plain words ("15 December 2025", "1,000.00"), so a template
never needs to format anything. :data:`FIELDS` is the whole set: a template
that uses another name is refused when the rule file is checked.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Mapping, TypeVar, Union

import attrs

from clientrules.domain.events import (
    ClientOnboarded,
    ClientReferredOut,
    ContractSigned,
    DepositReceived,
    DepositRequested,
    Event,
    FollowUpSent,
    Instant,
    InvoiceIssued,
    NeedOutgrown,
    Payload,
    PaymentReceived,
    PlanAgreed,
    ScopeChangeRequested,
)
from clientrules.domain.facts import Facts

if TYPE_CHECKING:
    from clientrules.domain.decisions.model import Decision

FieldValue = Union[str, int, float, bool, list]
#: items kept in a list field (the most recent ones): a draft stays readable and bounded
MAX_LIST_ITEMS = 50
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


def draft_fields(
    decision: Decision,
    facts: Facts,
    events: Iterable[Event],
    settings: DraftSettings = DraftSettings(),
    *,
    as_of: Instant | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, FieldValue]:
    """The value of every field of :data:`FIELDS` for ``decision``'s client.

    ``facts`` are those ``decision`` was reached from: the evidence lists come
    from them. Everything else reads the events up to ``as_of`` (default: ``facts.as_of``).
    ``descriptions`` (rule id to description) word the reasons; a rule without
    one is worded by its reason's sentence.
    """
    moment = facts.as_of if as_of is None else as_of
    today = moment.date
    history = _History([event for event in events if event.at <= moment], facts)
    onboarded = history.latest(ClientOnboarded)
    first = history.first_at()
    contract = history.latest(ContractSigned)
    plan = history.latest(PlanAgreed)
    referral = history.latest(ClientReferredOut)
    need = history.latest(NeedOutgrown)
    ends_on = contract[1].ends_on if contract else None
    in_force = contract is not None and (ends_on is None or ends_on >= today)
    last_day = ends_on if in_force and ends_on is not None else today + dt.timedelta(days=settings.notice_days)
    verdict_reasons = [reason for reason in decision.reasons if reason.verdict == decision.verdict]
    unpaid = [(invoice, history.owed(invoice)) for _, invoice in history.cited(InvoiceIssued, "open_invoices")]
    owed = sum((amount for _, amount in unpaid), Decimal(0))
    received = sum((_exact(deposit.amount) for _, deposit in history.all(DepositReceived)), Decimal(0))
    hours, unbillable = facts.get("hours_90d", 0.0), facts.get("unbillable_hours_90d", 0.0)
    review_on = plan[1].review_on if plan and plan[1].review_on else today + dt.timedelta(days=30)
    values = empty_fields()
    values.update(
        client_id=decision.client,
        client_name=onboarded[1].name if onboarded else decision.client,
        business=settings.business,
        signature=settings.signature or settings.business,
        today=plain_date(today),
        client_since=plain_date(first.date) if first else "",
        verdict=decision.verdict.replace("_", " "),
        reasons=[(descriptions or {}).get(reason.rule) or reason.sentence for reason in verdict_reasons],
        advice=list(decision.advice),
        options=_options(decision),
        late_invoices=[
            history.late_invoice(invoice, today)
            for _, invoice in history.cited(InvoiceIssued, "late_invoices_12m", "late_after_latest_remedy")
        ],
        open_invoices=[
            {
                "id": invoice.invoice_id,
                "amount": plain_amount(invoice.amount),
                "owed": plain_amount(amount),
                "due_on": plain_date(invoice.due_on),
            }
            for invoice, amount in unpaid
        ],
        owed_to_us=plain_amount(owed) if owed else "",
        deposits_requested=[
            {"amount": plain_amount(deposit.amount), "purpose": deposit.for_ or "", "on": plain_date(at.date)}
            for at, deposit in history.all(DepositRequested)[-MAX_LIST_ITEMS:]
        ],
        deposits_received=plain_amount(received) if received else "",
        unpaid_scope_changes=[
            {"description": change.description, "on": plain_date(at.date)}
            for at, change in history.cited(
                ScopeChangeRequested, "unpaid_scope_changes_90d", "unpaid_scope_changes_since_plan"
            )
        ],
        hours=f"{hours:g}" if hours else "",
        unbillable_hours=f"{unbillable:g}" if unbillable else "",
        unbillable_share=f"{round(100 * unbillable / hours)}%" if hours else "0%",
        unanswered_followups=[
            {"topic": followup.topic, "on": plain_date(at.date)}
            for at, followup in history.cited(FollowUpSent, "unanswered_followups")
        ],
        silent_days=int(facts.get("silent_days", 0)),
        contract_id=contract[1].contract_id if contract else "",
        contract_ends_on=plain_date(ends_on) if ends_on else "",
        contract_in_force=in_force,
        last_day_of_work=plain_date(last_day),
        outgrown_need=need[1].need if need else "",
        partner=referral[1].partner if referral else settings.partner,
        plan_summary=plan[1].summary if plan else "",
        review_on=plain_date(review_on),
    )
    return values


P = TypeVar("P", bound=Payload)


def _exact(amount: float) -> Decimal:
    """An amount as the decimal it was written as (``0.1`` is exactly one tenth)."""
    return Decimal(str(amount))


class _History:
    """One client's events up to a moment, read by payload type, and what the facts cite."""

    def __init__(self, events: list[Event], facts: Facts) -> None:
        self.events = events
        self.facts = facts
        self.by_id = {event.id: event for event in events}
        self.payments: dict[str, list[tuple[Instant, Decimal]]] = {}
        for at, payment in self.all(PaymentReceived):
            self.payments.setdefault(payment.invoice_id, []).append((at, _exact(payment.amount)))

    def all(self, kind: type[P]) -> list[tuple[Instant, P]]:
        return [(event.at, event.payload) for event in self.events if isinstance(event.payload, kind)]

    def latest(self, kind: type[P]) -> tuple[Instant, P] | None:
        found = self.all(kind)
        return found[-1] if found else None

    def first_at(self) -> Instant | None:
        """When the relationship started: the first ClientOnboarded, else the first event of the owner's."""
        onboarded = self.all(ClientOnboarded)
        if onboarded:
            return onboarded[0][0]
        return next((event.at for event in self.events if not event.payload.SYSTEM), None)

    def cited(self, kind: type[P], *fact_names: str) -> list[tuple[Instant, P]]:
        """The events of type ``kind`` behind the facts ``fact_names``, oldest first (the latest :data:`MAX_LIST_ITEMS`)."""
        ids = dict.fromkeys(i for name in fact_names for i in self.facts.evidence.get(name, ()))
        events = sorted((self.by_id[i] for i in ids if i in self.by_id), key=lambda event: event.at)
        return [(event.at, event.payload) for event in events if isinstance(event.payload, kind)][-MAX_LIST_ITEMS:]

    def settled(self, invoice: InvoiceIssued) -> tuple[Decimal, dt.date | None]:
        """What was paid towards ``invoice``, and the date it became fully paid (None while it is not)."""
        amount = _exact(invoice.amount)
        running = Decimal(0)
        for at, paid in sorted(self.payments.get(invoice.invoice_id, ()), key=lambda payment: payment[0]):
            running += paid
            if running >= amount:
                return running, at.date
        return running, None

    def owed(self, invoice: InvoiceIssued) -> Decimal:
        paid, _ = self.settled(invoice)
        return max(_exact(invoice.amount) - paid, Decimal(0))

    def late_invoice(self, invoice: InvoiceIssued, today: dt.date) -> dict[str, Any]:
        _, paid_on = self.settled(invoice)
        return {
            "id": invoice.invoice_id,
            "amount": plain_amount(invoice.amount),
            "due_on": plain_date(invoice.due_on),
            "paid_on": plain_date(paid_on) if paid_on else "",
            "days_late": ((paid_on or today) - invoice.due_on).days,
        }


#: the option offered when silence is the problem: no new terms, only a talk
TALK_ONLY = "a simple way to stay in touch: who answers, and how quickly"
#: what to offer, by the facts behind the decision (any rule reading them, the owner's own included)
_OPTIONS: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (
        frozenset({"late_invoices_12m", "late_after_latest_remedy", "remedy_since_first_late", "overdue_amount"}),
        ("upfront payment or a deposit before work starts", "a payment plan for what is owed"),
    ),
    (
        frozenset({
            "hours_90d", "unbillable_hours_90d", "unbillable_share_90d", "unpaid_scope_changes_90d",
            "hours_since_plan", "unbillable_hours_since_plan", "unbillable_share_since_plan",
            "unpaid_scope_changes_since_plan",
        }),
        ("a new rate for extra work", "a written SOP: what is included, and how changes are quoted before work starts"),
    ),
    (
        frozenset({"unanswered_followups", "silent_days", "unanswered_messages", "reply_days_median_90d"}),
        (TALK_ONLY,),
    ),
)


def _options(decision: Decision) -> list[str]:
    used = {name for reason in decision.reasons for name in reason.facts}
    return [option for facts, options in _OPTIONS if used & facts for option in options]

