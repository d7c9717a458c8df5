"""PostgreSQL beside SQLite, in the same run: append throughput, evaluation throughput, the worker queue.

    python benchmarks/bench_postgres.py [CLIENTS]     (default 10,000)
    env CLIENTRULES_BENCH_POSTGRES: the server (default postgresql://postgres@127.0.0.1:5432/test)

* appends: one event per transaction (1 and 4 writer threads), then batches of
  100 and 10,000 events per transaction, into each backend; beside them the
  limit, a bare ``INSERT`` of one row per transaction into a table with a
  ``bigserial`` key through psycopg (no checks, no gap-free position).
* evaluation: CLIENTS synthetic clients (benchmarks/bench_decisions.py),
  ``evaluate`` in 1 and 2 processes on each backend.
* worker queue: two ``clientrules worker`` processes, plus a third killed
  (SIGKILL) after a second and restarted, re-evaluate and record CLIENTS
  changed clients on PostgreSQL; checked: one DecisionRecorded per client.

Every run uses a schema of its own, dropped at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from bench_decisions import T, client_events
from clientrules.events import Event, WorkLogged
from clientrules.ledger import Ledger
from clientrules.store import open_store
from clientrules.workers.parallel import iter_evaluate_parallel

SERVER = os.environ.get("CLIENTRULES_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SINGLE = 3_000


def work(client: str) -> Event:
    return Event.new(client, WorkLogged(hours=1.0, billable=True), "2026-03-01")


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>9,.0f} events/s"


def appends(url: str) -> dict[str, float]:
    results = {}
    store = open_store(url)
    try:
        start = time.perf_counter()
        for n in range(SINGLE):
            store.append([work(f"s{n % 100}")])
        results["1 event/txn, 1 writer"] = SINGLE / (time.perf_counter() - start)

        def writer(offset: int) -> None:
            for n in range(SINGLE // 4):
                store.append([work(f"t{offset}-{n % 25}")])

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results["1 event/txn, 4 writer threads"] = (SINGLE // 4 * 4) / (time.perf_counter() - start)

        for size, rounds in ((100, 100), (10_000, 5)):
            batches = [[work(f"b{n % 1000}") for n in range(size)] for _ in range(rounds)]
            start = time.perf_counter()
            for batch in batches:
                store.append(batch)
            results[f"{size:,} events/txn"] = size * rounds / (time.perf_counter() - start)
    finally:
        store.close()
    return results


def bare_insert_limit(schema: str) -> float:
    with psycopg.connect(SERVER, autocommit=True) as connection:
        table = sql.Identifier(schema, "bare")
        connection.execute(sql.SQL("CREATE TABLE {} (position bigserial PRIMARY KEY, id text, data text)").format(table))
        insert = sql.SQL("INSERT INTO {} (id, data) VALUES (%s, %s)").format(table)
        start = time.perf_counter()
        for n in range(SINGLE):
            connection.execute(insert, (f"e{n}", '{"hours":1.0,"billable":true}'))
        return SINGLE / (time.perf_counter() - start)


def fill(url: str, count: int) -> None:
    import random

    rng = random.Random(11)
    with Ledger.open(url) as ledger:
        batch: list[Event] = []
        for i in range(count):
            batch.extend(client_events(f"client-{i:06d}", rng))
            if len(batch) > 20_000:
                ledger.append(batch)
                batch = []
        ledger.append(batch)
        ledger.rules.current()


def evaluation(url: str, count: int, workers: int) -> float:
    with Ledger.open(url) as ledger:
        start = time.perf_counter()
        decided = sum(1 for _ in iter_evaluate_parallel(ledger, workers=workers, as_of=T))
        seconds = time.perf_counter() - start
    assert decided == count
    return count / seconds


def queue(url: str, count: int) -> float:
    """Two workers plus a third killed (SIGKILL) after a second and restarted; checks each client is recorded once."""
    command = [sys.executable, "-m", "clientrules", "--db", url, "worker", "--batch", "100", "--idle-exit", "1"]

    def start() -> subprocess.Popen:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    began = time.perf_counter()
    workers = [start(), start()]
    victim = start()
    time.sleep(1.0)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    workers.append(start())
    for worker in workers:
        assert worker.wait() == 0
    seconds = time.perf_counter() - began - 1.0  # the idle wait before the workers exit
    with Ledger.open(url) as ledger:
        recorded: dict[str, int] = {}
        for event in ledger.store.iter_all():
            if event.type == "DecisionRecorded":
                recorded[event.client] = recorded.get(event.client, 0) + 1
    assert len(recorded) == count and set(recorded.values()) == {1}, "not exactly once"
    return count / seconds


def main(count: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    postgres = f"{SERVER}{'&' if '?' in SERVER else '?'}schema={schema}"
    try:
        with tempfile.TemporaryDirectory() as directory:
            backends = {"SQLite": str(Path(directory) / "bench.db"), "PostgreSQL": postgres}
            print("appends (each row: SQLite | PostgreSQL | PostgreSQL/SQLite)")
            figures = {name: appends(url) for name, url in backends.items()}
            for what in figures["SQLite"]:
                lite, pg = figures["SQLite"][what], figures["PostgreSQL"][what]
                print(f"  {what:<32} {lite:>9,.0f} | {pg:>9,.0f} events/s | {pg / lite:.2f}x")
            limit = bare_insert_limit(schema)
            single = figures["PostgreSQL"]["1 event/txn, 1 writer"]
            print(f"  limit: bare bigserial INSERT, 1 row/txn: {limit:,.0f} rows/s "
                  f"(the store reaches {single / limit:.0%} of it)")

            print(f"evaluation of {count:,} clients (~10 events each), default playbook")
            for name in backends:
                url = f"{directory}/eval.db" if name == "SQLite" else f"{SERVER}{'&' if '?' in SERVER else '?'}schema={schema}_e"
                backends[name] = url
                fill(url, count)
                for workers in (1, 2):
                    print(f"  {name:<10} evaluate, {workers} process(es): {evaluation(url, count, workers):>7,.0f} clients/s")
            print(f"  PostgreSQL 2 x 'clientrules worker' + 1 killed and restarted, each client recorded once: "
                  f"{queue(backends['PostgreSQL'], count):,.0f} clients/s")
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            for name in (schema, f"{schema}_e"):
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
