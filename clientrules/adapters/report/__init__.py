"""Rendering the learning report: HTML through Jinja and charts through matplotlib.

:class:`ReportRenderer` is what the CLI and the web app are given (by
:mod:`clientrules.wiring`); it loads Jinja and matplotlib only when a report
is first rendered, so a command that shows no report never pays for them.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT

#: matplotlib's text layout keeps state between figures: one chart is drawn at a time
_DRAWING = threading.Lock()


class ReportRenderer:
    """The learning report's data (``Report.to_json()``) as HTML and chart images."""

    def html(
        self,
        data: dict[str, Any],
        *,
        full_page: bool = True,
        stylesheet_url: str | None = None,
        chart_url: Callable[[str], str] | None = None,
        actions: Mapping[str, str] | None = None,
        shown: Mapping[str, int] | None = None,
        more_url: Callable[[str, int], str] | None = None,
        date_format: str = DEFAULT_DATE_FORMAT,
    ) -> str:
        """The report as one self-contained page, or (``full_page=False``) the fragment a web page embeds.

        A page whose Content-Security-Policy forbids inline styles and images
        passes ``stylesheet_url`` (serve :meth:`stylesheet` there) and
        ``chart_url`` (serve :meth:`chart_png` there). ``actions`` maps a
        proposal id to the trusted HTML of its accept and reject controls.
        Long lists show 25 items at a time: ``shown`` says how many of each to
        show and ``more_url(list, count)`` links to more; without it, the rest
        of each list is folded. ``date_format`` (one of
        :data:`~clientrules.domain.events.dates.DATE_FORMATS`) says how dates are written.
        """
        from markupsafe import Markup

        from clientrules.adapters.report.html import render_html

        trusted = None if actions is None else {key: Markup(value) for key, value in actions.items()}
        with _DRAWING:
            return render_html(
                data,
                full_page=full_page,
                stylesheet_url=stylesheet_url,
                chart_url=chart_url,
                actions=trusted,
                shown=shown,
                more_url=more_url,
                date_format=date_format,
            )

    def stylesheet(self) -> str:
        """The report's CSS (screen and print)."""
        from clientrules.adapters.report.html import stylesheet

        return stylesheet()

    def chart_names(self, data: dict[str, Any]) -> list[str]:
        """The names of the charts the report has."""
        from clientrules.adapters.report import charts

        return charts.names(data)

    def chart_png(self, data: dict[str, Any], name: str) -> bytes:
        """One of :meth:`chart_names` as a PNG image."""
        from clientrules.adapters.report import charts

        with _DRAWING:
            return charts.png(charts.figure(data, name))
