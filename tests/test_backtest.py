"""Backtest semantics on a tiny hand-made history: flagged departures and their lead, false alarms, changed decisions."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from clientrules import ClientOnboarded, DeadlineMissed, Ledger, RelationshipEnded, WorkLogged
from clientrules.cli.main import cli
from clientrules.domain.rules import default_ruleset_text
from conftest import DATA

#: the rules these stories are replayed under: version 1 of the default playbook, which has no rule of its
#: own on our missed deadlines (version 2's our-side-slipping would flag the leaver as the learned rule does)
PLAYBOOK_V1 = (DATA / "default_playbook.v1.toml").read_text()

RULE = """
[[rules]]
id = "learned-missed-deadlines"
verdict = "renegotiate"
when = ["deadlines_missed_90d >= 2"]
advice = "Talk to them."
"""


def record_history(ledger: Ledger) -> Ledger:
    """Three clients: one who left after missed deadlines, one who stayed despite them, one calm."""
    ledger.import_jsonl(DATA / "playbook_v1.jsonl")
    for client in ("leaver", "stayer", "calm"):
        ledger.record(client, ClientOnboarded(name=client.title()), "2025-01-05")
    # the leaver: two deadlines missed in April, gone on 15 June
    ledger.record("leaver", DeadlineMissed(deliverable="logo"), "2025-04-10")
    ledger.record("leaver", DeadlineMissed(deliverable="site"), "2025-04-20")
    ledger.record("leaver", RelationshipEnded(initiated_by="client"), "2025-06-15")
    # the stayer: two deadlines missed in March, still a client
    ledger.record("stayer", DeadlineMissed(deliverable="logo"), "2025-03-01")
    ledger.record("stayer", DeadlineMissed(deliverable="site"), "2025-03-15")
    ledger.record("calm", WorkLogged(hours=5.0, billable=True), "2025-09-01")
    return ledger


@pytest.fixture
def ledger(ledger: Ledger) -> Ledger:
    return record_history(ledger)


def test_candidate_against_current(ledger: Ledger) -> None:
    result = ledger.learning.backtest(PLAYBOOK_V1 + RULE)
    assert [m.text for m in result.moments] == [f"2025-{month:02d}-01" for month in range(2, 10)]
    assert (result.current.flagged, result.current.false_alarms) == ((), ())
    (flag,) = result.candidate.flagged
    assert (flag.client, flag.first_flagged.text, flag.lead_days, flag.verdict) == ("leaver", "2025-05-01", 45, "renegotiate")
    assert flag.rules == ("learned-missed-deadlines",)
    # the stayer was first flagged on 1 April, 153 days before the history ends: too recent to call a false alarm
    assert (result.candidate.false_alarms, result.candidate.pending) == ((), ("stayer",))
    assert [(c.client, c.as_of.text, c.before, c.after, c.added) for c in result.changes] == [
        ("leaver", "2025-05-01", "keep", "renegotiate", ("learned-missed-deadlines",)),
        ("leaver", "2025-06-01", "keep", "renegotiate", ("learned-missed-deadlines",)),
        ("stayer", "2025-04-01", "keep", "renegotiate", ("learned-missed-deadlines",)),
        ("stayer", "2025-05-01", "keep", "renegotiate", ("learned-missed-deadlines",)),
    ]
    rule = result.rules["learned-missed-deadlines"]
    assert (len(rule.flagged), rule.median_lead_days, rule.false_alarms, rule.pending) == (1, 45, (), ("stayer",))
    # the leaver is decided only while a client: 5 months, the others 8 each
    assert result.current.decisions == result.candidate.decisions == 5 + 8 + 8
    data = result.to_json()
    assert data["changed_decisions"] == 4 and data["changed_clients"] == 2
    assert data["transitions"] == {"keep -> renegotiate": 4}


def test_a_client_who_stayed_the_horizon_after_the_warning_is_a_false_alarm(ledger: Ledger) -> None:
    ledger.record("calm", WorkLogged(hours=2.0, billable=True), "2025-10-15")  # the history now ends 197 days after 1 April
    result = ledger.learning.backtest(PLAYBOOK_V1 + RULE)
    assert (result.candidate.false_alarms, result.candidate.pending) == (("stayer",), ())
    assert result.to_json()["rules"]["learned-missed-deadlines"]["false_alarm_clients"] == ["stayer"]


def test_a_rule_on_revenue_share_is_replayed_with_the_portfolio_of_each_month(ledger: Ledger) -> None:
    ledger.record("big", ClientOnboarded(name="Big", monthly_value=9000.0), "2025-03-10")
    ledger.record("small", ClientOnboarded(name="Small", monthly_value=1000.0), "2025-03-10")
    ledger.record("big", RelationshipEnded(initiated_by="client"), "2025-07-20")
    share_rule = RULE.replace("learned-missed-deadlines", "learned-big-share").replace(
        "deadlines_missed_90d >= 2", "revenue_share >= 0.5"
    )
    result = ledger.learning.backtest(PLAYBOOK_V1 + share_rule)
    (flag,) = result.candidate.flagged
    # from April, big is 9,000 of the 10,000 a month of the clients not left: the rule warns 110 days ahead
    assert (flag.client, flag.first_flagged.text, flag.lead_days) == ("big", "2025-04-01", 110)
    # once big has left, small is the whole portfolio: the rule fires for it from August, too recently to judge
    assert result.to_json()["rules"]["learned-big-share"]["pending_clients"] == ["small"]


def test_without_a_candidate_the_current_rules_are_replayed_alone(ledger: Ledger) -> None:
    result = ledger.learning.backtest()
    assert result.changes == () and result.rules == {}
    assert result.candidate == result.current and result.candidate_label == "current (v1)"


def test_cli_backtest_text(file_ledger: Ledger, tmp_path) -> None:
    ledger = record_history(file_ledger)  # the command opens it by its path
    rules = tmp_path / "candidate.toml"
    rules.write_text(PLAYBOOK_V1 + RULE)
    result = CliRunner().invoke(cli, ["--db", ledger.url, "backtest", "--rules", str(rules)])
    assert result.exit_code == 0, result.stderr
    assert "departures warned of" in result.stdout and "1 of 1" in result.stdout
    assert (
        "Rule learned-missed-deadlines: fired before 1 of 1 departures (median 45 days ahead), "
        "and for 0 of 2 retained clients who then stayed (1 more too recently to tell)"
    ) in result.stdout


def test_decisions_by_standing_equal_the_engine_at_every_check(tmp_path) -> None:
    """Asking the engine once per standing of the facts gives what it gives for every client-moment on its own."""
    from clientrules.adapters.durable import DurableEngine
    from clientrules.application.engines import Engines
    from clientrules.domain.learning.backtest import DecisionMemo
    from clientrules.domain.learning.evidence import check_moments
    from tests.learning_fixtures import signal_history

    asked: list[int] = []

    def counted(version):
        engine = DurableEngine(version)
        real = engine.fired_batch
        engine.fired_batch = lambda requests: asked.append(len(requests)) or real(requests)
        return engine

    with Ledger.open(str(tmp_path / "memo.db")) as ledger:
        ledger.append(signal_history(leavers=6, at_risk=3, clean=20, price=4).events)
        version = ledger.rules.use(default_ruleset_text() + RULE)
        memo = DecisionMemo(Engines(counted).fired_batch)
        alone = Engines(DurableEngine, standings_kept=0)
        histories = ledger.learning.histories()
        moments = histories.timeframe.monthly_moments()
        checked = 0
        for record in histories:
            for moment in check_moments(record, moments, histories.timeframe):
                facts = record.facts(moment, 7)
                expected = alone.decide(record.client, facts, version)
                (got,) = memo.decide([(record.client, facts)], version)
                assert (got.verdict, got.fired) == (expected.verdict, expected.fired), (record.client, moment)
                assert got.rules == tuple(r.rule for r in expected.reasons if r.verdict == expected.verdict)
                checked += 1
        alone.close()
    assert checked > 500 and sum(asked) < checked / 5


def test_a_warning_after_the_client_had_decided_is_too_late_and_our_endings_are_apart(ledger: Ledger) -> None:
    from clientrules import SurveyAnswered, SurveyInvited

    # the leaver (warned 45 days ahead) says it was thinking of leaving for more than three months
    ledger.record("leaver", SurveyInvited(invitation_id="inv-l", expires_at="2025-07-15T00:00:00+00:00"), "2025-06-16")
    ledger.record(
        "leaver",
        SurveyAnswered(invitation_id="inv-l", primary_reason="missed_deadlines", first_thought_leaving="over_three_months"),
        "2025-06-17",
    )
    # a client we ended with after the same warning: a decision carried out, never a departure warned of
    ledger.record("ours", ClientOnboarded(name="Ours"), "2025-01-05")
    ledger.record("ours", DeadlineMissed(deliverable="logo"), "2025-04-10")
    ledger.record("ours", DeadlineMissed(deliverable="site"), "2025-04-20")
    ledger.record("ours", RelationshipEnded(initiated_by="us"), "2025-06-15")
    result = ledger.learning.backtest(default_ruleset_text() + RULE)
    (flag,) = result.candidate.flagged
    assert (flag.client, flag.lead_days, flag.decided_days_before, flag.too_late) == ("leaver", 45, 90, True)
    assert (result.candidate.departures, result.candidate.ended_by_us, result.candidate.retained) == (1, 1, 2)
    assert result.to_json()["candidate_outcome"]["departures_flagged_too_late"] == 1
    from clientrules.domain.learning.report import too_late_words

    assert too_late_words(12, "one_to_three_months") == (
        "warned 12 days ahead; this client says it was thinking of leaving for 1 to 3 months"
    )
