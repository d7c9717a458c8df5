"""The learning report as HTML: a Jinja2 template (autoescaped) with matplotlib charts inline as SVG.

:func:`render_html` gives one self-contained page (no external file, no
script; print CSS included) or, with ``full_page=False``, the body fragment
(its ``<style>`` included) that the owner pages of the web app embed.
"""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup

from clientrules.learning import charts

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("clientrules.learning", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters["money"] = lambda value: f"{value:,.0f}" if value is not None else "–"
_ENVIRONMENT.filters["number"] = lambda value: "–" if value is None else f"{value:g}"


def render_html(data: dict[str, Any], *, full_page: bool = True) -> str:
    """The report data (``Report.to_json()``) as HTML; every text from the data is escaped."""
    figures = {
        "reasons": Markup(charts.reasons_chart(data["reasons"])) if data["reasons"] else None,
        "quarters": Markup(charts.quarters_chart(data["by_quarter"])) if data["by_quarter"] else None,
        "recommend": Markup(charts.recommend_chart(data["recommend"])) if data["recommend"]["answers"] else None,
        "proposals": {
            p["id"]: Markup(charts.proposal_chart(p)) for p in data["proposals"] if p["backtest"] is not None
        },
    }
    template = _ENVIRONMENT.get_template("report.html" if full_page else "report_body.html")
    return template.render(report=data, figures=figures)
