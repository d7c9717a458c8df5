"""The learning report as HTML: a Jinja2 template (autoescaped) with matplotlib charts.

:func:`render_html` gives one self-contained page (charts inline as SVG, the
stylesheet inline, no script; print CSS included) or, with
``full_page=False``, the body fragment a web page embeds. A web page whose
Content-Security-Policy forbids inline styles passes ``stylesheet_url``
(serve :func:`stylesheet` there) and ``chart_url`` (serve
``charts.png(charts.figure(data, name))`` there): the fragment then links to
both instead of inlining them.

The page speaks the report's words (``in_words`` and each proposal's
``words``); reason codes, fact names, ids, dates as written in the data and
the rule file appear only inside folded details. Long lists (the clients a
proposal would flag, what clients wrote, our endings, every departure) show
:data:`PAGE_SIZE` items at a time: a web page passes ``more_url`` and
``shown`` (how many of each list to show) and gets "Show more" links; the
self-contained page folds the rest of each list instead.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Callable, Mapping, Sequence

import attrs
import jinja2
from markupsafe import Markup, escape

from clientrules.adapters.report import charts
from clientrules.domain.learning.reasons import LABELS
from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT
from clientrules.domain.learning.report import date_words, period_words, plural

PAGE_SIZE = 25

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("clientrules.adapters.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters["money"] = lambda value: f"{value:,.0f}" if value is not None else "–"
_ENVIRONMENT.filters["number"] = lambda value: "–" if value is None else f"{value:g}"
_ENVIRONMENT.filters["plain_date"] = date_words
_ENVIRONMENT.filters["percent"] = lambda value: f"{value:.0%}"
_ENVIRONMENT.globals["plural"] = plural


@attrs.frozen
class Page:
    """One list of the report as shown: the first items, the rest (folded or behind a link), the link."""

    shown: Sequence[Any]
    rest: Sequence[Any]
    more_url: str | None

    @property
    def remaining(self) -> int:
        return len(self.rest)


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
    shown: Mapping[str, int] | None = None,
    more_url: Callable[[str, int], str] | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
) -> str:
    """The report data (``Report.to_json()``) as HTML; every text from the data is escaped; dates
    written as ``date_format`` says (:data:`~clientrules.domain.events.dates.DATE_FORMATS`).

    ``actions`` maps a proposal id to the (trusted) HTML of its accept/reject
    controls; without it the page shows the CLI commands (in the proposal's details).
    ``shown`` says how many items of each list to show (default :data:`PAGE_SIZE`)
    and ``more_url(list, count)`` links to the page showing ``count`` of them;
    without ``more_url`` every item is in the page, beyond the first
    :data:`PAGE_SIZE` in a fold.
    """
    figures: dict[str, Any] = {"reasons": None, "quarters": None, "recommend": None, "proposals": {}}
    for name in charts.names(data):
        words = charts.text_alternative(data, name)
        if chart_url is None:
            markup = Markup(charts.svg(charts.figure(data, name), id_prefix=f"chart-{name}", label=words))
        else:
            markup = Markup(f'<img src="{escape(chart_url(name))}" alt="{escape(words)}">')
        if name.startswith("proposal-"):
            figures["proposals"][name.removeprefix("proposal-")] = markup
        else:
            figures[name] = markup
    counts = shown or {}

    def page(name: str, items: Sequence[Any]) -> Page:
        count = max(PAGE_SIZE, counts.get(name, PAGE_SIZE))
        first, rest = items[:count], items[count:]
        link = more_url(name, count + PAGE_SIZE) if more_url is not None and rest else None
        return Page(first, rest, link)

    template = _ENVIRONMENT.get_template("report.html" if full_page else "report_body.html")
    return template.render(
        report=data,
        words=data["in_words"],
        names=data["names"],
        rule_words=data["rule_words"],
        figures=figures,
        css=Markup(stylesheet()),
        css_in_head=full_page,
        stylesheet_url=stylesheet_url,
        actions=actions,
        reason_labels=LABELS,
        page=page,
        told=_told_items(data),
        period=period_words(data["period"], date_format),
        date_format=date_format,
    )


def _told_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """What clients wrote, one item per answer to a question, grouped by main reason (the report's order)."""
    questions = (
        ("what_to_change", "What we could have done differently"),
        ("keep_doing", "What we should keep doing"),
        ("moved_to", "Who they work with now, and what that offered"),
    )
    return [
        {"reason": group["label"], "question": question, **item}
        for group in data["told"]
        for field, question in questions
        for item in group[field]
    ]
