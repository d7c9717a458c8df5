"""Active, leaving, left: one status for decisions, next steps and the CLI, from NoticeGiven and RelationshipEnded."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from clientrules import ClientOnboarded, Ledger, NoticeGiven, RelationshipEnded, SurveyInvited
from clientrules.cli.main import cli


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "status.db")
    with Ledger.open(path) as ledger:
        ledger.record("notice-running", ClientOnboarded(name="Notice Running", monthly_value=3000.0), "2025-01-01")
        ledger.record("notice-running", NoticeGiven(by="client", effective_on="2026-05-20"), "2026-02-01")
        ledger.record("we-ended", ClientOnboarded(name="We Ended", monthly_value=1000.0), "2025-01-01")
        ledger.record("we-ended", RelationshipEnded(initiated_by="us"), "2026-03-01")
        ledger.record("staying", ClientOnboarded(name="Staying", monthly_value=6000.0), "2025-01-01")
    return path


def evaluate(db: str, as_of: str) -> dict[str, dict]:
    result = CliRunner().invoke(cli, ["--db", db, "evaluate", "--as-of", as_of, "--json"])
    assert result.exit_code == 0, result.output
    return {d["client"]: d for d in json.loads(result.stdout)}


def test_a_notice_makes_a_client_leaving_until_its_date_then_left(db):
    before = evaluate(db, "2026-01-15")
    assert {c: (d["status"], d["verdict"]) for c, d in before.items()} == {
        "notice-running": ("active", "keep"), "we-ended": ("active", "keep"), "staying": ("active", "keep")
    }
    during = evaluate(db, "2026-05-19")
    assert (during["notice-running"]["status"], during["notice-running"]["effective_on"]) == ("leaving", "2026-05-20")
    assert during["notice-running"]["verdict"] == "keep"
    assert (during["we-ended"]["status"], during["we-ended"]["verdict"], during["we-ended"]["fired"]) == ("left", None, [])
    after = evaluate(db, "2026-05-20")
    assert (after["notice-running"]["status"], after["notice-running"]["verdict"]) == ("left", None)
    assert after["staying"]["status"] == "active" and after["staying"]["effective_on"] is None
    assert set(after["staying"]) >= {"client", "verdict", "fired", "reasons", "advice", "ruleset_version", "as_of"}


def test_the_text_says_when_a_client_left_and_records_nothing_for_it(db):
    result = CliRunner().invoke(cli, ["--db", db, "evaluate", "--as-of", "2026-06-01", "--record"])
    assert result.exit_code == 0, result.output
    assert "left on 20 May 2026" in result.stdout and "left on 1 March 2026" in result.stdout
    with Ledger.open(db) as ledger:
        assert ledger.decisions.recorded("notice-running") == [] and len(ledger.decisions.recorded("staying")) == 1


def test_revenue_share_counts_only_clients_not_left(db):
    with Ledger.open(db) as ledger:
        assert float(ledger.decisions.portfolio_value(ledger_moment := "2026-04-01")) == 9000.0
        explained = ledger.decisions.explain("staying", as_of=ledger_moment)
        assert explained.facts.values["revenue_share"] == pytest.approx(6000 / 9000)
        assert float(ledger.decisions.portfolio_value("2026-02-01")) == 10000.0


def test_next_steps_wind_down_a_leaving_client_and_ask_only_those_who_chose_to_leave(db):
    with Ledger.open(db) as ledger:
        leaving = ledger.steps.for_client("notice-running", as_of="2026-04-01")
        assert [s.id for s in leaving.steps] == ["final-invoice", "obligations", "hand-over"]
        assert "20 May 2026" in leaving.steps[0].title
        left = ledger.steps.for_client("notice-running", as_of="2026-06-01")
        assert left.verdict is None and [s.id for s in left.steps] == ["exit-survey"]
        assert ledger.steps.for_client("we-ended", as_of="2026-06-01").steps == ()
        ledger.record("notice-running", SurveyInvited(invitation_id="i-1", expires_at="2026-07-01"), "2026-06-02")
        (survey,) = ledger.steps.for_client("notice-running", as_of="2026-06-03").steps
        assert survey.done
    result = CliRunner().invoke(cli, ["--db", db, "next", "we-ended", "--as-of", "2026-06-01", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"client": "we-ended", "verdict": None, "as_of": "2026-06-01", "steps": []}


def test_a_client_who_left_raises_no_alert(db):
    with Ledger.open(db) as ledger:
        ledger.alerts.once(as_of="2026-01-15")
        from clientrules import IncidentReported

        ledger.record("we-ended", IncidentReported(kind="threat", against="owner", severity=3), "2026-04-01")
        ledger.record("staying", IncidentReported(kind="threat", against="owner", severity=3), "2026-04-01")
        report, _ = ledger.alerts.once(as_of="2026-04-02")
        assert [change.client for change in report.changes] == ["staying"]


def test_the_facts_command_shows_the_value_and_its_share_of_the_portfolio(db):
    result = CliRunner().invoke(cli, ["--db", db, "facts", "staying", "--as-of", "2026-04-01", "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)["values"]
    assert values["monthly_value"] == 6000.0 and values["revenue_share"] == pytest.approx(2 / 3)


def test_an_owner_rule_can_use_the_value_facts(db):
    key_account = '''
[[rules]]
id = "key-account"
description = "Over half of the monthly revenue"
verdict = "renegotiate"
when = ["revenue_share >= 0.5", "monthly_value >= 5000"]
advice = "Line up other work before anything else."
'''
    with Ledger.open(db) as ledger:
        ledger.rules.use(ledger.rules.current().ruleset.source + key_account, note="watch the key account")
        decided = {d.client: d for d in ledger.decisions.evaluate(as_of="2026-04-01")}
    assert decided["staying"].fired == ("key-account",)
    assert "0.6667 share of the monthly revenue (at least 0.5)" in decided["staying"].reasons[0].sentence
    assert decided["notice-running"].fired == ()  # 3,000 of 9,000
