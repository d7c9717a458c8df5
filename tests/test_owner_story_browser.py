"""The owner's whole story in Debian's Chromium, on a phone-sized screen: add a client, record events until
the decision changes, see it on the dashboard, record that the client left, invite them, answer the exit
survey as the client on a phone, read the learning report.

Every page visited must fit 390 px, pass axe-core and the Nu HTML checker
(:mod:`page_checks`). Screenshots are saved under ``test-output/``.
"""

from __future__ import annotations

import re
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import waitress

from clientrules import Ledger, SurveyAnswered
from page_checks import PageChecks
from survey_fixtures import clean_environment, close_app, make_app
from test_browser_e2e import SCREENSHOTS, chromium  # noqa: F401  (the shared Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "story owner password"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
def story(db_url: str, tmp_path: Path, monkeypatch):
    """The app under waitress, with an owner password and nothing else; its outbox folder."""
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
    app = make_app(db_url, tmp_path, CLIENTRULES_BUSINESS_NAME="Harbour Design Studio",
                   CLIENTRULES_OWNER_EMAIL="owner@harbour.example", CLIENTRULES_MAIL_FROM="survey@harbour.example")
    wsgi = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=wsgi.run, daemon=True).start()
    yield f"http://127.0.0.1:{wsgi.effective_port}", tmp_path / "outbox"
    wsgi.close()
    close_app(app)


def watch(page, errors: list[str]) -> None:
    """Collect script errors and failed stylesheets, scripts or images (pages refused on purpose, such as a used link, are fine)."""
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and r.request.resource_type != "document" else None)


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"story-{name}.png"), full_page=True)


def record(page, checks: PageChecks, action: str, fill: dict[str, str], choose: tuple[str, ...] = ()) -> None:
    """From the client's page: open a quick action's form, fill it in, record it."""
    page.get_by_role("link", name=action, exact=True).click()
    checks.check(page, f"record {action}")
    for label, value in fill.items():
        page.get_by_label(label, exact=True).fill(value)
    for label in choose:
        page.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Record").click()
    assert page.locator(".flash.success").inner_text().startswith("Recorded:")


def test_the_owners_story_on_a_phone(chromium, story, db_url: str) -> None:  # noqa: F811
    server, outbox = story
    SCREENSHOTS.mkdir(exist_ok=True)
    checks = PageChecks(SCREENSHOTS / "story-html")
    errors: list[str] = []
    owner = chromium.new_page(**PHONE)
    watch(owner, errors)

    # log in; the empty dashboard says where to start
    owner.goto(f"{server}/owner/")
    checks.check(owner, "login")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Log in").click()
    checks.check(owner, "empty dashboard")
    owner.get_by_role("link", name="Add your first client").click()

    # add a client; a bad form says why next to the field and stores nothing
    checks.check(owner, "add a client")
    owner.get_by_role("button", name="Add the client").click()
    assert owner.locator("#name-error").inner_text().endswith("Please fill this in.")
    checks.check(owner, "add a client with an error", html=owner.content())
    owner.get_by_label("Name", exact=True).fill("Oak & Ivy Florists")
    owner.get_by_label("E-mail address (optional)").fill("ivy@oakivy.example")
    owner.get_by_label("Monthly value (optional)").fill("2,400")
    owner.get_by_label("Client since").fill("2025-06-02")
    owner.get_by_role("button", name="Add the client").click()
    owner.wait_for_url(f"{server}/owner/clients/oak-ivy-florists")
    assert owner.locator(".verdict").first.inner_text() == "Keep"
    checks.check(owner, "new client page")

    # record events until the decision changes
    record(owner, checks, "Meeting held", {"Topic": "spring wedding season", "When did it happen?": "2026-03-02"},
           ("Resolved",))
    assert owner.locator(".verdict").first.inner_text() == "Keep"
    # an amount typed the European way is refused beside the field with our reading, never stored as 1.2505
    owner.get_by_role("link", name="Invoice issued", exact=True).click()
    owner.get_by_label("Invoice number", exact=True).fill("F-1")
    owner.get_by_label("Amount", exact=True).fill("1.250,50")
    owner.get_by_label("Due on", exact=True).fill("2026-03-31")
    owner.get_by_label("When did it happen?").fill("2026-03-03")
    owner.get_by_role("button", name="Record").click()
    assert "1.250,50: did you mean 1,250.50?" in owner.locator("#amount-error").inner_text()
    checks.check(owner, "an amount written another way", html=owner.content())
    owner.get_by_label("Amount", exact=True).fill("1,250.50")
    owner.get_by_role("button", name="Record").click()
    assert owner.locator(".flash.success").inner_text().startswith("Recorded:")
    assert "1,250.50" in owner.locator("main").inner_text()
    owner.get_by_label("Something else").select_option(label="Their needs outgrew us")
    owner.get_by_role("button", name="Record", exact=True).click()
    owner.get_by_label("Which need?").fill("a full-time in-house designer")
    owner.get_by_role("button", name="Record").click()
    assert owner.locator(".flash.success").inner_text().startswith("Recorded: their needs outgrew us")
    assert owner.locator(".verdict").first.inner_text() == "Refer out"
    assert owner.get_by_text("What to do next").is_visible()
    assert owner.locator(".changes li").count() == 2  # keep, then refer out, under the chart
    checks.check(owner, "client page after the decision changed")
    shot(owner, "client-page")

    # the dashboard shows it among those needing attention
    owner.get_by_role("link", name="Clients", exact=True).click()
    card = owner.locator(".card", has_text="Oak & Ivy Florists")
    assert card.locator(".verdict").inner_text() == "Refer out"
    assert owner.locator(".total.refer_out .count").inner_text() == "1"
    checks.check(owner, "dashboard")
    shot(owner, "dashboard")

    # the client leaves; the owner invites them
    card.get_by_role("link").first.click()
    record(owner, checks, "Client left", {"Why did it end?": "hired a designer", "When did it happen?": "2026-04-01"},
           ("The client ended it",))
    assert "You can invite them to the exit survey below." in owner.locator(".flash").inner_text()
    checks.check(owner, "client page after leaving")
    owner.get_by_role("button", name="Invite to the exit survey").click()
    assert "invitation stored" in owner.locator(".flash.success").inner_text()
    owner.get_by_role("link", name="Clients", exact=True).click()
    assert owner.locator(".card", has_text="Oak & Ivy Florists").locator(".verdict").inner_text() == "Left, invited to the survey"
    owner.get_by_role("link", name="Invitations").click()
    checks.check(owner, "invitations")
    owner.get_by_role("link", name="Rules").click()
    checks.check(owner, "rules")

    # a rule is changed: previewed, then adopted with a note; going back is previewed the same way
    owner.get_by_role("link", name="Change chronic-late-payer").click()
    checks.check(owner, "change a rule")
    owner.get_by_label("Late invoices in the last 12 months: at least").fill("2")
    owner.get_by_role("button", name="Preview the change").click()
    assert owner.get_by_text("Clients who left, caught in time").is_visible()
    assert owner.get_by_text(
        "‘They pay late again and again’ now needs at least 2 late invoices in the last 12 months instead of 3."
    ).is_visible()  # the change in words; the rule file's lines are folded away
    assert not owner.locator("pre.diff").is_visible()
    checks.check(owner, "rule change preview", html=owner.content())
    owner.get_by_label("Why this change?").fill("two late invoices are a pattern")
    owner.get_by_role("button", name="Adopt as version 2").click()
    assert owner.locator(".flash.success").inner_text() == "Version 2 of the rules is now in use."
    owner.get_by_role("link", name="Go back to it (version 1)").click()
    checks.check(owner, "going back to version 1")
    owner.get_by_role("link", name="Back to the rules (nothing is adopted)").click()
    owner.get_by_role("link", name="Add a rule").click()
    checks.check(owner, "add a rule")
    owner.get_by_label("this value").fill("1")
    owner.get_by_label("What it means, in a sentence").fill("Any open invoice")
    owner.get_by_role("button", name="Preview the new rule").click()  # no decision chosen for the owner
    assert owner.locator("#verdict-error").inner_text().endswith("Choose the decision this rule gives.")
    checks.check(owner, "add a rule without a decision", html=owner.content())

    # the mail in the outbox: text and HTML, from the business, replies to the owner
    (mail_file,) = outbox.glob("*.eml")
    mail = message_from_bytes(mail_file.read_bytes(), policy=policy.default)
    assert mail["From"] == "Harbour Design Studio <survey@harbour.example>"
    assert mail["Reply-To"] == "owner@harbour.example"
    assert mail["Message-ID"].endswith("@harbour.example>")
    text, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    link = re.search(r"http://\S+/s/[\w.-]+", text).group(0)
    assert "Harbour Design Studio" in text and "Harbour Design Studio" in html and link in html

    # the client answers on a phone; a first visit's answers are still there on the second
    client = chromium.new_page(**PHONE)
    watch(client, errors)
    client.goto(link)
    assert client.get_by_text("Harbour Design Studio").first.is_visible()
    checks.check(client, "questionnaire")
    client.get_by_label("Something else").first.check()
    client.get_by_label("Tell us in your own words").fill("We needed someone in the shop every day.")
    client.locator("summary", has_text="Rate us").click()  # the optional questions are folded
    client.get_by_role("group", name="Communication", exact=True).get_by_label("4").check()
    client.goto("about:blank")
    client.goto(link)
    assert client.get_by_label("Something else").first.is_checked()
    assert client.locator("details.fold[open]").count() == 1  # the fold with a kept answer opens again
    assert client.get_by_role("group", name="Communication", exact=True).get_by_label("4").is_checked()
    assert client.get_by_label("Tell us in your own words").input_value() == "We needed someone in the shop every day."
    shot(client, "questionnaire-phone")
    client.get_by_role("button", name="Send my answers").click()
    client.wait_for_url(f"{server}/thanks")
    checks.check(client, "thanks")
    client.goto(link)
    assert client.get_by_role("heading", name="You have already answered").is_visible()
    assert "410" not in client.content() and "HTTP" not in client.content()
    checks.check(client, "used link", html=client.content())
    client.goto(f"{server}/s/not-a-real-link")
    checks.check(client, "unknown link", html=client.content())

    with Ledger.open(db_url) as ledger:
        (answer,) = [e for e in ledger.events("oak-ivy-florists") if isinstance(e.payload, SurveyAnswered)]
    assert answer.payload.primary_reason == "other"
    assert answer.payload.other_reason == "We needed someone in the shop every day."
    assert answer.payload.rating_communication == 4

    # the owner reads the answer, then the learning report
    owner.goto(f"{server}/owner/clients/oak-ivy-florists")
    assert owner.get_by_text("We needed someone in the shop every day.").is_visible()
    checks.check(owner, "client page with the answer")
    owner.get_by_role("link", name="Learning").click()
    owner.get_by_role("heading", name="What we learned from clients who left").first.wait_for()
    checks.check(owner, "learning report")
    shot(owner, "learning")

    checks.validate_html()
    assert errors == []
