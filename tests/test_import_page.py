"""The owner's Import page: upload, check (a dry run), errors beside their rows, then import; in a real browser on a phone."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest
import waitress
from page_checks import PageChecks
from survey_fixtures import clean_environment, close_app, csrf_token, make_app
from test_browser_e2e import SCREENSHOTS, chromium  # noqa: F401  (the shared Chromium fixture)
from test_owner_app import app, owner, template_db  # noqa: F401  (the owner's app, logged in)

from clientrules import Ledger

DATA = Path(__file__).parent / "data" / "imports"
PASSWORD = "import page owner password"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def check(owner, content: bytes, preset: str = "") -> tuple[int, str]:
    token = csrf_token(owner.get("/owner/import/").get_data(as_text=True))
    response = owner.post(
        "/owner/import/",
        data={"csrf_token": token, "preset": preset, "action": "check", "upload": (io.BytesIO(content), "export.csv")},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True)


def test_checking_a_file_stores_nothing_and_shows_what_would_be_stored(app, owner):  # noqa: F811
    ledger = app.extensions["clientrules"].ledger
    head = ledger.store.head_position()
    status, html = check(owner, (DATA / "stripe.csv").read_bytes())
    assert status == 200 and ledger.store.head_position() == head
    assert "Read as Stripe: what would be stored" in html
    assert "clients: 2 new (orchard-cafe-ltd, gamma-gmbh), 0 matched (none)" in html
    assert "Amount 1,200.00 EUR" in html  # the first events as they will be recorded, with their currency
    text = re.search(r'<input type="hidden" name="text" value="([^"]*)"', html).group(1)
    response = owner.post("/owner/import/", data={
        "csrf_token": csrf_token(html), "preset": "stripe", "action": "import",
        "text": text.replace("&#34;", '"').replace("&amp;", "&").replace("&#39;", "'"),
    })
    assert response.status_code == 303
    assert ledger.store.head_position() == head + 14
    assert "Imported from Stripe: 14 events stored." in owner.get("/owner/").get_data(as_text=True)


def test_a_bad_row_is_shown_beside_the_row_and_nothing_is_stored(app, owner):  # noqa: F811
    ledger = app.extensions["clientrules"].ledger
    head = ledger.store.head_position()
    bad = (DATA / "stripe.csv").read_text("utf-8").replace("1200.00,1200.00,0.00,eur,paid,2026-02-05", "12x,1200.00,0.00,eur,paid,2026-02-05")
    status, html = check(owner, bad.encode())
    assert status == 400 and ledger.store.head_position() == head
    row = re.search(r'<li class="invalid"><span class="row-number">Row 3</span>.*?</li>', html, re.S).group(0)
    assert "row 3, column &#39;Amount Due&#39;: &#39;12x&#39; is not a number" in row


@pytest.fixture
def server(db_url: str, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
    served = make_app(db_url, tmp_path)
    wsgi = waitress.create_server(served, host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=wsgi.run, daemon=True).start()
    yield f"http://127.0.0.1:{wsgi.effective_port}"
    wsgi.close()
    close_app(served)


@pytest.mark.browser
@pytest.mark.slow
def test_the_import_page_on_a_phone(chromium, server, tmp_path):  # noqa: F811
    SCREENSHOTS.mkdir(exist_ok=True)
    checks = PageChecks(SCREENSHOTS / "import-html")
    page = chromium.new_page(**PHONE)
    page.goto(f"{server}/owner/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Import", exact=True).click()
    checks.check(page, "import")
    bad = tmp_path / "bad.csv"
    bad.write_text((DATA / "stripe.csv").read_text("utf-8").replace("2026-03-05 09:12", "03/04/2026"), "utf-8")
    page.get_by_label("The CSV file your tool exported").set_input_files(str(bad))
    page.get_by_role("button", name="Check the file").click()
    assert "reads as 03 April 2026 or 04 March 2026" in page.locator("li.invalid").inner_text()
    checks.check(page, "import with a bad row", html=page.content())
    page.get_by_label("The CSV file your tool exported").set_input_files(str(DATA / "stripe.csv"))
    page.get_by_label("Which tool made it?").select_option(label="Stripe")
    page.get_by_role("button", name="Check the file").click()
    assert page.get_by_text("Read as Stripe: what would be stored").is_visible()
    checks.check(page, "import checked", html=page.content())
    page.screenshot(path=str(SCREENSHOTS / "import-checked.png"), full_page=True)
    page.get_by_role("button", name="Import", exact=True).click()
    assert page.locator(".flash.success").inner_text().startswith("Imported from Stripe: 14 events stored.")
    assert page.locator(".card", has_text="Orchard Café Ltd").count() == 1
    checks.validate_html()
