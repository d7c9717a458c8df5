"""The durable-rules adapter: playbook edge cases, and every way durable-rules is known to fail."""

from __future__ import annotations

import json
import threading
import time

import durable_rules_engine
import pytest
from conftest import run_in_threads
from durable.engine import Ruleset

from clientrules.adapters.durable import DurableEngine
from clientrules.adapters.durable_compile import compile_rules
from clientrules.adapters.durable_run import DurableRun
from clientrules.domain.errors import EngineError, InvalidRuleSet
from clientrules.domain.events import Instant
from clientrules.domain.facts import FACTS, Facts
from clientrules.domain.rules import default_ruleset_text, parse_ruleset
from clientrules.domain.rules.validation import MAX_SIGNAL_CONDITIONS

T = Instant.parse("2026-06-01")
PLAYBOOK = parse_ruleset(default_ruleset_text())


def facts(**values) -> Facts:
    return Facts(as_of=T, values=values, evidence={name: (f"ev-{name}",) for name in values})


def playbook_with(old: str, new: str) -> str:
    text = default_ruleset_text()
    assert old in text
    return text.replace(old, new)


@pytest.fixture(scope="module")
def engine():
    with DurableEngine(PLAYBOOK) as engine:
        yield engine


CHRONIC = dict(late_invoices_12m=3, remedy_since_first_late=False, late_after_latest_remedy=0)
SILENT = dict(unanswered_followups=3, silent_days=14, tenure_days=365, clean_before_silence=True)


@pytest.mark.parametrize(
    ("values", "verdict", "fired"),
    [
        ({}, "keep", []),
        (dict(tenure_days=900, hours_90d=0.0, plans_180d=0), "keep", []),
        # incidents: a serious one ends it, two in 180 days end it, one calls for a talk
        (dict(serious_incidents_365d=1, incidents_180d=1), "terminate", ["hostile-client", "incident-talk"]),
        (dict(serious_incidents_365d=1, incidents_180d=0), "terminate", ["hostile-client"]),
        (
            dict(serious_incidents_365d=0, incidents_180d=2),
            "terminate",
            ["repeated-incidents", "incident-talk"],
        ),
        (dict(serious_incidents_365d=0, incidents_180d=1), "renegotiate", ["incident-talk"]),
        (dict(serious_incidents_365d=0, incidents_180d=0), "keep", []),
        # our side: two missed deadlines in 90 days, or a median reply of 5 days
        (dict(deadlines_missed_90d=2), "renegotiate", ["our-side-slipping"]),
        (dict(deadlines_missed_90d=1, reply_days_median_90d=4.99), "keep", []),
        (dict(deadlines_missed_90d=0, reply_days_median_90d=5.0), "renegotiate", ["our-side-slipping"]),
        (dict(contract_breaches_365d=1), "terminate", ["contract-breach"]),
        (dict(contract_breaches_365d=0), "keep", []),
        (dict(needs_outgrown_365d=1), "refer_out", ["outgrown"]),
        # late payers: the threshold of 3, then whether we talked, then whether it happened again
        (dict(CHRONIC, late_invoices_12m=2), "keep", []),
        (CHRONIC, "renegotiate", ["chronic-late-payer", "late-payer-first-talk"]),
        (dict(CHRONIC, remedy_since_first_late=True), "keep", ["chronic-late-payer"]),
        (
            dict(CHRONIC, remedy_since_first_late=True, late_after_latest_remedy=1),
            "terminate",
            ["chronic-late-payer", "late-payer-after-remedy"],
        ),
        # silence: 3 follow-ups and 14 days, then valued (365 days, clean) or not
        (dict(SILENT, unanswered_followups=2), "keep", []),
        (dict(SILENT, silent_days=13), "keep", []),
        (SILENT, "renegotiate", ["gone-silent", "silent-valued-client"]),
        (dict(SILENT, tenure_days=364), "terminate", ["gone-silent", "silent-client"]),
        (dict(SILENT, clean_before_silence=False), "terminate", ["gone-silent", "silent-client"]),
        # unprofitable: 10 hours and 25 % unbillable, or 3 unpaid scope changes
        (dict(hours_90d=10.0, unbillable_share_90d=0.25, plans_180d=0), "renegotiate", ["unprofitable", "unprofitable-no-plan"]),
        (dict(hours_90d=9.5, unbillable_share_90d=0.9, plans_180d=0), "keep", []),
        (dict(hours_90d=40.0, unbillable_share_90d=0.2499, plans_180d=0), "keep", []),
        (dict(unpaid_scope_changes_90d=3, plans_180d=0), "renegotiate", ["unprofitable", "unprofitable-no-plan"]),
        (dict(unpaid_scope_changes_90d=3, plans_180d=1), "keep", ["unprofitable"]),
        (
            dict(plan_age_days=30, hours_since_plan=10.0, unbillable_share_since_plan=0.25, unpaid_scope_changes_since_plan=0),
            "terminate",
            ["unprofitable-despite-plan"],
        ),
        (dict(plan_age_days=29, unpaid_scope_changes_since_plan=3), "keep", []),
        (dict(plan_age_days=45, unpaid_scope_changes_since_plan=3), "terminate", ["unprofitable-despite-plan"]),
        # absent facts never satisfy a condition
        (dict(hours_since_plan=50.0, unbillable_share_since_plan=1.0), "keep", []),
    ],
)
def test_default_rules_at_their_boundaries(engine, values, verdict, fired):
    decision = engine.decide("c", facts(**values))
    assert decision.verdict == verdict
    assert sorted(decision.fired) == sorted(fired)


def test_the_most_severe_verdict_wins_and_every_fired_rule_is_listed(engine):
    decision = engine.decide(
        "c",
        facts(needs_outgrown_365d=1, contract_breaches_365d=1, **CHRONIC),
    )
    assert decision.verdict == "terminate"
    assert set(decision.fired) == {"outgrown", "contract-breach", "chronic-late-payer", "late-payer-first-talk"}
    assert decision.advice == (PLAYBOOK.rule("contract-breach").advice,)
    assert engine.decide("c", facts(needs_outgrown_365d=1, **CHRONIC)).verdict == "refer_out"


def test_a_signal_comes_before_the_rules_that_match_it(engine):
    decision = engine.decide("c", facts(**dict(SILENT, tenure_days=10), **CHRONIC))
    order = list(decision.fired)
    assert order.index("gone-silent") < order.index("silent-client")
    assert order.index("chronic-late-payer") < order.index("late-payer-first-talk")


def test_reasons_carry_the_facts_used_their_evidence_and_plain_words(engine):
    decision = engine.decide("acme", facts(**dict(CHRONIC, late_invoices_12m=4)))
    first, second = decision.reasons
    assert first.rule == "chronic-late-payer" and first.verdict is None
    assert first.facts == {"late_invoices_12m": 4}
    assert first.evidence == ("ev-late_invoices_12m",)
    assert "4 late invoices in the last 12 months (at least 3)" in first.sentence
    assert second.rule == "late-payer-first-talk" and second.verdict == "renegotiate"
    assert second.facts == {"remedy_since_first_late": False}
    assert second.advice == PLAYBOOK.rule("late-payer-first-talk").advice
    data = decision.to_json()
    assert list(data) == ["client", "verdict", "fired", "reasons", "advice", "ruleset_version", "as_of", "status", "effective_on"]
    assert data["as_of"] == "2026-06-01" and data["ruleset_version"] == 0
    assert list(data["reasons"][0]) == ["rule", "verdict", "sentence", "facts", "evidence", "advice"]


def test_a_disabled_rule_never_fires():
    text = playbook_with('id = "outgrown"', 'id = "outgrown"\nenabled = false')
    with DurableEngine(parse_ruleset(text)) as engine:
        assert engine.decide("c", facts(needs_outgrown_365d=3)).verdict == "keep"


def test_changed_thresholds_and_verdicts_take_effect():
    text = playbook_with('when = ["late_invoices_12m >= 3"]', 'when = ["late_invoices_12m >= 2"]')
    text = text.replace('verdict = "refer_out"', 'verdict = "renegotiate"')
    with DurableEngine(parse_ruleset(text)) as engine:
        assert engine.decide("c", facts(**dict(CHRONIC, late_invoices_12m=2))).verdict == "renegotiate"
        assert engine.decide("c", facts(needs_outgrown_365d=1)).verdict == "renegotiate"


def test_salience_orders_the_firing_but_not_the_verdict():
    text = playbook_with('id = "outgrown"', 'id = "outgrown"\nsalience = 100')
    with DurableEngine(parse_ruleset(text)) as engine:
        decision = engine.decide("c", facts(needs_outgrown_365d=1, contract_breaches_365d=1, incidents_180d=2))
    assert decision.fired[0] == "outgrown"
    assert decision.verdict == "terminate"
    low = playbook_with('id = "contract-breach"', 'id = "contract-breach"\nsalience = -100')
    with DurableEngine(parse_ruleset(low)) as engine:
        decision = engine.decide("c", facts(needs_outgrown_365d=1, contract_breaches_365d=1, incidents_180d=2))
    assert decision.fired[-1] == "contract-breach"


def test_negation_waits_for_the_signal_it_negates_whatever_the_salience():
    # silent-client (stage 1) with the highest salience still cannot fire before silent-valued-client settles
    text = playbook_with('id = "silent-client"', 'id = "silent-client"\nsalience = 1000')
    text = text.replace('id = "silent-valued-client"', 'id = "silent-valued-client"\nsalience = -1000')
    with DurableEngine(parse_ruleset(text)) as engine:
        assert engine.decide("c", facts(**SILENT)).fired == ("gone-silent", "silent-valued-client")


def test_a_longer_chain_through_two_negations():
    text = """
[[rules]]
id = "a"
signal = true
when = ["tenure_days >= 1"]
[[rules]]
id = "b"
signal = true
when = ["not signal a"]
[[rules]]
id = "c"
verdict = "terminate"
when = ["not signal b", "signal a"]
"""
    with DurableEngine(parse_ruleset(text)) as engine:
        assert engine.decide("x", facts(tenure_days=5)).fired == ("a", "c")
        assert engine.decide("x", facts(tenure_days=0)).fired == ("b",)


# -- what durable-rules does wrong --------------------------------------------------


def test_more_than_1024_clients_in_a_row(engine):
    verdicts = [engine.decide(f"c{i}", facts(late_invoices_12m=i % 5, remedy_since_first_late=False)).verdict for i in range(3000)]
    assert verdicts.count("renegotiate") == 1200
    assert verdicts.count("keep") == 1800


def test_facts_that_match_no_rule_are_not_an_error(engine):
    assert engine.decide("c", facts()).fired == ()
    assert engine.decide("c", facts(unanswered_messages=9, open_invoices=2)).fired == ()


class _FailingRun(DurableRun):
    """The real run, with one rule whose action raises (as a bug in an action would)."""

    def _action(self, rule_id, asserts):
        action = super()._action(rule_id, asserts)
        if rule_id != "outgrown":
            return action

        def failing(closure):
            raise RuntimeError("the action broke")

        return failing


class _FailingEngine(DurableEngine):
    def __init__(self, ruleset_version):
        super().__init__(ruleset_version)
        self.run = _FailingRun(compile_rules(self.ruleset, self.version))


def test_an_exception_in_an_action_is_raised_not_swallowed():
    with _FailingEngine(PLAYBOOK) as engine:
        with pytest.raises(EngineError, match="the action broke"):
            engine.decide("c", facts(needs_outgrown_365d=1))
        # the failed session was freed: the engine keeps working
        assert engine.decide("c", facts(contract_breaches_365d=1)).verdict == "terminate"


def test_a_wrongly_typed_fact_is_refused(engine):
    with pytest.raises(EngineError, match="fact remedy_since_first_late of client 'c' is 0, not true or false"):
        engine.decide("c", facts(late_invoices_12m=3, remedy_since_first_late=0))
    with pytest.raises(EngineError, match="is True, not a whole number"):
        engine.decide("c", facts(late_invoices_12m=True))


def test_a_duplicate_fact_report_is_retried_with_a_fresh_session(engine):
    # Make the engine's next session hold a fact with the id the engine will use, as a 32-bit
    # hash collision would: durable-rules answers "already observed"; the engine must retry
    # with a fresh session, not lose the client or fail.
    ruleset = engine.run._live_ruleset()
    upcoming = next(engine.run._sessions) + 1
    squatter = {"t": "facts", "sid": f"s{upcoming}", "id": f"s{upcoming}:facts", "contract_breaches_365d": 0}
    assert durable_rules_engine.assert_fact(ruleset._handle, json.dumps(squatter))[0] == 0
    assert engine.decide("c", facts(contract_breaches_365d=1)).verdict == "terminate"
    assert next(engine.run._sessions) == upcoming + 2  # one session given up, one used


def test_four_threads_deciding_at_once_get_the_right_answers(engine):
    cases = [facts(late_invoices_12m=i % 5, remedy_since_first_late=i % 3 == 0, late_after_latest_remedy=i % 2) for i in range(200)]
    expected = [engine.decide(f"c{i}", case).fired for i, case in enumerate(cases)]
    results: dict[int, list] = {}

    def work(worker: int) -> None:
        results[worker] = [engine.decide(f"c{i}", case).fired for i, case in enumerate(cases)]

    assert run_in_threads(work, 6) == []
    assert all(results[n] == expected for n in range(6))


def test_rule_sets_are_replaced_in_process_without_leaking():
    strict = parse_ruleset(playbook_with('"late_invoices_12m >= 3"', '"late_invoices_12m >= 1"'))
    client = facts(late_invoices_12m=1, remedy_since_first_late=False)
    for _ in range(300):
        with DurableEngine(PLAYBOOK) as old, DurableEngine(strict) as new:
            assert old.decide("c", client).verdict == "keep"
            assert new.decide("c", client).verdict == "renegotiate"


def test_a_closed_engine_is_rebuilt_when_used_again():
    engine = DurableEngine(PLAYBOOK)
    engine.close()
    assert engine.decide("c", facts(contract_breaches_365d=1)).verdict == "terminate"
    engine.close()
    engine.close()


def test_sessions_where_no_rule_fires_are_freed_safely():
    # Regression (found by the differential test): deleting a durable-rules session in which no
    # action ran segfaulted, and an unmatched fact held one of the 1,024 session slots.
    lone = parse_ruleset('[[rules]]\nid = "r"\nverdict = "keep"\nwhen = ["late_invoices_12m < 0"]\n')
    with DurableEngine(lone) as engine:
        assert {engine.decide(f"c{i}", facts(late_invoices_12m=i % 3)).fired for i in range(2500)} == {()}
        assert engine.decide("c", facts(late_invoices_12m=-1)).fired == ("r",)


@pytest.mark.parametrize(
    ("values", "fired"),
    [
        # 1 unbillable hour in 100,000: Python writes the share 1e-05, which durable-rules' number reader
        # (an exponent only after a decimal point) misread, and the process then died of a segfault
        (dict(hours_90d=100_000.0, unbillable_share_90d=1e-05, plans_180d=0), ()),
        (dict(hours_90d=1e-05, unbillable_share_90d=1.0, plans_180d=0), ()),
        (dict(hours_90d=5e-324, unbillable_share_90d=1.0, plans_180d=0), ()),
        (dict(hours_90d=1e16, unbillable_share_90d=0.5, plans_180d=0), ("unprofitable", "unprofitable-no-plan")),
        (dict(hours_90d=1.7976931348623157e308, unbillable_share_90d=0.25, plans_180d=0), ("unprofitable", "unprofitable-no-plan")),
        (dict(hours_90d=10.0, unbillable_share_90d=2e-308, plans_180d=0), ()),
    ],
)
def test_facts_of_any_finite_size_reach_the_engine_as_they_are(engine, values, fired):
    assert engine.decide("c", facts(**values)).fired == fired


def test_a_fact_that_is_not_finite_is_refused(engine):
    for value in (float("inf"), float("nan")):
        with pytest.raises(EngineError, match=f"fact hours_90d of client 'c' is {value!r}, not a number"):
            engine.decide("c", facts(hours_90d=value, unbillable_share_90d=0.5, plans_180d=0))


def test_an_any_with_several_options_holding_fires_its_rule_once(engine):
    decision = engine.decide("c", facts(deadlines_missed_90d=3, reply_days_median_90d=6.0))
    assert decision.fired == ("our-side-slipping",)
    assert len(decision.reasons) == 1


def fnv1_32(text: str) -> int:
    """durable-rules' hash of session and message ids (``fnv1Hash32`` in its state.c): all it compares."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = (value ^ byte) * 0x01000193 & 0xFFFFFFFF
    return value


def test_two_clients_whose_ids_collide_in_the_32_bit_hash_keep_their_own_decisions(engine):
    first, second = "client-332789", "client-529192"  # found by a birthday search over client-N
    assert fnv1_32(first) == fnv1_32(second)
    # keyed by these ids, durable-rules takes the second client's facts for the first's: "already observed"
    probe = Ruleset("collision-probe", None, {"r": {"all": [{"m": {"t": "facts"}}], "run": lambda c: None}})
    statuses = []
    for sid in (first, second):
        status, state = durable_rules_engine.assert_facts(probe._handle, json.dumps([{"t": "facts", "sid": sid, "id": f"{sid}:facts"}]))
        probe.do_actions(state, lambda error, result: None)
        statuses.append(status)
    assert json.loads(durable_rules_engine.get_state(probe._handle, second))["sid"] == first
    durable_rules_engine.delete_state(probe._handle, first)
    durable_rules_engine.delete_ruleset(probe._handle)
    assert statuses == [0, 2]
    # the engine never keys a session by client id: interleaved, each client gets the decision of its own facts
    terminate, keep = facts(contract_breaches_365d=1), facts(contract_breaches_365d=0)
    for _ in range(3):
        assert engine.decide(first, terminate).verdict == "terminate"
        assert engine.decide(second, keep).verdict == "keep"
        assert engine.decide(second, terminate).verdict == "terminate"
        assert engine.decide(first, keep).verdict == "keep"


def test_more_rule_set_replacements_than_durable_rules_has_handles():
    # durable-rules keeps rulesets in a table of 131,072 handles; a freed one goes to the back of its free list
    engine = DurableEngine(parse_ruleset('[[rules]]\nid = "r"\nverdict = "refer_out"\nwhen = ["needs_outgrown_365d >= 1"]\n'))
    handles = set()
    for _ in range(131_100):
        handles.add(engine.run._live_ruleset()._handle)
        engine.close()
    assert len(handles) < 131_100  # unfreed, the table would have been full before the end of the loop
    assert engine.decide("c", facts(needs_outgrown_365d=1)).verdict == "refer_out"
    engine.close()


def test_the_engine_starts_no_thread(engine):
    # durable-rules' Host runs timer threads that crash when sessions are deleted; the engine uses none
    before = set(threading.enumerate())
    with DurableEngine(PLAYBOOK) as other:
        other.decide("c", facts(**CHRONIC))
    engine.decide("c", facts(**SILENT))
    assert set(threading.enumerate()) == before


def test_a_rule_joining_the_most_patterns_durable_rules_allows():
    # durable-rules joins at most 16 patterns: the facts, the stage of a rule after a negation, and 14 signals
    signals = [f"s{n}" for n in range(MAX_SIGNAL_CONDITIONS)]
    text = "".join(
        f'[[rules]]\nid = "{name}"\nsignal = true\nwhen = ["tenure_days >= {2 if name == signals[-1] else 1}"]\n'
        for name in signals
    )
    when = [f'"signal {name}"' for name in signals[:-1]] + [f'"not signal {signals[-1]}"']
    joined = text + f'[[rules]]\nid = "joined"\nverdict = "terminate"\nwhen = [{", ".join(when)}]\n'
    with DurableEngine(parse_ruleset(joined)) as engine:
        assert set(engine.decide("c", facts(tenure_days=1)).fired) == {*signals[:-1], "joined"}
        assert set(engine.decide("c", facts(tenure_days=2)).fired) == set(signals)
    one_more = text + f'[[rules]]\nid = "joined"\nverdict = "terminate"\nwhen = [{", ".join(when)}, "signal s0"]\n'
    with pytest.raises(InvalidRuleSet, match=f"matches {MAX_SIGNAL_CONDITIONS + 1} signals, at most {MAX_SIGNAL_CONDITIONS}"):
        parse_ruleset(one_more)


def test_every_catalogue_fact_in_one_decision():
    # one fact with every catalogue fact (durable-rules allows 255 properties per fact)
    text = "".join(
        f'[[rules]]\nid = "r{n}"\nverdict = "keep"\nwhen = ["{name} {"==" if spec.kind is bool else ">="} {"true" if spec.kind is bool else 1}"]\n'
        for n, (name, spec) in enumerate(FACTS.items())
    )
    values = {name: True if spec.kind is bool else spec.kind(1) for name, spec in FACTS.items()}
    with DurableEngine(parse_ruleset(text)) as engine:
        assert engine.decide("c", facts(**values)).fired == tuple(f"r{n}" for n in range(len(FACTS)))


def test_threads_deciding_while_new_rule_set_versions_are_adopted(ledger, stories_path):
    # a web server's threads evaluating while the owner adopts versions: more than the engines kept (some freed in use)
    ledger.import_jsonl(stories_path)
    decided: list[dict] = []
    adopted = threading.Event()

    def adopt_or_evaluate(thread: int) -> None:
        if thread == 0:
            for threshold in (1, 2, 4, 5, 6, 2, 1):
                version = ledger.rules.use(playbook_with('"late_invoices_12m >= 3"', f'"late_invoices_12m >= {threshold}"'))
                waited_until = time.monotonic() + 60  # until some thread decided under it (an engine starts a process)
                while time.monotonic() < waited_until and all(d["ruleset_version"] != version.version for d in decided[-50:]):
                    time.sleep(0.01)
            adopted.set()
        while not adopted.is_set():
            decided.extend(decision.to_json() for decision in ledger.decisions.evaluate(as_of="2026-06-01"))

    assert run_in_threads(adopt_or_evaluate, 5) == []
    expected = {
        (decision.ruleset_version, decision.client): decision.to_json()
        for version in ledger.rules.versions()
        for decision in ledger.decisions.evaluate(as_of="2026-06-01", ruleset=version)
    }
    assert len({decision["ruleset_version"] for decision in decided}) > 2
    assert all(decision == expected[decision["ruleset_version"], decision["client"]] for decision in decided)

