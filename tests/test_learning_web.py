"""The owner's learning page in the web app: the report with its charts, accepting and rejecting proposals."""

from __future__ import annotations

import re
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
