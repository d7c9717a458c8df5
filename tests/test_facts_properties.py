"""Differential test: the incremental fold against a plain recomputation of spec/playbook.md.

The reference below reads the spec literally, from the whole list of events,
every time: no indexes, no bisect, no caching. Whatever order the fold gets
the events in, and across a snapshot and restore, both must agree on every
fact and on the evidence of the facts the reference spells out.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientrules.domain.events import Event, Instant, registry
from clientrules.domain.facts import ClientFold, Facts, FactsError

DAY = dt.timedelta(days=1)
START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
SPAN_HOURS = 24 * 540
SEVERE = {"abuse", "harassment", "threat"}
REMEDIES = {"MeetingHeld", "PlanAgreed", "TermsRenegotiated"}


# --- the reference ---------------------------------------------------------------------------


def money(number) -> Decimal:
    return Decimal(str(number))


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def in_last(event: Event, days: int, t: Instant) -> bool:
    return t.utc - dt.timedelta(days=days) < event.at.utc <= t.utc


def whole_days(since: dt.datetime, t: Instant) -> int:
    return (t.utc - since) // DAY


def invoice_states(history: list[Event], t: Instant) -> list[dict]:
    """Every invoice issued as of ``t``: its first issue, when it was fully paid, and by which payments."""
    invoices: dict[str, dict] = {}
    for event in history:
        if event.type == "InvoiceIssued" and event.payload.invoice_id not in invoices:
            invoices[event.payload.invoice_id] = {"issue": event, "payments": []}
    for event in history:
        if event.type == "PaymentReceived" and event.payload.invoice_id in invoices:
            invoices[event.payload.invoice_id]["payments"].append(event)
    voided = {event.payload.invoice_id for event in history if event.type == "InvoiceVoided"}
    states = []
    for state in invoices.values():
        amount = money(state["issue"].payload.amount)
        paid_on, paying, received = None, [], Decimal(0)
        if amount == 0:
            paid_on = state["issue"].at.date
        for pay in state["payments"]:
            if paid_on is not None:
                break
            received += money(pay.payload.amount)
            paying.append(pay.id)
            if received >= amount:
                paid_on = pay.at.date
        due = state["issue"].payload.due_on
        voids = state["issue"].payload.invoice_id in voided
        state.update(amount=amount, received=received, paid_on=paid_on, paying=paying, due=due, voided=voids)
        states.append(state)
    return states


def is_late(state: dict, t: Instant, grace: int) -> bool:
    if state["voided"]:
        return False
    if state["paid_on"] is not None:
        return (state["paid_on"] - state["due"]).days > grace
    return (t.date - state["due"]).days > grace


def reference(events: list[Event], t: Instant, grace: int) -> tuple[dict, dict]:
    history = sorted((e for e in events if e.at <= t), key=lambda e: (e.at.utc, e.version))
    values: dict = {}
    evidence: dict = {}

    def of(*types: str) -> list[Event]:
        return [e for e in history if e.type in types]

    def count_in_last(name: str, days: int, chosen: list[Event]) -> None:
        inside = [e for e in chosen if in_last(e, days, t)]
        values[name] = len(inside)
        evidence[name] = {e.id for e in inside}

    onboarded = of("ClientOnboarded")
    business = [e for e in history if not e.payload.SYSTEM]
    if onboarded or business:
        values["tenure_days"] = whole_days((onboarded or business)[0].at.utc, t)

    invoices = invoice_states(history, t)
    late_12m = [
        s for s in invoices
        if t.utc - dt.timedelta(days=365) < midnight(s["due"]) <= t.utc and is_late(s, t, grace)
    ]
    values["late_invoices_12m"] = len(late_12m)
    evidence["late_invoices_12m"] = {s["issue"].id for s in late_12m} | {
        pay for s in late_12m for pay in (s["paying"] if s["paid_on"] else [p.id for p in s["payments"]])
    }
    remedies = of(*REMEDIES)
    if late_12m:
        first_due = midnight(min(s["due"] for s in late_12m))
        values["remedy_since_first_late"] = any(r.at.utc >= first_due for r in remedies)
    if remedies:
        latest = remedies[-1].at.utc
        values["late_after_latest_remedy"] = sum(
            1 for s in invoices if midnight(s["due"]) > latest and is_late(s, t, grace)
        )
    else:
        values["late_after_latest_remedy"] = 0

    replies = [i for i, e in enumerate(history) if e.type == "ClientReplied"]
    after_reply = replies[-1] + 1 if replies else 0
    unanswered = [e for e in history[after_reply:] if e.type == "FollowUpSent"]
    values["unanswered_followups"] = len(unanswered)
    evidence["unanswered_followups"] = {e.id for e in unanswered}
    if unanswered:
        first = unanswered[0]
        values["silent_days"] = whole_days(first.at.utc, t)
        evidence["silent_days"] = {first.id}
        before = history[: history.index(first)]
        incident_before = any(e.type == "IncidentReported" for e in before)
        then = first.at
        void_now = {s["issue"].id for s in invoices if s["voided"]}  # a void as of T clears the stain too
        late_then = any(
            is_late(s, then, grace) and s["issue"].id not in void_now
            for s in invoice_states([e for e in history if e.at <= then], then)
        )
        values["clean_before_silence"] = not incident_before and not late_then

    def hours(name: str, logs: list[Event], *behind: Event) -> None:
        total = sum((money(e.payload.hours) for e in logs), Decimal(0))
        unbilled = sum((money(e.payload.hours) for e in logs if not e.payload.billable), Decimal(0))
        values["hours" + name] = float(total)
        values["unbillable_hours" + name] = float(unbilled)
        values["unbillable_share" + name] = float(unbilled / total) if total else 0.0
        evidence["hours" + name] = {e.id for e in (*behind, *logs)}

    hours("_90d", [e for e in of("WorkLogged") if in_last(e, 90, t)])
    unpaid_scope = [e for e in of("ScopeChangeRequested") if not e.payload.paid]
    count_in_last("unpaid_scope_changes_90d", 90, unpaid_scope)
    plans = of("PlanAgreed")
    count_in_last("plans_180d", 180, plans)
    if plans:
        since = history[history.index(plans[-1]) + 1 :]
        values["plan_age_days"] = whole_days(plans[-1].at.utc, t)
        hours("_since_plan", [e for e in since if e.type == "WorkLogged"], plans[-1])
        values["unpaid_scope_changes_since_plan"] = sum(
            1 for e in since if e.type == "ScopeChangeRequested" and not e.payload.paid
        )
    incidents = of("IncidentReported")
    count_in_last("incidents_180d", 180, incidents)
    severe = [e for e in incidents if e.payload.against == "staff" and e.payload.kind in SEVERE]
    count_in_last("severe_staff_incidents_365d", 365, severe)
    serious = [
        e for e in incidents
        if (e.payload.kind in SEVERE and e.payload.severity >= 2) or e.payload.severity == 3
    ]
    count_in_last("serious_incidents_365d", 365, serious)
    count_in_last("contract_breaches_365d", 365, of("ContractBreached"))
    count_in_last("needs_outgrown_365d", 365, of("NeedOutgrown"))
    count_in_last("deadlines_missed_90d", 90, of("DeadlineMissed"))

    pending: list[Event] = []
    reply_days = []
    for event in history:
        if event.type == "ClientMessageReceived":
            pending.append(event)
        elif event.type == "ReplySent":
            if pending and in_last(event, 90, t):
                reply_days.append((event.at.utc - pending[0].at.utc) / DAY)
            pending = []
    if reply_days:
        values["reply_days_median_90d"] = statistics.median(reply_days)
    values["unanswered_messages"] = len(pending)
    evidence["unanswered_messages"] = {e.id for e in pending}

    open_ = [s for s in invoices if s["paid_on"] is None and not s["voided"]]
    values["open_invoices"] = len(open_)
    evidence["open_invoices"] = {s["issue"].id for s in open_}
    values["overdue_amount"] = float(
        sum((s["amount"] - s["received"] for s in open_ if (t.date - s["due"]).days > grace), Decimal(0))
    )
    values["relationship_ended"] = bool(of("RelationshipEnded"))
    valued = [e for e in history if e.type in ("ClientOnboarded", "TermsRenegotiated") and e.payload.monthly_value is not None]
    values["monthly_value"] = float(valued[-1].payload.monthly_value) if valued else 0.0
    evidence["monthly_value"] = {valued[-1].id} if valued else set()
    return values, evidence


# --- random histories ------------------------------------------------------------------------

def moments_within(span_hours: int) -> st.SearchStrategy[Instant]:
    """Moments from START to ``span_hours`` later, many at midnight, written with various offsets."""
    return st.builds(
        lambda hours, minutes, offset: Instant.from_datetime(
            (START + dt.timedelta(hours=hours, minutes=minutes)).astimezone(dt.timezone(dt.timedelta(hours=offset)))
        ),
        st.integers(0, span_hours).map(lambda h: h - h % 24 if h % 3 else h),
        st.sampled_from([0, 0, 0, 30, 59]),
        st.sampled_from([0, 0, 2, -5, 14]),
    )


moments = moments_within(SPAN_HOURS)
invoice_ids = st.sampled_from(["A", "B", "C", "D"])
amounts = st.sampled_from([0, 100, 250.5, 333.33, 1000, 999.99])
due_dates = st.dates(min_value=dt.date(2024, 12, 1), max_value=dt.date(2026, 8, 1)).map(dt.date.isoformat)

def payload(type_name: str, **fields) -> st.SearchStrategy[tuple[str, dict]]:
    """``(type, data)`` with each field drawn from its strategy."""
    return st.fixed_dictionaries(fields).map(lambda data: (type_name, data))


def fixed(type_name: str, **data) -> st.SearchStrategy[tuple[str, dict]]:
    return st.just((type_name, data))


PLAN = fixed("PlanAgreed", summary="x")
INCIDENT = payload(
    "IncidentReported",
    kind=st.sampled_from(["abuse", "harassment", "threat", "rude", "unreasonable_demand"]),
    against=st.sampled_from(["staff", "owner"]),
    severity=st.sampled_from([1, 1, 2, 3]),
)
INVOICE = payload("InvoiceIssued", invoice_id=invoice_ids, amount=amounts, due_on=due_dates)
PAYMENT = payload("PaymentReceived", invoice_id=invoice_ids, amount=amounts)
VOID = payload("InvoiceVoided", invoice_id=invoice_ids)
# Themes: a history mixes one to three of them, so the events of a theme meet often.
THEMES = {
    "money": [INVOICE, PAYMENT, PAYMENT, VOID],
    "remedies": [INVOICE, PAYMENT, fixed("MeetingHeld", topic="x", outcome="resolved"), PLAN,
                 fixed("TermsRenegotiated", change="x"),
                 payload("TermsRenegotiated", change=st.just("new rate"), monthly_value=st.sampled_from([0, 1500, 2250.5]))],
    "work": [
        payload("WorkLogged", hours=st.sampled_from([0, 0.1, 0.25, 1.5, 8, 12]), billable=st.booleans()),
        payload("ScopeChangeRequested", description=st.just("x"), paid=st.booleans()),
        PLAN,
    ],
    "silence": [fixed("FollowUpSent", topic="x"), fixed("ClientReplied"), INCIDENT, INVOICE, PAYMENT, VOID],
    "conduct": [INCIDENT, fixed("ContractBreached", clause="x"), fixed("NeedOutgrown", need="x")],
    "our side": [fixed("ClientMessageReceived", topic="x"), fixed("ReplySent"), fixed("DeadlineMissed", deliverable="x")],
    "relationship": [
        fixed("ClientOnboarded", name="C"),
        fixed("ClientOnboarded", name="C", monthly_value=900.25),
        fixed("RelationshipEnded", initiated_by="us"),
        fixed("DecisionRecorded", verdict="keep", ruleset_version=1, as_of="2026-01-01"),
        fixed("ContractSigned", contract_id="K"),
    ],
}


#: Days after an invoice's due_on where an event of that type is put half of the time.
NEAR_DUE_ON = {
    "PaymentReceived": [0, 1, 6, 7, 8, 10, 11],
    "InvoiceVoided": [0, 8, 11],
    "MeetingHeld": [0],
    "PlanAgreed": [0],
    "TermsRenegotiated": [0],
    "FollowUpSent": [1, 8, 11],
}


def near(anchor: dt.datetime, days: list[int]) -> st.SearchStrategy[Instant]:
    """A moment on a boundary: some days after ``anchor``, give or take a second."""
    return st.builds(
        lambda d, seconds: Instant.from_datetime(anchor + dt.timedelta(days=d, seconds=seconds)),
        st.sampled_from(days),
        st.sampled_from([-1, 0, 0, 1]),
    )


@st.composite
def histories(draw, span_hours: int = SPAN_HOURS):
    themes = draw(st.lists(st.sampled_from(sorted(THEMES)), min_size=1, max_size=3, unique=True))
    kinds = st.one_of(*[kind for theme in themes for kind in THEMES[theme]])
    drawn = draw(st.lists(st.tuples(kinds, moments_within(span_hours)), min_size=3, max_size=40))
    dues = [data for (type_name, data), _ in drawn if type_name == "InvoiceIssued"]
    events = []
    for n, ((type_name, data), at) in enumerate(drawn, start=1):
        if type_name in NEAR_DUE_ON and dues and draw(st.booleans()):
            # Put it on a boundary of an invoice: pay on the last day of grace or the first one after,
            # meet on its due date, chase on the day it became late.
            target = draw(st.sampled_from(dues))
            if type_name in ("PaymentReceived", "InvoiceVoided"):
                data = {**data, "invoice_id": target["invoice_id"]}
            at = draw(near(midnight(dt.date.fromisoformat(target["due_on"])), NEAR_DUE_ON[type_name]))
        events.append(Event("c1", at, registry.decode(type_name, data), f"e{n}").stored(version=n, position=n))
    return events


def as_of_moments(events: list[Event]) -> st.SearchStrategy[Instant]:
    """Any moment, or one on a boundary: N days (give or take a second) after an event or a due date."""
    choices = [moments]
    anchors = [e.at.utc for e in events]
    if anchors:
        choices.append(st.sampled_from(anchors).flatmap(lambda at: near(at, [0, 14, 30, 90, 180, 365])))
    dues = [midnight(e.payload.due_on) for e in events if e.type == "InvoiceIssued"]
    if dues:
        choices.append(st.sampled_from(dues).flatmap(lambda due: near(due, [0, 1, 8, 11, 365])))
    return st.one_of(*choices)


def assert_same(found: Facts, events: list[Event], t: Instant, grace: int) -> None:
    values, evidence = reference(events, t, grace)
    assert set(found.values) == set(values)
    for name, expected in values.items():
        got = found.values[name]
        assert type(got) is type(expected) or isinstance(expected, float), name
        if isinstance(expected, float):
            assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12), (name, got, expected)
        else:
            assert got == expected, (name, got, expected)
    for name, ids in evidence.items():
        assert set(found.evidence[name]) == ids, name


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=histories(),
    data=st.data(),
    grace=st.sampled_from([0, 7, 10]),
)
def test_fold_in_any_order_with_a_snapshot_matches_the_reference(events, data, grace):
    order = data.draw(st.permutations(events), label="apply order")
    cut = data.draw(st.integers(0, len(order)), label="snapshot after")
    fold = ClientFold()
    fold.apply_all(order[:cut])
    fold = ClientFold.from_snapshot(json.loads(json.dumps(fold.to_snapshot())))
    fold.apply_all(order[cut:])
    assert fold.version == len(events)
    for t in data.draw(st.lists(as_of_moments(events), min_size=1, max_size=4), label="as of"):
        assert_same(fold.facts(t, grace_days=grace), events, t, grace)
        values_only = fold.facts(t, grace_days=grace, explained=False)
        assert values_only.values == fold.facts(t, grace_days=grace).values
        assert (values_only.evidence, values_only.incidents) == ({}, ())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories(), data=st.data())
def test_a_whole_history_folded_at_once_is_the_fold_of_its_events_one_by_one(events, data):
    """``apply_all`` into an empty fold gathers each kind's records and sorts them once: the fold it leaves is the
    one applying the same events one by one leaves, in any order, stored or not, with ids given twice."""
    order = data.draw(st.permutations(events), label="apply order")
    if data.draw(st.booleans(), label="not stored yet"):
        order = [Event(event.client, event.at, event.payload, event.id) for event in order]
    order += data.draw(st.lists(st.sampled_from(order), max_size=3), label="given again")
    one_by_one = ClientFold()
    for event in order:
        one_by_one.apply(event)
    at_once = ClientFold()
    at_once.apply_all(order)
    assert at_once.to_snapshot() == one_by_one.to_snapshot()
    for t in data.draw(st.lists(as_of_moments(events), min_size=1, max_size=3), label="as of"):
        assert at_once.facts(t, grace_days=7) == one_by_one.facts(t, grace_days=7)
    at_once.apply_all(events)  # a fold holding events takes more one by one, ids it holds counting once
    assert at_once.to_snapshot() == one_by_one.to_snapshot()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories(), data=st.data())
def test_a_history_refused_part_way_leaves_the_events_before_it_folded(events, data):
    cut = data.draw(st.integers(1, len(events)), label="refused after")
    stranger = Event("someone-else", events[0].at, events[0].payload, "not-c1")
    at_once = ClientFold()
    with pytest.raises(FactsError, match="this fold is for client 'c1', not 'someone-else'"):
        at_once.apply_all([*events[:cut], stranger, *events[cut:]])
    before = ClientFold()
    for event in events[:cut]:
        before.apply(event)
    assert at_once.to_snapshot() == before.to_snapshot()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories(span_hours=24 * 100), data=st.data())
def test_facts_between_applies_match_the_reference_of_what_was_applied(events, data):
    """Asking for facts between out-of-order applies (so running totals and caches are half built) changes nothing.

    The events span 100 days and T is after all of them, so most fall in the windows.
    """
    order = data.draw(st.permutations(events), label="apply order")
    latest = max(event.at.utc for event in events)
    t = data.draw(near(latest, [0, 1, 8, 14, 30]), label="as of")
    fold = ClientFold()
    for count, event in enumerate(order, start=1):
        fold.apply(event)
        if data.draw(st.booleans(), label="ask now"):
            for grace in (0, 7):
                assert_same(fold.facts(t, grace_days=grace), order[:count], t, grace)
