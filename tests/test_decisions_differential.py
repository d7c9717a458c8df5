"""End to end: random event histories decided by the fold + durable-rules path agree with a plain reference.

The reference path is the facts reference of ``test_facts_properties`` (a
direct reading of ``spec/playbook.md``) followed by the brute-force rule
reference of ``test_engine_differential``; the path under test is
``ClientFold`` (events applied in any order) then ``DurableEngine``.
Two kinds of histories: the facts tests' (every event type, boundaries), and
``playbook_histories`` below, built so that the playbook's chains (late payers
after a remedy, silence of valued and other clients, unprofitable work with
and without a plan) happen often.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_engine_differential import reference_fired, reference_verdict, rulesets
from test_facts_properties import as_of_moments, histories, reference

import datetime as dt

from clientrules.adapters.durable import DurableEngine
from clientrules.domain.events import Event, Instant, registry
from clientrules.domain.facts import ClientFold
from clientrules.domain.rules import default_ruleset_text, parse_ruleset

PLAYBOOK = default_ruleset_text()
T = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


@st.composite
def playbook_histories(draw) -> list[Event]:
    """A client whose history is dense in what the default rules look at, up to ``T``."""
    drawn: list[tuple[dt.datetime, str, dict]] = []

    def days_ago(low: int, high: int) -> dt.datetime:
        return T - dt.timedelta(days=draw(st.integers(low, high)), hours=draw(st.integers(0, 23)))

    drawn.append((days_ago(0, 900), "ClientOnboarded", {"name": "C"}))
    for n in range(draw(st.integers(0, 5))):
        due = (T - dt.timedelta(days=draw(st.integers(0, 300)))).date()
        drawn.append((T - dt.timedelta(days=400), "InvoiceIssued", {"invoice_id": f"I{n}", "amount": 100.0, "due_on": due.isoformat()}))
        delay = draw(st.sampled_from([None, 0, 7, 8, 20]))
        if delay is not None:
            paid = dt.datetime.combine(due, dt.time(12), dt.timezone.utc) + dt.timedelta(days=delay)
            drawn.append((paid, "PaymentReceived", {"invoice_id": f"I{n}", "amount": 100.0}))
    remedies = [("MeetingHeld", {"topic": "x", "outcome": "resolved"}), ("PlanAgreed", {"summary": "x"}),
                ("TermsRenegotiated", {"change": "x"})]
    for _ in range(draw(st.integers(0, 2))):
        drawn.append((days_ago(0, 250), *draw(st.sampled_from(remedies))))
    for _ in range(draw(st.integers(0, 5))):
        drawn.append((days_ago(0, 40), "FollowUpSent", {"topic": "x"}))
    if draw(st.booleans()):
        drawn.append((days_ago(0, 60), "ClientReplied", {}))
    for _ in range(draw(st.integers(0, 4))):
        drawn.append((days_ago(0, 120), "WorkLogged", {"hours": draw(st.sampled_from([2.0, 4.5, 8.0])), "billable": draw(st.booleans())}))
    for _ in range(draw(st.integers(0, 4))):
        drawn.append((days_ago(0, 120), "ScopeChangeRequested", {"description": "x", "paid": draw(st.booleans())}))
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["abuse", "rude", "threat", "unreasonable_demand"]))
        drawn.append((days_ago(0, 400), "IncidentReported", {"kind": kind, "against": draw(st.sampled_from(["staff", "owner"])),
                                                               "severity": draw(st.sampled_from([1, 2, 3]))}))
    for _ in range(draw(st.integers(0, 3))):
        drawn.append((days_ago(0, 120), "DeadlineMissed", {"deliverable": "x"}))
    for type_name, data in [("ContractBreached", {"clause": "x"}), ("NeedOutgrown", {"need": "x"})]:
        if not draw(st.integers(0, 5)):
            drawn.append((days_ago(0, 400), type_name, data))
    return [
        Event("c1", Instant.from_datetime(at), registry.decode(type_name, data), f"e{n}").stored(version=n, position=n)
        for n, (at, type_name, data) in enumerate(drawn, start=1)
    ]


def check(ruleset_text: str, events, data) -> None:
    ruleset = parse_ruleset(ruleset_text)
    grace = ruleset.parameters.grace_days
    fold = ClientFold()
    fold.apply_all(data.draw(st.permutations(events), label="apply order"))
    with DurableEngine(ruleset) as engine:
        moments = st.one_of(st.just(Instant.from_datetime(T)), as_of_moments(events))
        for t in data.draw(st.lists(moments, min_size=1, max_size=3), label="as of"):
            decision = engine.decide("c1", fold.facts(t, grace_days=grace))
            values, _ = reference(events, t, grace)
            expected = reference_fired(ruleset, values)
            assert set(decision.fired) == expected, (t, values)
            assert decision.verdict == reference_verdict(ruleset, expected)
            event(f"fired: {', '.join(sorted(expected)) or 'nothing'}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories(), data=st.data(), grace=st.sampled_from([0, 7, 10]))
def test_random_histories_under_the_playbook(events, data, grace):
    check(PLAYBOOK.replace("grace_days = 7", f"grace_days = {grace}"), events, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=playbook_histories(), data=st.data(), grace=st.sampled_from([0, 7, 10]))
def test_playbook_histories_under_the_playbook(events, data, grace):
    check(PLAYBOOK.replace("grace_days = 7", f"grace_days = {grace}"), events, data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.one_of(histories(), playbook_histories()), data=st.data(), ruleset_text=rulesets())
def test_random_histories_under_random_rule_sets(events, data, ruleset_text):
    check(ruleset_text, events, data)
