"""The owner's "What changed" page: recent decision changes in plain words, linked to their clients."""

from __future__ import annotations

import re

import pytest
from test_owner_app import PASSWORD, log_in

from clientrules import ClientOnboarded, IncidentReported, Ledger
from survey_fixtures import clean_environment, close_app, make_app


@pytest.fixture
def app(db_url, tmp_path, monkeypatch):
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
        ledger.record("acme_co", ClientOnboarded(name="Acme"), "2026-01-05")
        ledger.record("bravo", ClientOnboarded(name="Bravo"), "2026-01-05")
    app = make_app(db_url, tmp_path)
    yield app
    close_app(app)


def record_abuse(app, client: str) -> None:
    ledger = app.extensions["clientrules"].ledger
    ledger.record(client, IncidentReported(kind="abuse", against="staff", severity=2), "2026-01-06")
    ledger.alerts.once()


def test_the_page_lists_recent_changes_in_plain_words_and_marks_those_since_the_last_look(app):
    owner = app.test_client()
    assert owner.get("/owner/changes/").status_code == 302  # login first
    assert log_in(owner).status_code == 303
    assert "Nothing is being watched yet" in owner.get("/owner/changes/").get_data(as_text=True)

    app.extensions["clientrules"].ledger.alerts.once()  # the baseline
    assert "No client's decision changed" in owner.get("/owner/changes/").get_data(as_text=True)

    record_abuse(app, "acme_co")
    page = owner.get("/owner/changes/").get_data(as_text=True)
    assert '<a href="/owner/clients/acme_co">Acme</a>' in page  # the name the owner knows, not the id
    assert re.search(r"was <span class=\"verdict keep\">keep</span>, now <span class=\"verdict terminate\">terminate", page)
    assert "A serious incident toward you or your people" in page
    assert '<a href="/owner/changes/">What changed</a>' in page
    text = re.sub(r"<[^>]+>", " ", page.split("<main", 1)[1])
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text) and "_" not in text.replace("acme_co", "")
    assert "Acme</a> <strong>new</strong>" in page  # changed after the previous visit

    record_abuse(app, "bravo")
    page = owner.get("/owner/changes/").get_data(as_text=True)
    assert page.index("bravo") < page.index("acme_co")  # newest first
    assert page.count("</a> <strong>new</strong>") == 1 and "Bravo</a> <strong>new</strong>" in page
