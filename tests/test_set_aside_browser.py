"""In a real browser on a 390 px phone: the pages that name a client set aside fit the screen and pass axe-core
and the Nu HTML checker (the dashboard's set-aside section, that client's own page, a rule preview)."""

from __future__ import annotations

from pathlib import Path

import pytest
from survey_fixtures import clean_environment
from test_browser_e2e import SCREENSHOTS, chromium  # noqa: F401  (the shared Chromium fixture)
from test_learning_browser import PHONE_HEIGHT, serving
from test_set_aside import poisoned

from clientrules import Ledger

PASSWORD = "a proper owner password"


@pytest.mark.slow
def test_the_set_aside_client_reads_well_on_a_phone(chromium, db_url: str, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    from page_checks import PageChecks

    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        poisoned(ledger)
        ledger.surveys.owner.set_password(PASSWORD)
    checks = PageChecks(tmp_path / "html")
    with serving(Path(db_url), tmp_path) as url:
        page = chromium.new_page(viewport={"width": 390, "height": PHONE_HEIGHT}, device_scale_factor=2, is_mobile=True, has_touch=True)
        page.goto(f"{url}/owner/")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"{url}/owner/")
        section = page.locator("section[aria-labelledby=set-aside-title]")
        assert section.is_visible() and "1 client could not be decided" in section.inner_text()
        assert "O3" in section.inner_text() and "clientrules db check" in section.inner_text()
        checks.check(page, "dashboard with a client set aside")
        page.screenshot(path=str(SCREENSHOTS / "set-aside-phone.png"), full_page=True)

        answer = page.goto(f"{url}/owner/clients/o3")
        assert answer is not None and answer.status == 503
        assert "Decisions for this client are unavailable" in page.locator("h2#decision-title").inner_text()
        checks.check(page, "the page of a client set aside")

        page.goto(f"{url}/owner/rules/versions/1")
        assert "1 client could not be decided" in page.locator("section[aria-labelledby=set-aside-title]").inner_text()
        checks.check(page, "a rule preview with a client set aside")
    checks.validate_html()
