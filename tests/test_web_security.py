"""Web security of the survey app and the CLI's exports, as a careful reviewer checks it.

Forms and pages are enumerated from the app's URL map, so a form or a page
added later is covered (or the test says what to add here). Each check names
what it proves; the "Security and privacy" table of docs/guarantees.md points at them.
"""

from __future__ import annotations

import ast
import base64
import csv
import io
import json
import re
import sqlite3
import threading
from contextlib import closing
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules import (
    ClientMessageReceived,
    ClientOnboarded,
    DeadlineMissed,
    IncidentReported,
    Ledger,
    RelationshipEnded,
    SurveyAnswered,
)
from clientrules.cli.main import cli
from clientrules.domain.survey.links import LinkSigner
from conftest import REPO, run_in_threads
from survey_fixtures import FULL_ANSWERS, FULL_FORM, clean_environment, close_app, csrf_token, make_app, naming_token
from clientrules.config import SettingsError

PASSWORD = "a proper owner password"
SCRIPT = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
#: pages anyone may open (logging out only ends one's own session); every other route is the owner's
PUBLIC = {
    "static", "healthz", "survey.home", "survey.questionnaire", "survey.thanks", "survey.logo", "survey.brand_stylesheet",
    "owner.login", "owner.logout",
}
#: a value for each URL argument the app's routes take
ARGUMENTS = {
    "client": "acme",
    "filename": "style.css",
    "name": "reasons",
    "proposal_id": "p-000000000000",
    "step_id": "hand-over",
    "outcome": "accept",
    "token": "not-a-link",
    "type_name": "MeetingHeld",
    "rule_id": "chronic-late-payer",
    "number": 1,
    "key": "0123456789abcdef01234567",
}


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def departed(ledger: Ledger) -> None:
    ledger.record("acme", ClientOnboarded(name="Acme", email="ann@acme.example"), "2026-01-05")
    ledger.record("acme", RelationshipEnded(initiated_by="client"), "2026-10-30")
    ledger.record("bravo", ClientOnboarded(name="Bravo"), "2026-01-05")
    ledger.record("bravo", RelationshipEnded(initiated_by="client"), "2026-10-30")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two departed clients and the owner's password (hashed once: hashing is slow on purpose)."""
    db = tmp_path_factory.mktemp("security") / "template.db"
    with Ledger.open(str(db)) as ledger:
        departed(ledger)
        ledger.surveys.owner.set_password(PASSWORD)
    return db


def copy_of(template_db: Path, db_url: str) -> str:
    with closing(sqlite3.connect(template_db)) as source, closing(sqlite3.connect(db_url)) as copy:
        source.backup(copy)
    return db_url


@pytest.fixture
def app(template_db: Path, db_url: str, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    app = make_app(copy_of(template_db, db_url), tmp_path)
    yield app
    close_app(app)


def log_in(client, password: str = PASSWORD, **extra):
    token = csrf_token(client.get("/owner/login", **extra).get_data(as_text=True))
    return client.post("/owner/login", data={"csrf_token": token, "password": password}, **extra)


@pytest.fixture
def owner(app):
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


def url_of(app, rule) -> str:
    unknown = set(rule.arguments) - ARGUMENTS.keys()
    assert not unknown, f"{rule.rule}: give ARGUMENTS a value for {unknown}"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **{name: ARGUMENTS[name] for name in rule.arguments})


def state(app) -> tuple:
    """What a form could change: every event, and the owner's password."""
    ledger = app.extensions["clientrules"].ledger
    return ledger.store.head_position(), ledger.surveys.owner.version()


# --- CSRF ----------------------------------------------------------------------------------------


def test_every_form_refuses_a_missing_a_forged_or_another_sessions_csrf_token(app, owner) -> None:
    link = "/s/" + app.extensions["clientrules"].ledger.surveys.invite("acme").token
    forms = {  # endpoint -> (where it posts, what a browser would send)
        "owner.login": ("/owner/login", {"password": PASSWORD}),
        "owner.logout": ("/owner/logout", {}),
        "owner.invite": ("/owner/clients/acme/invite", {"email": "eve@evil.example"}),
        "owner.remind": ("/owner/invitations/remind", {"after_days": "0"}),
        "learning.decide": ("/owner/learning/proposals/p-000000000000/accept", {}),
        "next_steps.mark_done": ("/owner/clients/acme/steps/hand-over/done", {"reason": "x"}),
        "survey.questionnaire": (link, FULL_FORM),
        "owner.record": ("/owner/clients/bravo/record/MeetingHeld",
                         {"topic": "x", "outcome": "resolved", "at": "2026-03-01", "idempotency_key": "0" * 32}),
        "owner.new_client": ("/owner/clients/new", {"name": "Eve", "at": "2026-03-01", "idempotency_key": "1" * 32}),
        "rule_editing.edit": ("/owner/rules/chronic-late-payer/edit", {"enabled": "no", "thresholds-0": "1"}),
        "rule_editing.new": ("/owner/rules/new", {"fact": "open_invoices", "op": ">=", "value": "1", "verdict": "keep",
                                                  "description": "x"}),
        "rule_editing.adopt": ("/owner/rules/adopt", {"candidate": "[[rules]]", "note": "x", "expected_version": "1"}),
        "imports.page": ("/owner/import/", {"preset": "invoiceninja", "action": "import",
                                            "text": "Client Name,Invoice Number,Amount,Invoice Date\nEve,1,5,2026-03-01\n"}),
    }
    posting = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert posting == forms.keys(), "a form was added or removed: list it here"
    other_session = csrf_token(app.test_client().get(link).get_data(as_text=True))
    before = state(app)
    for endpoint, (path, data) in forms.items():
        for token in (None, "forged", other_session):
            sent = dict(data) if token is None else {**data, "csrf_token": token}
            visitor = app.test_client() if endpoint == "owner.login" else owner
            response = visitor.post(path, data=sent)
            assert response.status_code == 400, (endpoint, token)
            assert "This form has expired" in response.get_data(as_text=True)
            if endpoint == "owner.login":
                assert visitor.get("/owner/").status_code == 302  # not logged in
    assert state(app) == before
    assert owner.get("/owner/").status_code == 200  # the forged logout did not log out


# --- login -----------------------------------------------------------------------------------------


def test_every_owner_page_and_action_needs_the_login(app) -> None:
    visitor = app.test_client()
    token = csrf_token(visitor.get("/owner/login").get_data(as_text=True))  # a valid token, but no login
    before = state(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = url_of(app, rule)
        response = visitor.get(url) if "GET" in rule.methods else visitor.post(url, data={"csrf_token": token, "after_days": "0"})
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/owner/login?next="), url
        checked += 1
    assert checked >= 10
    assert state(app) == before


def test_parallel_wrong_passwords_cannot_pass_the_rate_limit(app) -> None:
    """Guesses sent at once are counted before the (slow) password check, so at most 5 are tried."""
    clients = [app.test_client() for _ in range(12)]
    tokens = [csrf_token(c.get("/owner/login").get_data(as_text=True)) for c in clients]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(number: int) -> None:
        start.wait()
        form = {"csrf_token": tokens[number], "password": "a wrong guess"}
        statuses.append(clients[number].post("/owner/login", data=form).status_code)

    assert run_in_threads(guess, len(clients)) == []
    assert sorted(statuses) == [400] * 5 + [429] * 7
    assert log_in(app.test_client()).status_code == 429  # the right password too, until the window passes


def test_forwarded_addresses_count_only_from_a_trusted_proxy(template_db, db_url, tmp_path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    copy_of(template_db, db_url)
    direct = make_app(db_url, tmp_path)
    try:  # not trusted: a client cannot dodge the limit by sending X-Forwarded-For
        for n in range(5):
            log_in(direct.test_client(), "wrong", headers={"X-Forwarded-For": f"10.0.0.{n}"})
        assert log_in(direct.test_client(), headers={"X-Forwarded-For": "10.0.0.99"}).status_code == 429
    finally:
        close_app(direct)
    proxied = make_app(db_url, tmp_path, CLIENTRULES_TRUSTED_PROXIES="1")
    try:  # behind one proxy: each client has its own count, the proxy's address none
        for _ in range(5):
            log_in(proxied.test_client(), "wrong", headers={"X-Forwarded-For": "10.0.0.1"})
        assert log_in(proxied.test_client(), headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 429
        assert log_in(proxied.test_client(), headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 303
    finally:
        close_app(proxied)


# --- survey links ------------------------------------------------------------------------------------


def test_survey_links_cannot_be_forged_altered_or_used_for_another_client(app) -> None:
    surveys = app.extensions["clientrules"].ledger.surveys
    invitation = surveys.invite("acme")
    secret = app.config["SECRET_KEY"]
    signer = LinkSigner(secret, max_age=surveys.expiry, clock=lambda: invitation.invited_at.utc)
    wrong_key = LinkSigner("another secret of the right length, 1234", max_age=surveys.expiry, clock=lambda: invitation.invited_at.utc)
    payload, stamp, signature = invitation.token.split(".")
    altered = base64.urlsafe_b64encode(json.dumps(["inv-0", "acme"]).encode()).decode().rstrip("=")
    forged = {
        "signed with another key": wrong_key.token(invitation.invitation_id, invitation.invited_at.utc),
        "payload altered": f"{altered}.{stamp}.{signature}",
        "signature cut": f"{payload}.{stamp}.",
        # a genuine signature over acme's invitation and bravo: bravo has no such invitation
        "another client": naming_token(secret, invitation.invitation_id, "bravo", invitation.invited_at.utc),
        "nobody's invitation": signer.token("inv-0", invitation.invited_at.utc),
    }
    client = app.test_client()
    before = state(app)
    for what, token in forged.items():
        for response in (client.get(f"/s/{token}"), client.post(f"/s/{token}", data=FULL_FORM)):
            assert response.status_code == 404, what
            assert "acme" not in response.get_data(as_text=True) and "bravo" not in response.get_data(as_text=True)
    assert state(app) == before
    page = client.get(f"/s/{invitation.token}").get_data(as_text=True)
    assert client.post(f"/s/{invitation.token}", data={**FULL_FORM, "csrf_token": csrf_token(page)}).status_code == 303
    assert client.post(f"/s/{invitation.token}", data={**FULL_FORM, "csrf_token": csrf_token(page)}).status_code == 410
    answers = surveys.answers()
    assert [a.client for a in answers] == ["acme"]


# --- script injection --------------------------------------------------------------------------------


def test_client_text_is_escaped_on_every_owner_page_and_in_the_html_report(app, owner, tmp_path) -> None:
    ledger = app.extensions["clientrules"].ledger
    ledger.record("evil", ClientOnboarded(name=SCRIPT, segment=SCRIPT, email="x@evil.example"), "2026-01-05")
    ledger.record("evil", ClientMessageReceived(topic=SCRIPT), "2026-02-01")
    ledger.record("evil", DeadlineMissed(deliverable=SCRIPT), "2026-02-02")
    ledger.record("evil", IncidentReported(kind="rude", against="staff", note=SCRIPT), "2026-02-03")
    ledger.record("evil", RelationshipEnded(initiated_by="client", reason=SCRIPT), "2026-10-30")
    surveys = app.extensions["clientrules"].ledger.surveys
    surveys.submit(surveys.invite("evil").token, {**FULL_ANSWERS, "what_to_change": SCRIPT})
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or "GET" not in rule.methods:
            continue
        body = owner.get(url_of(app, rule).replace("/acme", "/evil")).get_data()
        assert b"<script>" not in body and b"<img src=x" not in body, rule.rule
    assert "&lt;script&gt;" in owner.get("/owner/clients/evil").get_data(as_text=True)
    report = tmp_path / "report.html"
    assert run("--db", ledger.url, "report", "--html", str(report)).exit_code == 0
    html = report.read_text()
    assert "<script>" not in html and "<img src=x" not in html and "&lt;script&gt;" in html


def test_invitation_mail_holds_no_client_text(app, owner, tmp_path) -> None:
    ledger = app.extensions["clientrules"].ledger
    ledger.record("evil", ClientOnboarded(name=SCRIPT, email="x@evil.example"), "2026-01-05")
    ledger.record("evil", RelationshipEnded(initiated_by="client", reason=SCRIPT), "2026-10-30")
    page = owner.get("/owner/clients/evil").get_data(as_text=True)
    assert owner.post("/owner/clients/evil/invite", data={"csrf_token": csrf_token(page)}).status_code == 303
    (path,) = (tmp_path / "outbox").glob("evil-*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert all("script" not in part.get_content() for part in message.iter_parts())
    assert "script" not in path.read_text() and message["To"] == "x@evil.example"


def test_an_address_that_would_add_a_header_or_a_recipient_is_never_used(app, owner, tmp_path) -> None:
    ledger = app.extensions["clientrules"].ledger
    ledger.record("crlf", ClientOnboarded(name="C", email="ann@x.example\r\nBcc: eve@evil.example"), "2026-01-05")
    ledger.record("crlf", RelationshipEnded(initiated_by="client"), "2026-10-30")
    ledger.rules.current()  # adopted on first use: not part of what is checked
    head = ledger.store.head_position()
    refused = run("--db", ledger.url, "survey", "invite", "crlf")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert "was onboarded with 'ann@x.example\\r\\nBcc: eve@evil.example', which is not an e-mail address" in refused.stderr
    page = owner.get("/owner/clients/crlf").get_data(as_text=True)
    owner.post("/owner/clients/crlf/invite", data={"csrf_token": csrf_token(page)})
    assert "which is not an e-mail address" in owner.get("/owner/clients/crlf").get_data(as_text=True)
    assert ledger.store.head_position() == head and not (tmp_path / "outbox").exists()
    # an invitation imported with such an address is stored, but nothing is ever sent to it
    line = {"client": "crlf", "type": "SurveyInvited", "at": "2026-11-01",
            "data": {"invitation_id": "inv-imported", "expires_at": "2099-01-01T00:00:00+00:00", "email": "a@b.example\nBcc: eve@evil.example"}}
    imported = CliRunner().invoke(cli, ["--db", ledger.url, "import", "-"], input=json.dumps(line) + "\n")
    assert imported.exit_code == 0, imported.stderr
    reminded = run("--db", ledger.url, "survey", "remind", "--after-days", "0")
    assert reminded.exit_code == 1
    assert reminded.stderr.startswith("error: 'a@b.example\\nBcc: eve@evil.example' is not an e-mail address: nothing was sent")
    assert not (tmp_path / "outbox").exists()


def test_history_shows_control_characters_escaped(file_ledger) -> None:
    ledger = file_ledger  # the command opens it by its path
    ledger.record("term", ClientOnboarded(name="Ann\x1b]0;owned\x07\nforged line"), "2026-01-05")
    shown = run("--db", ledger.url, "history", "term").stdout
    assert "\x1b" not in shown and "\\x1b]0;owned\\x07\\nforged line" in shown
    assert len(shown.splitlines()) == 2


# --- CSV -----------------------------------------------------------------------------------------------


def test_csv_cells_a_spreadsheet_would_run_are_defused(file_ledger) -> None:
    ledger = file_ledger  # the command opens it by its path
    texts = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "plain text, 50% off"]
    for n, text in enumerate(texts):
        client = f"-c{n}" if n == 2 else f"c{n}"  # a client id may start with '-'
        ledger.record(client, ClientOnboarded(name="x"), "2026-01-05")
        ledger.record(client, RelationshipEnded(initiated_by="client"), "2026-10-30")
        surveys = ledger.surveys
        surveys.submit(surveys.invite(client).token, {"primary_reason": "other", "recommend": 7, "what_to_change": text})
    # the questionnaire turns a carriage return into a line break; an imported answer keeps it
    ledger.record("cr", SurveyAnswered(invitation_id="inv-imported", primary_reason="other", recommend=7, what_to_change="\rCR"), "2026-11-01")
    rows = list(csv.DictReader(io.StringIO(run("--db", ledger.url, "survey", "answers").stdout, newline="")))
    defused = {row["client"]: row["what_to_change"] for row in rows}
    assert defused == {
        "c0": "'=HYPERLINK(\"http://evil.example\",\"x\")", "c1": "'+1+1", "'-c2": "'-2+3", "c3": "'@SUM(A1)",
        "c4": "'\tTAB", "cr": "'\rCR", "c5": "plain text, 50% off",
    }
    assert {row["recommend"] for row in rows} == {"7"}  # numbers are left alone
    raw = [json.loads(line) for line in run("--db", ledger.url, "survey", "answers", "--format", "json").stdout.splitlines()]
    assert sorted(row["what_to_change"] for row in raw) == sorted([*texts, "\rCR"])  # JSON keeps the text


# --- cookies and headers -----------------------------------------------------------------------------


def _session_cookie(response) -> str:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("clientrules_session=")]
    return cookie


def test_the_session_cookie_is_httponly_samesite_and_secure_whenever_served_over_https(template_db, db_url, tmp_path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    copy_of(template_db, db_url)
    app = make_app(db_url, tmp_path)
    try:
        plain = _session_cookie(app.test_client().get("/owner/login"))
        assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
        assert "Secure" in _session_cookie(app.test_client().get("/owner/login", base_url="https://localhost"))
        # a header anyone can send is not believed without a trusted proxy
        spoofed = app.test_client().get("/owner/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" not in _session_cookie(spoofed)
    finally:
        close_app(app)
    proxied = make_app(db_url, tmp_path, CLIENTRULES_TRUSTED_PROXIES="1")
    try:
        behind_tls = proxied.test_client().get("/owner/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.1"})
        assert "Secure" in _session_cookie(behind_tls) and "HttpOnly" in _session_cookie(behind_tls)
        assert "Secure" not in _session_cookie(proxied.test_client().get("/owner/login", headers={"X-Forwarded-Proto": "http"}))
    finally:
        close_app(proxied)


def test_every_route_sends_the_security_headers(app, owner) -> None:
    visitor = app.test_client()
    responses = [visitor.get("/nowhere"), visitor.delete("/owner/login"), visitor.get("/s/unknown")]
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods:
            responses.append((owner if rule.endpoint not in PUBLIC else visitor).get(url_of(app, rule)))
            responses.append(visitor.get(url_of(app, rule)))
    for response in responses:
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src 'self';" in csp
        assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"], headers["Referrer-Policy"]) == ("DENY", "nosniff", "no-referrer")
        if response.mimetype == "text/html":
            assert headers["Cache-Control"] == "no-store"


# --- secrets -------------------------------------------------------------------------------------------


def test_there_is_no_default_secret_and_a_short_one_is_refused(tmp_path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    secrets = []
    for name in ("one.db", "two.db"):
        app = make_app(str(tmp_path / name), tmp_path)
        secrets.append(app.config["SECRET_KEY"])
        assert app.extensions["clientrules"].ledger.store.get_meta("survey_secret") == secrets[-1]
        close_app(app)
    assert secrets[0] != secrets[1] and min(map(len, secrets)) >= 32
    with pytest.raises(SettingsError, match=r"^CLIENTRULES_SECRET_KEY is too short \(6 characters; at least 32\)"):
        make_app(str(tmp_path / "one.db"), tmp_path, CLIENTRULES_SECRET_KEY="secret")
    monkeypatch.setenv("CLIENTRULES_SECRET_KEY", "secret")
    refused = run("--db", str(tmp_path / "one.db"), "survey", "list")
    assert refused.exit_code == 1 and refused.stderr.startswith("error: CLIENTRULES_SECRET_KEY is too short")


# --- SQL injection -------------------------------------------------------------------------------------

HOSTILE = ["x' OR '1'='1", "x'; DROP TABLE events; --", 'x" OR 1=1 --', "%s", "?", "x%' --", "acme'--", "acme\\' --"]


def test_hostile_ids_and_parameters_reach_the_database_only_as_values(store_url, tmp_path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    with Ledger.open(store_url) as ledger:
        departed(ledger)
        ledger.surveys.owner.set_password(PASSWORD)
        ledger.rules.current()  # adopted on first use: not part of what is checked
        before = [e.to_json() for e in ledger.store.read_all()]
    for hostile in HOSTILE:
        for args in (["history", hostile], ["history", "acme", "--until", hostile], ["export", "--client", hostile],
                     ["erase", hostile, "--yes"], ["explain", hostile], ["facts", hostile], ["survey", "invite", hostile]):
            result = run("--db", store_url, *args)
            assert result.exit_code == 1 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (args, result.stderr)
    app = make_app(store_url, tmp_path)
    try:
        owner = app.test_client()
        assert log_in(owner).status_code == 303
        token = csrf_token(owner.get("/owner/").get_data(as_text=True))
        for hostile in HOSTILE:
            quoted = hostile.replace("%", "%25").replace("?", "%3F")
            assert owner.get(f"/owner/clients/{quoted}").status_code == 404
            assert owner.post(f"/owner/clients/{quoted}/invite", data={"csrf_token": token}).status_code == 404
            assert owner.post(f"/owner/learning/proposals/{quoted}/reject", data={"csrf_token": token}).status_code == 303
            assert owner.get(f"/s/{quoted}").status_code == 404
            assert owner.get("/owner/clients/acme", query_string={"until": hostile, "next": hostile}).status_code == 200
    finally:
        close_app(app)
    with Ledger.open(store_url) as ledger:
        assert [e.to_json() for e in ledger.store.read_all()] == before  # nothing dropped, nothing added
        assert [s.client for s in ledger.clients()] == ["acme", "bravo"]


#: what an SQL text may be built from besides string literals: constants and fragments made of them
SQL_FRAGMENTS = {"COLUMNS", "_EVENTS", "self._events", "marks", "self._key_type_marks", "BUSY_TIMEOUT_MS", "VACUUM_LOCK_TIMEOUT", "self.synchronous.upper()"}
SQL_METHODS = {"execute", "executemany", "executescript", "copy", "read", "_read", "_write_per_client"}


def test_no_query_is_built_from_input() -> None:
    """Every SQL text the library sends is a literal, a module constant, or built from the fragments above:
    values (client ids, times, limits...) always travel as parameters. Modules that talk SQL import a driver."""
    problems: list[str] = []
    checked = 0
    for path in sorted((REPO / "clientrules").rglob("*.py")) + sorted((REPO / "survey_app").rglob("*.py")):
        source = path.read_text()
        if re.search(r"^import (sqlite3|psycopg)|^from psycopg", source, re.M):
            checked += _check_queries(ast.parse(source), [], problems, f"{path.relative_to(REPO)}")
    assert checked >= 40 and problems == []


def _check_queries(node: ast.AST, scopes: list[ast.AST], problems: list[str], where: str) -> int:
    """Check the first argument of every SQL call below ``node``; ``scopes``: the enclosing functions, innermost last."""
    checked = 0
    if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        scopes = [*scopes, node]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_METHODS and node.args:
        checked += 1
        if not _static(node.args[0], scopes):
            problems.append(f"{where}:{node.lineno}: {ast.unparse(node.args[0])[:80]}")
    for child in ast.iter_child_nodes(node):
        checked += _check_queries(child, scopes, problems, where)
    return checked


def _static(node: ast.AST, scopes: list[ast.AST]) -> bool:
    """Whether ``node`` is SQL built only from code: literals, UPPER_CASE constants, the allowed fragments,
    psycopg's sql composition, local names assigned only such values, and the query parameter of a
    method that runs SQL (its callers are checked)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if ast.unparse(node) in SQL_FRAGMENTS:
        return True
    if isinstance(node, ast.Name):
        if node.id.lstrip("_").isupper():
            return True
        for scope in reversed(scopes):
            if isinstance(scope, ast.FunctionDef) and scope.name in SQL_METHODS and node.id in {a.arg for a in scope.args.args}:
                return True
            values = [a.value for a in ast.walk(scope) if isinstance(a, (ast.Assign, ast.AugAssign))
                      and any(isinstance(t, ast.Name) and t.id == node.id for t in getattr(a, "targets", [getattr(a, "target", None)]))]
            values += [f.iter for f in ast.walk(scope) if isinstance(f, ast.For) and isinstance(f.target, ast.Name) and f.target.id == node.id]
            if values:
                return all(_static(value, scopes) for value in values)
        return False
    if isinstance(node, ast.JoinedStr):
        return all(_static(v.value, scopes) for v in node.values if isinstance(v, ast.FormattedValue))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _static(node.left, scopes) and _static(node.right, scopes)
    if isinstance(node, ast.Attribute) and node.attr == "statements":
        return True  # a migration's statements: constants of postgres_schema
    if isinstance(node, ast.Call):
        text = ast.unparse(node)
        if text.startswith("sql.SQL(") or re.fullmatch(r"'[,]'\.join\('\?' \* len\(.*\)\)", text):
            return True  # psycopg quotes identifiers; a run of '?' placeholders
        if isinstance(node.func, ast.Attribute) and node.func.attr == "split":
            return _static(node.func.value, scopes)
    if isinstance(node, ast.Subscript):
        return _static(node.value, scopes)
    return False


# --- sessions end on the server ----------------------------------------------------------------


def cookie_of(client) -> str:
    return client.get_cookie("clientrules_session").value


def opens_owner_pages(app, cookie: str) -> bool:
    """Whether a browser holding only ``cookie`` (a copy taken earlier) gets the dashboard."""
    thief = app.test_client()
    thief.set_cookie("clientrules_session", cookie)
    return thief.get("/owner/").status_code == 200


def log_out(client, **form):
    token = csrf_token(client.get("/owner/").get_data(as_text=True))
    return client.post("/owner/logout", data={"csrf_token": token, **form})


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, owner) -> None:
    copied = cookie_of(owner)
    other = app.test_client()
    assert log_in(other).status_code == 303
    assert opens_owner_pages(app, copied)
    assert log_out(owner).status_code == 303
    assert not opens_owner_pages(app, copied)
    assert other.get("/owner/").status_code == 200  # logging out ends this session only


@pytest.mark.parametrize("how", ["button", "cli", "password"])
def test_log_out_everywhere_and_a_new_password_end_every_session(app, owner, how, db_url) -> None:
    copied = cookie_of(owner)
    other = app.test_client()
    assert log_in(other).status_code == 303
    if how == "button":
        assert log_out(owner, everywhere="1").status_code == 303
    elif how == "cli":
        result = run("--db", db_url, "owner", "end-sessions")
        assert result.exit_code == 0, result.output
    else:
        app.extensions["clientrules"].ledger.surveys.owner.set_password("another proper password")
    assert not opens_owner_pages(app, copied)
    assert other.get("/owner/").status_code == 302
    again = app.test_client()
    password = "another proper password" if how == "password" else PASSWORD
    assert log_in(again, password).status_code == 303 and again.get("/owner/").status_code == 200


@pytest.mark.parametrize(
    "next_path",
    ["/owner/\r\nSet-Cookie: x=1", "/owner/\nx", "/owner/\x00", "/owner/\x7f", "/owner/\u2028", "/owner/\t", "//evil.example/owner/"],
    ids=["CRLF", "LF", "NUL", "DEL", "line separator", "tab", "another site"],
)
def test_a_next_with_control_characters_falls_back_to_the_dashboard(app, next_path) -> None:
    from urllib.parse import quote

    client = app.test_client()
    page = client.get("/owner/login").get_data(as_text=True)
    response = client.post(
        f"/owner/login?next={quote(next_path)}", data={"csrf_token": csrf_token(page), "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/owner/")
    assert "Set-Cookie: x" not in str(response.headers)
