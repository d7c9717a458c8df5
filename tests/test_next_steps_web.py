"""The next steps on the owner's client page: drafts to copy, and forms that record a step done (with CSRF)."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from clientrules import ClientOnboarded, FollowUpSent, InvoiceIssued, Ledger, NeedOutgrown, PaymentReceived
from survey_fixtures import clean_environment, close_app, csrf_token, make_app
from test_owner_app import PASSWORD, log_in


def days_ago(days: int) -> str:
    return (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days)).isoformat()


@pytest.fixture
def app(db_url: str, tmp_path, monkeypatch):
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme <Wholesale>"), days_ago(300))
        for number, due in enumerate((200, 150, 100), start=1):
            invoice = f"INV-{number}"
            ledger.record("acme", InvoiceIssued(invoice_id=invoice, amount=800.0, due_on=days_ago(due)), days_ago(due + 30))
            ledger.record("acme", PaymentReceived(invoice_id=invoice, amount=800.0), days_ago(due - 20))
        ledger.record("globex", ClientOnboarded(name="Globex"), days_ago(900))
        ledger.record("globex", NeedOutgrown(need="a 24/7 help desk"), days_ago(10))
        ledger.record("hooli", ClientOnboarded(name="Hooli"), days_ago(2000))
        for sent in (60, 45, 30):
            ledger.record("hooli", FollowUpSent(topic="the autumn range"), days_ago(sent))
        ledger.surveys.owner.set_password(PASSWORD)
    app = make_app(db_url, tmp_path)
    yield app
    close_app(app)


@pytest.fixture
def owner(app):
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


def steps_section(page: str) -> str:
    start = page.index('<section aria-labelledby="next-steps-title"')
    return page[start:page.index("</section>", start)]


def test_the_client_page_shows_the_next_step_first_with_its_draft(owner) -> None:
    page = owner.get("/owner/clients/acme").get_data(as_text=True)
    section = steps_section(page)
    assert page.index("next-steps-title") < page.index("decision-title")
    assert "Next: <strong>Set a meeting with Acme &lt;Wholesale&gt; to talk it through</strong>" in section
    draft = html.unescape(re.search(r'<textarea id="draft-meeting"[^>]*>(.*?)</textarea>', section, re.S).group(1))
    assert "Meeting with Acme <Wholesale>: agenda" in draft and "INV-1" in draft and "INV-3" in draft
    assert "<Wholesale>" not in section  # escaped on the page
    assert section.count('name="csrf_token"') == 3  # meeting, new terms, plan
    assert 'id="csrf_token"' not in section  # no duplicate ids beside the page's own forms


def test_recording_a_step_done_moves_the_list_on(owner, app) -> None:
    token = csrf_token(owner.get("/owner/clients/acme").get_data(as_text=True))
    response = owner.post(
        "/owner/clients/acme/steps/meeting/done",
        data={"csrf_token": token, "topic": "late invoices", "outcome": "resolved"},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/owner/clients/acme#next-steps-title")
    page = owner.get("/owner/clients/acme").get_data(as_text=True)
    section = steps_section(page)
    assert re.search(r'<li class="step done">\s*<h3 id="step-meeting">', section)
    assert "Next: <strong>Agree new terms" in section
    assert "Done: recorded on" in page
    (meeting,) = [e for e in app.extensions["clientrules"].ledger.events("acme") if e.type == "MeetingHeld"]
    assert meeting.payload.topic == "late invoices" and meeting.payload.outcome == "resolved"


def test_nothing_is_recorded_without_the_token_or_an_answer(owner, app) -> None:
    ledger = app.extensions["clientrules"].ledger
    before = ledger.version("acme")
    meeting = "/owner/clients/acme/steps/meeting/done"
    assert owner.post(meeting, data={"topic": "x", "outcome": "resolved"}).status_code == 400
    token = csrf_token(owner.get("/owner/clients/acme").get_data(as_text=True))
    response = owner.post(meeting, data={"csrf_token": token, "topic": "about the invoices"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was recorded" in page
    error = re.search(r'<p class="error" id="meeting-outcome-error"><span class="visually-hidden">Error:</span> (.*?)</p>', page)
    assert error and error.group(1) == "Please answer this." and page.count("Please answer this.") == 1  # beside it, once
    assert 'value="about the invoices"' in page  # what was typed is kept
    bad = owner.post(
        "/owner/clients/acme/steps/meeting/done",
        data={"csrf_token": token, "topic": "x", "outcome": "wonderful"},
    )
    assert bad.status_code == 400 and 'id="meeting-outcome-error"' in bad.get_data(as_text=True)
    assert owner.post("/owner/clients/acme/steps/referral-note/done", data={"csrf_token": token}).status_code == 404
    assert owner.post("/owner/clients/nobody/steps/meeting/done", data={"csrf_token": token}).status_code == 404
    assert ledger.version("acme") == before


def test_a_referral_then_the_hand_over_then_nothing_left_to_do(owner, app) -> None:
    page = owner.get("/owner/clients/globex").get_data(as_text=True)
    assert "You now need a 24/7 help desk" in steps_section(page)
    token = csrf_token(page)
    owner.post("/owner/clients/globex/steps/referral-note/done", data={"csrf_token": token, "partner": "Big Desk Co"})
    owner.post("/owner/clients/globex/steps/hand-over/done", data={"csrf_token": token})
    section = steps_section(owner.get("/owner/clients/globex").get_data(as_text=True))
    assert "They have left: nothing more to do here." in section  # we ended it: no survey step by default
    ended = [e for e in app.extensions["clientrules"].ledger.events("globex") if e.type == "RelationshipEnded"]
    assert [e.payload.initiated_by for e in ended] == ["us"]


def test_steps_need_the_owner(app) -> None:
    response = app.test_client().post("/owner/clients/acme/steps/meeting/done", data={})
    assert response.status_code in (302, 400)
    assert not [e for e in app.extensions["clientrules"].ledger.events("acme") if e.type == "MeetingHeld"]


def test_a_long_standing_client_gone_quiet_gets_a_check_in_to_copy_and_record(owner, app) -> None:
    page = owner.get("/owner/clients/hooli").get_data(as_text=True)
    section = steps_section(page)
    assert "Next: <strong>Send Hooli a short, warm check-in</strong>" in section
    draft = html.unescape(re.search(r'<textarea id="draft-check-in"[^>]*>(.*?)</textarea>', section, re.S).group(1))
    assert draft.startswith("Hi Hooli,") and "agenda" not in draft
    assert "Record that the check-in was sent</button>" in section
    response = owner.post("/owner/clients/hooli/steps/check-in/done", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    section = steps_section(owner.get("/owner/clients/hooli").get_data(as_text=True))
    assert re.search(r'<li class="step done">\s*<h3 id="step-check-in">', section)
    sent = [e.payload.topic for e in app.extensions["clientrules"].ledger.events("hooli") if e.type == "FollowUpSent"]
    assert sent[-1] == "checking in"
