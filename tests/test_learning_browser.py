"""The HTML learning report in Debian's Chromium: its charts are drawn (screenshot in test-output/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clientrules import Ledger
from test_browser_e2e import SCREENSHOTS, chromium  # noqa: F401  (the shared Chromium fixture)
from tests.learning_fixtures import build_db

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_report_charts_are_visible_in_chromium(chromium, tmp_path: Path) -> None:  # noqa: F811
    db = build_db(tmp_path / "ledger.db", clients=60)
    with Ledger.open(str(db)) as ledger:
        html = ledger.learning.report().to_html()
    page_file = tmp_path / "report.html"
    page_file.write_text(html, encoding="utf-8")
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(page_file.as_uri())
    charts = page.locator("figure svg")
    assert charts.count() >= 4  # reasons, quarters, recommend, one per proposal
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
    assert page.locator("svg text", has_text="missed_deadlines").count() >= 1
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "learning-report.png"), full_page=True)
    page.emulate_media(media="print")  # the print CSS lets tables and charts use the whole page
    assert page.evaluate("() => getComputedStyle(document.querySelector('.learning-report')).maxWidth") == "none"
