"""What the benchmarks report: for each row our figure, the peer's or limit's from the same run, the ratio, the target.

The ratio is always ``ours / peer``: for a rate a target asks for at least
so much (``ratio >= 1.5``), for a time or a memory figure at most (``ratio <=
0.25``). A few targets are on our figure alone (``ours <= 50 ms``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any

import attrs

RESULTS_SCHEMA = 1


@attrs.frozen
class Figure:
    value: float
    unit: str

    def __str__(self) -> str:
        return f"{_number(self.value)} {self.unit}"


@attrs.frozen
class Target:
    """``ratio >= threshold`` (``on="ratio"``), or the same on our own figure (``on="ours"``)."""

    op: str = attrs.field(validator=attrs.validators.in_((">=", "<=")))
    threshold: float
    on: str = attrs.field(default="ratio", validator=attrs.validators.in_(("ratio", "ours")))

    def met(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value <= self.threshold

    def missed_by(self, value: float) -> float | None:
        """How far ``value`` falls short of the threshold, as a fraction of it (None: met, or a threshold of 0)."""
        if self.met(value) or self.threshold == 0:
            return None
        return abs(value - self.threshold) / abs(self.threshold)

    def __str__(self) -> str:
        return f"{self.on} {self.op} {_number(self.threshold)}"


@attrs.frozen
class Row:
    """One line of the table: what was measured, against what, and whether the target is met."""

    benchmark: str
    name: str
    measures: str
    ours: Figure
    peer_name: str
    peer: Figure | None
    target: Target | None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer is None or not self.peer.value:
            return None
        return self.ours.value / self.peer.value

    @property
    def judged(self) -> float | None:
        """The figure the target applies to."""
        if self.target is None:
            return None
        return self.ours.value if self.target.on == "ours" else self.ratio

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None: no target, or no figure to judge)."""
        judged = self.judged
        return None if judged is None else self.target.met(judged)  # type: ignore[union-attr]

    @property
    def miss(self) -> str:
        """By how much the target is missed, in words ('' when met or when there is no target)."""
        if self.met is not False:
            return ""
        judged = self.judged
        fraction = self.target.missed_by(judged)  # type: ignore[union-attr, arg-type]
        if fraction is None:
            return f"missed: {_number(judged)} against {self.target}"  # type: ignore[arg-type]
        return f"missed by {fraction:.0%}"

    @property
    def result(self) -> str:
        """'met', 'missed by N%', or '' when there is no target."""
        return "met" if self.met else self.miss

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "name": self.name,
            "measures": self.measures,
            "ours": attrs.asdict(self.ours),
            "peer": None if self.peer is None else {"name": self.peer_name, **attrs.asdict(self.peer)},
            "ratio": self.ratio,
            "target": None if self.target is None else {**attrs.asdict(self.target), "text": str(self.target)},
            "met": self.met,
            "passed": self.met,
            "miss": self.miss or None,
            "notes": self.notes,
        }


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "sqlite": sqlite3.sqlite_version,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_results(path: Path, *, scale: str, seconds: float, rows: list[Row], skipped: dict[str, str],
                  failed: dict[str, str], machine_info: dict[str, Any]) -> None:
    """Write the run as JSON: machine info (taken at the start), then every row (see :meth:`Row.to_json`)."""
    document = {
        "schema": RESULTS_SCHEMA,
        "scale": scale,
        "machine": machine_info,
        "load_average_at_end": os.getloadavg(),
        "seconds": round(seconds, 1),
        "benchmarks": [row.to_json() for row in rows],
        "skipped": skipped,
        "failed": failed,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.01:
        return f"{value:.2f}"
    return f"{value:.2g}"
