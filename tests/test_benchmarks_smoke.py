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

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    "append", "bulk_import", "rebuild", "incremental", "evaluate", "history_length", "learning", "workers", "memory",
    "survey", "dashboard", "postgres", "watch",
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
            assert isinstance(row["passed"], bool), row
            assert (row["miss"] is None) == row["passed"], row
        else:
            assert row["passed"] is None, row

    header, rule, *lines = completed.stdout.split("\n\n")[-2].splitlines()
    assert header.split()[:2] == ["benchmark", "ours"] and set(rule) <= {"-", " "}
    assert [line.split("  ")[0] for line in lines] == [row["name"] for row in rows]
