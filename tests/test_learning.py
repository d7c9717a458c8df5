"""The learning loop on a small generated history: proposals, accept, reject, report data and rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules.adapters.report.html import render_html
from clientrules import (
    ClientOnboarded,
    DeadlineMissed,
    Ledger,
    RelationshipEnded,
    SurveyAnswered,
    SurveyInvited,
)
from clientrules.cli.main import cli
from clientrules.domain.events.system import LEARNING_STREAM
from clientrules.application.learning import UnknownProposal
from clientrules.domain.learning import REPORT_KEYS, Finding
from clientrules.domain.learning.history import days_before
from tests.learning_fixtures import build_db, copy_db, generator

SMALL = 60  # clients: 4 of them leave citing missed deadlines, with deadlines piling up before


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("learning") / "small.db", clients=SMALL)


@pytest.fixture
def small_db(small_template: Path, tmp_path: Path) -> str:
    return copy_db(small_template, tmp_path / "ledger.db")


def _proposal_for(proposals, reason):
    return next(p for p in proposals.pending if p.reason == reason)


def test_generator_is_deterministic() -> None:
    module = generator()
    assert module.generate(seed=7, clients=20) == module.generate(seed=7, clients=20)
    assert module.generate(seed=7, clients=20) != module.generate(seed=8, clients=20)


def test_proposes_the_planted_signal_and_nothing_for_price(small_db: str) -> None:
    with Ledger.open(small_db) as ledger:
        proposals = ledger.learning.proposals()
    proposal = _proposal_for(proposals, "missed_deadlines")
    assert (proposal.finding.fact, proposal.finding.op, proposal.finding.threshold) == ("deadlines_missed_90d", ">=", 2)
    assert proposal.rule["id"] == "learned-missed-deadlines"
    assert proposal.rule["verdict"] == "renegotiate"
    assert proposal.rule["when"] == ["deadlines_missed_90d >= 2"]
    rule_outcome = proposal.backtest.rules["learned-missed-deadlines"]
    assert len(rule_outcome.flagged) >= 4 and rule_outcome.median_lead_days >= 30
    assert len(rule_outcome.false_alarms) <= 1
    assert all(p.reason != "price_too_high" for p in proposals.pending)
    why = next(n.why for n in proposals.not_proposed if n.reason == "price_too_high")
    assert why.startswith("no separating fact")


def test_accept_adopts_a_new_version_whose_decisions_cite_the_rule(small_db: str) -> None:
    with Ledger.open(small_db) as ledger:
        proposal = _proposal_for(ledger.learning.proposals(with_backtest=False), "missed_deadlines")
        assert ledger.rules.current().version == 1
        version = ledger.learning.accept(proposal.id)
        assert version.version == 2 and ledger.rules.current().version == 2
        assert version.ruleset.rule("learned-missed-deadlines").verdict == "renegotiate"
        departures = {r.client: r.departure for r in ledger.learning.histories() if r.departure}
        for client in proposal.finding.flagged:
            moment = days_before(departures[client].at, 30)
            (decision,) = ledger.decisions.evaluate([client], as_of=moment)
            assert "learned-missed-deadlines" in decision.fired
            assert decision.ruleset_version == 2
            reason = next(r for r in decision.reasons if r.rule == "learned-missed-deadlines")
            assert "missed deadlines" in reason.advice
        (decided,) = [e.payload for e in ledger.events(LEARNING_STREAM)]
        assert (decided.proposal_id, decided.outcome, decided.ruleset_version) == (proposal.id, "accepted", 2)
        after = ledger.learning.proposals(with_backtest=False)
        assert proposal.id not in {p.id for p in after.pending}
        assert [(d.id, d.outcome) for d in after.decided] == [(proposal.id, "accepted")]
        with pytest.raises(UnknownProposal, match="was accepted already"):
            ledger.learning.accept(proposal.id)


def test_reject_is_recorded_and_not_proposed_again(small_db: str) -> None:
    with Ledger.open(small_db) as ledger:
        proposal = _proposal_for(ledger.learning.proposals(with_backtest=False), "missed_deadlines")
        ledger.learning.reject(proposal.id)
        (decided,) = [e.payload for e in ledger.events(LEARNING_STREAM)]
        assert (decided.proposal_id, decided.outcome, decided.ruleset_version) == (proposal.id, "rejected", None)
        assert json.loads(decided.evidence)["clients"] == list(proposal.finding.clients)
        again = ledger.learning.proposals(with_backtest=False)
        assert proposal.id not in {p.id for p in again.pending}
        with pytest.raises(UnknownProposal, match="was rejected already"):
            ledger.learning.accept(proposal.id)
        assert ledger.rules.current().version == 1


def test_one_more_departure_does_not_undo_a_rejection(small_db: str) -> None:
    with Ledger.open(small_db) as ledger:
        rejected = _proposal_for(ledger.learning.proposals(with_backtest=False), "missed_deadlines")
        ledger.learning.reject(rejected.id)
        client = "late-again"
        ledger.record(client, ClientOnboarded(name="Late Again"), "2025-01-10")
        for day in ("2025-04-02", "2025-04-20"):
            ledger.record(client, DeadlineMissed(deliverable="campaign"), day)
        ledger.record(client, RelationshipEnded(initiated_by="client"), "2025-06-01")
        ledger.record(client, SurveyInvited(invitation_id="inv-late", expires_at="2025-07-01"), "2025-06-02")
        ledger.record(client, SurveyAnswered(invitation_id="inv-late", primary_reason="missed_deadlines"), "2025-06-03")
        again = ledger.learning.proposals(with_backtest=False)
    assert all(p.reason != "missed_deadlines" for p in again.pending)
    with pytest.raises(UnknownProposal, match="was rejected already"):
        again.get(rejected.readable_id)


def test_unknown_proposal_is_a_clear_error(small_db: str) -> None:
    with Ledger.open(small_db) as ledger, pytest.raises(UnknownProposal, match="no pending proposal 'p-nope'"):
        ledger.learning.reject("p-nope")


def test_proposal_id_names_what_is_proposed() -> None:
    def finding(clients: tuple[str, ...], threshold: int = 2) -> Finding:
        return Finding("missed_deadlines", "deadlines_missed_90d", threshold, clients, clients, (), 10)

    assert finding(("a", "b")).proposal_id == finding(("a", "b", "c")).proposal_id
    assert finding(("a", "b")).proposal_id != finding(("a", "b"), 3).proposal_id
    assert finding(("a",), 3).readable_id == "missed-deadlines-if-deadlines-missed-90d-at-least-3"


def test_report_json_keys_are_stable(small_db: str) -> None:
    """The first version's keys stay as they were, in their order; later keys are only added after them."""
    with Ledger.open(small_db) as ledger:
        data = ledger.learning.report().to_json()
    assert list(data) == list(REPORT_KEYS) == [
        "schema", "period", "summary", "reasons", "by_quarter", "ratings", "recommend", "would_return",
        "answers", "departed_clients", "proposals", "not_proposed", "decided", "method",
        "ended_by_us", "told", "names", "rule_words", "in_words", "set_aside",
    ]  # fmt: skip
    assert set(data["summary"]) == {
        "clients", "retained", "departed", "answered", "flagged_before_leaving", "lost_monthly_value", "ruleset_version",
        "warned_too_late", "median_lead_days", "first_departure", "ended_by_us", "ended_by_us_monthly_value",
    }  # fmt: skip
    assert set(data["reasons"][0]) == {
        "code", "label", "primary", "contributing", "lost_monthly_value", "first_thought", "decided_days_before",
    }  # fmt: skip
    assert set(data["recommend"]) == {
        "answers", "average", "promoters", "passives", "detractors", "nps", "distribution", "words",
    }  # fmt: skip
    assert set(data["departed_clients"][0]) == {
        "client", "departed_on", "initiated_by", "monthly_value", "answered", "primary_reason", "other_reasons",
        "facts_before", "signals_before", "flagged", "first_flagged", "lead_days", "flagged_verdict", "flagged_by",
        "flagged_ruleset_version", "first_thought_leaving", "decided_days_before", "too_late",
    }  # fmt: skip
    assert set(data["in_words"]) == {"period", "summary", "recommend", "ended_by_us"}
    assert data["summary"]["clients"] == SMALL
    assert data["summary"]["departed"] == len(data["departed_clients"])
    assert data["summary"]["ended_by_us"] == len(data["ended_by_us"])
    assert data["summary"]["clients"] == data["summary"]["departed"] + data["summary"]["ended_by_us"] + data["summary"]["retained"]
    assert all(client["initiated_by"] == "client" for client in data["departed_clients"])
    assert sum(r["primary"] for r in data["reasons"]) == data["summary"]["answered"]
    json.dumps(data)  # JSON-able as it is


def _departed_with_answer(db: str, text: str) -> None:
    with Ledger.open(db) as ledger:
        ledger.record("shouty-client", ClientOnboarded(name="Shouty", monthly_value=900.0), "2025-01-10")
        ledger.record("shouty-client", RelationshipEnded(initiated_by="client"), "2025-08-01")
        ledger.record("shouty-client", SurveyInvited(invitation_id="inv-1", expires_at="2025-09-01"), "2025-08-02")
        answer = SurveyAnswered(
            invitation_id="inv-1", primary_reason="quality", recommend=3, rating_quality=1, what_to_change=text
        )
        ledger.record("shouty-client", answer, "2025-08-03")


def test_html_report_has_svg_charts_and_escapes_answers(db_url: str) -> None:
    _departed_with_answer(db_url, "<script>alert('x')</script> & more")
    with Ledger.open(db_url) as ledger:
        report = ledger.learning.report()
    page, body = render_html(report.to_json()), render_html(report.to_json(), full_page=False)
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 2
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in page
    assert "@media print" in page
    assert not body.lstrip().startswith("<!doctype") and "<svg" in body


@pytest.mark.slow
def test_cli_report_proposals_accept_and_backtest(small_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", small_db, "proposals", "--json"])
    assert listed.exit_code == 0, listed.stderr
    proposal = next(p for p in json.loads(listed.stdout)["proposals"] if p["reason"] == "missed_deadlines")

    candidate = tmp_path / "candidate.toml"
    with Ledger.open(small_db) as ledger:
        candidate.write_text(ledger.rules.current().ruleset.source + "\n" + proposal["rule_toml"])
    tested = runner.invoke(cli, ["--db", small_db, "backtest", "--rules", str(candidate), "--json"])
    assert tested.exit_code == 0, tested.stderr
    result = json.loads(tested.stdout)
    assert result["candidate_outcome"]["departures_flagged"] > result["current"]["departures_flagged"]
    assert result["rules"]["learned-missed-deadlines"] == proposal["backtest"]["rules"]["learned-missed-deadlines"]

    accepted = runner.invoke(cli, ["--db", small_db, "proposals", "accept", proposal["id"]])
    assert accepted.exit_code == 0 and "rule-set version 2 is now current" in accepted.stdout
    again = runner.invoke(cli, ["--db", small_db, "proposals", "reject", proposal["id"]])
    assert again.exit_code == 1 and again.stderr == f"error: proposal {proposal['id']} was accepted already\n"

    html = tmp_path / "report.html"
    written = runner.invoke(cli, ["--db", small_db, "report", "--html", str(html)])
    assert written.exit_code == 0 and "<svg" in html.read_text()
    text = runner.invoke(cli, ["--db", small_db, "report"])
    assert text.exit_code == 0 and "Decided: " + proposal["readable_id"] in text.stdout


def test_cli_backtest_refuses_an_invalid_rule_set(small_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nid = "x"\nverdict = "renegotiate"\nwhen = ["no_such_fact >= 1"]\n')
    result = CliRunner().invoke(cli, ["--db", small_db, "backtest", "--rules", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid rule set:") and result.stderr.count("\n") == 1


def test_html_report_charts_have_ids_of_their_own(db_url: str) -> None:
    """Several inline charts in one page: no repeated id, no RDF metadata (the Nu HTML checker refuses both)."""
    import re

    from clientrules.adapters.report.html import render_html

    _departed_with_answer(db_url, "More care, please.")
    with Ledger.open(db_url) as ledger:
        page = render_html(ledger.learning.report().to_json())
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and any(i.startswith("chart-reasons-") for i in ids)
    assert "<metadata>" not in page and "<main>" in page
    assert page.index("<style>") < page.index("</head>")


def test_report_groups_what_they_told_us_by_reason_and_shows_our_endings_apart(db_url: str) -> None:
    with Ledger.open(db_url) as ledger:
        for client, by in (("went", "client"), ("ours", "us")):
            ledger.record(client, ClientOnboarded(name=client.title(), monthly_value=500.0), "2025-01-10")
            ledger.record(client, RelationshipEnded(initiated_by=by), "2025-08-01")
            ledger.record(client, SurveyInvited(invitation_id=f"inv-{client}", expires_at="2025-09-01"), "2025-08-02")
        ledger.record(
            "went",
            SurveyAnswered(
                invitation_id="inv-went", primary_reason="in_house", questionnaire=2, about="leaving",
                moved_to="<b>Our own team</b>", keep_doing="The Monday calls", first_thought_leaving="one_to_three_months",
            ),
            "2025-08-03",
        )  # fmt: skip
        ledger.record(
            "ours",
            SurveyAnswered(invitation_id="inv-ours", primary_reason="project_finished", about="working_with_us", recommend=9),
            "2025-08-03",
        )
        ledger.record("stays", ClientOnboarded(name="Stays"), "2025-01-10")
        data = ledger.learning.report().to_json()
        text = ledger.learning.report().to_text()
    assert (data["summary"]["departed"], data["summary"]["ended_by_us"], data["summary"]["retained"]) == (1, 1, 1)
    assert [r["code"] for r in data["reasons"]] == ["in_house"]  # our ending's answer is not a reason for leaving
    assert data["reasons"][0]["first_thought"] == {"one_to_three_months": 1} and data["reasons"][0]["decided_days_before"] == 30
    (told,) = data["told"]
    assert (told["code"], told["moved_to"][0]["text"], told["keep_doing"][0]["text"]) == (
        "in_house", "<b>Our own team</b>", "The Monday calls"
    )
    (ours,) = data["ended_by_us"]
    assert (ours["client"], ours["about"], ours["recommend"]) == ("ours", "working_with_us", 9)
    assert data["recommend"]["answers"] == 0  # only the clients who chose to leave
    assert "We ended 1 relationship ourselves" in text and "Who they work with now (Went, 3 August 2025): <b>Our own team</b>" in text
