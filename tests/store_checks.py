"""What must hold of any store after crashes and concurrent writers, checked from outside the library.

Shared by tests/test_crash.py, tests/test_concurrency.py and the store tests.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

import psycopg
from psycopg import sql

from clientrules.domain.events import Event
from clientrules.adapters.store import EventStore
from clientrules.adapters.store.postgres import PostgresStore, postgres_conninfo
from clientrules.adapters.store.sqlite import sqlite_path


def assert_consistent(store: EventStore) -> list[Event]:
    """Every event in position order, after checking what the database itself must guarantee.

    Positions are 1..N with no gap, each stream's versions are 1..n, ids are
    unique; SQLite passes ``PRAGMA integrity_check``; PostgreSQL's position
    counter stands at the last position.
    """
    events = store.read_all()
    assert [e.position for e in events] == list(range(1, len(events) + 1)), "positions have a gap or repeat"
    versions: dict[str, list[int]] = defaultdict(list)
    for event in events:
        versions[event.client].append(event.version)
    for client, numbers in versions.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"{client}'s versions are not 1..{len(numbers)}"
    assert len({e.id for e in events}) == len(events), "an id is stored twice"
    if isinstance(store, PostgresStore):
        assert _position_counter(store.url) == len(events)
    else:
        assert integrity_check(store.url) == "ok"
    return events


def integrity_check(url: str) -> str:
    """SQLite's own check of the whole file (b-trees, indexes, free pages), on a connection of its own."""
    path, _ = sqlite_path(url)
    connection = sqlite3.connect(path)
    try:
        return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def _position_counter(url: str) -> int:
    conninfo, schema = postgres_conninfo(url)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        query = sql.SQL("SELECT last FROM {}.position_counter").format(sql.Identifier(schema))
        return connection.execute(query).fetchone()[0]
