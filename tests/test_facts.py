"""The facts of spec/playbook.md, checked from the spec: windows, thresholds, lateness, order, time zones."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest

from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Event, Instant, read_events, registry
from clientrules.domain.facts import FACTS, ClientFold, Facts, FactsError, facts_of
from conftest import DATA, STORIES


_ids = itertools.count(1)


def ev(type_name: str, at: str, *, client: str = "c1", **data) -> Event:
    """An event of ``client`` with the ``data`` of the JSON Lines format and a fresh id."""
    return Event.new(client, registry.decode(type_name, data), at, id=f"e{next(_ids)}")


def work(at: str, hours: float, billable: bool = True, **kw) -> Event:
    return ev("WorkLogged", at, hours=hours, billable=billable, **kw)


def invoice(at: str, invoice_id: str, due_on: str, amount: float = 1000.0, **kw) -> Event:
    return ev("InvoiceIssued", at, invoice_id=invoice_id, amount=amount, due_on=due_on, **kw)


def payment(at: str, invoice_id: str, amount: float = 1000.0, **kw) -> Event:
    return ev("PaymentReceived", at, invoice_id=invoice_id, amount=amount, **kw)


def followup(at: str, **kw) -> Event:
    return ev("FollowUpSent", at, topic="logo", **kw)


def incident(at: str, kind: str = "rude", against: str = "owner", **kw) -> Event:
    return ev("IncidentReported", at, kind=kind, against=against, **kw)


def facts(events, as_of: str, **kw) -> Facts:
    return facts_of(events, Instant.parse(as_of), **kw)


def value(events, as_of: str, name: str, **kw):
    return facts(events, as_of, **kw).values.get(name)


T = "2026-06-01"


# --- windows: "in the last N days" means T - N days < at <= T ---------------------------------

WINDOWED = [
    # (fact, days, event factory)
    ("hours_90d", 90, lambda at: work(at, 2.0)),
    ("unbillable_hours_90d", 90, lambda at: work(at, 2.0, billable=False)),
    ("unpaid_scope_changes_90d", 90, lambda at: ev("ScopeChangeRequested", at, description="x", paid=False)),
    ("deadlines_missed_90d", 90, lambda at: ev("DeadlineMissed", at, deliverable="x")),
    ("incidents_180d", 180, lambda at: incident(at)),
    ("plans_180d", 180, lambda at: ev("PlanAgreed", at, summary="x")),
    ("severe_staff_incidents_365d", 365, lambda at: incident(at, "threat", "staff")),
    ("serious_incidents_365d", 365, lambda at: incident(at, "rude", "owner", severity=3)),
    ("contract_breaches_365d", 365, lambda at: ev("ContractBreached", at, clause="x")),
    ("needs_outgrown_365d", 365, lambda at: ev("NeedOutgrown", at, need="x")),
]


def _at(days_before: float, seconds: int = 0, as_of: str = T) -> str:
    moment = dt.datetime.fromisoformat(as_of).replace(tzinfo=dt.timezone.utc)
    return (moment - dt.timedelta(days=days_before) + dt.timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize("name,days,make", WINDOWED, ids=[w[0] for w in WINDOWED])
def test_window_boundaries(name, days, make):
    exactly_n_days_before = make(_at(days))
    one_second_inside = make(_at(days, seconds=1))
    at_t = make(_at(0))
    after_t = make(_at(0, seconds=1))
    found = facts([exactly_n_days_before, one_second_inside, at_t, after_t], T)
    counted = found.values[name]
    assert counted in (2, 4.0)  # two events, or two work logs of 2 h
    assert set(found.evidence[name]) == {one_second_inside.id, at_t.id}


def test_window_day_boundaries_as_dates():
    # June 1 minus 90 days is March 3: a March 3 work log is out, a March 4 one in.
    assert value([work("2026-03-03", 1)], T, "hours_90d") == 0.0
    assert value([work("2026-03-04", 1)], T, "hours_90d") == 1.0
    # 180 days before June 1 is 2025-12-03; 365 days before is 2025-06-01.
    assert value([incident("2025-12-03")], T, "incidents_180d") == 0
    assert value([incident("2025-12-04")], T, "incidents_180d") == 1
    assert value([ev("NeedOutgrown", "2025-06-01", need="x")], T, "needs_outgrown_365d") == 0
    assert value([ev("NeedOutgrown", "2025-06-02", need="x")], T, "needs_outgrown_365d") == 1


def test_late_invoices_window_is_on_due_on():
    # due_on in the last 365 days: 2025-06-01 is out, 2025-06-02 in (both unpaid, so late).
    events = [invoice("2025-05-01", "A", "2025-06-01"), invoice("2025-05-01", "B", "2025-06-02")]
    found = facts(events, T)
    assert found.values["late_invoices_12m"] == 1
    assert found.evidence["late_invoices_12m"] == (events[1].id,)


# --- "N days since X" means T - X.at >= N x 24 h ---------------------------------------------


def test_silent_days_counts_whole_days():
    fourteen_days = [followup(_at(14))]
    almost = [followup(_at(14, seconds=1))]
    assert value(fourteen_days, T, "silent_days") == 14
    assert value(almost, T, "silent_days") == 13


def test_tenure_from_onboarding_else_first_event():
    onboarded = ev("ClientOnboarded", _at(365), name="C")
    earlier_work = work(_at(400), 1)
    assert value([earlier_work, onboarded], T, "tenure_days") == 365
    assert value([ev("ClientOnboarded", _at(365, 1), name="C")], T, "tenure_days") == 364
    first = work(_at(20), 1)
    found = facts([work(_at(3), 1), first], T)
    assert found.values["tenure_days"] == 20
    assert found.evidence["tenure_days"] == (first.id,)


def test_tenure_as_of_before_onboarding_uses_first_event_then_is_absent():
    events = [work("2026-01-01", 1), ev("ClientOnboarded", "2026-03-01", name="C")]
    assert value(events, "2026-02-01", "tenure_days") == 31
    assert value(events, "2026-03-11", "tenure_days") == 10
    assert "tenure_days" not in facts(events, "2025-12-31").values


def test_system_events_do_not_start_tenure():
    decision = Event.new(
        "c1",
        registry.decode("DecisionRecorded", {"verdict": "keep", "ruleset_version": 1, "as_of": "2026-01-01"}),
        "2026-01-01",
        id="d1",
    )
    assert value([decision, work("2026-05-01", 1)], T, "tenure_days") == 31


def test_plan_age_days():
    plan = ev("PlanAgreed", _at(30), summary="SOP")
    assert value([plan], T, "plan_age_days") == 30
    assert value([ev("PlanAgreed", _at(30, 1), summary="SOP")], T, "plan_age_days") == 29
    assert "plan_age_days" not in facts([work(_at(1), 1)], T).values


# --- lateness: grace days on UTC dates ---------------------------------------------------------


@pytest.mark.parametrize(
    "paid_at,late",
    [
        ("2026-03-08", False),  # on due_on + 7
        ("2026-03-08T23:59:59Z", False),
        ("2026-03-09", True),  # on due_on + 8
        ("2026-02-20", False),  # early
    ],
)
def test_grace_days_on_paid_invoices(paid_at, late):
    events = [invoice("2026-02-01", "A", "2026-03-01"), payment(paid_at, "A")]
    assert value(events, T, "late_invoices_12m") == int(late)


@pytest.mark.parametrize(
    "as_of,late",
    [("2026-03-08T23:59:59Z", False), ("2026-03-09", True), ("2026-03-01", False)],
)
def test_grace_days_on_unpaid_invoices(as_of, late):
    events = [invoice("2026-02-01", "A", "2026-03-01")]
    assert value(events, as_of, "late_invoices_12m") == int(late)
    assert value(events, as_of, "open_invoices") == 1
    assert value(events, as_of, "overdue_amount") == (1000.0 if late else 0.0)


def test_grace_days_parameter():
    events = [invoice("2026-02-01", "A", "2026-03-01"), payment("2026-03-04", "A")]
    assert value(events, T, "late_invoices_12m", grace_days=3) == 0
    assert value(events, T, "late_invoices_12m", grace_days=2) == 1
    assert value([invoice("2026-02-01", "A", "2026-03-01"), payment("2026-03-02", "A")], T,
                 "late_invoices_12m", grace_days=0) == 1


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True, None])
def test_bad_grace_days_is_a_clear_error(bad):
    with pytest.raises(FactsError, match="grace_days"):
        facts([], T, grace_days=bad)


def test_time_zones_use_the_utc_date():
    due = invoice("2026-02-01", "A", "2026-03-08")
    # 01:00 at +02:00 is 23:00 UTC on March 15: due_on + 7, on time.
    assert value([due, payment("2026-03-16T01:00:00+02:00", "A")], T, "late_invoices_12m") == 0
    # 23:30 at -01:00 is 00:30 UTC on March 16: due_on + 8, late.
    assert value([due, payment("2026-03-15T23:30:00-01:00", "A")], T, "late_invoices_12m") == 1
    # T given with an offset is also read in UTC: unpaid and T's UTC date is March 15.
    assert value([due], "2026-03-16T01:00:00+02:00", "late_invoices_12m") == 0
    assert value([due], "2026-03-15T23:30:00-01:00", "late_invoices_12m") == 1


# --- partial payments ------------------------------------------------------------------------


def test_invoice_is_paid_on_the_day_the_payments_reach_its_amount():
    issued = invoice("2026-02-01", "A", "2026-03-01")
    first = payment("2026-03-01", "A", 600.0)
    second = payment("2026-03-09", "A", 400.0)
    found = facts([issued, first, second], T)
    assert found.values["late_invoices_12m"] == 1
    assert found.evidence["late_invoices_12m"] == (issued.id, first.id, second.id)
    assert found.values["open_invoices"] == 0
    on_time = [issued, first, payment("2026-03-08", "A", 400.0)]
    assert value(on_time, T, "late_invoices_12m") == 0


def test_partial_payments_leave_the_rest_overdue():
    issued = invoice("2026-02-01", "A", "2026-03-01", amount=999.99)
    parts = [payment("2026-02-20", "A", 333.33), payment("2026-02-21", "A", 333.33)]
    found = facts([issued, *parts], "2026-03-10")
    assert found.values["late_invoices_12m"] == 1
    assert found.values["overdue_amount"] == pytest.approx(333.33)
    assert found.values["open_invoices"] == 1
    # 333.33 three times is exactly 999.99: paid, on time, nothing overdue.
    paid = facts([issued, *parts, payment("2026-03-02", "A", 333.33)], "2026-03-10")
    assert paid.values["late_invoices_12m"] == 0
    assert paid.values["open_invoices"] == 0
    assert paid.values["overdue_amount"] == 0.0


def test_overpayment_pays_the_invoice():
    events = [invoice("2026-02-01", "A", "2026-03-01"), payment("2026-03-01", "A", 1500.0)]
    assert value(events, T, "open_invoices") == 0
    assert value(events, T, "late_invoices_12m") == 0


def test_payments_after_the_paying_one_are_not_evidence():
    issued = invoice("2026-02-01", "A", "2026-03-01")
    paying = payment("2026-03-20", "A", 1000.0)
    extra = payment("2026-03-21", "A", 50.0)
    assert facts([issued, paying, extra], T).evidence["late_invoices_12m"] == (issued.id, paying.id)


def test_payments_for_unknown_invoices_are_ignored():
    events = [invoice("2026-02-01", "A", "2026-03-01"), payment("2026-03-01", "ZZZ")]
    found = facts(events, "2026-04-01")
    assert found.values["late_invoices_12m"] == 1
    assert found.values["open_invoices"] == 1
    assert facts([payment("2026-03-01", "ZZZ")], T).values["open_invoices"] == 0


def test_an_invoice_counts_only_once_issued():
    events = [invoice("2026-03-20", "A", "2026-03-01"), payment("2026-03-01", "A")]
    # As of March 10 the invoice does not exist yet, so nothing is late or open.
    assert value(events, "2026-03-10", "late_invoices_12m") == 0
    assert value(events, "2026-03-10", "open_invoices") == 0
    # Once issued, the earlier payment counts: it was paid on time.
    assert value(events, T, "late_invoices_12m") == 0
    assert value(events, T, "open_invoices") == 0


def test_a_repeated_invoice_id_counts_once():
    events = [invoice("2026-02-01", "A", "2026-03-01"), invoice("2026-02-02", "A", "2026-03-01")]
    assert value(events, T, "late_invoices_12m") == 1
    assert value(events, T, "open_invoices") == 1


# --- remedies ----------------------------------------------------------------------------------


def three_late(first_due: str = "2026-01-01") -> list[Event]:
    due = dt.date.fromisoformat(first_due)
    events = []
    for n in range(3):
        due_on = (due + dt.timedelta(days=30 * n)).isoformat()
        events.append(invoice("2025-12-01", f"L{n}", due_on))
        events.append(payment((due + dt.timedelta(days=30 * n + 20)).isoformat(), f"L{n}"))
    return events


def test_remedy_before_the_first_late_due_on_does_not_count():
    meeting = ev("MeetingHeld", "2025-12-31T23:59:59Z", topic="late", outcome="resolved")
    found = facts([*three_late(), meeting], T)
    assert found.values["late_invoices_12m"] == 3
    assert found.values["remedy_since_first_late"] is False
    assert found.evidence["remedy_since_first_late"] == ()
    # ... but it is the latest remedy, and all three were due after it and late.
    assert found.values["late_after_latest_remedy"] == 3


def test_remedy_on_the_first_late_due_on_counts():
    terms = ev("TermsRenegotiated", "2026-01-01", change="upfront")
    found = facts([*three_late(), terms], T)
    assert found.values["remedy_since_first_late"] is True
    assert found.evidence["remedy_since_first_late"] == (terms.id,)


def test_late_after_latest_remedy_counts_only_invoices_due_after_it():
    plan = ev("PlanAgreed", "2026-01-31", summary="pay upfront")  # the second invoice is due that day
    found = facts([*three_late(), plan], T)
    assert found.values["remedy_since_first_late"] is True
    assert found.values["late_after_latest_remedy"] == 1
    assert found.evidence["late_after_latest_remedy"][0] == plan.id
    on_the_third_due_on = ev("MeetingHeld", "2026-03-02", topic="x", outcome="resolved")
    assert value([*three_late(), plan, on_the_third_due_on], T, "late_after_latest_remedy") == 0
    # A remedy after T is not one yet.
    later = ev("MeetingHeld", "2026-04-01", topic="x", outcome="resolved")
    assert value([*three_late(), plan, later], "2026-03-31", "late_after_latest_remedy") == 1
    assert value([*three_late(), plan, later], T, "late_after_latest_remedy") == 0


def test_without_remedy_late_after_is_zero_and_without_late_invoices_remedy_fact_is_absent():
    found = facts(three_late(), T)
    assert found.values["late_after_latest_remedy"] == 0
    assert "remedy_since_first_late" not in facts([work(_at(1), 1)], T).values


# --- follow-ups and silence --------------------------------------------------------------------


def test_client_replied_resets_follow_ups():
    old = [followup(f"2026-04-0{d}") for d in (1, 2, 3)]
    reply = ev("ClientReplied", "2026-04-04")
    new = followup("2026-04-10")
    found = facts([*old, reply, new], T)
    assert found.values["unanswered_followups"] == 1
    assert found.evidence["unanswered_followups"] == (new.id,)
    assert found.values["silent_days"] == 52
    assert found.evidence["silent_days"] == (new.id,)
    never_replied = facts([*old, new], T)
    assert never_replied.values["unanswered_followups"] == 4
    assert never_replied.evidence["silent_days"] == (old[0].id,)
    answered = facts([*old, reply], T)
    assert answered.values["unanswered_followups"] == 0
    assert "silent_days" not in answered.values
    assert "clean_before_silence" not in answered.values


def test_same_moment_keeps_append_order():
    chased_then_replied = [followup("2026-05-01"), ev("ClientReplied", "2026-05-01")]
    replied_then_chased = [ev("ClientReplied", "2026-05-01"), followup("2026-05-01")]
    assert value(chased_then_replied, T, "unanswered_followups") == 0
    assert value(replied_then_chased, T, "unanswered_followups") == 1


def test_stored_versions_order_equal_moments_whatever_the_apply_order():
    reply = ev("ClientReplied", "2026-05-01").stored(version=2, position=2)
    chase = followup("2026-05-01").stored(version=1, position=1)
    fold = ClientFold()
    fold.apply(reply)
    fold.apply(chase)
    assert fold.facts(Instant.parse(T)).values["unanswered_followups"] == 0
    assert fold.version == 2


def test_clean_before_silence():
    chases = [followup("2026-05-01"), followup("2026-05-05"), followup("2026-05-10")]
    assert value(chases, T, "clean_before_silence") is True
    # An incident after the first unanswered follow-up does not stain it.
    assert value([*chases, incident("2026-05-02")], T, "clean_before_silence") is True
    found = facts([*chases, bad := incident("2026-04-30")], T)
    assert found.values["clean_before_silence"] is False
    assert found.evidence["clean_before_silence"] == (bad.id,)
    # An invoice already late when the silence began stains it; one that became late later does not.
    late_before = invoice("2026-03-01", "A", "2026-04-01")
    assert value([*chases, late_before], T, "clean_before_silence") is False
    late_after = invoice("2026-04-01", "B", "2026-04-24")  # late from May 2
    assert value([*chases, late_after], T, "clean_before_silence") is True
    paid_late_before = [invoice("2026-01-01", "C", "2026-02-01"), payment("2026-02-20", "C")]
    assert value([*chases, *paid_late_before], T, "clean_before_silence") is False
    # Lateness is judged as of the first unanswered follow-up's moment: due April 1, late from April 9.
    due_april = invoice("2026-03-01", "D", "2026-04-01")
    assert value([due_april, followup("2026-04-09")], T, "clean_before_silence") is False
    assert value([due_april, followup("2026-04-08T23:59:59Z")], T, "clean_before_silence") is True


# --- work, scope and plans ---------------------------------------------------------------------


def test_hours_and_unbillable_share():
    events = [work(_at(10), 7.5), work(_at(9), 2.5, billable=False), work(_at(100), 40, billable=False)]
    found = facts(events, T)
    assert found.values["hours_90d"] == 10.0
    assert found.values["unbillable_hours_90d"] == 2.5
    assert found.values["unbillable_share_90d"] == 0.25
    assert facts([], T).values["unbillable_share_90d"] == 0.0


def test_decimal_hours_add_up_exactly():
    events = [work(_at(1), 0.1) for _ in range(100)]
    assert value(events, T, "hours_90d") == 10.0


def test_since_plan_facts_count_after_the_latest_plan():
    first_plan = ev("PlanAgreed", "2026-01-10", summary="A")
    plan = ev("PlanAgreed", "2026-02-01", summary="B")
    before = work("2026-01-20", 8, billable=False)
    after = [work("2026-02-10", 6), work("2026-03-01", 4, billable=False)]
    scope = [ev("ScopeChangeRequested", at, description="x", paid=paid)
             for at, paid in (("2026-01-31", False), ("2026-02-02", False), ("2026-02-03", True))]
    found = facts([first_plan, plan, before, *after, *scope], T)
    assert found.values["hours_since_plan"] == 10.0
    assert found.values["unbillable_hours_since_plan"] == 4.0
    assert found.values["unbillable_share_since_plan"] == 0.4
    assert found.values["unpaid_scope_changes_since_plan"] == 1
    assert found.values["plan_age_days"] == 120
    assert found.values["plans_180d"] == 2
    assert found.evidence["hours_since_plan"] == (plan.id, after[0].id, after[1].id)
    assert found.evidence["plan_age_days"] == (plan.id,)
    no_plan = facts([before, *after], T).values
    for name in ("plan_age_days", "hours_since_plan", "unbillable_share_since_plan", "unpaid_scope_changes_since_plan"):
        assert name not in no_plan


def test_only_severe_staff_incidents_count_as_severe():
    events = [incident(_at(5), "abuse", "staff"), incident(_at(5), "rude", "staff"),
              incident(_at(5), "threat", "owner"), incident(_at(5), "harassment", "staff")]
    found = facts(events, T)
    assert found.values["severe_staff_incidents_365d"] == 2
    assert found.values["incidents_180d"] == 4


def test_serious_incidents_count_against_the_owner_too_by_kind_and_severity():
    events = [
        incident(_at(5), "abuse", "staff", severity=1),  # abuse, but minor: not serious
        incident(_at(5), "threat", "owner", severity=2),  # serious
        incident(_at(5), "harassment", "owner", severity=3),  # serious
        incident(_at(5), "rude", "staff", severity=3),  # any kind of severity 3 is serious
        incident(_at(5), "unreasonable_demand", "owner", severity=2),  # not serious
    ]
    found = facts(events, T)
    assert found.values["serious_incidents_365d"] == 3
    assert found.evidence["serious_incidents_365d"] == tuple(event.id for event in events[1:4])
    assert [(i.kind, i.against, i.severity) for i in found.incidents] == [
        ("abuse", "staff", 1), ("threat", "owner", 2), ("harassment", "owner", 3),
        ("rude", "staff", 3), ("unreasonable_demand", "owner", 2),
    ]


# --- our side ----------------------------------------------------------------------------------


def test_reply_days_median_and_unanswered_messages():
    events = [
        ev("ClientMessageReceived", "2026-05-01", topic="a"),
        ev("ClientMessageReceived", "2026-05-02", topic="b"),
        ev("ReplySent", "2026-05-04"),  # 3 days from the oldest unanswered message
        ev("ReplySent", "2026-05-05"),  # nothing pending: no reply time
        ev("ClientMessageReceived", "2026-05-10T00:00:00Z", topic="c"),
        ev("ReplySent", "2026-05-10T12:00:00Z"),  # half a day
        ev("ClientMessageReceived", "2026-05-20", topic="d"),
    ]
    found = facts(events, T)
    assert found.values["reply_days_median_90d"] == 1.75
    assert found.values["unanswered_messages"] == 1
    assert found.evidence["unanswered_messages"] == (events[-1].id,)
    assert "reply_days_median_90d" not in facts(events[:2], T).values
    # Replies older than 90 days leave the median.
    assert value(events, "2026-08-03", "reply_days_median_90d") == 0.5


def test_relationship_ended():
    ended = ev("RelationshipEnded", "2026-05-01", initiated_by="client")
    assert value([ended], T, "relationship_ended") is True
    assert value([ended], "2026-04-30", "relationship_ended") is False


# --- order, time travel, the fold itself -------------------------------------------------------


def stories() -> dict[str, list[Event]]:
    with open(STORIES, "rb") as source:
        events = read_events(source)
    by_client: dict[str, list[Event]] = collections.defaultdict(list)
    for event in events:
        by_client[event.client].append(event)
    return by_client


def test_events_out_of_time_order_give_the_same_facts():
    for client, events in stories().items():
        as_of = Instant.parse("2026-06-01")
        assert facts_of(reversed(events), as_of) == facts_of(events, as_of), client


def test_time_travel_ignores_later_events():
    events = stories()["brightline-late-again"]
    before_meeting = facts_of(events, Instant.parse("2026-01-19"))
    assert before_meeting.values["late_after_latest_remedy"] == 0
    assert before_meeting.values["late_invoices_12m"] == 3
    # INV-6 is paid on 2026-03-29; as of 2026-03-20 it is open, overdue and already late.
    as_of = facts_of(events, Instant.parse("2026-03-20"))
    assert as_of.values["open_invoices"] == 2  # INV-6, and INV-7 not due yet
    assert as_of.values["overdue_amount"] == 1000.0
    assert as_of.values["late_after_latest_remedy"] == 1
    earlier_events = [e for e in events if e.at <= Instant.parse("2026-03-20")]
    assert facts_of(earlier_events, Instant.parse("2026-03-20")) == as_of


def test_snapshot_continues_the_fold():
    events = stories()["brightline-late-again"]
    stored = [event.stored(version=n, position=n) for n, event in enumerate(events, start=1)]
    fold = ClientFold()
    fold.apply_all(stored[:10])
    snapshot = json.loads(json.dumps(fold.to_snapshot()))
    restored = ClientFold.from_snapshot(snapshot)
    assert restored.version == 10
    restored.apply_all(stored[10:])  # the earlier events are never seen again
    as_of = Instant.parse("2026-06-01")
    assert restored.facts(as_of) == facts_of(events, as_of)
    assert restored.version == len(events)


def _good_snapshot() -> dict:
    fold = ClientFold()
    fold.apply_all(stories()["brightline-late-again"][:6])
    return json.loads(json.dumps(fold.to_snapshot()))


def _damaged(change) -> dict:
    snapshot = _good_snapshot()
    change(snapshot)
    return snapshot


@pytest.mark.parametrize(
    "damaged",
    [
        None,
        {},
        {"kind": "clientrules.facts.ClientFold", "schema": 99},
        {"kind": "clientrules.facts.ClientFold", "schema": 1},
        {"kind": "clientrules.facts.ClientFold", "schema": 2},
        _damaged(lambda s: s["tables"]["invoice"]["amount"].__setitem__(0, "1000 EUR")),
        _damaged(lambda s: s["tables"]["invoice"]["due"].__setitem__(0, "2025-10-10")),
        _damaged(lambda s: s["tables"]["invoice"]["tie"].__setitem__(0, -1)),
        _damaged(lambda s: s["tables"]["payment"]["id"].pop()),
        _damaged(lambda s: s["tables"]["payment"].pop("amount")),
        _damaged(lambda s: s["tables"]["invoice"]["at"].reverse()),
        _damaged(lambda s: s["tables"]["onboarded"]["id"].__setitem__(0, 7)),
        _damaged(lambda s: s["tables"].__setitem__("gossip", {"at": [1], "tie": [1], "id": ["x"]})),
        _damaged(lambda s: s.__setitem__("unindexed", [None])),
        _damaged(lambda s: s.__setitem__("version", "12")),
    ],
)
def test_damaged_snapshot_is_a_clear_error(damaged):
    with pytest.raises(FactsError) as raised:
        ClientFold.from_snapshot(damaged)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ClientRulesError)


def test_snapshot_of_unstored_events_keeps_their_order():
    fold = ClientFold()
    fold.apply(followup("2026-05-01"))
    restored = ClientFold.from_snapshot(json.loads(json.dumps(fold.to_snapshot())))
    restored.apply(ev("ClientReplied", "2026-05-01"))  # same moment, applied later: it answers
    assert restored.facts(Instant.parse(T)).values["unanswered_followups"] == 0
    assert restored.version == 0


def test_a_persisted_fold_continues_from_its_version_in_a_real_store(tmp_path):
    from clientrules import Ledger

    events = stories()["acme-late"]
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        ledger.append(events[:6])
        fold = ClientFold()
        fold.apply_all(ledger.store.read_client("acme-late"))
        (tmp_path / "fold.json").write_text(json.dumps(fold.to_snapshot()))
        ledger.append(events[6:])
        # One more, dated before everything folded so far.
        ledger.record("acme-late", registry.decode("MeetingHeld", {"topic": "x", "outcome": "resolved"}), "2026-01-20")

        restored = ClientFold.from_snapshot(json.loads((tmp_path / "fold.json").read_text()))
        newer = ledger.store.read_client("acme-late", after_version=restored.version)
        assert len(newer) == len(events) - 6 + 1
        restored.apply_all(newer)
        as_of = Instant.parse("2026-06-01")
        assert restored.version == ledger.version("acme-late")
        assert restored.facts(as_of) == facts_of(ledger.events("acme-late"), as_of)
        assert restored.facts(as_of).values["remedy_since_first_late"] is True


def test_facts_asked_between_out_of_order_applies_stay_right():
    fold = ClientFold()
    as_of = Instant.parse(T)
    fold.apply_all([followup("2026-05-01"), invoice("2026-03-01", "A", "2026-04-01")])
    fold.apply(work("2026-05-10", 1))
    assert fold.facts(as_of).values["clean_before_silence"] is False  # A was late from April 9
    assert fold.facts(as_of).values["hours_90d"] == 1.0
    fold.apply(payment("2026-04-08", "A"))  # A was paid on due_on + 7 after all
    fold.apply(work("2026-05-09", 2))  # before the work already summed
    found = fold.facts(as_of)
    assert found.values["clean_before_silence"] is True
    assert found.values["hours_90d"] == 3.0
    fold.apply(invoice("2026-02-01", "B", "2026-03-01"))  # never paid: late before the silence
    assert fold.facts(as_of).evidence["clean_before_silence"] == (fold.facts(as_of).evidence["open_invoices"][0],)


def test_an_event_applied_twice_counts_once():
    fold = ClientFold()
    event = work(_at(1), 3)
    assert fold.apply(event) is True
    assert fold.apply(event) is False
    assert fold.facts(Instant.parse(T)).values["hours_90d"] == 3.0


def test_a_stream_version_beyond_the_order_key_is_refused():
    fold = ClientFold()
    with pytest.raises(FactsError, match="at most"):
        fold.apply(work(_at(1), 3).stored(version=2**40, position=1))
    assert fold.version == 0


def test_a_fold_is_for_one_client():
    fold = ClientFold()
    fold.apply(work(_at(1), 3))
    with pytest.raises(FactsError, match="client"):
        fold.apply(work(_at(1), 3, client="other"))


def test_facts_are_json_and_name_only_catalogue_facts():
    events = [event for client_events in stories().values() for event in client_events]
    for client, client_events in stories().items():
        found = facts_of(client_events, Instant.parse("2026-06-01"))
        document = json.loads(json.dumps(found.to_json()))
        assert document["as_of"] == "2026-06-01"
        assert set(document["values"]) <= set(FACTS)
        assert set(document["evidence"]) == set(document["values"])
        for name, fact_value in found.values.items():
            assert type(fact_value) is FACTS[name].kind, (client, name)
        known_ids = {event.id for event in events}
        assert all(set(ids) <= known_ids for ids in found.evidence.values())


def test_every_catalogue_fact_can_be_present():
    events = [
        ev("ClientOnboarded", "2025-01-01", name="C"),
        invoice("2026-01-01", "A", "2026-02-01"),
        ev("MeetingHeld", "2026-02-10", topic="x", outcome="resolved"),
        ev("PlanAgreed", "2026-03-01", summary="x"),
        work("2026-04-01", 3), ev("ScopeChangeRequested", "2026-04-01", description="x", paid=False),
        followup("2026-05-01"), incident("2026-05-02", "abuse", "staff"),
        ev("ContractBreached", "2026-05-03", clause="x"), ev("NeedOutgrown", "2026-05-03", need="x"),
        ev("DeadlineMissed", "2026-05-03", deliverable="x"),
        ev("ClientMessageReceived", "2026-05-03", topic="x"), ev("ReplySent", "2026-05-04"),
        ev("RelationshipEnded", "2026-05-30", initiated_by="us"),
    ]
    assert set(facts(events, T, portfolio_value=Decimal(1000)).values) == set(FACTS)
    assert set(FACTS) - set(facts(events, T).values) == {"revenue_share"}  # only with the portfolio's value


def test_monthly_value_is_the_latest_given_and_its_share_of_the_portfolio():
    onboarded = ev("ClientOnboarded", "2025-01-01", name="C", monthly_value=2000)
    renegotiated = ev("TermsRenegotiated", "2026-03-01", change="new rate", monthly_value=2500.5)
    unpriced = ev("TermsRenegotiated", "2026-04-01", change="upfront payment")
    events = [onboarded, renegotiated, unpriced]
    assert facts(events, "2026-02-01").values["monthly_value"] == 2000.0
    found = facts(events, T, portfolio_value=Decimal("10002"))
    assert (found.values["monthly_value"], found.values["revenue_share"]) == (2500.5, 0.25)
    assert found.evidence["monthly_value"] == found.evidence["revenue_share"] == (renegotiated.id,)
    assert facts([ev("ClientOnboarded", "2025-01-01", name="C")], T, portfolio_value=Decimal(0)).values[
        "monthly_value"
    ] == facts(events, T, portfolio_value=Decimal(0)).values["revenue_share"] == 0.0


# --- the stories of tests/data, as of 2026-06-01 ----------------------------------------


@pytest.fixture(scope="module")
def story_facts() -> dict[str, dict]:
    as_of = Instant.parse(json.loads((DATA / "stories.expected.v1.json").read_text())["as_of"])
    return {client: facts_of(events, as_of).values for client, events in stories().items()}


def test_stories_late_payers(story_facts):
    acme = story_facts["acme-late"]  # renegotiate: chronic, never talked to
    assert acme["late_invoices_12m"] >= 3 and acme["remedy_since_first_late"] is False
    bright = story_facts["brightline-late-again"]  # terminate: late again after the remedy
    assert bright["late_invoices_12m"] >= 3 and bright["remedy_since_first_late"] is True
    assert bright["late_after_latest_remedy"] >= 1
    wayne = story_facts["wayne-first-late"]  # keep: only one late invoice
    assert 0 < wayne["late_invoices_12m"] < 3


def test_stories_silence(story_facts):
    hooli = story_facts["hooli-quiet"]  # an old, clean client gone quiet: renegotiate
    assert hooli["unanswered_followups"] >= 3 and hooli["silent_days"] >= 14
    assert hooli["tenure_days"] >= 365 and hooli["clean_before_silence"] is True
    sauvage = story_facts["sauvage-bags"]  # new and silent: terminate
    assert sauvage["unanswered_followups"] >= 3 and sauvage["silent_days"] >= 14
    assert sauvage["tenure_days"] < 365


def test_stories_work(story_facts):
    initech = story_facts["initech-scope"]  # unprofitable, no plan yet
    assert initech["hours_90d"] >= 10 and initech["unbillable_share_90d"] >= 0.25
    assert initech["plans_180d"] == 0
    umbrella = story_facts["umbrella-despite-plan"]  # unprofitable a month after the plan
    assert umbrella["plan_age_days"] >= 30
    assert umbrella["hours_since_plan"] >= 10 and umbrella["unbillable_share_since_plan"] >= 0.25


def test_stories_conduct_and_fit(story_facts):
    assert story_facts["northwind-abuse"]["severe_staff_incidents_365d"] >= 1
    assert story_facts["northwind-abuse"]["serious_incidents_365d"] >= 1
    assert story_facts["vandelay-breach"]["contract_breaches_365d"] >= 1
    assert story_facts["globex-outgrown"]["needs_outgrown_365d"] >= 1


def test_stories_keep_clients_show_no_warning_sign(story_facts):
    soylent = story_facts["soylent-healthy"]  # one invoice paid on due_on + 7: on time
    assert soylent["late_invoices_12m"] == 0
    assert soylent["unanswered_followups"] == 0
    assert soylent["incidents_180d"] == 0
    assert soylent["unbillable_share_90d"] < 0.25 and soylent["unpaid_scope_changes_90d"] < 3
    for client, facts_ in story_facts.items():
        if client not in ("northwind-abuse",):
            assert facts_["severe_staff_incidents_365d"] == 0, client
            assert facts_["serious_incidents_365d"] == 0, client
        if client != "vandelay-breach":
            assert facts_["contract_breaches_365d"] == 0, client
