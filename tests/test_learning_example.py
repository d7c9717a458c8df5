"""The learning loop on the committed example (examples/learning_history.jsonl): what README.md and docs/learning.md promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from clientrules import Ledger
from clientrules.domain.learning.history import days_before
from tests.learning_fixtures import EXAMPLE, build_db, copy_db, generator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("example") / "example.db")


@pytest.fixture
def example_db(example_template: Path, tmp_path: Path) -> str:
    return copy_db(example_template, tmp_path / "ledger.db")


def test_the_committed_example_is_what_the_generator_writes(tmp_path: Path) -> None:
    module = generator()
    fresh = tmp_path / "history.jsonl"
    module.write(module.generate(), fresh)
    assert fresh.read_bytes() == EXAMPLE.read_bytes()
    assert EXAMPLE.stat().st_size < 2_000_000


def test_the_example_proposes_the_real_signal_only(example_db: str) -> None:
    with Ledger.open(example_db) as ledger:
        proposals = ledger.learning.proposals()
    by_reason = {p.reason: p for p in proposals.pending}
    deadlines = by_reason["missed_deadlines"]
    assert deadlines.finding.condition == "deadlines_missed_90d >= 2"
    assert len(deadlines.finding.clients) == 24 and len(deadlines.finding.flagged) == 20
    assert len(deadlines.finding.false_alarms) == 2 and deadlines.finding.retained == 142
    rule = deadlines.backtest.rules["learned-missed-deadlines"]
    assert len(rule.flagged) >= 20 and rule.median_lead_days >= 45 and len(rule.false_alarms) <= 3
    assert len(deadlines.backtest.candidate.flagged) > len(deadlines.backtest.current.flagged)
    # slow replies before clients who cite poor communication are real too (felt_neglected is covered by it)
    assert by_reason["poor_communication"].finding.fact == "reply_days_median_90d"
    assert set(by_reason) == {"missed_deadlines", "poor_communication"}
    reasons = {n.reason: n.why for n in proposals.not_proposed}
    assert reasons["price_too_high"].startswith("no separating fact")
    assert reasons["found_cheaper"].startswith("no separating fact")
    assert reasons["felt_neglected"].startswith("already covered")


def test_accepting_the_example_proposal_flags_at_risk_clients(example_db: str) -> None:
    with Ledger.open(example_db) as ledger:
        proposals = ledger.learning.proposals(with_backtest=False)
        deadlines = next(p for p in proposals.pending if p.reason == "missed_deadlines")
        version = ledger.learning.accept(deadlines.id)
        departures = {r.client: r.departure for r in ledger.learning.histories() if r.departure}
        at_risk = [(c, days_before(departures[c].at, 30)) for c in deadlines.finding.flagged]
        for client, moment in at_risk:
            (decision,) = ledger.decisions.evaluate([client], as_of=moment)
            assert decision.ruleset_version == version.version == 2
            assert "learned-missed-deadlines" in decision.fired and decision.verdict in ("renegotiate", "terminate")
        report = ledger.learning.report().to_json()
    assert [d["outcome"] for d in report["decided"]] == ["accepted"]
    assert all(p["reason"] != "missed_deadlines" for p in report["proposals"])
