"""End to end in Debian's Chromium (Playwright, headless): the owner invites, the client answers by keyboard only.

Screenshots of the questionnaire (desktop and phone) and of the dashboard are
saved under ``test-output/`` at the repository root.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
import waitress

from clientrules import Ledger, SurveyAnswered
from survey_fixtures import add_departed, clean_environment, close_app, make_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output"
PASSWORD = "browser test owner password"
FEEDBACK = "Tell us sooner when a deadline slips. <b>not bold</b>"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; required in CI")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(db_url: str, tmp_path: Path, monkeypatch):
    """The app under waitress on a free localhost port, in a thread."""
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        add_departed(ledger, "acme", email="ann@acme.example")
        ledger.surveys.owner.set_password(PASSWORD)
    app = make_app(db_url, tmp_path)
    wsgi = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{wsgi.effective_port}"
    wsgi.close()
    close_app(app)


def tab_to(page, name: str, value: str | None = None, limit: int = 80) -> None:
    """Press Tab until the control named ``name`` (with ``value``) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => [document.activeElement.name, document.activeElement.value]")
        if focused[0] == name and (value is None or focused[1] == value):
            return
    raise AssertionError(f"Tab never reached {name}={value}")


def open_fold(page, summary: str, limit: int = 80) -> None:
    """Press Tab until the fold ``summary`` has the focus, then open it with Enter."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName === 'SUMMARY' && document.activeElement.textContent") and \
                page.evaluate("() => document.activeElement.textContent").startswith(summary):
            page.keyboard.press("Enter")
            return
    raise AssertionError(f"Tab never reached the fold {summary!r}")


def test_owner_invites_and_client_answers_with_the_keyboard(chromium, server: str, db_url: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    console_errors: list[str] = []

    # the owner logs in and invites the departed client
    owner = chromium.new_page(viewport={"width": 1280, "height": 900})
    owner.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    owner.goto(f"{server}/owner/")
    assert owner.url.startswith(f"{server}/owner/login")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Log in").click()
    owner.get_by_role("link", name="acme").click()
    owner.get_by_role("button", name="Invite to the exit survey").click()
    flash = owner.locator(".flash.success").inner_text()
    link = re.search(r"http://\S+/s/\S+", flash).group(0)
    assert "outbox" in flash

    # the client opens the link on a phone first (opening uses nothing up)
    phone = chromium.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    phone.goto(link)
    assert phone.get_by_role("heading", name="Why did we part ways?").is_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    # one screen of reasons (the main question fits a phone screen), the optional questions folded
    first_reason = phone.locator("label", has_text="Deadlines were missed").first.bounding_box()
    last_reason = phone.locator("label", has_text="Something else (tell us below)").first.bounding_box()
    assert last_reason["y"] + last_reason["height"] - first_reason["y"] <= 844
    assert phone.locator("details.fold[open]").count() == 0
    phone.screenshot(path=str(SCREENSHOTS / "questionnaire-phone.png"), full_page=True)

    # then answers on a desktop with the keyboard only
    client = chromium.new_page(viewport={"width": 1280, "height": 900})
    client.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    client.goto(link)
    client.screenshot(path=str(SCREENSHOTS / "questionnaire-desktop.png"), full_page=True)
    tab_to(client, "primary_reason")
    client.keyboard.press("Space")  # the first reason: missed_deadlines
    open_fold(client, "Did anything else play a part?")
    tab_to(client, "other_reasons", "poor_communication")
    client.keyboard.press("Space")
    open_fold(client, "Rate us")
    tab_to(client, "rating_communication")
    client.keyboard.press("ArrowRight")  # 1 -> 2
    tab_to(client, "rating_timeliness")
    client.keyboard.press("Space")  # 1
    tab_to(client, "recommend")
    for _ in range(4):
        client.keyboard.press("ArrowRight")  # 0 -> 4
    tab_to(client, "would_return")
    client.keyboard.press("ArrowDown")  # yes -> maybe
    open_fold(client, "Tell us more")
    tab_to(client, "what_to_change")
    client.keyboard.type(FEEDBACK)
    tab_to(client, "may_contact")
    client.keyboard.press("Space")
    client.keyboard.press("Tab")
    assert client.evaluate("() => document.activeElement.textContent") == "Send my answers"
    client.keyboard.press("Enter")
    client.wait_for_url(f"{server}/thanks")
    assert client.get_by_role("heading", name="Thank you").is_visible()

    # the form still open on the phone is sent a second time: refused, nothing changes
    phone.get_by_label("Our working styles did not fit").first.check()
    phone.get_by_role("button", name="Send my answers").click()
    assert phone.get_by_role("heading", name="You have already answered").is_visible()

    with Ledger.open(db_url) as ledger:
        (answer,) = [e for e in ledger.events("acme") if isinstance(e.payload, SurveyAnswered)]
    assert answer.payload.primary_reason == "missed_deadlines"
    assert answer.payload.other_reasons == ["poor_communication"]
    assert (answer.payload.rating_communication, answer.payload.rating_timeliness) == (2, 1)
    assert (answer.payload.recommend, answer.payload.would_return) == (4, "maybe")
    assert answer.payload.what_to_change == FEEDBACK and answer.payload.may_contact is True

    # the owner sees the answer, its free text as text
    owner.reload()
    assert owner.get_by_text("Deadlines were missed").is_visible()
    assert owner.locator(".answer dd.free-text").inner_text() == FEEDBACK
    assert owner.locator(".answer dd.free-text b").count() == 0
    owner.screenshot(path=str(SCREENSHOTS / "client-page.png"), full_page=True)
    owner.goto(f"{server}/owner/")
    owner.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    assert console_errors == []
