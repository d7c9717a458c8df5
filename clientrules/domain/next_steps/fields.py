"""The value of every draft field for one client, from its decision, facts and events (pure).

The fields themselves, what each means and how values are written, are
documented in :mod:`clientrules.domain.drafts.fields`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Mapping, TypeVar

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
from clientrules.domain.drafts.fields import DraftSettings, FieldValue, empty_fields, plain_amount, plain_date
from clientrules.domain.facts import Facts

if TYPE_CHECKING:
    from clientrules.domain.decisions.model import Decision

#: items kept in a list field (the most recent ones): a draft stays readable and bounded
MAX_LIST_ITEMS = 50


def draft_fields(
    decision: Decision,
    facts: Facts,
    events: Iterable[Event],
    settings: DraftSettings = DraftSettings(),
    *,
    as_of: Instant | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, FieldValue]:
    """The value of every field of :data:`~clientrules.domain.drafts.fields.FIELDS` for ``decision``'s client.

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
        verdict=decision.reached.replace("_", " "),
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

