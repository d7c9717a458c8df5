"""Differential: a backtest on the history's kept moments gives what folding every client gives.

Random histories (those of the facts and decisions differential tests) are
stored a few clients per example in one database, so the history grows and
moves between examples, and a random rule set (or the default playbook) is
backtested against the current rules two ways: by ``ledger.learning`` (on the
moments it kept, kept again whenever something new was recorded) and by the
replay that folds every client, asking durable-rules once per client-moment.
Every count, flag, change and transition must be equal.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from test_decisions_differential import playbook_histories
from test_engine_differential import rulesets
from test_facts_properties import histories
from test_learning_signal import db, generated, template  # noqa: F401  (a history with proposals to make)
from test_standing_cache import store_stories

from clientrules import ClientOnboarded, Ledger, WorkLogged
from clientrules.adapters.durable import DurableEngine
from clientrules.application import learning
from clientrules.application.engines import Engines
from clientrules.application.rule_versions import RuleSetVersion
from clientrules.domain.events import Event
from clientrules.domain.learning.backtest import backtests, replay
from clientrules.domain.learning.kept_format import kept_from_bytes
from clientrules.domain.rules import RuleSetProblems, default_ruleset_text, parse_ruleset


def test_a_backtest_on_kept_moments_equals_folding_every_client(tmp_path) -> None:
    examples = itertools.count(1)
    alone = Engines(DurableEngine, standings_kept=0)
    with Ledger.open(tmp_path / "kept.db") as ledger:

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            ruleset_text=st.one_of(rulesets(), st.just(default_ruleset_text())),
            drawn=st.lists(st.one_of(histories(), playbook_histories()), min_size=1, max_size=3),
        )
        def example(ruleset_text: str, drawn: list[list[Event]]) -> None:
            try:
                candidate = RuleSetVersion(0, parse_ruleset(ruleset_text))
            except RuleSetProblems:  # beyond what the engine takes (see test_engine_differential)
                reject()
            store_stories(ledger, next(examples), drawn)
            assert ledger.learning.keep_history()
            kept = ledger.learning.backtest(ruleset_text, label="candidate")
            histories_now = ledger.learning.histories()
            (folded,), _ = backtests(
                lambda columns: replay(histories_now, columns, alone.fired_batch, portfolio_values=ledger.decisions.portfolio_values),
                ledger.rules.current(),
                [("candidate", candidate)],
            )
            assert json.dumps(kept.to_json(changes_limit=10**9)) == json.dumps(folded.to_json(changes_limit=10**9))

        example()


def test_the_report_and_proposals_from_one_pass_equal_those_from_folding_every_client(db: str, monkeypatch) -> None:
    """The learning report and the proposals, with their backtests, are the same whether the evidence pass kept
    the history's moments (one pass) or every replay folds every client again (nothing kept)."""
    with Ledger.open(db) as ledger:
        report, proposals = ledger.learning.report().to_json(), ledger.learning.proposals().to_json()
    monkeypatch.setattr(learning, "KEPT_MOMENTS_MAX", 0)
    with Ledger.open(db) as ledger:
        assert ledger.learning.report().to_json() == report
        assert ledger.learning.proposals().to_json() == proposals
    assert proposals["proposals"] and all(p["backtest"] for p in proposals["proposals"])


def test_each_fact_is_kept_in_the_smallest_index_that_holds_its_values_and_read_back_exactly(tmp_path) -> None:
    """300 clients who logged 300 different numbers of hours: ``hours_90d`` takes more values than a byte can
    index, the relationship's end two; both read back as the folds give them at every kept client-moment."""
    with Ledger.open(tmp_path / "many.db") as ledger:
        for n in range(300):
            ledger.record(f"c{n:03d}", ClientOnboarded(name=f"C {n}"), "2025-11-05")
            ledger.record(f"c{n:03d}", WorkLogged(hours=1 + n / 100, billable=True), "2026-01-10")
        assert ledger.learning.keep_history()
        kept = kept_from_bytes(ledger.store.read_kept_moments() or b"")
        assert kept is not None
        assert (kept.facts["hours_90d"].taken.typecode, kept.facts["relationship_ended"].taken.typecode) == ("H", "B")
        for client in kept.clients:
            fold = ledger.decisions.fold(client.client)
            for offset, moment in enumerate(client.moments):
                found = kept.facts_at(client.start + offset).values
                facts = fold.facts(moment).values
                assert (found["hours_90d"], found["relationship_ended"]) == (
                    facts["hours_90d"], facts["relationship_ended"]
                ), (client.client, moment.text)
