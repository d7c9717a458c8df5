"""Memory and time of evaluating 100,000 clients against 10,000: flat memory, linear time.

Two stores from the shared generator (clients of about 8 events, so that the
100,000-client one builds in seconds; no long clients), each client's fold
stored by a first evaluate, then each evaluated end to end
(``ledger.decisions.iter_evaluate``, every decision consumed and dropped) in a
fresh process that reports its peak RSS (``VmHWM``) and time.
:func:`scale_rows` gives the same rows for any backend (the PostgreSQL
benchmark uses it).
"""

from __future__ import annotations

from typing import Callable

from benchmarks.history import AS_OF
from benchmarks.history_length import build
from benchmarks.measure import in_fresh_process, peak_rss_mib, seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger

NAME = "memory"


def evaluate(url: str) -> tuple[float, float, int]:
    """Seconds, peak RSS (MiB) and decisions of evaluating every client of ``url``."""
    decided = 0

    def every_client() -> None:
        nonlocal decided
        for _ in ledger.decisions.iter_evaluate(as_of=AS_OF):
            decided += 1

    with Ledger.open(url) as ledger:
        ledger.rules.current()
        spent = seconds(every_client)
    return spent, peak_rss_mib(), decided


def scale_rows(url_of: Callable[[int], str], context: Context, *, backend: str = "SQLite", prefix: str = "",
               benchmark: str = NAME) -> list[Row]:
    """Build a store of each size (``url_of(clients)``) and compare their evaluation's time and peak memory."""
    small, large = context.scale.memory_clients
    per_client = context.scale.memory_events_per_client
    figures = {}
    for clients in (small, large):
        in_fresh_process(build, url_of(clients), clients, per_client)
        figures[clients] = in_fresh_process(evaluate, url_of(clients))
        if figures[clients][2] != clients:
            raise RuntimeError(f"decided {figures[clients][2]:,} of {clients:,} clients")
    (small_time, small_rss, _), (large_time, large_rss, _) = figures[small], figures[large]
    measures = (f"ledger.decisions.iter_evaluate of {large:,} against {small:,} clients (~{per_client} events each) "
                f"from {backend}, folds stored")
    return [
        Row(benchmark, f"{prefix}peak RSS, {large:,} vs {small:,} clients", measures, Figure(large_rss, "MiB"),
            f"{small:,} clients", Figure(small_rss, "MiB"), Target("<=", 1.2),
            notes="peak RSS (VmHWM) of a fresh process that evaluates every client"),
        Row(benchmark, f"{prefix}time, {large:,} vs {small:,} clients", measures, Figure(large_time, "s"),
            f"{small:,} clients", Figure(small_time, "s"), Target("<=", 10.5),
            notes=f"{large / large_time:,.0f} and {small / small_time:,.0f} clients/s"),
    ]


def run(context: Context) -> list[Row]:
    return scale_rows(lambda clients: str(context.workdir / f"memory-{clients}.db"), context)
