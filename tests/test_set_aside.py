"""A client that cannot be decided is set aside, never everyone: the others are decided, it is named with why.

The door refuses what would poison a client now, but a database written by an
older version may hold such events already. Here two ``WorkLogged`` of
1.7e308 hours, built as an older version stored them (the payload restored
without today's checks), make one client's ``hours_90d`` infinite: evaluate,
the watcher and ``db check`` decide every other client and name that one with
its reason, on both backends; the watcher tries it again later.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from clientrules import ClientOnboarded, ContractBreached, Event, Ledger
from clientrules.cli.main import cli
from clientrules.domain.events import registry



def poisoned(ledger: Ledger) -> str:
    """Two healthy clients, one who broke the contract, and ``o3`` with hours an older version accepted; now."""
    today = ledger.clock().date  # db check decides as of now, and the hours count for 90 days
    day = {n: today - dt.timedelta(days=n) for n in range(40)}
    for client in ("fine", "breaker", "o3"):
        ledger.record(client, ClientOnboarded(name=client.capitalize()), day[30])
    ledger.alerts.once(as_of=day[29])  # the baseline
    ledger.record("breaker", ContractBreached(clause="4.1"), day[3])
    for n in (2, 1):
        legacy = registry.restore("WorkLogged", {"hours": 1.7e308, "billable": True}, 1)
        ledger.append([Event.new("o3", legacy, day[n])])
    return ledger.clock().text


@pytest.mark.slow
def test_one_undecidable_client_is_set_aside_and_every_other_decided_on_both_backends(store_url):
    with Ledger.open(store_url) as ledger:
        now = poisoned(ledger)
        set_aside: list[tuple[str, str]] = []
        decided = {d.client: d.verdict for d in ledger.iter_evaluate(as_of=now, set_aside=lambda *f: set_aside.append(f))}
        assert decided == {"fine": "keep", "breaker": "terminate"}
        assert [client for client, _ in set_aside] == ["o3"] and "hours_90d" in set_aside[0][1]

        report, _ = ledger.alerts.once(as_of=now)
        assert [change.client for change in report.changes] == ["breaker"]
        assert [client for client, _ in report.set_aside] == ["o3"]
        later = ledger.clock().key + 2 * 3_600 * 1_000_000
        assert "o3" in ledger.store.due_clients(later), "the watcher tries it again later"

        problems = ledger.check()
        assert len(problems) == 1 and problems[0].startswith("client 'o3' cannot be decided") and "compensates" in problems[0]

    runner = CliRunner()
    result = runner.invoke(cli, ["--db", store_url, "evaluate"])
    assert result.exit_code == 1
    assert "breaker" in result.stdout and "fine" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "client o3 was set aside" in errors[0]
    result = runner.invoke(cli, ["--db", store_url, "evaluate", "--workers", "2"])
    assert result.exit_code == 1 and "breaker" in result.stdout and "client o3 was set aside" in result.stderr
    result = runner.invoke(cli, ["--db", store_url, "db", "check"])
    assert result.exit_code == 1 and "client 'o3' cannot be decided" in result.output


@contextmanager
def signed_in_owner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    """The owner's browser, signed in to the web app over ``db_url``."""
    from survey_fixtures import clean_environment, close_app, csrf_token, make_app

    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.surveys.owner.set_password("a proper owner password")
    app = make_app(db_url, tmp_path)
    try:
        owner = app.test_client()
        token = csrf_token(owner.get("/owner/login").get_data(as_text=True))
        owner.post("/owner/login", data={"csrf_token": token, "password": "a proper owner password"})
        yield owner
    finally:
        close_app(app)


def test_the_dashboard_sets_aside_an_undecidable_client_in_plain_words_and_shows_the_others(db_url, tmp_path, monkeypatch):
    with Ledger.open(db_url) as ledger:
        poisoned(ledger)
        page = ledger.portfolio.page()
        assert {s.client: s.verdict for s in page.standings} == {"fine": "keep", "breaker": "terminate"}
        assert [aside.client for aside in page.set_aside] == ["o3"] and "hours_90d" in page.set_aside[0].reason
    with signed_in_owner(db_url, tmp_path, monkeypatch) as owner:
        response = owner.get("/owner/")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html[-2000:]
        assert "1 client could not be decided" in html and "O3" in html and "hours_90d" not in html
        assert "Breaker" in html and "Fine" in html


def test_learning_the_backtest_and_the_rule_preview_set_aside_an_undecidable_client(db_url, tmp_path, monkeypatch):
    """They replay or decide every other client, and name the one set aside in plain words where results are shown."""
    with Ledger.open(db_url) as ledger:
        poisoned(ledger)
        backtest = ledger.learning.backtest()
        assert [client for client, _ in backtest.set_aside] == ["o3"] and "hours_90d" in backtest.set_aside[0][1]
        assert backtest.current.retained == 2, "the two others are replayed; o3 is out of the counts"
        assert backtest.to_json()["set_aside"] == [{"client": "o3", "reason": backtest.set_aside[0][1]}]

        report = ledger.learning.report()
        assert [item["client"] for item in report.to_json()["set_aside"]] == ["o3"]
        assert report.to_json()["summary"]["retained"] == 3, "the evidence still counts every client"
        assert any("1 client could not be decided (O3)" in sentence for sentence in report.to_json()["in_words"]["summary"])

        ruleset = ledger.rules.current().ruleset
        breach = next(rule for rule in ruleset.rules if "contract_breaches_365d" in rule.facts_used)
        preview = ledger.rule_changes.preview_edit(breach.id, enabled=False)
        assert [client for client, _ in preview.set_aside] == ["o3"]
        assert [(c.client, c.before) for c in preview.changed] == [("breaker", "terminate")]

    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db_url, "backtest"])
    assert result.exit_code == 0, result.output
    assert "1 client could not be decided (o3)" in result.stdout and "clientrules db check" in result.stdout
    result = runner.invoke(cli, ["--db", db_url, "report"])
    assert result.exit_code == 0, result.output
    assert "1 client could not be decided (O3)" in result.stdout

    with signed_in_owner(db_url, tmp_path, monkeypatch) as owner:
        for url in ("/owner/learning/", f"/owner/rules/{breach.id}/edit", "/owner/rules/versions/1"):
            assert owner.get(url).status_code == 200, url
        learning_page = owner.get("/owner/learning/").get_data(as_text=True)
        assert "1 client could not be decided (O3)" in learning_page and "is inf" not in learning_page
        preview_page = owner.get("/owner/rules/versions/1").get_data(as_text=True)
        assert "1 client could not be decided" in preview_page and "<strong>O3</strong>" in preview_page
        assert "is inf" not in preview_page, "the reason is for whoever runs db check, not the owner"


def test_the_page_of_an_undecidable_client_says_so_in_plain_words_and_still_shows_its_history(db_url, tmp_path, monkeypatch):
    with Ledger.open(db_url) as ledger:
        poisoned(ledger)
    with signed_in_owner(db_url, tmp_path, monkeypatch) as owner:
        response = owner.get("/owner/clients/o3")
        html = response.get_data(as_text=True)
        assert response.status_code == 503, html[-2000:]
        assert "Decisions for this client are unavailable" in html and "clientrules db check" in html
        assert html.count('<p class="what">Work logged</p>') == 2 and "Record what happened" in html, "the rest of the page"
        assert "is inf" not in html and "Traceback" not in html
        assert owner.get("/owner/clients/fine").status_code == 200, "every other client's page answers"
