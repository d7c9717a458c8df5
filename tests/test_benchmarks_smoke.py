"""The benchmarks never rot: ``python -m benchmarks --smoke --only NAME`` runs each one at tiny sizes and reports numbers.

Timings are not asserted (a test does not time things); only that every
benchmark ran and produced a complete row, the table and the JSON document.
Each benchmark is its own test, so the parallel test runner spreads them over the cores.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.results import Figure, Row, Target

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    "append", "bulk_import", "rebuild", "incremental", "evaluate", "history_length", "learning", "workers", "memory",
    "survey", "dashboard", "postgres", "watch", "csv_import",
)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_the_smoke_run_reports_the_benchmark(benchmark: str, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--only", benchmark, "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    document = json.loads(output.read_text(encoding="utf-8"))

    assert document["scale"] == "smoke" and document["failed"] == {}
    assert {"python", "sqlite", "cpu_count", "date"} <= set(document["machine"])
    if os.environ.get("CI"):
        assert document["skipped"] == {}, "CI has a PostgreSQL server: the postgres benchmark must run"
    rows = document["benchmarks"]
    assert {row["benchmark"] for row in rows} == {benchmark} - set(document["skipped"])
    assert len({row["name"] for row in rows}) == len(rows)
    for row in rows:
        assert row["measures"] and row["ours"]["unit"], row["name"]
        assert is_number(row["ours"]["value"]) and (row["ours"]["value"] > 0 or row["ours"]["unit"] == "errors"), row
        if row["peer"] is not None:
            assert row["peer"]["name"] and is_number(row["peer"]["value"]), row
        if row["target"] is not None:
            assert row["target"]["op"] in (">=", "<=") and is_number(row["target"]["threshold"]), row
            assert isinstance(row["met"], bool) and row["passed"] == row["met"], row
            assert (row["miss"] is None) == row["met"], row
            assert row["met"] or row["miss"].startswith("missed"), row
        else:
            assert row["met"] is None and row["passed"] is None, row

    header, rule, *lines = completed.stdout.split("\n\n")[-2].splitlines()
    assert header.split()[:2] == ["benchmark", "ours"] and header.split()[-1] == "result" and set(rule) <= {"-", " "}
    assert [line.split("  ")[0] for line in lines] == [row["name"] for row in rows]
    results = [line.rsplit("  ", 1)[-1].strip() for line in lines]
    assert results == [{True: "met", False: row["miss"], None: "—"}[row["met"]] for row in rows]


def row_judged(op: str, threshold: float, ours: float, peer: float | None = 1.0, on: str = "ratio") -> Row:
    return Row("b", "row", "what", Figure(ours, "ms"), "peer", None if peer is None else Figure(peer, "ms"),
               Target(op, threshold, on))


@pytest.mark.parametrize(("row", "met", "result"), [
    (row_judged(">=", 1.5, 1.5), True, "met"),
    (row_judged(">=", 1.5, 1.2), False, "missed by 20%"),
    (row_judged("<=", 0.25, 0.41), False, "missed by 64%"),
    (row_judged("<=", 50, 65, on="ours"), False, "missed by 30%"),
    (row_judged("<=", 0, 3, on="ours"), False, "missed: 3.00 against ours <= 0"),
    (row_judged("<=", 2, 1.0, peer=None), None, ""),
])
def test_a_row_says_whether_its_target_is_met_and_by_how_much_it_is_missed(row: Row, met: bool | None,
                                                                            result: str) -> None:
    assert row.met is met and row.result == result
    assert row.to_json()["met"] is met and row.to_json()["miss"] == (result if met is False else None)
