"""The watcher's tables in the SQLite store (schema version 4): checkpoint, what it saw of each client, outbox.

::

    watch_checkpoint(only_row, position, ruleset_version, updated_at)   -- no row before the baseline pass
    watched_clients(client PRIMARY KEY, verdict, fired, due_key)        -- fired: a JSON list; due_key: µs or NULL
    deliveries(id, change_id, channel, client, body, attempts, created_at, next_attempt_key,
               delivered_at, last_error, UNIQUE (change_id, channel))

The lease is an exclusive ``flock`` on ``<database>-watch.lock``: the
operating system releases it when its process ends, however it ends, so a
killed watcher never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence, TypeVar

from clientrules.domain.events import DecisionChanged, Event
from clientrules.adapters.clock import utc_now
from clientrules.ports import DeliveryRow, NewDelivery, WatchCheckpoint, Watched, WatcherBusy
from clientrules.adapters.store.rows import COLUMNS

MIGRATION = """
CREATE TABLE watch_checkpoint (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    position INTEGER NOT NULL,
    ruleset_version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE watched_clients (
    client TEXT PRIMARY KEY,
    verdict TEXT NOT NULL,
    fired TEXT NOT NULL,
    due_key INTEGER
);
CREATE INDEX watched_clients_by_due ON watched_clients (due_key) WHERE due_key IS NOT NULL;
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    client TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    next_attempt_key INTEGER NOT NULL,
    delivered_at TEXT,
    last_error TEXT,
    UNIQUE (change_id, channel)
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_key) WHERE delivered_at IS NULL
"""
#: how often a waiting watcher looks for new events (SQLite has no notifications)
POLL_SECONDS = 0.2
#: ids per IN (...) lookup: under SQLite's 999-variable limit
CHUNK = 500
_DELIVERY = (
    "SELECT id, change_id, channel, client, body, attempts, created_at, next_attempt_key, delivered_at, last_error"
    " FROM deliveries"
)

T = TypeVar("T")


class SqliteLease:
    """The watch lease of one SQLite database: an exclusive ``flock`` held by an open file."""

    def __init__(self, path: Path, head_position: Callable[[], int]) -> None:
        self._head_position = head_position
        lock_path = path.with_name(path.name + "-watch.lock")
        self._file = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._file)
            raise WatcherBusy(f"another watcher is running on {path}") from None

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._head_position() > after_position:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_SECONDS, left))

    def release(self) -> None:
        if self._file >= 0:
            os.close(self._file)  # closing the file releases the lock
            self._file = -1


class SqliteWatchTables:
    """:class:`~clientrules.ports.WatchStore` and :class:`~clientrules.ports.DeliveryStore` for
    :class:`~clientrules.adapters.store.sqlite.SqliteStore` (which provides the connection helpers used here)."""

    path: Path
    _events: str
    _key_types: tuple[str, ...]
    _write: Callable[..., Any]
    _read: Callable[..., list[tuple[Any, ...]]]
    _append: Callable[..., Any]
    _decode: Callable[[list[tuple[Any, ...]]], list[Event]]
    head_position: Callable[[], int]

    def watch_lease(self) -> SqliteLease:
        return SqliteLease(self.path, self.head_position)

    def watch_checkpoint(self) -> WatchCheckpoint | None:
        rows = self._read("SELECT position, ruleset_version FROM watch_checkpoint")
        return WatchCheckpoint(*rows[0]) if rows else None

    def touched_clients(self, after_position: int, until_position: int) -> list[str]:
        rows = self._read(
            "SELECT stream FROM events WHERE position > ? AND position <= ? AND type != ? AND stream NOT LIKE '$%'"
            " GROUP BY stream ORDER BY MIN(position)",
            (after_position, until_position, DecisionChanged.TYPE),
        )
        return [row[0] for row in rows]

    def due_clients(self, moment_key: int) -> list[str]:
        rows = self._read("SELECT client FROM watched_clients WHERE due_key <= ? ORDER BY due_key", (moment_key,))
        return [row[0] for row in rows]

    def watched(self, clients: Collection[str]) -> dict[str, Watched]:
        wanted = list(clients)
        found: dict[str, Watched] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            rows = self._read(
                f"SELECT client, verdict, fired, due_key FROM watched_clients WHERE client IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for client, verdict, fired, due_key in rows:
                found[client] = Watched(verdict, tuple(json.loads(fired)), due_key)
        return found

    def commit_watch(
        self,
        *,
        expected: WatchCheckpoint | None,
        checkpoint: WatchCheckpoint | None,
        watched: Mapping[str, Watched],
        changes: Sequence[Event],
        deliveries: Sequence[NewDelivery],
    ) -> None:
        now = utc_now().isoformat()

        def commit(connection: sqlite3.Connection) -> None:
            rows = connection.execute("SELECT position, ruleset_version FROM watch_checkpoint").fetchall()
            current = WatchCheckpoint(*rows[0]) if rows else None
            WatcherBusy.unless_at(expected, current)
            if changes:
                self._append(connection, changes, None, None)
            connection.executemany(
                "INSERT INTO watched_clients (client, verdict, fired, due_key) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (client) DO UPDATE SET verdict = excluded.verdict, fired = excluded.fired,"
                " due_key = excluded.due_key",
                [(client, seen.verdict, json.dumps(list(seen.fired)), seen.due_key) for client, seen in watched.items()],
            )
            connection.executemany(
                "INSERT INTO deliveries (change_id, channel, client, body, created_at, next_attempt_key)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (change_id, channel) DO NOTHING",
                [(d.change_id, d.channel, d.client, d.body, now, d.due_key) for d in deliveries],
            )
            if checkpoint is not None:
                connection.execute(
                    "INSERT INTO watch_checkpoint (only_row, position, ruleset_version, updated_at) VALUES (1, ?, ?, ?)"
                    " ON CONFLICT (only_row) DO UPDATE SET position = excluded.position,"
                    " ruleset_version = excluded.ruleset_version, updated_at = excluded.updated_at",
                    (checkpoint.position, checkpoint.ruleset_version, now),
                )

        self._write(commit)

    def decision_changes(self, *, since_key: int | None = None, client: str | None = None) -> list[Event]:
        sql = f"SELECT {COLUMNS} FROM {self._events} WHERE e.type = ?"
        parameters: list[Any] = [*self._key_types, DecisionChanged.TYPE]
        if client is not None:
            sql += " AND e.stream = ?"
            parameters.append(client)
        if since_key is not None:
            sql += " AND e.at_key >= ?"
            parameters.append(since_key)
        return self._decode(self._read(sql + " ORDER BY e.at_key, e.position", parameters))

    def due_deliveries(self, now_key: int, channels: Collection[str], *, limit: int = 1_000) -> list[DeliveryRow]:
        names = list(channels)
        rows = self._read(
            f"{_DELIVERY} WHERE delivered_at IS NULL AND next_attempt_key <= ? AND channel IN ({','.join('?' * len(names))})"
            " ORDER BY id LIMIT ?",
            (now_key, *names, limit),
        )
        return [DeliveryRow(*row) for row in rows]

    def deliveries_of(self, change_ids: Collection[str]) -> list[DeliveryRow]:
        wanted = list(change_ids)
        found: list[DeliveryRow] = []
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            rows = self._read(f"{_DELIVERY} WHERE change_id IN ({','.join('?' * len(chunk))}) ORDER BY id", chunk)
            found += [DeliveryRow(*row) for row in rows]
        return found

    def settle_delivery(
        self, delivery_id: int, *, delivered_at: str | None, error: str | None, next_attempt_key: int
    ) -> None:
        self._write(
            lambda connection: connection.execute(
                "UPDATE deliveries SET attempts = attempts + 1, delivered_at = ?, last_error = COALESCE(?, last_error),"
                " next_attempt_key = ? WHERE id = ?",
                (delivered_at, error, next_attempt_key, delivery_id),
            )
        )
