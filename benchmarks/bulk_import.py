"""Bulk import of the shared history (1,000,000 events) from JSON Lines, against raw SQLite and eventsourcing.

* ours: ``ledger.import_jsonl(file)`` into a new database (one transaction,
  every line parsed and validated, ids checked, versions numbered);
* the limit: the very rows our import stored, read back and inserted with
  ``executemany`` in batches of 10,000 (one transaction each) into a new
  database of the same schema, at the same ``synchronous``; only the inserts
  and commits are timed;
* the peer: eventsourcing reads the same file (``json.loads`` per line), one
  aggregate per client, ``save()`` of every aggregate with pending events
  each 20,000 events (200 aggregates x 100 events per save).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.datasets import history_file, keep_as_history_db
from benchmarks.eventsourcing_peer import ClientStream, add_line, open_application
from benchmarks.measure import seconds
from benchmarks.raw_sqlite import raw_insert_seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger

NAME = "bulk_import"
LIMIT_BATCH = 10_000
PEER_BATCH = 20_000


def run(context: Context) -> list[Row]:
    source = history_file(context)
    count = context.scale.history_events
    ours_db = context.workdir / "import-ours.db"
    with Ledger.open(ours_db) as ledger:
        ours = seconds(lambda: ledger.import_jsonl(source))
        stored = ledger.store.head_position()
    if stored != count:
        raise RuntimeError(f"imported {stored:,} events of {count:,}")
    limit = raw_insert_seconds(ours_db, context.workdir / "import-limit.db", per_transaction=LIMIT_BATCH)
    keep_as_history_db(context, ours_db)
    peer, peer_saving = eventsourcing_seconds(source, str(context.workdir / "import-eventsourcing.db"))
    what = f"{count:,} events of {context.scale.history_clients:,} clients"
    measures = f"clientrules import of a JSON Lines file, {what}, one transaction"
    return [
        Row(NAME, "bulk import vs raw SQLite", measures, Figure(count / ours, "events/s"),
            f"executemany, {LIMIT_BATCH:,}/txn", Figure(count / limit, "events/s"), Target(">=", 0.35),
            notes="the limit inserts the rows our import stored into the same schema; one round each"),
        Row(NAME, "bulk import vs eventsourcing", measures, Figure(count / ours, "events/s"),
            f"eventsourcing save() per {PEER_BATCH:,}", Figure(count / peer, "events/s"), Target(">=", 2.0),
            notes=f"eventsourcing reads the same file; one round each; its save() calls alone: "
                  f"{count / peer_saving:,.0f} events/s"),
    ]


def eventsourcing_seconds(source: Path, database: str) -> tuple[float, float]:
    """Seconds in all, and of them in ``save()``, of eventsourcing reading ``source`` and saving it in batches."""
    application = open_application(database, "NORMAL")
    streams: dict[str, ClientStream] = {}
    pending: dict[object, ClientStream] = {}
    saving = 0.0

    def save() -> None:
        nonlocal saving
        saving += seconds(lambda: application.save(*pending.values()))
        pending.clear()

    started = time.perf_counter()
    with source.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            stream = add_line(streams, json.loads(text))
            pending[stream.id] = stream
            if number % PEER_BATCH == 0:
                save()
    save()
    spent = time.perf_counter() - started
    application.close()
    return spent, saving
