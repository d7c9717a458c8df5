"""The learning report as HTML: a Jinja2 template (autoescaped) with matplotlib charts.

:func:`render_html` gives one self-contained page (charts inline as SVG, the
stylesheet inline, no script; print CSS included) or, with
``full_page=False``, the body fragment a web page embeds. A web page whose
Content-Security-Policy forbids inline styles passes ``stylesheet_url``
(serve :func:`stylesheet` there) and ``chart_url`` (serve
``charts.png(charts.figure(data, name))`` there): the fragment then links to
both instead of inlining them.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Callable, Mapping

import jinja2
from markupsafe import Markup, escape

from clientrules.adapters.report import charts
from clientrules.domain.learning.reasons import LABELS

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("clientrules.adapters.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters["money"] = lambda value: f"{value:,.0f}" if value is not None else "–"
_ENVIRONMENT.filters["number"] = lambda value: "–" if value is None else f"{value:g}"

CHART_TITLES = {
    "reasons": "Reasons departed clients gave",
    "quarters": "Departures per quarter",
    "recommend": "Recommend scores",
}


def stylesheet() -> str:
    """The report's CSS (screen and print)."""
    return resources.files("clientrules.adapters.report").joinpath("templates/report.css").read_text("utf-8")


def render_html(
    data: dict[str, Any],
    *,
    full_page: bool = True,
    stylesheet_url: str | None = None,
    chart_url: Callable[[str], str] | None = None,
    actions: Mapping[str, Markup] | None = None,
) -> str:
    """The report data (``Report.to_json()``) as HTML; every text from the data is escaped.

    ``actions`` maps a proposal id to the (trusted) HTML of its accept/reject
    controls; without it the page shows the CLI commands instead.
    """
    figures: dict[str, Any] = {"reasons": None, "quarters": None, "recommend": None, "proposals": {}}
    for name in charts.names(data):
        if chart_url is None:
            markup = Markup(charts.svg(charts.figure(data, name), id_prefix=f"chart-{name}"))
        else:
            title = CHART_TITLES.get(name, "Backtest of the proposal")
            markup = Markup(f'<img src="{escape(chart_url(name))}" alt="{escape(title)}">')
        if name.startswith("proposal-"):
            figures["proposals"][name.removeprefix("proposal-")] = markup
        else:
            figures[name] = markup
    template = _ENVIRONMENT.get_template("report.html" if full_page else "report_body.html")
    return template.render(
        report=data,
        figures=figures,
        css=Markup(stylesheet()),
        css_in_head=full_page,
        stylesheet_url=stylesheet_url,
        actions=actions,
        reason_labels=LABELS,
    )
