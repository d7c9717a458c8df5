"""Differential, on both backends: deciding each standing once gives what one engine call per client gives.

Random histories (those of the facts and decisions differential tests) are
stored for a few clients per example, with a twin of the first client (the
same events under other ids: the same standing, other evidence), and decided
under a random rule set (or the default playbook) two ways on the same store:
through the shared engines, which ask durable-rules once per standing
(:mod:`clientrules.application.engines`), and through engines that keep no
answer, which ask it for every client. Verdicts, fired rules in order,
reasons, their evidence and advice must be equal in every detail, and the
twin must not have cost an engine call of its own. The rule sets are adopted
versions, whose answers are kept in the store: a second ledger on the same
store, as a new process opens it, decides them again from the kept answers,
with the same decisions and no engine call.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from test_decisions_differential import T, playbook_histories
from test_engine_differential import rulesets
from test_facts_properties import as_of_moments, histories

from clientrules import Ledger
from clientrules.adapters.durable import DurableEngine
from clientrules.adapters.store import open_store
from clientrules.application.decisions import Decisions
from clientrules.application.engines import Engines
from clientrules.application.rule_versions import RuleSetVersion
from clientrules.domain.decisions.standing import Standings
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import DecisionRecorded, Event, Instant
from clientrules.domain.rules import RuleSetProblems, default_ruleset_text, parse_ruleset
from clientrules.domain.rules.model import Comparison, Rule, RuleSet


class CountingEngine(DurableEngine):
    """The real engine, counting the clients it is asked about."""

    asked = 0

    def fired_batch(self, requests):
        CountingEngine.asked += len(requests)
        return super().fired_batch(requests)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_deciding_each_standing_once_equals_one_engine_call_per_client(backend, request, tmp_path) -> None:
    from conftest import STORE_BACKENDS

    url = STORE_BACKENDS[backend](request, tmp_path)
    examples = itertools.count(1)
    with Ledger(open_store(url), engine_factory=CountingEngine) as ledger:
        alone = Decisions(
            ledger.store, ledger.rules, Engines(DurableEngine, standings_kept=0), folds=ledger.folds, clock=ledger.clock
        )

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            ruleset_text=st.one_of(rulesets(), st.just(default_ruleset_text())),
            drawn=st.lists(st.one_of(histories(), playbook_histories()), min_size=1, max_size=4),
            data=st.data(),
        )
        def example(ruleset_text: str, drawn: list[list[Event]], data: st.DataObject) -> None:
            number = next(examples)
            try:
                version = RuleSetVersion(number, parse_ruleset(ruleset_text))
            except RuleSetProblems:  # beyond what the engine takes (see test_engine_differential)
                reject()
            clients = store_stories(ledger, number, [*drawn, drawn[0]])  # the last client is the first one's twin
            if not clients:
                reject()
            moment = data.draw(st.one_of(st.just(Instant.from_datetime(T)), as_of_moments(drawn[0])), label="as of")
            before = CountingEngine.asked
            cached = ledger.decisions.evaluate(clients, as_of=moment, ruleset=version)
            asked = CountingEngine.asked - before
            expected = [d.to_json() for d in alone.evaluate(clients, as_of=moment, ruleset=version)]
            assert [d.to_json() for d in cached] == expected
            with Ledger(open_store(url), engine_factory=CountingEngine) as second:
                before_second = CountingEngine.asked
                again = second.decisions.evaluate(clients, as_of=moment, ruleset=version)
                assert [d.to_json() for d in again] == expected
                if Standings.for_ruleset(version.ruleset).representable:
                    assert CountingEngine.asked == before_second
            decided = [d for d in cached if d.verdict is not None]
            twin = clients[0] == f"x{number}-0" and clients[-1] == f"x{number}-{len(drawn)}"
            if twin and cached[-1].verdict is not None:  # the twin stands where the first client stands
                assert asked < len(decided)
                if any(reason.evidence for reason in cached[0].reasons):  # each client's own events
                    assert [r.evidence for r in cached[0].reasons] != [r.evidence for r in cached[-1].reasons]

        example()


def store_stories(ledger: Ledger, number: int, stories: list[list[Event]]) -> list[str]:
    """Store each story as client ``x{number}-{k}``; the clients the store took (it refuses some random ones)."""
    clients = []
    for k, events in enumerate(stories):
        client = f"x{number}-{k}"
        kept = [
            Event(client, event.at, event.payload, f"{client}-e{n}")
            for n, event in enumerate(events)
            if not isinstance(event.payload, DecisionRecorded)  # it names an adopted version: none here
        ]
        if not kept:
            continue
        try:
            ledger.append(kept)
        except ClientRulesError:  # e.g. a payment of an invoice never issued: the store refuses it
            continue
        clients.append(client)
    return clients


def test_a_value_the_standing_cannot_hold_is_left_to_the_engine() -> None:
    """Values stand together where the rule's conditions hold alike; a value of the wrong kind, not finite or too
    large has no standing (the engine says what is wrong with it)."""
    rule = Rule("r", (Comparison("late_invoices_12m", ">=", 3), Comparison("remedy_since_first_late", "==", True)))
    standings = Standings.for_ruleset(RuleSet((rule,)))
    assert standings.of({"late_invoices_12m": 2}) == standings.of({"late_invoices_12m": 0}) == (False,)
    assert standings.of({"late_invoices_12m": 4, "remedy_since_first_late": False}) == (False,)
    assert standings.of({"late_invoices_12m": 3, "remedy_since_first_late": True}) == (True,)
    assert standings.of({"late_invoices_12m": 9, "remedy_since_first_late": True}) == (True,)
    for wrong in ({"late_invoices_12m": float("nan")}, {"late_invoices_12m": True}, {"late_invoices_12m": 2**60},
                  {"remedy_since_first_late": 1}):
        assert standings.of(wrong) is None, wrong
