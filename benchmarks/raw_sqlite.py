"""The physical limit of a SQLite store: the rows our store wrote, inserted again by bare ``executemany``.

The target database is created by our store (same tables, indexes and
triggers) and written at the same ``synchronous`` level; only the inserts and
commits are timed.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from clientrules import Ledger

COLUMNS = "id, stream, version, type, schema, at_key, at_text, data, recorded_at"


def raw_insert_seconds(source: Path, target: Path, *, per_transaction: int, rows: int | None = None) -> float:
    """Seconds to insert ``source``'s first ``rows`` event rows (all: None) into a new ``target``, in transactions
    of ``per_transaction`` rows."""
    with Ledger.open(target) as ledger:
        synchronous = ledger.store.synchronous
    reader = sqlite3.connect(source)
    writer = sqlite3.connect(target, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute(f"PRAGMA synchronous = {synchronous}")
        insert = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * len(COLUMNS.split(',')))})"
        selected = reader.execute(f"SELECT {COLUMNS} FROM events ORDER BY position LIMIT ?", (rows or -1,))
        spent = 0.0
        while batch := selected.fetchmany(per_transaction):
            started = time.perf_counter()
            writer.execute("BEGIN IMMEDIATE")
            writer.executemany(insert, batch)
            writer.execute("COMMIT")
            spent += time.perf_counter() - started
    finally:
        reader.close()
        writer.close()
    return spent
