"""The owner's pages: login, sessions, rate limit, CSRF, the dashboard, inviting, escaping."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from clientrules import ClientOnboarded, InvoiceIssued, Ledger
from survey_fixtures import FULL_ANSWERS, add_departed, clean_environment, close_app, csrf_token, make_app

PASSWORD = "a proper owner password"
OWNER_PAGES = ["/owner/", "/owner/clients/acme", "/owner/invitations", "/owner/rules"]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A departed client, a current one, and the owner's password (hashed once: hashing is slow on purpose)."""
    db = tmp_path_factory.mktemp("owner") / "template.db"
    with Ledger.open(str(db)) as ledger:
        add_departed(ledger, "acme", email="ann@acme.example")
        ledger.record("bravo", ClientOnboarded(name="Bravo"), "2026-02-01")
        ledger.record("bravo", InvoiceIssued(invoice_id="B-1", amount=500.0, due_on="2026-03-01"), "2026-02-01")
        ledger.surveys.owner.set_password(PASSWORD)
    return db


@pytest.fixture
def app(template_db: Path, db_url: str, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    with closing(sqlite3.connect(template_db)) as source, closing(sqlite3.connect(db_url)) as copy:
        source.backup(copy)
    app = make_app(db_url, tmp_path)
    yield app
    close_app(app)


def log_in(client, password: str = PASSWORD, base_url: str = "http://localhost", **extra):
    token = csrf_token(client.get("/owner/login", base_url=base_url).get_data(as_text=True))
    return client.post("/owner/login", data={"csrf_token": token, "password": password}, base_url=base_url, **extra)


@pytest.fixture
def owner(app):
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


def test_owner_pages_redirect_to_the_login(app) -> None:
    client = app.test_client()
    for page in OWNER_PAGES:
        response = client.get(page)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/owner/login?next=")
    assert client.post("/owner/clients/acme/invite").status_code in (302, 400)
    assert app.extensions["clientrules"].surveys.invitations() == []


def test_login_opens_the_pages_and_logout_closes_them(app) -> None:
    client = app.test_client()
    response = log_in(client, query_string={"next": "/owner/rules"})
    assert (response.status_code, response.headers["Location"]) == (303, "/owner/rules")
    for page in OWNER_PAGES:
        assert client.get(page).status_code == 200, page
    token = csrf_token(client.get("/owner/").get_data(as_text=True))
    assert client.post("/owner/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/owner/").status_code == 302


def test_login_never_redirects_to_another_site(app) -> None:
    for target in ("https://evil.example/", "//evil.example/owner/", "/owner/\\evil"):
        response = log_in(app.test_client(), query_string={"next": target})
        assert response.headers["Location"] == "/owner/"


def test_a_wrong_password_is_refused(app) -> None:
    client = app.test_client()
    response = log_in(client, "not the password")
    assert response.status_code == 400
    assert "That password is not right." in response.get_data(as_text=True)
    assert client.get("/owner/").status_code == 302


def test_without_an_owner_password_nobody_logs_in(db_url: str, tmp_path: Path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    app = make_app(db_url, tmp_path)
    try:
        client = app.test_client()
        assert "clientrules owner set-password" in client.get("/owner/login").get_data(as_text=True)
        assert log_in(client, "").status_code == 400
        assert log_in(client, "anything long enough").status_code == 400
        assert client.get("/owner/").status_code == 302
    finally:
        close_app(app)


def test_failed_logins_are_limited_per_address(app) -> None:
    client = app.test_client()
    for _ in range(5):
        assert log_in(client, "wrong guess").status_code == 400
    blocked = log_in(client, PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    assert client.get("/owner/").status_code == 302
    other_address = app.test_client()
    assert log_in(other_address, PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 303


def test_every_owner_form_needs_its_csrf_token(app, owner) -> None:
    assert app.test_client().post("/owner/login", data={"password": PASSWORD}).status_code == 400
    assert owner.post("/owner/clients/acme/invite", data={}).status_code == 400
    assert owner.post("/owner/clients/acme/invite", data={"csrf_token": "forged"}).status_code == 400
    assert owner.post("/owner/logout", data={}).status_code == 400
    assert owner.get("/owner/").status_code == 200  # still logged in
    assert app.extensions["clientrules"].surveys.invitations() == []


def test_session_cookie_flags(app) -> None:
    response = log_in(app.test_client())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_behind_https(db_url: str, tmp_path: Path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    monkeypatch.setenv("CLIENTRULES_HTTPS", "1")
    with Ledger.open(db_url) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
    app = make_app(db_url, tmp_path)
    try:
        response = log_in(app.test_client(), base_url="https://localhost")
        assert response.status_code == 303
        assert "Secure" in response.headers["Set-Cookie"]
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        close_app(app)


def test_a_new_password_ends_open_sessions(app, owner) -> None:
    app.extensions["clientrules"].surveys.owner.set_password("the next owner password")
    assert owner.get("/owner/").status_code == 302


def test_dashboard_shows_each_clients_decision_and_reasons(app, owner) -> None:
    html = owner.get("/owner/").get_data(as_text=True)
    decisions = {d.client: d for d in app.extensions["clientrules"].ledger.decisions.evaluate()}
    for client, decision in decisions.items():
        assert f">{client}</a>" in html
        assert decision.verdict.replace("_", " ") in html
    assert owner.get("/owner/clients/nobody").status_code == 404
    assert owner.get("/owner/clients/..%2Fetc").status_code == 404


def test_dashboard_points_to_clients_who_left_and_were_not_invited(app, owner) -> None:
    def survey_cell(client: str) -> str:
        html = owner.get("/owner/").get_data(as_text=True)
        return re.search(rf">{client}</a></th>(?:\s*<td>.*?</td>){{2}}\s*<td>(.*?)</td>", html, re.S).group(1)

    assert survey_cell("acme") == '<a href="/owner/invitations">left; not invited</a>'
    assert survey_cell("bravo") == ""
    app.extensions["clientrules"].surveys.invite("acme")
    assert survey_cell("acme") == "open"


def test_rules_page_shows_the_rule_set_in_use(app, owner) -> None:
    current = app.extensions["clientrules"].ledger.rules.current()
    html = owner.get("/owner/rules").get_data(as_text=True)
    assert f"version {current.version}" in html
    for rule in current.ruleset.rules:
        assert rule.id in html


def test_inviting_from_the_dashboard_writes_to_the_outbox_and_shows_the_link(app, owner, tmp_path: Path) -> None:
    page = owner.get("/owner/clients/acme").get_data(as_text=True)
    response = owner.post("/owner/clients/acme/invite", data={"csrf_token": csrf_token(page), "email": ""})
    assert response.status_code == 303
    (invitation,) = app.extensions["clientrules"].surveys.invitations("acme")
    html = owner.get("/owner/clients/acme").get_data(as_text=True)
    assert invitation.url("http://localhost/") in html
    (message,) = (tmp_path / "outbox").glob("*.eml")
    text = message.read_text()
    assert "To: ann@acme.example" in text and invitation.token in text
    # the client who has not left cannot be invited; the owner is told why
    page = owner.get("/owner/clients/bravo").get_data(as_text=True)
    owner.post("/owner/clients/bravo/invite", data={"csrf_token": csrf_token(page)})
    assert "no RelationshipEnded event" in owner.get("/owner/clients/bravo").get_data(as_text=True)


def test_the_owner_sees_answers_with_free_text_escaped(app, owner) -> None:
    surveys = app.extensions["clientrules"].surveys
    token = surveys.invite("acme").token
    script = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    surveys.submit(token, {**FULL_ANSWERS, "what_to_change": script})
    for page in ("/owner/clients/acme", "/owner/invitations"):
        html = owner.get(page).get_data(as_text=True)
        assert script not in html and "<img src=x" not in html
    html = owner.get("/owner/clients/acme").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    assert "Deadlines were missed" in html
    assert "answered on" in owner.get("/owner/invitations").get_data(as_text=True)


def test_the_learning_page_shows_free_text_escaped(app, owner) -> None:
    surveys = app.extensions["clientrules"].surveys
    script = '<script>alert("owned")</script>'
    surveys.submit(surveys.invite("acme").token, {"primary_reason": "quality", "what_to_change": script})
    html = owner.get("/owner/learning/").get_data(as_text=True)
    assert "Learning report" in html
    assert script not in html
    assert "&lt;script&gt;" in html


def test_the_invitations_page_invites_departed_clients_and_re_invites(app, owner) -> None:
    page = owner.get("/owner/invitations").get_data(as_text=True)
    assert 'action="/owner/clients/acme/invite"' in page and "/owner/clients/bravo/invite" not in page
    response = owner.post("/owner/clients/acme/invite", data={"csrf_token": csrf_token(page), "back": "invitations"})
    assert response.headers["Location"] == "/owner/invitations"
    page = owner.get("/owner/invitations").get_data(as_text=True)
    assert "acme: invitation stored" in page and "Every client who left has been invited." in page
    assert "Invite again" in page
    owner.post("/owner/clients/acme/invite", data={"csrf_token": csrf_token(page), "back": "invitations"})
    statuses = [i.status for i in app.extensions["clientrules"].surveys.invitations("acme")]
    assert statuses == ["superseded", "open"]


def test_reminders_from_the_invitations_page(app, owner, tmp_path: Path) -> None:
    app.extensions["clientrules"].surveys.invite("acme")
    page = owner.get("/owner/invitations").get_data(as_text=True)
    assert owner.post("/owner/invitations/remind", data={"after_days": "0"}).status_code == 400  # no CSRF token
    owner.post("/owner/invitations/remind", data={"csrf_token": csrf_token(page), "after_days": "-1"})
    assert "Use 0 or more days." in owner.get("/owner/invitations").get_data(as_text=True)
    response = owner.post("/owner/invitations/remind", data={"csrf_token": csrf_token(page), "after_days": "0"})
    assert response.status_code == 303
    assert "Reminded 1 client(s). acme: no mail server is configured" in owner.get("/owner/invitations").get_data(as_text=True)
    assert len(list((tmp_path / "outbox").glob("acme-*-reminder-1.eml"))) == 1
    (invitation,) = app.extensions["clientrules"].surveys.invitations("acme")
    assert len(invitation.reminded_at) == 1
