"""``evaluate --workers 2`` against 1 worker, on the shared history (20,000 clients of ~50 events).

Both through ``ledger.iter_evaluate`` (what ``clientrules evaluate
--workers N`` calls), each run in a fresh process so that both start cold;
the 2-worker run includes starting its process pool. Interleaved rounds,
best of each: the 2-worker run needs both cores, so anything else running
on the machine costs it most (the notes give the load average before it).
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.datasets import history_db
from benchmarks.history import AS_OF
from benchmarks.measure import best_of, in_fresh_process, seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger

NAME = "workers"


def evaluation_seconds(database: Path, workers: int) -> float:
    with Ledger.open(database) as ledger:
        ledger.rules.current()  # adopted before the clock starts, as in any later run
        return seconds(lambda: sum(1 for _ in ledger.iter_evaluate(workers=workers, as_of=AS_OF)))


def run(context: Context) -> list[Row]:
    database = history_db(context)
    load = os.getloadavg()[0]
    rounds = max(context.scale.rounds - 1, 1)
    best = best_of(rounds, {
        "one": lambda: in_fresh_process(evaluation_seconds, database, 1),
        "two": lambda: in_fresh_process(evaluation_seconds, database, 2),
    })
    count = context.scale.history_clients
    return [
        Row(
            benchmark=NAME,
            name="evaluate --workers 2 vs 1 worker",
            measures=f"ledger.iter_evaluate(workers=N) of {count:,} clients (~50 events each) from SQLite, 2 processes",
            ours=Figure(count / best["two"], "clients/s"),
            peer_name="the same, 1 worker",
            peer=Figure(count / best["one"], "clients/s"),
            target=Target(">=", 1.7),
            notes=f"each run in a fresh process, best of {rounds} interleaved rounds; "
                  f"{os.cpu_count()} CPUs, load average {load:.2f} before the first",
        )
    ]
