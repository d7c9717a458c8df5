"""A client's verdict over time as coordinates for an inline SVG step chart (``owner/_verdict_chart.html``).

Inline SVG scales with the page and keeps its text as text, so the chart stays
legible on a phone; the template also lists every change in words.
"""

from __future__ import annotations

import attrs

from clientrules import VERDICTS, Instant, VerdictAt

#: the drawing's coordinate box (``viewBox``): labels on the left, the steps on the right
WIDTH, HEIGHT = 400, 190
PLOT_LEFT, PLOT_RIGHT = 100, 390
BAND_TOP, BAND_GAP = 22, 38


@attrs.frozen
class Change:
    """From ``since`` on, the verdict was ``verdict`` (the template words it)."""

    since: Instant
    verdict: str


@attrs.frozen
class VerdictChart:
    width: int
    height: int
    #: (verdict, y) of each band, most severe at the top
    bands: tuple[tuple[str, int], ...]
    #: the step line, as the ``points`` of an SVG polyline
    line: str
    #: (x, y, verdict) of each point decided
    dots: tuple[tuple[float, int, str], ...]
    first: Instant
    last: Instant
    changes: tuple[Change, ...]


def verdict_chart(points: list[VerdictAt]) -> VerdictChart:
    """The chart of ``points`` (oldest first, at least one)."""
    band_y = {verdict: BAND_TOP + BAND_GAP * n for n, verdict in enumerate(VERDICTS)}
    start, end = points[0].at.key, points[-1].at.key
    span = max(end - start, 1)

    def x_of(point: VerdictAt) -> float:
        return round(PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * (point.at.key - start) / span, 1)

    line: list[str] = []
    for previous, point in zip([None, *points], points):
        if previous is not None and previous.verdict != point.verdict:
            line.append(f"{x_of(point)},{band_y[previous.verdict]}")
        line.append(f"{x_of(point)},{band_y[point.verdict]}")
    changes = [p for n, p in enumerate(points) if n == 0 or points[n - 1].verdict != p.verdict]
    return VerdictChart(
        width=WIDTH,
        height=HEIGHT,
        bands=tuple(band_y.items()),
        line=" ".join(line),
        dots=tuple((x_of(p), band_y[p.verdict], p.verdict) for p in points),
        first=points[0].at,
        last=points[-1].at,
        changes=tuple(Change(p.at, p.verdict) for p in changes),
    )
