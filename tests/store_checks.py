"""What must hold of any store after crashes and concurrent writers, checked from outside the library.

Shared by tests/test_crash.py, tests/test_concurrency.py and the store tests.
"""

from __future__ import annotations

import sqlite3
import time
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
        counter, stored = _position_counter(store.url)
        assert counter == stored == len(events), f"position counter {counter}, {stored} events stored, {len(events)} read"
    else:
        assert integrity_check(store.url) == "ok"
    return events


def wait_for_sessions_to_end(url: str, application_name: str, *, timeout: float = 30.0) -> None:
    """Until the PostgreSQL server has ended the sessions of ``application_name`` (a process killed with SIGKILL).

    Killing a client does not stop its server process at once: a COMMIT it
    had sent is carried out after the kill, whenever the server gets to it.
    Until then what a reader sees can change under it (the events read, then
    the position counter on another connection), so checks wait for them.
    """
    conninfo, _ = postgres_conninfo(url)
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the server still runs sessions of {application_name} after {timeout:g} s")
            time.sleep(0.01)


def integrity_check(url: str) -> str:
    """SQLite's own check of the whole file (b-trees, indexes, free pages), on a connection of its own."""
    path, _ = sqlite_path(url)
    connection = sqlite3.connect(path)
    try:
        return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def _position_counter(url: str) -> tuple[int, int]:
    """The position counter and the number of events, read in one snapshot."""
    conninfo, schema = postgres_conninfo(url)
    with psycopg.connect(conninfo) as connection:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        query = sql.SQL("SELECT (SELECT last FROM {}.position_counter), (SELECT count(*) FROM {}.events)").format(
            sql.Identifier(schema), sql.Identifier(schema)
        )
        counter, stored = connection.execute(query).fetchone()
        return counter, stored
