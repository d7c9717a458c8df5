"""PostgreSQL beside SQLite in the same run: appends, evaluation, the worker queue (run when a server answers).

* appends of generated events: one per transaction (1 and 4 writer threads),
  then 100 and 10,000 per transaction, on each backend; beside them the limit,
  a bare ``INSERT`` of one row per transaction into a ``bigserial`` table
  through psycopg (no checks, no gap-free position);
* evaluation of other generated clients (~50 events each), 1 and 2 processes;
* the rows of ``evaluate``, ``history_length`` and ``memory`` (stored folds) on
  PostgreSQL: evaluate against the engine's ceiling, ~160 against ~8 events
  per client, 100,000 against 10,000 clients;
* the worker queue, on 10,000 clients (~10 events each) in a schema of their own:
  two ``clientrules worker`` processes plus a third killed
  (SIGKILL) after a second and restarted re-evaluate and record every changed
  client; checked: exactly one ``DecisionRecorded`` per client.

No targets on the PostgreSQL-against-SQLite rows: they say what PostgreSQL
costs. The single append has one against the bare ``INSERT`` (at least half
its rate: one round trip per append, as the bare insert makes), each the best
of interleaved rounds of its own, in a schema of their own. The
stored-fold rows have the targets of their SQLite twins. Every run
uses schemas of its own, dropped at the end.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg
from psycopg import sql

from benchmarks.evaluate import against_ceiling, timed_evaluation
from benchmarks.history import AS_OF, history
from benchmarks.history_length import LONG, SHORT, length_rows
from benchmarks.measure import best_of, seconds
from benchmarks.memory import scale_rows
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.domain.events import Event
from clientrules.domain.events.jsonl import event_from_json
from clientrules.adapters.store import open_store

NAME = "postgres"
WRITER_THREADS = 4


def with_schema(server: str, schema: str) -> str:
    return f"{server}{'&' if '?' in server else '?'}schema={schema}"


def generated_events(clients: int, events: int) -> list[Event]:
    return [event_from_json(line) for line in history(clients, events, long_every=0)]


def appends(url: str, events: list[Event]) -> dict[str, float]:
    """Events/s of each way of appending, on the store at ``url``."""
    single = len(events) // 10
    rates = {}
    store = open_store(url)
    try:
        rates["1 event/txn"] = single / seconds(lambda: [store.append([event]) for event in events[:single]])
        # each writer appends whole clients, in order: an invoice comes before its payments, as the books require
        writing = events[single:2 * single]
        owner = {client: n % WRITER_THREADS for n, client in enumerate(dict.fromkeys(e.client for e in writing))}
        shares = [[event for event in writing if owner[event.client] == n] for n in range(WRITER_THREADS)]
        threads = [threading.Thread(target=lambda share=share: [store.append([e]) for e in share]) for share in shares]

        def run_threads() -> None:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        rates[f"1 event/txn, {WRITER_THREADS} threads"] = sum(map(len, shares)) / seconds(run_threads)
        rest = events[2 * single:]
        half = len(rest) // 2
        hundreds = [rest[n:n + 100] for n in range(0, half, 100)]
        rates["100 events/txn"] = half / seconds(lambda: [store.append(batch) for batch in hundreds])
        big = [rest[n:n + 10_000] for n in range(half, len(rest), 10_000)]
        rates["10,000 events/txn"] = (len(rest) - half) / seconds(lambda: [store.append(batch) for batch in big])
    finally:
        store.close()
    return rates


def single_appends_against_bare(url: str, server: str, schema: str, events: list[Event], rounds: int) -> tuple[float, float]:
    """Events/s of ``store.append`` of one event per transaction, and rows/s of the bare ``INSERT``, each its best of
    ``rounds`` interleaved rounds (the server's commit drifts with the disk from one second to the next). Each round
    appends the next tenth of ``events``, in order, so an invoice is stored before its payments."""
    per_round = len(events) // 10
    slices = iter([events[n * per_round:(n + 1) * per_round] for n in range(rounds)])
    store = open_store(url)
    try:
        with psycopg.connect(server, autocommit=True) as connection:
            table = sql.Identifier(schema, "bare")
            connection.execute(sql.SQL("CREATE TABLE {} (position bigserial PRIMARY KEY, id text, data text)").format(table))
            insert = sql.SQL("INSERT INTO {} (id, data) VALUES (%s, %s)").format(table)
            rows = iter(range(rounds * per_round))

            def ours() -> float:
                return seconds(lambda: [store.append([event]) for event in next(slices)])

            def bare() -> float:
                return seconds(lambda: [connection.execute(insert, (f"e{next(rows)}", '{"hours":1.0}'))
                                        for _ in range(per_round)])

            best = best_of(rounds, {"ours": ours, "bare": bare})
    finally:
        store.close()
    return per_round / best["ours"], per_round / best["bare"]


def evaluation_rate(url: str, workers: int) -> float:
    with Ledger.open(url) as ledger:
        ledger.rules.current()
        decided = 0

        def evaluate() -> None:
            nonlocal decided
            decided = sum(1 for _ in ledger.iter_evaluate(workers=workers, as_of=AS_OF))

        spent = seconds(evaluate)
        return decided / spent


def queue_rate(url: str, clients: int) -> float:
    """Two workers plus a third killed after a second and restarted; checks each client is recorded once."""
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
        if worker.wait() != 0:
            raise RuntimeError(f"a worker exited with status {worker.returncode}")
    spent = time.perf_counter() - began - 1.0  # the idle second before the workers exit
    with Ledger.open(url) as ledger:
        recorded: dict[str, int] = {}
        for event in ledger.store.iter_all():
            if event.type == "DecisionRecorded":
                recorded[event.client] = recorded.get(event.client, 0) + 1
    if len(recorded) != clients or set(recorded.values()) != {1}:
        raise RuntimeError("the worker queue did not record each client exactly once")
    return clients / spent


def run(context: Context) -> list[Row]:
    server = context.postgres_url
    assert server is not None, "the runner skips this benchmark without a PostgreSQL server"
    clients, evaluated = context.scale.postgres_clients, context.scale.postgres_evaluate_clients
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    backends = {"SQLite": str(context.workdir / "postgres-beside.db"), "PostgreSQL": with_schema(server, schema)}
    folds: list[Row] = []
    try:
        events = generated_events(clients, clients * 10)
        rates = {name: appends(url, events) for name, url in backends.items()}
        single, limit = single_appends_against_bare(with_schema(server, f"{schema}_a"), server, schema, events,
                                                    context.scale.rounds)
        evaluation = {}
        for name, url in backends.items():
            url = str(context.workdir / "postgres-evaluate.db") if name == "SQLite" else with_schema(server, f"{schema}_e")
            backends[name] = url
            with Ledger.open(url) as ledger:
                ledger.append(generated_events(evaluated, evaluated * 50))
            if name == "PostgreSQL":  # its first evaluate stores the folds, as any first evaluate does
                folds = against_ceiling(url, context, backend=name, prefix="PostgreSQL ", benchmark=NAME)
            else:
                timed_evaluation(url)
            evaluation[name] = {workers: evaluation_rate(url, workers) for workers in (1, 2)}
        queue_clients = context.scale.postgres_queue_clients
        queue_url = with_schema(server, f"{schema}_q")
        with Ledger.open(queue_url) as ledger:
            ledger.append(generated_events(queue_clients, queue_clients * 10))
        queue = queue_rate(queue_url, queue_clients)
        folds += length_rows(lambda length: with_schema(server, f"{schema}_l{length}"), context.scale.length_clients,
                             context.scale.rounds, backend="PostgreSQL", prefix="PostgreSQL ", benchmark=NAME)
        folds += scale_rows(lambda clients: with_schema(server, f"{schema}_m{clients}"), context,
                            backend="PostgreSQL", prefix="PostgreSQL ", benchmark=NAME)
    finally:
        extra = [f"{schema}_l{length}" for length in (SHORT, LONG)] + [f"{schema}_m{n}" for n in context.scale.memory_clients]
        with psycopg.connect(server, autocommit=True) as connection:
            for name in (schema, f"{schema}_a", f"{schema}_e", f"{schema}_q", *extra):
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    rows = [
        Row(NAME, "PostgreSQL append, 1 event/txn vs bare INSERT", "store.append of one event per transaction",
            Figure(single, "events/s"), "bare bigserial INSERT, 1 row/txn", Figure(limit, "rows/s"), Target(">=", 0.5),
            notes=f"{len(events) // 10:,} appends a round, best of {context.scale.rounds} rounds interleaved with the"
                  " limit's; the limit checks nothing and gives no gap-free position"),
    ]
    for what, rate in rates["PostgreSQL"].items():
        rows.append(Row(NAME, f"PostgreSQL append, {what}", f"store.append, {what}", Figure(rate, "events/s"),
                        f"SQLite, {what}", Figure(rates["SQLite"][what], "events/s"), None))
    measures = f"ledger.iter_evaluate(workers=N) of {evaluated:,} clients (~50 events each)"
    rows += [
        Row(NAME, "PostgreSQL evaluate, 1 process", measures, Figure(evaluation["PostgreSQL"][1], "clients/s"),
            "SQLite, 1 process", Figure(evaluation["SQLite"][1], "clients/s"), None),
        Row(NAME, "PostgreSQL evaluate --workers 2", measures, Figure(evaluation["PostgreSQL"][2], "clients/s"),
            "SQLite, --workers 2", Figure(evaluation["SQLite"][2], "clients/s"), None),
        Row(NAME, "PostgreSQL worker queue",
            f"2 x clientrules worker + 1 killed and restarted, {queue_clients:,} changed clients (~10 events each)",
            Figure(queue, "clients/s"), "evaluate, 1 process", Figure(evaluation["PostgreSQL"][1], "clients/s"),
            None, notes="each client recorded exactly once (checked)"),
    ]
    return rows + folds
