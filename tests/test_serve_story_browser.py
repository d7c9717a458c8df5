"""The owner's morning on a phone, in Debian's Chromium, with only ``clientrules serve`` running (a real process):
record an event that turns a client and see it on What changed and in the digest mail (a real SMTP server),
type an amount the European way, read a rule change in words; then open the dashboard and the learning page
of a business with 5,000 clients.

Every page visited fits 390 px, passes axe-core and the Nu HTML checker (:mod:`page_checks`). Nothing here is
timed: each wait polls the page (or the inbox) until what it waits for is there, up to a deadline that only
turns a hang into a failure.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from learning_fixtures import generator
from page_checks import PageChecks
from test_alerts import smtp_inbox  # noqa: F401  (the real SMTP server fixture)
from test_browser_e2e import SCREENSHOTS, chromium  # noqa: F401  (the shared Chromium fixture)
from test_owner_story_browser import PHONE, watch
from test_serve_watch import PASSWORD, Served, digest_environment, environment

from clientrules import ClientOnboarded, InvoiceIssued, Ledger

pytestmark = [pytest.mark.browser, pytest.mark.slow]
#: clients in the big business (examples/generate_history.py --clients, as the benchmarks use)
BIG_CLIENTS = 5_000
#: what a wait may take before it is a failure (a first dashboard at 5,000 clients decides every client)
DEADLINE_SECONDS = 120
#: what the whole rule preview of the big business may take (it replays every client's history month by month)
PREVIEW_DEADLINE_SECONDS = 600
#: What changed lists the last 90 days: the story happens this month
TODAY = dt.date.today()


@pytest.fixture(scope="session")
def big_business(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of :data:`BIG_CLIENTS` generated clients (about 65 events each) and the owner's password, built
    once per session; each test serves a copy."""
    folder = tmp_path_factory.mktemp("big-business")
    history = folder / "history.jsonl"
    module = generator()
    module.write(module.generate(clients=BIG_CLIENTS), history)
    db = folder / "business.db"
    with Ledger.open(str(db)) as ledger:
        ledger.import_jsonl(history)
        ledger.surveys.owner.set_password(PASSWORD)
    return db


@pytest.fixture
def florist(db_url: str) -> str:
    """A small business: one client since last month with nothing wrong, and the owner's password."""
    with Ledger.open(db_url) as ledger:
        ledger.record("oak-ivy", ClientOnboarded(name="Oak & Ivy Florists", monthly_value=2400.0),
                      (TODAY - dt.timedelta(days=40)).isoformat())
        ledger.surveys.owner.set_password(PASSWORD)
    return db_url


def poll(page: Any, found: Callable[[], bool], what: str, seconds: float = DEADLINE_SECONDS) -> None:
    """Reload ``page`` until ``found()``; a failure after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not found():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        page.wait_for_timeout(100)
        page.reload()


def log_in(page: Any, served: Served) -> None:
    page.goto(served.url("/owner/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(served.url("/owner/"))


def test_the_owners_morning_on_a_phone_with_only_serve_running(
    chromium, smtp_inbox, florist: str, big_business: Path, tmp_path: Path  # noqa: F811
) -> None:
    controller, inbox = smtp_inbox
    SCREENSHOTS.mkdir(exist_ok=True)
    checks = PageChecks(SCREENSHOTS / "serve-story-html")
    errors: list[str] = []
    served = Served(
        florist, "--watch-interval", "0.5", env=digest_environment(controller.port, CLIENTRULES_NUMBER_FORMAT="1.234,56")
    )
    try:
        owner = chromium.new_page(**PHONE)
        owner.set_default_timeout(DEADLINE_SECONDS * 1000)
        watch(owner, errors)
        log_in(owner, served)
        checks.check(owner, "dashboard")
        with Ledger.open(florist) as ledger:  # serve's watcher has looked at every client once
            poll(owner, lambda: ledger.alerts.checkpoint() is not None, "the watcher's first look")
        owner.goto(served.url("/owner/changes/"))
        assert owner.get_by_text("No client's decision changed").is_visible()

        # an amount typed the European way, as the business writes amounts, is stored as 1250.50
        owner.goto(served.url("/owner/clients/oak-ivy"))
        owner.get_by_role("link", name="Invoice issued", exact=True).click()
        checks.check(owner, "record an invoice")
        owner.get_by_label("Invoice number", exact=True).fill("F-7")
        owner.get_by_label("Amount", exact=True).fill("1.250,50")
        owner.get_by_label("Due on", exact=True).fill((TODAY + dt.timedelta(days=30)).isoformat())
        owner.get_by_role("button", name="Record").click()
        assert owner.locator(".flash.success").inner_text().startswith("Recorded:")
        with Ledger.open(florist) as ledger:
            [invoice] = [e.payload for e in ledger.events("oak-ivy") if isinstance(e.payload, InvoiceIssued)]
        assert invoice.amount == 1250.50

        # an event recorded from a form turns the client
        owner.get_by_label("Something else").select_option(label="Their needs outgrew us")
        owner.get_by_role("button", name="Record", exact=True).click()
        checks.check(owner, "record a need outgrown")
        owner.get_by_label("Which need?").fill("a full-time in-house designer")
        owner.get_by_role("button", name="Record").click()
        assert owner.locator(".verdict").first.inner_text() == "Refer out"
        checks.check(owner, "client page after the decision changed", html=owner.content())

        # serve's own watcher puts it on What changed, and mails the digest
        owner.goto(served.url("/owner/changes/"))
        poll(owner, lambda: owner.locator(".changes li", has_text="Oak & Ivy Florists").count() > 0, "What changed")
        change = owner.locator(".changes > li", has_text="Oak & Ivy Florists")
        assert "now refer out" in change.inner_text()
        checks.check(owner, "what changed")
        owner.screenshot(path=str(SCREENSHOTS / "serve-story-what-changed.png"), full_page=True)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not inbox.messages:
            assert time.monotonic() < deadline and served.process.poll() is None, f"no digest: {served.stderr()}"
            owner.wait_for_timeout(100)
        [(_, recipients, mail)] = inbox.messages
        assert recipients == ["owner@studio.example"]
        assert mail["Subject"] == "1 client changed: 1 to refer out"
        assert email.utils.parseaddr(str(mail["From"])) == ("Harbour Café Studio", "hello@studio.example")
        assert mail["Message-ID"].endswith("@studio.example>")
        assert abs(email.utils.parsedate_to_datetime(mail["Date"]).timestamp() - time.time()) < 3600
        assert "Oak & Ivy Florists: was keep, now refer out" in mail.get_body(("plain",)).get_content()

        # a rule change, read in words before anything is adopted
        owner.goto(served.url("/owner/rules"))
        owner.get_by_role("link", name="Change chronic-late-payer").click()
        checks.check(owner, "change a rule")
        owner.get_by_label("Late invoices in the last 12 months: at least").fill("2")
        owner.get_by_role("button", name="Preview the change").click()
        owner.get_by_text(  # the click returns once the preview's page is asked for, not shown
            "‘They pay late again and again’ now needs at least 2 late invoices in the last 12 months instead of 3."
        ).wait_for()
        assert not owner.locator("pre.diff").is_visible()
        checks.check(owner, "rule change preview", html=owner.content())
        owner.close()
    finally:
        log = served.stop()
    assert served.process.returncode == 0, log

    # the dashboard and the learning page of a business with 5,000 clients
    big = Served(shutil.copyfile(big_business, tmp_path / "big.db").as_posix(), env=environment())
    try:
        owner = chromium.new_page(**PHONE)
        owner.set_default_timeout(DEADLINE_SECONDS * 1000)
        watch(owner, errors)
        log_in(owner, big)
        # the first look, while every client is decided the first time, says how far it has come
        assert owner.get_by_role("status").filter(has_text="Deciding every client for the first time").is_visible()
        assert owner.locator("progress").is_visible()
        checks.check(owner, "dashboard of 5,000 clients, first look", html=owner.content())
        poll(owner, lambda: owner.locator(".card").count() > 0, "the dashboard's clients")
        checks.check(owner, "dashboard of 5,000 clients")
        owner.screenshot(path=str(SCREENSHOTS / "serve-story-big-dashboard.png"))
        owner.get_by_role("link", name="Learning").click()
        heading = owner.get_by_role("heading", name="What we learned from clients who left")
        poll(owner, lambda: heading.count() > 0, "the learning page")
        checks.check(owner, "learning page of 5,000 clients")
        owner.screenshot(path=str(SCREENSHOTS / "serve-story-big-learning.png"))

        # a rule change at 5,000 clients is previewed in the background, its page saying how far it has come
        owner.goto(big.url("/owner/rules"))
        owner.get_by_role("link", name="Change chronic-late-payer").click()
        owner.get_by_label("Late invoices in the last 12 months: at least").fill("2")
        owner.get_by_role("button", name="Preview the change").click()
        sentence = "‘They pay late again and again’ now needs at least 2 late invoices in the last 12 months instead of 3."
        owner.get_by_text(sentence).wait_for()
        assert owner.get_by_role("status").filter(has_text="Working out").is_visible()
        assert owner.locator("progress").is_visible() and owner.get_by_role("button", name="Adopt as version 2").count() == 0
        checks.check(owner, "rule preview of 5,000 clients, being made", html=owner.content())
        owner.screenshot(path=str(SCREENSHOTS / "serve-story-big-preview-being-made.png"))
        adopt = owner.get_by_role("button", name="Adopt as version 2")
        poll(owner, lambda: adopt.count() > 0, "the rule preview", PREVIEW_DEADLINE_SECONDS)
        assert owner.get_by_text(sentence).is_visible() and owner.get_by_role("heading", name="On the past").is_visible()
        checks.check(owner, "rule preview of 5,000 clients", html=owner.content())
    finally:
        log = big.stop()
    assert big.process.returncode == 0, log

    checks.validate_html()
    assert errors == []
