"""The owner's learning page in the web app: the report with its charts, accepting and rejecting proposals."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from clientrules import Ledger
from survey_fixtures import clean_environment, close_app, csrf_token, make_app
from tests.learning_fixtures import build_db

PASSWORD = "learning page owner password"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = build_db(tmp_path_factory.mktemp("learning-web") / "ledger.db", clients=60)
    with Ledger.open(str(db)) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
    return db


@pytest.fixture
def app(template_db: Path, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    db = tmp_path / "ledger.db"
    db.write_bytes(template_db.read_bytes())
    app = make_app(str(db), tmp_path)
    yield app
    close_app(app)


@pytest.fixture
def owner(app):
    client = app.test_client()
    token = csrf_token(client.get("/owner/login").get_data(as_text=True))
    assert client.post("/owner/login", data={"csrf_token": token, "password": PASSWORD}).status_code == 303
    return client


def test_the_page_needs_the_owner(app) -> None:
    client = app.test_client()
    assert client.get("/owner/learning/").status_code in (302, 303)
    assert client.get("/owner/learning/charts/reasons.png").status_code in (302, 303)


def test_report_page_with_charts_and_stylesheet(owner) -> None:
    page = owner.get("/owner/learning/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "What we learned from clients who left" in html and "<style>" not in html
    charts = re.findall(r'<img src="(/owner/learning/charts/[^"]+\.png)"', html)
    assert "/owner/learning/charts/reasons.png" in charts and len(charts) >= 4
    for url in charts:
        image = owner.get(url)
        assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(b"\x89PNG")
    assert owner.get("/owner/learning/charts/nothing.png").status_code == 404
    css = owner.get("/owner/learning/report.css")
    assert css.mimetype == "text/css" and "@media print" in css.get_data(as_text=True)


def test_accept_and_reject_from_the_page(owner, app) -> None:
    html = owner.get("/owner/learning/").get_data(as_text=True)
    accept, reject = re.findall(r'action="(/owner/learning/proposals/[a-z0-9.-]+/(?:accept|reject))"', html)[:2]
    assert owner.post(accept, data={}).status_code == 400  # no CSRF token
    token = csrf_token(html)
    answer = owner.post(accept, data={"csrf_token": token})
    assert answer.status_code == 303
    ledger = app.extensions["clientrules"].ledger
    assert ledger.rules.current().version == 2
    after = owner.get("/owner/learning/").get_data(as_text=True)
    assert "is now one of the rules (rules version 2 are now in use)" in after and "Log out" in after
    again = owner.post(reject, data={"csrf_token": csrf_token(after)})
    assert again.status_code == 303
    assert "was accepted already" in owner.get("/owner/learning/").get_data(as_text=True)


def _until_built(owner) -> str:
    """The learning page once its report is built (the build runs in the background)."""
    for _ in range(600):
        page = owner.get("/owner/learning/").get_data(as_text=True)
        if "client histories" not in page:
            return page
        threading.Event().wait(0.1)
    raise AssertionError("the learning report was never built")


def test_a_large_history_is_read_in_the_background_while_the_page_says_how_far_it_has_come(
    app, owner, monkeypatch
) -> None:
    from survey_app import state

    monkeypatch.setattr(state, "READS_AT_ONCE", 0)  # any history is more than is read before answering
    first = owner.get("/owner/learning/")
    text = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "history for this report" in text and ">Look again</a>" in text
    assert re.search(r'<progress max="60" value="\d+"', text)  # 60 clients, read once
    built = _until_built(owner)
    assert "Why clients left" in built and "<progress" not in built


def test_the_report_is_built_again_after_a_new_event_and_the_one_before_shown_meanwhile(app, owner, monkeypatch) -> None:
    from clientrules import ClientOnboarded
    from survey_app import state

    cache = app.extensions["clientrules"].report_cache
    ledger = app.extensions["clientrules"].ledger
    assert "Why clients left" in owner.get("/owner/learning/").get_data(as_text=True)
    built_at = cache._position
    assert built_at == ledger.head_position()
    monkeypatch.setattr(state, "READS_AT_ONCE", 0)
    ledger.record("newcomer", ClientOnboarded(name="Newcomer"), "2026-06-01")
    meanwhile = owner.get("/owner/learning/").get_data(as_text=True)
    assert "it is being brought up to date" in meanwhile and "Why clients left" in meanwhile
    _until_built(owner)
    assert cache._position == ledger.head_position() == built_at + 1
