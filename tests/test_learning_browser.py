"""The learning report in Debian's Chromium: the HTML file's charts are drawn, and the owner page works
under the app's Content-Security-Policy (screenshots in test-output/)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import waitress

from clientrules.adapters.report.html import render_html
from clientrules import Ledger
from survey_fixtures import clean_environment, close_app, make_app
from test_browser_e2e import SCREENSHOTS, chromium  # noqa: F401  (the shared Chromium fixture)
from tests.learning_fixtures import build_db

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "learning browser owner password"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    db = build_db(tmp_path / "ledger.db", clients=60)
    with Ledger.open(str(db)) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
    return db


@contextmanager
def serving(db: Path, tmp_path: Path):
    """The app over ``db``, served by waitress: its base URL."""
    app = make_app(str(db), tmp_path)
    wsgi = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{wsgi.effective_port}"
    finally:
        wsgi.close()
        close_app(app)


@pytest.fixture
def server(db: Path, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    with serving(db, tmp_path) as url:
        yield url


def test_report_file_charts_are_visible(chromium, db: Path, tmp_path: Path) -> None:  # noqa: F811
    with Ledger.open(str(db)) as ledger:
        html = render_html(ledger.learning.report().to_json())
    page_file = tmp_path / "report.html"
    page_file.write_text(html, encoding="utf-8")
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(page_file.as_uri())
    assert page.locator("figure svg").first.is_hidden()  # charts are folded, under a table of the same figures
    page.evaluate("() => document.querySelectorAll('details').forEach(fold => { fold.open = true; })")
    charts = page.locator("figure svg")
    assert charts.count() >= 4  # reasons, quarters, recommend, one per proposal
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
    assert page.locator("svg text", has_text="Deadlines were missed").count() >= 1  # labelled in words
    assert page.locator("svg text", has_text="missed_deadlines").count() == 0
    assert all(page.locator("figure svg").nth(i).get_attribute("role") == "img" for i in range(charts.count()))
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "learning-report.png"), full_page=True)
    page.emulate_media(media="print")  # the print CSS lets tables and charts use the whole page
    assert page.evaluate("() => getComputedStyle(document.querySelector('.learning-report')).maxWidth") == "none"
    pdf = page.pdf(path=str(SCREENSHOTS / "learning-report.pdf"), format="A4")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 3


def test_owner_page_shows_charts_and_accepts_a_proposal(chromium, server: str, db: Path) -> None:  # noqa: F811
    errors: list[str] = []
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{server}/owner/learning/")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{server}/owner/learning/")
    page.evaluate("() => document.querySelectorAll('details').forEach(fold => { fold.open = true; })")
    images = page.locator("figure img")
    assert images.count() >= 4
    assert page.evaluate("() => [...document.querySelectorAll('figure img')].every(i => i.complete && i.naturalWidth > 300)")
    # the linked stylesheet applied (no inline style is allowed by the CSP)
    assert page.evaluate("() => getComputedStyle(document.querySelector('.proposal')).borderLeftWidth") == "4px"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "learning-owner-page.png"), full_page=True)
    page.locator("button", has_text="Add this rule: Warn when a client has 2 or more missed deadlines").first.click()
    page.wait_for_url(f"{server}/owner/learning/")
    assert "is now one of the rules (rules version 2 are now in use)" in page.locator(".flash").inner_text()
    assert errors == []
    with Ledger.open(str(db)) as ledger:
        assert ledger.rules.current().version == 2


SCALED_CLIENTS = 2_000
PHONE_HEIGHT = 844


@pytest.fixture
def scaled_server(tmp_path: Path, monkeypatch):
    """The app over a generated history of a few thousand clients."""
    clean_environment(monkeypatch)
    db = build_db(tmp_path / "scaled.db", clients=SCALED_CLIENTS)
    with Ledger.open(str(db)) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
    with serving(db, tmp_path) as url:
        yield url


def test_the_learning_page_of_thousands_of_clients_is_short_on_a_phone(chromium, scaled_server: str, tmp_path: Path) -> None:  # noqa: F811
    from page_checks import PageChecks

    checks = PageChecks(tmp_path / "html")
    page = chromium.new_page(viewport={"width": 390, "height": PHONE_HEIGHT}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.goto(f"{scaled_server}/owner/learning/")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{scaled_server}/owner/learning/")
    # thousands of clients are read in the background: at once, how far it has come, and a link to look again
    if page.locator("progress").count():
        assert "client histories" in page.inner_text("main")
        checks.check(page, "learning page being read, on a phone")
    while page.locator("progress").count():
        page.wait_for_timeout(500)
        page.get_by_role("link", name="Look again").click()
        page.wait_for_load_state()
    # the summary and the proposals first; everything else folded: at most three phone screens
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height <= 3 * PHONE_HEIGHT, f"{height} px tall on a phone"
    checks.check(page, "learning page on a phone")
    page.screenshot(path=str(SCREENSHOTS / "learning-phone.png"), full_page=True)

    # what clients wrote: 25 at a time, then a link that shows 25 more
    page.locator("summary", has_text="What they told us").click()
    told = page.locator("#told figure.told")
    assert told.count() == 25
    page.get_by_role("link", name="Show more answers").click()
    page.wait_for_load_state()
    assert page.locator("#told figure.told").count() == 50 and page.locator("details#told").get_attribute("open") is not None
    checks.check(page, "learning page, more answers")

    # every fold open, the page still fits the phone's width and passes axe-core
    page.evaluate("() => document.querySelectorAll('details').forEach(fold => { fold.open = true; })")
    checks.check(page, "learning page, every fold open", html=page.content())
    checks.validate_html()
