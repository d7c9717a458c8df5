"""The owner's pages: login, sessions, rate limit, CSRF, the dashboard, inviting, escaping."""

from __future__ import annotations

import html as html_module
import re
from email import message_from_bytes, policy
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from clientrules import ClientOnboarded, InvoiceIssued, InvoiceVoided, Ledger, NeedOutgrown, PaymentReceived
from clientrules.domain.events.types import SPEC_TYPES
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
    assert app.extensions["clientrules"].ledger.surveys.invitations() == []


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
    assert app.extensions["clientrules"].ledger.surveys.invitations() == []


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
    app.extensions["clientrules"].ledger.surveys.owner.set_password("the next owner password")
    assert owner.get("/owner/").status_code == 302


def test_dashboard_shows_each_clients_decision_and_departed_clients_as_departed(app, owner) -> None:
    html = owner.get("/owner/").get_data(as_text=True)
    assert '<a href="/owner/clients/bravo">Bravo</a>' in html and '<a href="/owner/clients/acme">Acme</a>' in html
    (bravo,) = app.extensions["clientrules"].ledger.decisions.evaluate(["bravo"])
    card = card_of(html, "bravo")
    assert f'<span class="verdict {bravo.verdict}">' in card and "500.00 EUR overdue" in card
    acme = card_of(html, "acme")
    assert "Left, not invited" in acme and "Invite to the exit survey" in acme and "verdict keep" not in acme
    app.extensions["clientrules"].ledger.surveys.invite("acme")
    assert "Left, invited to the survey" in card_of(owner.get("/owner/").get_data(as_text=True), "acme")
    assert owner.get("/owner/clients/nobody").status_code == 404
    assert owner.get("/owner/clients/..%2Fetc").status_code == 404


def test_dashboard_follows_what_was_recorded_since_it_was_last_shown(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    assert '<span class="verdict keep">' in card_of(owner.get("/owner/").get_data(as_text=True), "bravo")
    ledger.record("bravo", NeedOutgrown(need="an in-house team"), ledger.clock())  # later than the first look
    assert '<span class="verdict refer_out">' in card_of(owner.get("/owner/").get_data(as_text=True), "bravo")


def card_of(html: str, client: str) -> str:
    return re.search(rf'<li class="card[^"]*">\s*<h3><a href="/owner/clients/{client}">.*?</li>', html, re.S).group(0)


def listed(owner, **query: str) -> list[str]:
    html = owner.get("/owner/", query_string=query).get_data(as_text=True)
    return re.findall(r'<h3><a href="/owner/clients/([^"]+)">', html)


def test_dashboard_searches_filters_sorts_and_pages(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    for n in range(60):
        ledger.record(f"c{n:02}", ClientOnboarded(name=f"Client {n:02}", segment="retail" if n % 2 else "trade",
                                                  monthly_value=float(n)), "2026-03-01")
    assert listed(owner, q="bRaVo") == ["bravo"]
    assert listed(owner, stage="left") == ["acme"]
    assert "acme" not in listed(owner, verdict="keep")  # a departed client has no verdict to act on
    assert listed(owner, sort="value")[:2] == ["c59", "c58"]
    trade = listed(owner, segment="trade", sort="name")
    assert trade[:2] == ["c00", "c02"] and len(trade) == 30
    first, second = listed(owner, sort="name"), listed(owner, sort="name", page="2")
    assert len(first) == 50 and len(second) == 12 and not set(first) & set(second)
    assert listed(owner, sort="name", page="99") == second and listed(owner, sort="nonsense", page="x")
    assert listed(owner, page="2")[-1] == "acme"  # departed last
    assert listed(owner)[0] == "c00"  # the same verdict: the latest activity first, then by id
    html = owner.get("/owner/").get_data(as_text=True)
    assert "page 1 of 2" in html and "1,770.00 EUR a month" in html  # 0 + 1 + ... + 59 on keep


def text_of(html: str) -> str:
    """What a page shows (its markup and option values left out)."""
    return re.sub(r"<[^>]*>", " ", html)


def record_page(owner, client: str, type_name: str) -> str:
    response = owner.get(f"/owner/clients/{client}/record/{type_name}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def form_fields(html: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_token(html),
        "idempotency_key": re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html).group(1),
    }


@pytest.mark.parametrize("type_name", [t.TYPE for t in SPEC_TYPES])
def test_every_event_type_has_a_form(owner, type_name: str) -> None:
    html = record_page(owner, "bravo", type_name)
    assert 'name="at"' in html and "idempotency_key" in html and html.count('name="csrf_token"') == 2  # with logout


def test_a_double_submitted_event_form_stores_one_event(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    fields = form_fields(record_page(owner, "bravo", "MeetingHeld"))
    sent = {**fields, "topic": "late invoices", "outcome": "resolved", "at": "2026-03-10"}
    before = ledger.version("bravo")
    for _ in range(2):
        response = owner.post("/owner/clients/bravo/record/MeetingHeld", data=sent)
        assert (response.status_code, response.headers["Location"]) == (303, "/owner/clients/bravo")
    assert ledger.version("bravo") == before + 1
    event = ledger.events("bravo")[-1]
    assert (event.type, event.payload.topic, event.payload.outcome, event.at.date.isoformat()) == (
        "MeetingHeld", "late invoices", "resolved", "2026-03-10")
    page = owner.get("/owner/clients/bravo").get_data(as_text=True)
    assert "Recorded: meeting held, 10 March 2026." in page and "MeetingHeld" not in text_of(page)


@pytest.mark.parametrize(
    ("type_name", "sent", "field", "message"),
    [
        ("MeetingHeld", {"topic": "x"}, "outcome", "Please choose one."),
        ("MeetingHeld", {"topic": "x", "outcome": "maybe"}, "outcome", "Choose one of the options shown."),
        ("InvoiceIssued", {"invoice_id": "B-2", "amount": "12,5x", "due_on": "2026-04-01"}, "amount", "Enter an amount, like 1,234.56."),
        ("InvoiceIssued", {"invoice_id": "B-2", "amount": "1.250,50", "due_on": "2026-04-01"}, "amount",
         "1.250,50: did you mean 1,250.50?"),
        ("InvoiceIssued", {"invoice_id": "B-2", "amount": "-5", "due_on": "2026-04-01"}, "amount", "without a minus sign"),
        ("InvoiceIssued", {"invoice_id": "B-2", "amount": "100", "due_on": "31/04/2026"}, "due_on", "Not a valid date value."),
        ("IncidentReported", {"kind": "rude", "against": "staff", "severity": "7"}, "severity", "Choose one of the options shown."),
        ("DeadlineMissed", {"deliverable": "draft", "at": "2999-01-01"}, "at", "That date is in the future"),
        ("DeadlineMissed", {"deliverable": ""}, "deliverable", "Please fill this in."),
        ("ContractSigned", {"contract_id": "K-1", "value": "-5"}, "value", "without a minus sign"),
        # the books' refusals (clientrules.domain.money), beside the field they concern
        ("PaymentReceived", {"invoice_id": "B-1", "amount": "5,000"}, "amount",
         "B-1 asks 500.00 and has 0.00 paid; a payment of 5,000.00 would exceed it."),
        ("PaymentReceived", {"invoice_id": "B-9", "amount": "5"}, "invoice_id", "B-9, which was never issued to bravo"),
        ("PaymentReceived", {"amount": "5"}, "invoice_id", "Choose the invoice."),
        ("InvoiceIssued", {"invoice_id": "B-1", "amount": "100", "due_on": "2026-04-01"}, "invoice_id",
         "B-1 is issued already (for 500.00)"),
        ("InvoiceIssued", {"invoice_id": "B-2", "amount": "100", "due_on": "2026-03-01"}, "due_on",
         "B-2 is due on 2026-03-01, before it was issued on 2026-03-10."),
        ("InvoiceVoided", {"invoice_id": "B-7"}, "invoice_id", "B-7 cannot be voided: it was never issued to bravo."),
        ("DeadlineMissed", {"deliverable": "draft", "at": "0001-01-01"}, "at", "outside the years 1000 to 8999"),
        ("DeadlineMissed", {"deliverable": "draft", "at": "0999-12-31"}, "at", "outside the years 1000 to 8999"),
        ("InvoiceIssued", {"invoice_id": "B-2", "amount": "100", "due_on": "9999-12-31"}, "due_on", "outside the years"),
        ("InvoiceIssued", {"invoice_id": "B-2", "amount": "2,000,000,000,000,000", "due_on": "2026-04-01"}, "amount", "at most 1,000,000,000,000,000"),
        ("FollowUpSent", {"topic": "x" * 200_000}, "topic", "longer than 64 KiB"),
    ],
)
def test_a_bad_event_form_stores_nothing_and_says_why_next_to_the_field(app, owner, type_name, sent, field, message) -> None:
    ledger = app.extensions["clientrules"].ledger
    head = ledger.store.head_position()
    data = {"at": "2026-03-10", **form_fields(record_page(owner, "bravo", type_name)), **sent}
    response = owner.post(f"/owner/clients/bravo/record/{type_name}", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error"><span class="visually-hidden">Error:</span> (.*?)</p>', html)
    assert error and message in error.group(1), html
    assert f'href="#{field}' in html  # the summary links to the field
    assert ledger.store.head_position() == head


def test_the_payment_form_offers_the_open_invoices_with_what_is_left(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    ledger.record("bravo", InvoiceIssued(invoice_id="B-2", amount=1250.5, due_on="2026-04-08"), "2026-03-09")
    ledger.record("bravo", PaymentReceived(invoice_id="B-2", amount=250.5), "2026-03-10")
    ledger.record("bravo", InvoiceIssued(invoice_id="B-3", amount=90.0, due_on="2026-04-08"), "2026-03-09")
    ledger.record("bravo", InvoiceVoided(invoice_id="B-3"), "2026-03-10")
    html = record_page(owner, "bravo", "PaymentReceived")
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', html)
    assert options == [
        ("", "Choose an invoice"),
        ("B-1", "B-1: 500.00 EUR left of 500.00 EUR, due 1 March 2026"),
        ("B-2", "B-2: 1,000.00 EUR left of 1,250.50 EUR, due 8 April 2026"),
    ]
    sent = {**form_fields(html), "invoice_id": "B-2", "amount": "1,000", "at": "2026-03-11"}
    assert owner.post("/owner/clients/bravo/record/PaymentReceived", data=sent).status_code == 303
    assert [value for value, _ in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>',
                                             record_page(owner, "bravo", "PaymentReceived"))] == ["", "B-1"]
    page = owner.get("/owner/clients/bravo").get_data(as_text=True)
    assert "1,000.00 EUR" in page  # the timeline's amounts carry the currency


def test_unknown_event_types_and_clients_have_no_form(owner) -> None:
    assert owner.get("/owner/clients/bravo/record/DecisionRecorded").status_code == 404
    assert owner.get("/owner/clients/bravo/record/Nonsense").status_code == 404
    assert owner.get("/owner/clients/nobody/record/MeetingHeld").status_code == 404
    response = owner.get("/owner/clients/bravo/record", query_string={"type": "PlanAgreed"})
    assert response.headers["Location"] == "/owner/clients/bravo/record/PlanAgreed"


def test_client_left_then_the_offer_to_invite(app, owner) -> None:
    fields = form_fields(record_page(owner, "bravo", "RelationshipEnded"))
    sent = {**fields, "initiated_by": "client", "reason": "moved abroad", "at": "2026-03-20"}
    response = owner.post("/owner/clients/bravo/record/RelationshipEnded", data=sent)
    assert response.headers["Location"] == "/owner/clients/bravo#survey"
    page = owner.get("/owner/clients/bravo").get_data(as_text=True)
    assert "You can invite them to the exit survey below." in page
    assert "Invite to the exit survey" in page and "Record what happened" not in page


def test_adding_a_client(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    html = owner.get("/owner/clients/new").get_data(as_text=True)
    sent = {**form_fields(html), "name": "Delta & Sons Ltd", "email": "d@delta.example", "monthly_value": "1,200",
            "at": "2026-02-01"}
    for _ in range(2):
        response = owner.post("/owner/clients/new", data=sent)
        assert (response.status_code, response.headers["Location"]) == (303, "/owner/clients/delta-sons-ltd")
    (event,) = ledger.events("delta-sons-ltd")
    assert (event.payload.name, event.payload.email, event.payload.monthly_value) == ("Delta & Sons Ltd", "d@delta.example", 1200.0)
    again = {**form_fields(owner.get("/owner/clients/new").get_data(as_text=True)), "name": "Delta", "client": "delta-sons-ltd", "at": "2026-02-01"}
    response = owner.post("/owner/clients/new", data=again)
    assert response.status_code == 400 and "There is already a client delta-sons-ltd" in response.get_data(as_text=True)
    unmailable = {**form_fields(owner.get("/owner/clients/new").get_data(as_text=True)), "name": "Echo", "email": "not-an-email",
                  "at": "2026-02-01"}
    refused = owner.post("/owner/clients/new", data=unmailable)
    error = re.search(r'<p class="error" id="email-error"><span class="visually-hidden">Error:</span> (.*?)</p>', refused.get_data(as_text=True))
    assert refused.status_code == 400 and error and error.group(1) == "Enter an e-mail address like name@example.com, or leave it empty."
    bad = {**form_fields(owner.get("/owner/clients/new").get_data(as_text=True)), "name": "Echo", "client": "no spaces please", "at": "2026-02-01"}
    assert "letters, digits, dots" in owner.post("/owner/clients/new", data=bad).get_data(as_text=True)
    assert ledger.version("delta-sons-ltd") == 1 and not ledger.version("echo")


def test_the_client_page_speaks_plain_words(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    for n, due in enumerate(("2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01")):
        ledger.record("bravo", InvoiceIssued(invoice_id=f"B-{n + 10}", amount=1250.5, due_on=due), due)
    (decision,) = ledger.decisions.evaluate(["bravo"])
    html = owner.get("/owner/clients/bravo").get_data(as_text=True)
    words = text_of(html)
    assert "ClientOnboarded" not in words and "InvoiceIssued" not in words and "+00:00" not in words
    assert "Invoice issued" in html and "1,250.50" in html and "1 March 2026" in html
    assert decision.verdict != "keep" and "What to do next" in html and decision.advice[0] in html
    evidence = re.findall(r'Based on: <a href="#event-(\d+)">', html)
    assert evidence and all(f'<li id="event-{version}">' in html for version in evidence)
    assert "<svg" in html and "Since " in html  # the verdict changed over time: listed under the chart


def test_rules_page_shows_the_rule_set_in_use(app, owner) -> None:
    current = app.extensions["clientrules"].ledger.rules.current()
    html = owner.get("/owner/rules").get_data(as_text=True)
    assert f"Version {current.version}" in html
    for rule in current.ruleset.rules:
        assert rule.id in html


def test_inviting_from_the_dashboard_writes_to_the_outbox_and_shows_the_link(app, owner, tmp_path: Path) -> None:
    page = owner.get("/owner/clients/acme").get_data(as_text=True)
    response = owner.post("/owner/clients/acme/invite", data={"csrf_token": csrf_token(page), "email": ""})
    assert response.status_code == 303
    (invitation,) = app.extensions["clientrules"].ledger.surveys.invitations("acme")
    html = owner.get("/owner/clients/acme").get_data(as_text=True)
    assert invitation.url("http://localhost/") in html
    (path,) = (tmp_path / "outbox").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "ann@acme.example" and invitation.token in message.get_body(("plain",)).get_content()
    # the client who has not left cannot be invited; the owner is told why
    page = owner.get("/owner/clients/bravo").get_data(as_text=True)
    owner.post("/owner/clients/bravo/invite", data={"csrf_token": csrf_token(page)})
    assert "no RelationshipEnded event" in owner.get("/owner/clients/bravo").get_data(as_text=True)


def test_the_owner_sees_answers_with_free_text_escaped(app, owner) -> None:
    surveys = app.extensions["clientrules"].ledger.surveys
    token = surveys.invite("acme").token
    script = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    surveys.submit(token, {**FULL_ANSWERS, "what_to_change": script})
    for page in ("/owner/clients/acme", "/owner/invitations"):
        html = owner.get(page).get_data(as_text=True)
        assert script not in html and "<img src=x" not in html
    html = owner.get("/owner/clients/acme").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    assert "Deadlines were missed" in html
    assert "Answered on" in owner.get("/owner/invitations").get_data(as_text=True)


def test_the_learning_page_shows_free_text_escaped(app, owner) -> None:
    surveys = app.extensions["clientrules"].ledger.surveys
    script = '<script>alert("owned")</script>'
    surveys.submit(surveys.invite("acme").token, {"primary_reason": "quality", "what_to_change": script})
    html = owner.get("/owner/learning/").get_data(as_text=True)
    assert "What we learned from clients who left" in html
    assert script not in html
    assert "&lt;script&gt;" in html


def test_the_invitations_page_invites_departed_clients_and_re_invites(app, owner) -> None:
    page = owner.get("/owner/invitations").get_data(as_text=True)
    assert 'action="/owner/clients/acme/invite"' in page and "/owner/clients/bravo/invite" not in page
    response = owner.post("/owner/clients/acme/invite", data={"csrf_token": csrf_token(page), "back": "invitations"})
    assert response.headers["Location"] == "/owner/invitations"
    page = owner.get("/owner/invitations").get_data(as_text=True)
    assert "Acme: invitation stored" in page and "Every client who left has been invited." in page
    assert "Invite again" in page
    owner.post("/owner/clients/acme/invite", data={"csrf_token": csrf_token(page), "back": "invitations"})
    statuses = [i.status for i in app.extensions["clientrules"].ledger.surveys.invitations("acme")]
    assert statuses == ["superseded", "open"]


def test_reminders_from_the_invitations_page(app, owner, tmp_path: Path) -> None:
    app.extensions["clientrules"].ledger.surveys.invite("acme")
    page = owner.get("/owner/invitations").get_data(as_text=True)
    assert owner.post("/owner/invitations/remind", data={"after_days": "0"}).status_code == 400  # no CSRF token
    owner.post("/owner/invitations/remind", data={"csrf_token": csrf_token(page), "after_days": "-1"})
    assert "Use 0 or more days." in owner.get("/owner/invitations").get_data(as_text=True)
    response = owner.post("/owner/invitations/remind", data={"csrf_token": csrf_token(page), "after_days": "0"})
    assert response.status_code == 303
    assert "Reminded 1 client(s). Acme: no mail server is configured" in owner.get("/owner/invitations").get_data(as_text=True)
    assert len(list((tmp_path / "outbox").glob("acme-*-reminder-1.eml"))) == 1
    (invitation,) = app.extensions["clientrules"].ledger.surveys.invitations("acme")
    assert len(invitation.reminded_at) == 1


def adopt_from(owner, preview: str, note: str):
    fields = dict(re.findall(r'<input type="hidden" name="(candidate|expected_version)" value="([^"]*)"', preview))
    fields["candidate"] = html_module.unescape(fields["candidate"])
    return owner.post("/owner/rules/adopt", data={**fields, "csrf_token": csrf_token(preview), "note": note})


def test_changing_a_threshold_is_previewed_then_adopted_with_a_note(app, owner) -> None:
    rules = app.extensions["clientrules"].ledger.rules
    page = owner.get("/owner/rules/chronic-late-payer/edit").get_data(as_text=True)
    assert 'value="3"' in page and "late invoices in the last 12 months: at least" in page.lower()
    sent = {"csrf_token": csrf_token(page), "enabled": "yes", "thresholds-0": "1", "advice": "Talk about payment terms.",
            "description": "They paid late"}
    preview = owner.post("/owner/rules/chronic-late-payer/edit", data=sent)
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "late_invoices_12m &gt;= 1" in html and "Clients who left, caught in time" in html
    assert "<li>‘They paid late’ now needs at least 1 late invoice in the last 12 months instead of 3.</li>" in html
    assert "<summary>The rule file, line by line</summary>" in html  # the file diff behind a toggle
    assert "Bravo</a>: <span class=\"verdict keep\">Keep</span> becomes" in html  # one late invoice is enough now
    assert rules.current().version == 1  # nothing adopted by a preview
    assert "Say why" in adopt_from(owner, html, "").get_data(as_text=True) and rules.current().version == 1
    assert adopt_from(owner, html, "one late invoice is one too many").headers["Location"] == "/owner/rules"
    current = rules.current()
    assert (current.version, current.note) == (2, "one late invoice is one too many")
    assert current.ruleset.rule("chronic-late-payer").comparisons[0].value == 1
    page = owner.get("/owner/rules").get_data(as_text=True)
    assert "Version 2 of the rules is now in use." in page and "one late invoice is one too many" in page
    # going back to version 1 is another new version, previewed the same way
    back = owner.get("/owner/rules/versions/1").get_data(as_text=True)
    assert "Go back to the rules of version 1" in back and 'value="back to version 1"' in back
    assert "now needs at least 3 late invoices in the last 12 months instead of 1." in back
    assert back.count('<span class="removed">') <= 4  # only the real change, not the layout or comments
    adopt_from(owner, back, "back to version 1")
    assert rules.current().version == 3 and rules.current().ruleset.rule("chronic-late-payer").comparisons[0].value == 3


def test_a_preview_on_a_large_portfolio_is_made_in_the_background_while_its_page_says_how_far_it_has_come(
    app, owner, monkeypatch
) -> None:
    from survey_app import state

    rules = app.extensions["clientrules"].ledger.rules
    monkeypatch.setattr(state, "READS_AT_ONCE", 0)  # any portfolio is more than is previewed before answering
    page = owner.get("/owner/rules/chronic-late-payer/edit").get_data(as_text=True)
    sent = {"csrf_token": csrf_token(page), "enabled": "yes", "thresholds-0": "1", "advice": "", "description": "They paid late"}
    asked = owner.post("/owner/rules/chronic-late-payer/edit", data=sent)
    assert asked.status_code == 303 and asked.headers["Location"].startswith("/owner/rules/previews/")
    computing = owner.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Change the rule “They pay late again and again”" in computing
    assert re.search(r"Working out which clients this change moves|About 1 client affected: 1 would get another "
                     r"decision today\. Working out", computing) and ">Look again</a>" in computing
    assert "<li>‘They paid late’ now needs at least 1 late invoice in the last 12 months instead of 3.</li>" in computing
    assert "<progress" in computing and "Adopt as version" not in computing  # nothing to adopt before its effects show
    for _ in range(600):
        made = owner.get(asked.headers["Location"]).get_data(as_text=True)
        if "Working out" not in made:
            break
        time.sleep(0.1)
    assert "Bravo</a>: <span class=\"verdict keep\">Keep</span> becomes" in made and "Adopt as version 2" in made
    assert adopt_from(owner, made, "one late invoice is one too many").headers["Location"] == "/owner/rules"
    assert rules.current().ruleset.rule("chronic-late-payer").comparisons[0].value == 1


def test_a_preview_no_longer_kept_sends_the_owner_back_to_the_rules(owner) -> None:
    gone = owner.get("/owner/rules/previews/0123456789abcdef01234567")
    assert gone.status_code == 303 and gone.headers["Location"] == "/owner/rules"
    assert "That preview is no longer kept" in owner.get("/owner/rules").get_data(as_text=True)


def test_a_rule_change_the_rule_set_cannot_take_is_refused_with_its_problems(app, owner) -> None:
    page = owner.get("/owner/rules/chronic-late-payer/edit").get_data(as_text=True)
    sent = {"csrf_token": csrf_token(page), "enabled": "yes", "thresholds-0": "lots", "advice": "", "description": "x"}
    for typed, said in [("lots", "Enter a number, such as 3 or 0.25."), ("2,5", "2,5: did you mean 2.5?"),
                        ("-2", "Enter a number of 0 or more")]:
        response = owner.post("/owner/rules/chronic-late-payer/edit", data={**sent, "thresholds-0": typed})
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and html.count(said) == 1, typed  # once, beside the field
        assert html.index('id="thresholds-0-error"') < html.index('id="thresholds-0"'), typed
        assert "is not a value" not in html and "late_invoices" not in html
    stale = owner.get("/owner/rules/versions/1").get_data(as_text=True)
    app.extensions["clientrules"].ledger.rules.use(app.extensions["clientrules"].ledger.rules.current().ruleset.source, note="meanwhile")
    adopt_from(owner, stale, "too late")
    assert "changed meanwhile" in owner.get("/owner/rules").get_data(as_text=True)
    assert app.extensions["clientrules"].ledger.rules.current().note == "meanwhile"
    assert owner.get("/owner/rules/nonsense/edit").status_code == 404


@pytest.mark.parametrize("left_out", ["thresholds-0", "enabled"])
def test_a_rule_edit_without_one_of_its_fields_is_refused_beside_the_form(app, owner, left_out) -> None:
    rules = app.extensions["clientrules"].ledger.rules
    page = owner.get("/owner/rules/chronic-late-payer/edit").get_data(as_text=True)
    sent = {"csrf_token": csrf_token(page), "enabled": "yes", "thresholds-0": "4", "advice": "", "description": "x"}
    del sent[left_out]
    response = owner.post("/owner/rules/chronic-late-payer/edit", data=sent)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'class="error"' in html, html[-1500:]
    if left_out == "thresholds-0":
        assert "Enter a threshold" in html
    assert rules.current().version == 1


def test_adding_a_rule_from_the_fact_catalogue(app, owner) -> None:
    page = owner.get("/owner/rules/new").get_data(as_text=True)
    assert '<option value="" selected>Choose the decision</option>' in page  # no decision chosen for the owner
    unchosen = {"csrf_token": csrf_token(page), "fact": "open_invoices", "op": ">=", "value": "1", "verdict": "",
                "description": "Any open invoice"}
    refused = owner.post("/owner/rules/new", data={**unchosen, "value": "1.250,5"}).get_data(as_text=True)
    assert refused.count("1.250,5: did you mean 1,250.5?") == 2 and 'id="value-error"' in refused  # summary, field
    assert refused.count("Choose the decision this rule gives.") == 2  # in the summary and beside the field
    assert 'id="verdict-error"' in refused
    sent = {"csrf_token": csrf_token(page), "fact": "open_invoices", "op": ">=", "value": "1", "verdict": "renegotiate",
            "description": "Any open invoice", "advice": "Ask when they will pay."}
    preview = owner.post("/owner/rules/new", data=sent).get_data(as_text=True)
    assert 'id = &#34;any-open-invoice&#34;' in preview and "open_invoices &gt;= 1" in preview
    assert "New rule ‘Any open invoice’: with at least 1 open invoice, the decision is renegotiate." in preview
    adopt_from(owner, preview, "try it")
    rule = app.extensions["clientrules"].ledger.rules.current().ruleset.rule("any-open-invoice")
    assert (rule.verdict, rule.advice) == ("renegotiate", "Ask when they will pay.")


def test_owner_pages_say_names_not_ids_and_not_set_rather_than_zero(app, owner) -> None:
    html = owner.get("/owner/clients/new").get_data(as_text=True)
    sent = {**form_fields(html), "name": "Orchard Café Ltd", "at": "2026-02-01"}
    response = owner.post("/owner/clients/new", data=sent)
    assert response.headers["Location"] == "/owner/clients/orchard-cafe-ltd"  # made of the name, transliterated
    record_page = owner.get("/owner/clients/orchard-cafe-ltd/record/MeetingHeld").get_data(as_text=True)
    assert ">Back to Orchard Café Ltd</a>" in record_page
    dashboard = owner.get("/owner/").get_data(as_text=True)
    assert "monthly value not set" in dashboard  # the keep clients gave no monthly value: not "0 a month"
    assert '<details class="filters-fold">' in dashboard  # folded away until a filter is in use
    assert '<details class="filters-fold" open>' in owner.get("/owner/?verdict=keep").get_data(as_text=True)


def test_amounts_are_read_and_written_the_way_the_business_writes_them(db_url: str, tmp_path: Path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
        ledger.record("bravo", ClientOnboarded(name="Bravo"), "2026-02-01")
    app = make_app(db_url, tmp_path, CLIENTRULES_NUMBER_FORMAT="1.234,56")
    try:
        owner = app.test_client()
        assert log_in(owner).status_code == 303
        sent = {"at": "2026-03-10", "invoice_id": "B-2", "amount": "1.250,50", "due_on": "2026-04-01"}
        response = owner.post("/owner/clients/bravo/record/InvoiceIssued",
                              data={**form_fields(record_page(owner, "bravo", "InvoiceIssued")), **sent})
        assert response.status_code == 303
        assert app.extensions["clientrules"].ledger.events("bravo")[-1].payload.amount == 1250.5  # never 1.2505
        page = owner.get("/owner/clients/bravo").get_data(as_text=True)
        assert ">1.250,50 EUR</dd>" in page and "1,250.50" not in page  # and written back the same way
        payment = record_page(owner, "bravo", "PaymentReceived")
        assert "B-2: 1.250,50 EUR left of 1.250,50 EUR" in payment
        refused = owner.post("/owner/clients/bravo/record/InvoiceIssued", data={
            **form_fields(record_page(owner, "bravo", "InvoiceIssued")), **sent, "invoice_id": "B-3", "amount": "1,250.50"})
        assert "1,250.50: did you mean 1.250,50?" in refused.get_data(as_text=True)
    finally:
        close_app(app)


def test_after_an_adoption_the_dashboard_answers_at_once_and_says_it_is_deciding_again(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    assert "with the rules in use" in owner.get("/owner/").get_data(as_text=True)
    ledger.rules.use(ledger.rules.current().ruleset.source.replace("late_invoices_12m >= 3", "late_invoices_12m >= 1"),
                     note="one is enough")
    page = owner.get("/owner/").get_data(as_text=True)
    assert "with version 1 of the rules, being brought up to date with the rules just adopted" in page
    thread = ledger.portfolio._rebuilding
    if thread is not None:
        thread.join(timeout=60)
    assert "with the rules in use" in owner.get("/owner/").get_data(as_text=True)


def test_the_rules_page_offers_the_new_defaults_to_a_store_that_kept_version_1(app, owner) -> None:
    ledger = app.extensions["clientrules"].ledger
    assert "see what the new default rules would change" not in owner.get("/owner/rules").get_data(as_text=True)
    ledger.rules.use((Path(__file__).parent / "data" / "default_playbook.v1.toml").read_text(), note="kept version 1")
    page = owner.get("/owner/rules").get_data(as_text=True)
    assert 'href="/owner/rules/defaults"' in page
    preview = owner.get("/owner/rules/defaults").get_data(as_text=True)
    assert "Move to the new default rules" in preview and "hostile-client" in preview
    assert ledger.rules.current().version == 2  # a preview adopts nothing


def test_the_owner_invites_a_client_we_ended_with_only_on_purpose(app, owner) -> None:
    from clientrules import RelationshipEnded

    ledger = app.extensions["clientrules"].ledger
    ledger.record("bravo", RelationshipEnded(initiated_by="us"), "2026-03-01")
    page = owner.get("/owner/clients/bravo").get_data(as_text=True)
    assert "Invite them on purpose" in page
    token = csrf_token(page)
    owner.post("/owner/clients/bravo/invite", data={"csrf_token": token})
    assert "invite it on purpose" in owner.get("/owner/clients/bravo").get_data(as_text=True)
    assert ledger.surveys.invitations("bravo") == []
    owner.post("/owner/clients/bravo/invite", data={"csrf_token": token, "on_purpose": "y"})
    (invited,) = [e for e in ledger.events("bravo") if e.type == "SurveyInvited"]
    assert invited.payload.ended_by == "us"


def test_the_first_look_at_a_large_portfolio_says_how_far_deciding_has_come(app, owner, monkeypatch) -> None:
    from clientrules.application import portfolio as portfolio_module

    ledger = app.extensions["clientrules"].ledger
    monkeypatch.setattr(portfolio_module, "AT_ONCE", 0)  # any portfolio is more than is decided before answering
    page = owner.get("/owner/").get_data(as_text=True)
    assert "Deciding every client for the first time: just started" in page and ">Look again</a>" in page
    assert "<progress" in page
    thread = ledger.portfolio._rebuilding
    if thread is not None:
        thread.join(timeout=60)
    assert "with the rules in use" in owner.get("/owner/").get_data(as_text=True)
