"""Memory and time of evaluating 100,000 clients against 10,000: flat memory, linear time.

Two stores from the shared generator (clients of about 8 events, so that the
100,000-client one builds in seconds; no long clients), each client's fold
stored by a first evaluate, then each evaluated end to end
(``ledger.decisions.iter_evaluate``, every decision consumed and dropped) in
interleaved rounds, each in a fresh process that reports its peak RSS
(``VmHWM``) and time: the best time of each size, and its highest peak.
:func:`scale_rows` gives the same rows for any backend (the PostgreSQL
benchmark uses it).
"""

from __future__ import annotations

from typing import Callable

from benchmarks.history import AS_OF
from benchmarks.history_length import build
from benchmarks.measure import best_of, in_fresh_process, peak_rss_mib, seconds
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
    """Build a store of each size (``url_of(clients)``) and compare their evaluation's time and peak memory, in
    interleaved rounds: the best time of each, and the highest peak."""
    small, large = context.scale.memory_clients
    per_client = context.scale.memory_events_per_client
    rounds = context.scale.rounds
    peaks = {small: 0.0, large: 0.0}

    def evaluation(clients: int) -> Callable[[], float]:
        def measured() -> float:
            spent, peak, decided = in_fresh_process(evaluate, url_of(clients))
            if decided != clients:
                raise RuntimeError(f"decided {decided:,} of {clients:,} clients")
            peaks[clients] = max(peaks[clients], peak)
            return spent

        return measured

    for clients in (small, large):
        in_fresh_process(build, url_of(clients), clients, per_client)
    best = best_of(rounds, {"small": evaluation(small), "large": evaluation(large)})
    measures = (f"ledger.decisions.iter_evaluate of {large:,} against {small:,} clients (~{per_client} events each) "
                f"from {backend}, folds stored")
    return [
        Row(benchmark, f"{prefix}peak RSS, {large:,} vs {small:,} clients", measures, Figure(peaks[large], "MiB"),
            f"{small:,} clients", Figure(peaks[small], "MiB"), Target("<=", 1.2),
            notes=f"the highest peak RSS (VmHWM) of {rounds} fresh processes that each evaluate every client"),
        Row(benchmark, f"{prefix}time, {large:,} vs {small:,} clients", measures, Figure(best["large"], "s"),
            f"{small:,} clients", Figure(best["small"], "s"), Target("<=", 10.5),
            notes=f"{large / best['large']:,.0f} and {small / best['small']:,.0f} clients/s; best of {rounds} "
                  "interleaved rounds, each in a fresh process"),
    ]


def run(context: Context) -> list[Row]:
    return scale_rows(lambda clients: str(context.workdir / f"memory-{clients}.db"), context)
