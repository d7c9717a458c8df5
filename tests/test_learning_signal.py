"""The learning loop on generated histories with a real signal and a censored tail, in a real SQLite ledger.

Missed deadlines precede the departures of clients who cite them; a few
current clients saw deadlines missed only in the last weeks (too recent to
know whether they will leave); clients who left over the price show nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules import ClientOnboarded, DeadlineMissed, Ledger, RelationshipEnded, SurveyAnswered, SurveyInvited
from clientrules.cli.main import cli
from clientrules.domain.events import Instant
from clientrules.domain.rules import default_ruleset_text
from tests.learning_fixtures import SignalHistory, signal_history

RULE = "learned-missed-deadlines"


@pytest.fixture(scope="module")
def generated() -> SignalHistory:
    return signal_history()


@pytest.fixture(scope="module")
def template(generated: SignalHistory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signal") / "ledger.db"
    with Ledger.open(str(path)) as ledger:
        ledger.append(generated.events)
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "ledger.db"
    target.write_bytes(template.read_bytes())
    return str(target)


def _deadlines(ledger: Ledger):
    return next(p for p in ledger.learning.proposals(with_backtest=False).pending if p.reason == "missed_deadlines")


def test_the_proposal_catches_every_client_at_risk_now_and_no_clean_one(db: str, generated: SignalHistory) -> None:
    with Ledger.open(db) as ledger:
        proposals = ledger.learning.proposals()
    (proposal,) = [p for p in proposals.pending if p.reason == "missed_deadlines"]
    finding = proposal.finding
    assert finding.condition == "deadlines_missed_90d >= 2"
    assert finding.flagged == finding.clients == generated.leavers
    # the at-risk clients were warned too recently to count either way: not false alarms, but listed
    assert finding.false_alarms == ()
    assert finding.pending == generated.at_risk
    assert {client for client, _ in finding.at_risk_now} == set(generated.at_risk)
    assert all(value >= 2 for _, value in finding.at_risk_now)
    low, high = finding.precision_interval
    assert 0.5 <= low < 1.0 == high
    mine = proposal.backtest.rules[RULE]
    assert len(mine.flagged) == len(generated.leavers) and mine.false_alarms == ()
    assert set(mine.pending) == set(generated.at_risk)
    # nothing for a reason with no signal
    assert all(p.reason != "price_too_high" for p in proposals.pending)
    (price,) = [n for n in proposals.not_proposed if n.reason == "price_too_high"]
    assert price.why.startswith("no separating fact")


def test_accepting_it_makes_every_at_risk_decision_cite_the_rule_and_no_clean_one(db: str, generated: SignalHistory) -> None:
    end = Instant.parse(generated.end.isoformat())
    with Ledger.open(db) as ledger:
        proposal = _deadlines(ledger)
        version = ledger.learning.accept(proposal.readable_id)
        decisions = {d.client: d for d in ledger.decisions.evaluate(as_of=end)}
    assert version.ruleset.rule(RULE).verdict == "renegotiate"
    for client in generated.at_risk:
        assert RULE in decisions[client].fired and decisions[client].verdict != "keep"
    for client in generated.clean:
        assert RULE not in decisions[client].fired


def test_the_id_survives_an_unrelated_new_answer(db: str) -> None:
    with Ledger.open(db) as ledger:
        before = _deadlines(ledger)
        client = "quality-leaver"
        ledger.record(client, ClientOnboarded(name="Quality Leaver"), "2025-02-01")
        ledger.record(client, RelationshipEnded(initiated_by="client"), "2025-10-01")
        ledger.record(client, SurveyInvited(invitation_id="inv-q", expires_at="2025-11-01"), "2025-10-02")
        ledger.record(client, SurveyAnswered(invitation_id="inv-q", primary_reason="missed_deadlines", other_reasons=["quality"]), "2025-10-03")
        after = _deadlines(ledger)
    # a new client cited the reason without the signal: the evidence changed, the proposal did not
    assert client in after.finding.clients and client not in after.finding.flagged
    assert (after.id, after.readable_id) == (before.id, before.readable_id)
    assert after.readable_id == "missed-deadlines-if-deadlines-missed-90d-at-least-2"


def _another_leaver(ledger: Ledger, number: int) -> None:
    client = f"late-{number}"
    ledger.record(client, ClientOnboarded(name=f"Late {number}"), "2024-03-01")
    for day in ("2025-01-10", "2025-02-01", "2025-02-20"):
        ledger.record(client, DeadlineMissed(deliverable="site"), day)
    ledger.record(client, RelationshipEnded(initiated_by="client"), "2025-04-01")
    ledger.record(client, SurveyInvited(invitation_id=f"inv-{client}", expires_at="2025-05-01"), "2025-04-02")
    ledger.record(client, SurveyAnswered(invitation_id=f"inv-{client}", primary_reason="missed_deadlines"), "2025-04-03")


def test_a_rejection_holds_until_the_evidence_grows_materially(db: str, generated: SignalHistory) -> None:
    with Ledger.open(db) as ledger:
        proposal = _deadlines(ledger)
        ledger.learning.reject(proposal.readable_id)
        assert all(p.reason != "missed_deadlines" for p in ledger.learning.proposals(with_backtest=False).pending)
        caught = len(generated.leavers)  # 8: it comes back at 8 + max(2, 4) = 12 departures warned of
        for number in range(3):
            _another_leaver(ledger, number)
        assert all(p.reason != "missed_deadlines" for p in ledger.learning.proposals(with_backtest=False).pending)
        _another_leaver(ledger, 3)
        back = _deadlines(ledger)
        assert len(back.finding.flagged) == caught + 4 and back.id == proposal.id
        ledger.learning.accept(back.id)
        decided = ledger.learning.proposals(with_backtest=False).decided
    assert [(d.outcome, d.readable_id) for d in decided] == [
        ("rejected", proposal.readable_id),
        ("accepted", proposal.readable_id),
    ]


def test_too_little_evidence_is_refused_and_says_why(tmp_path: Path) -> None:
    thin = signal_history(leavers=3, at_risk=2, clean=20, price=0)
    with Ledger.open(str(tmp_path / "thin.db")) as ledger:
        ledger.append(thin.events)
        proposals = ledger.learning.proposals(with_backtest=False)
    assert proposals.pending == ()
    (refused,) = proposals.not_proposed
    assert refused.why.startswith("too little evidence: the best, deadlines_missed_90d >= 2 flags 3 of 3 of them")
    assert "at least 44% of its warnings would be right (95% confidence), and 50% is needed" in refused.why


def test_an_eager_rule_is_tuned_with_its_backtest(db: str, generated: SignalHistory) -> None:
    eager = '\n[[rules]]\nid = "deadline-slipped"\nverdict = "renegotiate"\nwhen = ["deadlines_missed_90d >= 1"]\n'
    with Ledger.open(db) as ledger:
        ledger.rules.use(default_ruleset_text() + eager)
        proposals = ledger.learning.proposals()
    (tuned,) = [p for p in proposals.pending if p.kind == "tune"]
    assert tuned.readable_id == "tune-deadline-slipped-to-deadlines-missed-90d-at-least-2"
    assert tuned.rule["when"] == ["deadlines_missed_90d >= 2"] and tuned.rule["id"] == "deadline-slipped"
    champion, challenger = tuned.tuning.champion, tuned.tuning.challenger
    # at 1 it also fired for clients who stayed (a deadline missed now and then); at 2 for none of them
    assert len(champion.false_alarms) > 10 and challenger.false_alarms == ()
    assert set(challenger.flagged) >= set(generated.leavers)
    rule_outcome = tuned.backtest.rules["deadline-slipped"]
    assert len(rule_outcome.false_alarms) < len(tuned.backtest.current.false_alarms)
    # the eager rule already covers the learned one: no new rule is proposed on top of it
    assert all(p.kind == "tune" for p in proposals.pending)
    with Ledger.open(db) as ledger:
        version = ledger.learning.accept(tuned.readable_id)
    assert str(version.ruleset.rule("deadline-slipped").when[0]) == "deadlines_missed_90d >= 2"


def test_the_text_speaks_plainly_and_json_keeps_the_numbers(db: str, generated: SignalHistory) -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["--db", db, "proposals"])
    assert text.exit_code == 0, text.stderr
    out = text.stdout
    assert "Proposal missed-deadlines-if-deadlines-missed-90d-at-least-2" in out
    assert "had 2 or more missed deadlines within 90 days" in out
    assert "no client who stayed had it" in out and "This rule would flag 4 clients today." in out
    assert "At risk now: " in out and all(client in out for client in generated.at_risk)
    assert "precision" not in out and "recall" not in out
    data = json.loads(runner.invoke(cli, ["--db", db, "proposals", "--json"]).stdout)
    (proposal,) = [p for p in data["proposals"] if p["reason"] == "missed_deadlines"]
    assert {"id", "reason", "reason_label", "rule", "rule_toml", "evidence", "backtest"} <= set(proposal)
    assert proposal["evidence"]["precision"] == 1.0 and len(proposal["evidence"]["precision_interval"]) == 2
    assert [item["client"] for item in proposal["evidence"]["at_risk_now"]] and data["method"]["horizon_days"] == 180
    rejected = runner.invoke(cli, ["--db", db, "proposals", "reject", proposal["readable_id"]])
    assert rejected.exit_code == 0 and rejected.stdout == f"rejected {proposal['readable_id']}\n"


def test_a_shorter_horizon_judges_recent_warnings_sooner(db: str) -> None:
    """With H = 30 days, the clients warned about in the last two months have stayed long enough to count."""
    result = CliRunner().invoke(cli, ["--db", db, "proposals", "--horizon-days", "30", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["method"]["horizon_days"] == 30
    deadlines = [p for p in data["proposals"] if p["reason"] == "missed_deadlines"]
    assert all(p["evidence"]["horizon_days"] == 30 for p in deadlines)
    refused = CliRunner().invoke(cli, ["--db", db, "proposals", "--horizon-days", "5"])
    assert refused.exit_code == 2 and "5 is not in the range 30<=x<=3650" in refused.stderr


def test_a_rejection_recorded_under_an_older_id_still_holds(db: str, generated: SignalHistory) -> None:
    """Decisions recorded when ids hashed the evidence are matched by the rule they were about."""
    from clientrules.domain.events.system import LEARNING_STREAM, ProposalDecided

    with Ledger.open(db) as ledger:
        proposal = _deadlines(ledger)
        evidence = json.dumps({"reason": "missed_deadlines", "clients": list(generated.leavers)})
        old = ProposalDecided(proposal_id="p-0123456789ab", outcome="rejected", evidence=evidence, rule=dict(proposal.rule))
        ledger.record(LEARNING_STREAM, old, "2026-01-02")
        proposals = ledger.learning.proposals(with_backtest=False)
    assert all(p.reason != "missed_deadlines" for p in proposals.pending)
    assert [d.id for d in proposals.decided] == ["p-0123456789ab"]
