"""The value of every draft field for one client, from its decision, facts and events (pure).

The fields themselves, what each means and how values are written, are
documented in :mod:`clientrules.domain.drafts.fields`.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, TypeVar

from clientrules.domain.events import (
    ClientOnboarded,
    ClientReferredOut,
    ContractBreached,
    ContractSigned,
    DeadlineMissed,
    DepositReceived,
    DepositRequested,
    Event,
    FollowUpSent,
    Instant,
    IncidentReported,
    InvoiceIssued,
    InvoiceVoided,
    NeedOutgrown,
    Payload,
    PaymentReceived,
    PlanAgreed,
    ScopeChangeRequested,
)
from clientrules.domain.drafts.fields import DraftSettings, FieldValue, empty_fields
from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT, plain_date
from clientrules.domain.facts import Facts
from clientrules.domain.money import DEFAULT_CURRENCY, DEFAULT_NUMBER_FORMAT, client_currency, format_money
from clientrules.domain.next_steps.notice import PHASE_OUT_SHARE, Notice, notice_for
from clientrules.domain.next_steps.situations import NOT_THE_RIGHT_FIT, situations_of

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
    business_currency: str = DEFAULT_CURRENCY,
    date_format: str = DEFAULT_DATE_FORMAT,
    number_format: str = DEFAULT_NUMBER_FORMAT,
) -> dict[str, FieldValue]:
    """The value of every field of :data:`~clientrules.domain.drafts.fields.FIELDS` for ``decision``'s client.

    ``facts`` are those ``decision`` was reached from: the evidence lists come
    from them. Everything else reads the events up to ``as_of`` (default: ``facts.as_of``).
    The client reads the drafts: ``reasons`` names the situation in their terms
    (:mod:`~clientrules.domain.next_steps.situations`), never a rule's id or
    description. Amounts carry the currency of their invoice, else the
    client's, else ``business_currency``; dates and amounts are written as ``date_format`` and
    ``number_format`` say.
    """
    moment = facts.as_of if as_of is None else as_of
    day = functools.partial(plain_date, date_format=date_format)
    today = moment.date
    history = _History([event for event in events if event.at <= moment], facts)
    currency = client_currency(history.events, business_currency)
    onboarded = history.latest(ClientOnboarded)
    first = history.first_at()
    contract = history.latest(ContractSigned)
    plan = history.latest(PlanAgreed)
    referral = history.latest(ClientReferredOut)
    need = history.latest(NeedOutgrown)
    phase_out = facts.get("revenue_share", 0.0) >= PHASE_OUT_SHARE
    notice = notice_for(contract, today, default_days=settings.notice_days, phase_out=phase_out)
    unpaid = [
        (invoice, history.owed(invoice))
        for _, invoice in history.cited(InvoiceIssued, "open_invoices")
        if invoice.invoice_id not in history.voided
    ]
    overdue = [(invoice, amount) for invoice, amount in unpaid if invoice.due_on < today]
    not_yet_due = [(invoice, amount) for invoice, amount in unpaid if invoice.due_on >= today]
    requested = sum((_exact(deposit.amount) for _, deposit in history.all(DepositRequested)), Decimal(0))
    received = sum((_exact(deposit.amount) for _, deposit in history.all(DepositReceived)), Decimal(0))
    breach = history.latest_within(ContractBreached, moment, days=365)
    incident = history.latest_within(IncidentReported, moment, days=365)
    hours, unbillable = facts.get("hours_90d", 0.0), facts.get("unbillable_hours_90d", 0.0)
    review_on = plan[1].review_on if plan and plan[1].review_on else today + dt.timedelta(days=30)
    money = functools.partial(_money, default=currency, number_format=number_format)
    unanswered = history.cited(FollowUpSent, "unanswered_followups")
    situations = situations_of(decision, history.by_id)
    values = empty_fields()
    values.update(
        client_id=decision.client,
        client_name=onboarded[1].name if onboarded else decision.client,
        business=settings.business,
        signature=settings.signature or settings.business,
        today=day(today),
        client_since=day(first.date) if first else "",
        verdict=decision.reached.replace("_", " "),
        reasons=[
            _topic(situation, need[1].need if need else "", breach[1].clause if breach else "", unanswered, day)
            for situation in situations or (NOT_THE_RIGHT_FIT,)
        ],
        advice=list(decision.advice),
        options=_options(decision),
        late_invoices=[
            history.late_invoice(invoice, today, money, day)
            for _, invoice in history.cited(InvoiceIssued, "late_invoices_12m", "late_after_latest_remedy")
            if invoice.invoice_id not in history.voided
        ],
        open_invoices=[
            {
                "id": invoice.invoice_id,
                "amount": money(invoice.amount, invoice.currency),
                "owed": money(amount, invoice.currency),
                "due_on": day(invoice.due_on),
            }
            for invoice, amount in unpaid
        ],
        owed_to_us=_total(unpaid, currency, money),
        overdue_invoices=[
            {
                "id": invoice.invoice_id,
                "owed": money(amount, invoice.currency),
                "due_on": day(invoice.due_on),
                "days_overdue": (today - invoice.due_on).days,
            }
            for invoice, amount in overdue
        ],
        overdue_total=_total(overdue, currency, money),
        invoices_not_yet_due=[
            {"id": invoice.invoice_id, "owed": money(amount, invoice.currency), "due_on": day(invoice.due_on)}
            for invoice, amount in not_yet_due
        ],
        not_yet_due_total=_total(not_yet_due, currency, money),
        deposits_requested=[
            {"amount": money(deposit.amount), "purpose": deposit.for_ or "", "on": day(at.date)}
            for at, deposit in history.all(DepositRequested)[-MAX_LIST_ITEMS:]
        ],
        deposits_received=money(received) if received else "",
        deposit_outstanding=money(requested - received) if requested > received else "",
        unpaid_scope_changes=[
            {"description": change.description, "on": day(at.date)}
            for at, change in history.cited(
                ScopeChangeRequested, "unpaid_scope_changes_90d", "unpaid_scope_changes_since_plan"
            )
        ],
        hours=f"{hours:g}" if hours else "",
        unbillable_hours=f"{unbillable:g}" if unbillable else "",
        unbillable_share=f"{round(100 * unbillable / hours)}%" if hours else "0%",
        unanswered_followups=[{"topic": followup.topic, "on": day(at.date)} for at, followup in unanswered],
        silent_days=int(facts.get("silent_days", 0)),
        missed_deadlines=[
            {"deliverable": missed.deliverable, "on": day(at.date)}
            for at, missed in history.within(DeadlineMissed, moment, days=365)[-MAX_LIST_ITEMS:]
        ],
        breached_clause=breach[1].clause if breach else "",
        breached_on=day(breach[0].date) if breach else "",
        incident_on=day(incident[0].date) if incident else "",
        contract_id=contract[1].contract_id if contract else "",
        contract_ends_on=day(contract[1].ends_on) if contract and contract[1].ends_on else "",
        contract_in_force=notice.contract is not None,
        contract_auto_renews=bool(notice.contract and notice.contract.auto_renews),
        notice_days=notice.days,
        notice_by=day(notice.give_by),
        last_day_of_work=day(notice.last_day),
        notice_text=notice_text(notice, today, date_format),
        phase_out=phase_out,
        currency=currency,
        outgrown_need=need[1].need if need else "",
        partner=referral[1].partner if referral else settings.partner,
        plan_summary=plan[1].summary if plan else "",
        review_on=day(review_on),
    )
    return values


def notice_text(notice: Notice, today: dt.date, date_format: str = DEFAULT_DATE_FORMAT) -> str:
    """The notice in words for the client: the contract's end, a non-renewal, its notice period, or ours."""
    last_day = plain_date(notice.last_day, date_format)
    terms = notice.contract
    ours = f"our contract ({terms.contract_id})" if terms else ""
    if terms and terms.auto_renews:
        return (f"This letter is our notice that we will not renew {ours} when its term ends on {last_day}. "
                "We will fulfil it as promised until then; that will be our last day of work for you.")
    if terms and notice.at_contract_end:
        return f"We will fulfil {ours} as promised, until {last_day}. That will be our last day of work for you."
    if terms and terms.ends_on is not None:
        return (f"{ours.capitalize()} ends on {plain_date(terms.ends_on, date_format)}; to give you time to arrange what comes "
                f"next, we will keep working for you until {last_day}, our last day of work for you.")
    if terms:
        return (f"As {ours} provides, this letter gives you {notice.days} days' notice: "
                f"our last day of work for you will be {last_day}.")
    if notice.last_day == today:
        return "Today is our last day of work for you."
    return f"This letter gives you {notice.days} days' notice: our last day of work for you will be {last_day}."


def _topic(
    situation: str, need: str, clause: str, unanswered: list[tuple[Instant, FollowUpSent]], day: Callable[[dt.date], str]
) -> str:
    """What a draft says it is about, in the client's terms (``day`` writes a date)."""
    if situation == "breach":
        return f"our contract: {clause}" if clause else "our contract"
    if situation == "silence":
        since = f" since {day(unanswered[0][0].date)}" if unanswered else ""
        return f"staying in touch: our messages{since} are still waiting for an answer"
    if situation == "outgrown":
        return f"what you need now: {need}" if need else "what you need now"
    return _TOPICS[situation]


#: what a draft is about, by situation (those that name a detail are worded in :func:`_topic`)
_TOPICS: Mapping[str, str] = {
    "conduct": "how we work together: the way we speak to each other, and what each side needs",
    "late_payment": "payments: invoices paid after their due date",
    "unprofitable": "the scope of the work: extra requests and time beyond what we agreed",
    "our_side": "where we fell short: work delivered late and answers that took too long",
    NOT_THE_RIGHT_FIT: "how we work together",
}


def _money(amount: Decimal | float, currency: str | None = None, *, default: str, number_format: str) -> str:
    """``1,000.00 EUR``: an amount as the client reads it, in ``currency`` (else ``default``, the client's)."""
    return format_money(amount, currency or default, number_format)


def _total(invoices: list[tuple[InvoiceIssued, Decimal]], currency: str, money: Callable[..., str]) -> str:
    """The sum of what is owed on ``invoices``, per currency (``1,000.00 EUR and 50.00 USD``; empty when none),
    each written with ``money``."""
    sums: dict[str, Decimal] = {}
    for invoice, amount in invoices:
        code = invoice.currency or currency
        sums[code] = sums.get(code, Decimal(0)) + amount
    return " and ".join(money(amount, code) for code, amount in sums.items() if amount)


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
        self.voided = {voided.invoice_id for _, voided in self.all(InvoiceVoided)}
        self.payments: dict[str, list[tuple[Instant, Decimal]]] = {}
        for at, payment in self.all(PaymentReceived):
            self.payments.setdefault(payment.invoice_id, []).append((at, _exact(payment.amount)))

    def all(self, kind: type[P]) -> list[tuple[Instant, P]]:
        return [(event.at, event.payload) for event in self.events if isinstance(event.payload, kind)]

    def latest(self, kind: type[P]) -> tuple[Instant, P] | None:
        found = self.all(kind)
        return found[-1] if found else None

    def within(self, kind: type[P], moment: Instant, *, days: int) -> list[tuple[Instant, P]]:
        """The events of type ``kind`` in the ``days`` days up to ``moment``, oldest first."""
        horizon = moment.key - days * 86_400_000_000
        return [(at, payload) for at, payload in self.all(kind) if at.key > horizon]

    def latest_within(self, kind: type[P], moment: Instant, *, days: int) -> tuple[Instant, P] | None:
        found = self.within(kind, moment, days=days)
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

    def late_invoice(
        self, invoice: InvoiceIssued, today: dt.date, money: Callable[..., str], day: Callable[[dt.date], str]
    ) -> dict[str, Any]:
        _, paid_on = self.settled(invoice)
        return {
            "id": invoice.invoice_id,
            "amount": money(invoice.amount, invoice.currency),
            "due_on": day(invoice.due_on),
            "paid_on": day(paid_on) if paid_on else "",
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

