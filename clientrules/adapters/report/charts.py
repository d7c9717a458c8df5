"""The report's charts, drawn with matplotlib: SVG to inline in a page (text kept as text, output
deterministic), or PNG for pages whose Content-Security-Policy forbids inline styles.

:func:`names` lists the charts a report has, :func:`figure` draws one by
name, :func:`svg` and :func:`png` render it. Figures are made without
``pyplot``, so no global backend is chosen and nothing is kept between charts.
"""

from __future__ import annotations

import io
import re
import textwrap
from typing import TYPE_CHECKING, Any

import matplotlib
from markupsafe import escape
from matplotlib.figure import Figure

from clientrules.domain.learning.reasons import LABELS

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # for mypy only, so the module imports on any matplotlib>=3.8

PRIMARY, CONTRIBUTING = "#1f5f8b", "#9cc3dd"
PALETTE = ("#1f5f8b", "#d9822b", "#3d9970", "#b03a48", "#7a5195", "#8c6d31", "#2a9d8f", "#e76f51", "#6c757d", "#adb5bd")
STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "clientrules-report",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def names(data: dict[str, Any]) -> list[str]:
    """The charts of the report ``data``: reasons, quarters, recommend, and one per proposal with a backtest."""
    found = [name for name, key in (("reasons", "reasons"), ("quarters", "by_quarter")) if data[key]]
    if data["recommend"]["answers"]:
        found.append("recommend")
    found.extend(f"proposal-{p['id']}" for p in data["proposals"] if p["backtest"] is not None)
    return found


def figure(data: dict[str, Any], name: str) -> Any:
    """The matplotlib figure of chart ``name`` of the report ``data`` (``KeyError`` if it has no such chart)."""
    if name not in names(data):
        raise KeyError(name)
    with matplotlib.rc_context(STYLE):
        if name == "reasons":
            return _reasons(data["reasons"])
        if name == "quarters":
            return _quarters(data["by_quarter"])
        if name == "recommend":
            return _recommend(data["recommend"])
        return _proposal(next(p for p in data["proposals"] if f"proposal-{p['id']}" == name))


def text_alternative(data: dict[str, Any], name: str) -> str:
    """What chart ``name`` shows, in one or two sentences (its image's text alternative)."""
    if name == "reasons":
        parts = [f"{r['label']}: {r['primary']} as the main reason, {r['contributing']} as another" for r in data["reasons"]]
        return "Bar chart of the reasons clients gave for leaving. " + "; ".join(parts) + "."
    if name == "quarters":
        parts = [f"{q['label']}: {q['departures']} left" for q in data["by_quarter"]]
        return "Bar chart of the clients who chose to leave, quarter by quarter. " + "; ".join(parts) + "."
    if name == "recommend":
        return "Bar chart of the answers from 0 to 10 to how likely clients are to recommend us. " + str(data["recommend"]["words"])
    proposal = next(p for p in data["proposals"] if f"proposal-{p['id']}" == name)
    current, candidate = proposal["backtest"]["current"], proposal["backtest"]["candidate_outcome"]
    return (
        f"Bar chart comparing the rules now with the rules with this change. Clients who left and were warned of: "
        f"{current['departures_flagged']} now, {candidate['departures_flagged']} with the change. Clients warned of who "
        f"stayed: {current['false_alarms']} now, {candidate['false_alarms']} with the change."
    )


def svg(chart: Any, *, id_prefix: str = "", label: str | None = None) -> str:
    """The figure as an ``<svg>`` element, fit to sit in an HTML page.

    matplotlib's RDF metadata block is left out (HTML does not allow it), and
    with ``id_prefix`` every id and reference to one gets that prefix, so that
    several charts in one page do not repeat ids. With ``label`` the drawing is
    one image to assistive technology, named by that text alternative.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        chart.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = _METADATA.sub("", text[text.index("<svg") :])
    if id_prefix:
        text = _ID_REFERENCE.sub(lambda match: f"{match[1]}{id_prefix}-", text)
    if label is not None:
        text = text.replace("<svg", f'<svg role="img" aria-label="{escape(label)}"', 1)
    return text


_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
#: an id, or a reference to one (``url(#x)``, ``href="#x"``, ``xlink:href="#x"``), up to the id itself
_ID_REFERENCE = re.compile(r'(\bid="|url\(#|href="#)')


def png(chart: Any) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        chart.savefig(buffer, format="png", bbox_inches="tight", dpi=150, metadata={"Software": None})
    return buffer.getvalue()


def _reasons(reasons: list[dict[str, Any]]) -> Any:
    """Horizontal bars: how many departed clients cited each reason, as primary and as contributing."""
    chart = Figure(figsize=(6.5, 0.5 * max(len(reasons), 2) + 0.8))
    axes = chart.subplots()
    labels = [textwrap.fill(r["label"], 34) for r in reasons][::-1]
    primary = [r["primary"] for r in reasons][::-1]
    contributing = [r["contributing"] for r in reasons][::-1]
    axes.barh(labels, primary, color=PRIMARY, label="the main reason")
    axes.barh(labels, contributing, left=primary, color=CONTRIBUTING, label="another reason")
    axes.set_xlabel("clients who left")
    axes.legend(frameon=False, loc="lower right")
    return chart


def _quarters(by_quarter: list[dict[str, Any]]) -> Any:
    """Stacked bars per quarter: departures by primary reason (unanswered in grey), with the monthly value lost."""
    chart = Figure(figsize=(6.5, 3.0))
    axes = chart.subplots()
    quarters = [q["label"].replace("–", "–\n") for q in by_quarter]
    codes = sorted({code for q in by_quarter for code in q["primary"]})
    bottom = [0] * len(quarters)
    for index, code in enumerate(codes):
        counts = [q["primary"].get(code, 0) for q in by_quarter]
        axes.bar(quarters, counts, bottom=bottom, color=PALETTE[index % len(PALETTE)], label=LABELS[code])
        bottom = [b + c for b, c in zip(bottom, counts)]
    unanswered = [q["departures"] - q["answered"] for q in by_quarter]
    axes.bar(quarters, unanswered, bottom=bottom, color="#dddddd", label="no answer")
    axes.set_ylabel("clients who left")
    axes.tick_params(axis="x", labelsize=6)
    value_axes = axes.twinx()
    value_axes.plot(quarters, [q["lost_monthly_value"] for q in by_quarter], color="black", marker="o", label="monthly value lost")
    value_axes.set_ylabel("monthly value lost")
    value_axes.set_ylim(bottom=0)
    handles, labels = axes.get_legend_handles_labels()
    more_handles, more_labels = value_axes.get_legend_handles_labels()
    axes.legend(handles + more_handles, labels + more_labels, frameon=False, fontsize=7, loc="upper left", ncol=2)
    return chart


def _recommend(recommend: dict[str, Any]) -> Any:
    """Bars of the 0-10 recommend scores, coloured as detractors, passives and promoters."""
    chart = Figure(figsize=(6.5, 2.4))
    axes = chart.subplots()
    colours = ["#b03a48"] * 7 + ["#adb5bd"] * 2 + ["#3d9970"] * 2
    axes.bar(range(11), recommend["distribution"], color=colours)
    axes.set_xticks(range(11))
    axes.set_xlabel("How likely to recommend us, from 0 (not at all) to 10: unlikely 0 to 6, perhaps 7 or 8, very likely 9 or 10")
    axes.set_ylabel("answers")
    return chart


def _proposal(proposal: dict[str, Any]) -> Any:
    """Grouped bars: departures flagged and false alarms, current rule set against the one with the proposed rule."""
    backtest = proposal["backtest"]
    current, candidate = backtest["current"], backtest["candidate_outcome"]
    chart = Figure(figsize=(5.0, 2.4))
    axes = chart.subplots()
    groups = ["left, warned of", "stayed, warned of"]
    positions = range(len(groups))
    before = [current["departures_flagged"], current["false_alarms"]]
    after = [candidate["departures_flagged"], candidate["false_alarms"]]
    axes.bar([p - 0.2 for p in positions], before, width=0.4, color=CONTRIBUTING, label="the rules now")
    axes.bar([p + 0.2 for p in positions], after, width=0.4, color=PRIMARY, label="with this change")
    axes.set_xticks(list(positions), groups)
    axes.set_ylabel("clients")
    axes.legend(frameon=False, fontsize=7)
    return chart
