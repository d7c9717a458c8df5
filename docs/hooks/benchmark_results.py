"""MkDocs hook: the Performance page's tables, rendered from ``benchmarks/results.json`` at build time.

A page writes ``<!-- benchmark-results: targets -->`` (the rows with a target),
``<!-- benchmark-results: reported -->`` (the rows reported without one) or
``<!-- benchmark-results: machine -->`` (where and when the figures were measured) or
``<!-- benchmark-results: postgres -->`` (the PostgreSQL rows beside SQLite's),
so the published figures are always those of the last full run, never copied by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results.json"
MARKER = re.compile(r"<!-- benchmark-results: (?P<part>targets|reported|machine|postgres) -->")


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each marker in ``markdown`` with its table (pages without one are returned unchanged)."""
    if not MARKER.search(markdown):
        return markdown
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    return MARKER.sub(lambda match: _RENDER[match["part"]](results), markdown)


def _figure(measure: dict[str, Any]) -> str:
    value = measure["value"]
    unit = measure["unit"]
    if isinstance(value, float) and value >= 100:
        text = f"{value:,.0f}"
    elif isinstance(value, float):
        text = f"{value:.3g}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}"


def _ratio(row: dict[str, Any]) -> str:
    return "—" if row["ratio"] is None else f"{row['ratio']:.3g}"


def _targets(results: dict[str, Any]) -> str:
    lines = [
        "| row | ours | peer or limit, same run | ratio | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["benchmarks"]:
        if row["target"] is None:
            continue
        result = "met" if row["met"] else row["miss"]
        lines.append(
            f"| {row['name']} | {_figure(row['ours'])} | {row['peer']['name']}: {_figure(row['peer'])} "
            f"| {_ratio(row)} | {row['target']['text']} | {result} |"
        )
    return "\n".join(lines)


def _reported(results: dict[str, Any]) -> str:
    lines = ["| row | ours | beside | ratio |", "|---|---|---|---|"]
    for row in results["benchmarks"]:
        if row["target"] is not None:
            continue
        lines.append(f"| {row['name']} | {_figure(row['ours'])} | {row['peer']['name']}: {_figure(row['peer'])} | {_ratio(row)} |")
    return "\n".join(lines)


def _postgres(results: dict[str, Any]) -> str:
    lines = ["| row | PostgreSQL | beside, same run | ratio |", "|---|---|---|---|"]
    for row in results["benchmarks"]:
        if row["benchmark"] == "postgres":
            lines.append(f"| {row['name']} | {_figure(row['ours'])} | {row['peer']['name']}: {_figure(row['peer'])} | {_ratio(row)} |")
    return "\n".join(lines)


def _machine(results: dict[str, Any]) -> str:
    machine = results["machine"]
    day = dt.datetime.fromisoformat(machine["date"]).date().isoformat()
    load_at_start = machine["load_average"][0]
    load_at_end = results["load_average_at_end"][0]
    return (
        f"Measured on {day}: {machine['cpu_count']} CPUs, Python {machine['python']}, SQLite {machine['sqlite']}; "
        f"the whole run took {results['seconds']:.0f} s, with a load average of {load_at_start:.1f} at its start "
        f"and {load_at_end:.1f} at its end."
    )


_RENDER = {"targets": _targets, "reported": _reported, "machine": _machine, "postgres": _postgres}
