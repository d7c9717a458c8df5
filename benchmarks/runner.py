"""Run the chosen benchmarks, each in a fresh process, and collect their rows.

A benchmark is a module of this package with ``NAME`` and ``run(context) ->
list[Row]``. Each runs in a spawned interpreter of its own, so peak memory,
engine state and caches never carry over from one to the next; the data they
share (the generated history) lives in the run's work directory.
"""

from __future__ import annotations

import compileall
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import attrs

import clientrules
import survey_app
from benchmarks.measure import in_fresh_process
from benchmarks.results import Row, machine, write_results
from benchmarks.scale import Context, Scale
from benchmarks.table import format_table

#: in the order they run; the bulk import goes before those that read the imported history
BENCHMARKS = (
    "append", "bulk_import", "rebuild", "incremental", "evaluate", "history_length", "learning", "workers", "memory",
    "survey", "dashboard", "postgres", "watch", "csv_import",
)
POSTGRES_ENV = "CLIENTRULES_BENCH_POSTGRES"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@attrs.frozen
class Outcome:
    rows: list[Row]
    skipped: dict[str, str]
    failed: dict[str, str]


def run_benchmark(name: str, context: Context) -> list[Row]:
    """Run one benchmark module in this process (the runner calls this in a fresh one)."""
    module = importlib.import_module(f"benchmarks.{name}")
    return module.run(context)


def postgres_url(given: str | None) -> tuple[str | None, str]:
    """The PostgreSQL server to benchmark, or None and why not."""
    url = given or os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return url, ""
    except Exception as error:  # any reason the server cannot be used is a reason to skip it
        if given:
            raise SystemExit(f"error: cannot use PostgreSQL at {url}: {str(error).splitlines()[0]}") from None
        return None, f"no PostgreSQL server at {url} ({str(error).splitlines()[0]}); give one with --postgres URL"


def compile_modules() -> None:
    """Compile the library's and the web app's modules, as installing the package does, so that the processes
    the benchmarks start load them instead of compiling each from source (which an editable install does at every
    start where ``PYTHONDONTWRITEBYTECODE`` is set)."""
    for package in (clientrules, survey_app):
        for folder in package.__path__:
            compileall.compile_dir(folder, quiet=1)


def run_all(names: list[str], scale: Scale, output: Path, *, postgres: str | None = None) -> Outcome:
    """Run ``names`` at ``scale``, print the table, write ``output``; returns what ran, was skipped or failed."""
    started = time.perf_counter()
    compile_modules()
    machine_info = machine()
    rows: list[Row] = []
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    url = None
    if "postgres" in names:
        url, why = postgres_url(postgres)
        if url is None:
            skipped["postgres"] = why
    with tempfile.TemporaryDirectory(prefix="clientrules-bench-") as directory:
        context = Context(scale=scale, workdir=Path(directory), postgres_url=url)
        for name in names:
            if name in skipped:
                print(f"-- {name}: skipped: {skipped[name]}", flush=True)
                continue
            print(f"-- {name} ...", flush=True)
            begun = time.perf_counter()
            try:
                produced = in_fresh_process(run_benchmark, name, context)
            except Exception as error:
                failed[name] = "".join(traceback.format_exception_only(error)).strip()
                print(f"-- {name}: FAILED: {failed[name]}", file=sys.stderr, flush=True)
                continue
            rows.extend(produced)
            print(f"-- {name}: {time.perf_counter() - begun:.1f} s", flush=True)
    seconds = time.perf_counter() - started
    print()
    print(format_table(rows))
    write_results(output, scale=scale.name, seconds=seconds, rows=rows, skipped=skipped, failed=failed,
                  machine_info=machine_info)
    print(f"\n{len(rows)} rows in {seconds:.0f} s; written to {output}")
    return Outcome(rows, skipped, failed)
