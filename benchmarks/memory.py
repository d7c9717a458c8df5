"""Memory and time of evaluating 100,000 clients against 10,000: flat memory, linear time.

Two databases from the shared generator (clients of about 8 events, so that
the 100,000-client one builds in seconds; no long clients), each evaluated
end to end (``ledger.decisions.iter_evaluate``, every decision consumed and
dropped) in a fresh process that reports its peak RSS (``VmHWM``) and time.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.history import AS_OF, history
from benchmarks.measure import in_fresh_process, peak_rss_mib, seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.domain.events.jsonl import event_from_json

NAME = "memory"


def build(path: Path, clients: int, events_per_client: int) -> None:
    with Ledger.open(path) as ledger:
        lines = history(clients, clients * events_per_client, long_every=0)
        ledger.append(event_from_json(line) for line in lines)


def evaluate(path: Path) -> tuple[float, float, int]:
    """Seconds, peak RSS (MiB) and decisions of evaluating every client of ``path``."""
    decided = 0

    def every_client() -> None:
        nonlocal decided
        for _ in ledger.decisions.iter_evaluate(as_of=AS_OF):
            decided += 1

    with Ledger.open(path) as ledger:
        ledger.rules.current()
        spent = seconds(every_client)
    return spent, peak_rss_mib(), decided


def run(context: Context) -> list[Row]:
    small, large = context.scale.memory_clients
    per_client = context.scale.memory_events_per_client
    figures = {}
    for clients in (small, large):
        path = context.workdir / f"memory-{clients}.db"
        in_fresh_process(build, path, clients, per_client)
        figures[clients] = in_fresh_process(evaluate, path)
        if figures[clients][2] != clients:
            raise RuntimeError(f"decided {figures[clients][2]:,} of {clients:,} clients")
    (small_time, small_rss, _), (large_time, large_rss, _) = figures[small], figures[large]
    measures = f"ledger.decisions.iter_evaluate of {large:,} against {small:,} clients (~{per_client} events each)"
    return [
        Row(NAME, f"peak RSS, {large:,} vs {small:,} clients", measures, Figure(large_rss, "MiB"),
            f"{small:,} clients", Figure(small_rss, "MiB"), Target("<=", 1.2),
            notes="peak RSS (VmHWM) of a fresh process that evaluates every client"),
        Row(NAME, f"time, {large:,} vs {small:,} clients", measures, Figure(large_time, "s"),
            f"{small:,} clients", Figure(small_time, "s"), Target("<=", 11.0),
            notes=f"{large / large_time:,.0f} and {small / small_time:,.0f} clients/s"),
    ]
