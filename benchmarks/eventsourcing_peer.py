"""The peer: the same client histories in ``eventsourcing`` 9.5.6 on SQLite (the ``bench`` extra).

Set up as a user of eventsourcing would: an ``Application`` with its
SQLite persistence module (WAL, the application recorder), one aggregate per
client, one aggregate event per client event carrying its type, time and data.
The one change: each connection is put at our ``synchronous`` level, so that
both sides pay the same price for durability (eventsourcing leaves SQLite's
default, ``FULL``).
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory

NAMESPACE = uuid.UUID("6f1d3c1e-57b4-4f7e-9d8e-0c1a2b3c4d5e")
SYNCHRONOUS_ENV = "SQLITE_SYNCHRONOUS"


class ClientStream(Aggregate):
    """One client's history: every event kept as it happened, and a count per type."""

    def __init__(self, client: str) -> None:
        self.client = client
        self.counts: dict[str, int] = {}

    @staticmethod
    def create_id(client: str) -> uuid.UUID:
        return stream_id(client)

    @event("Happened")
    def happened(self, type: str, at: str, data: dict[str, Any]) -> None:
        self.counts[type] = self.counts.get(type, 0) + 1


def stream_id(client: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, client)


class _SynchronousPool(SQLiteConnectionPool):
    def __init__(self, *, synchronous: str, **kwargs: Any) -> None:
        self.synchronous = synchronous
        super().__init__(**kwargs)

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        return connection


class SynchronousSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory, with every connection at ``SQLITE_SYNCHRONOUS``."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        self.datastore.pool = _SynchronousPool(
            synchronous=self.env.get(SYNCHRONOUS_ENV, "FULL"), db_name=pool.db_name, lock_timeout=pool.lock_timeout
        )
        pool.close()


def open_application(path: str, synchronous: str) -> Application:
    """An eventsourcing application on the SQLite file ``path`` at ``PRAGMA synchronous = synchronous``."""
    return Application(
        env={
            "PERSISTENCE_MODULE": f"{__name__}:{SynchronousSQLiteFactory.__name__}",
            "SQLITE_DBNAME": path,
            SYNCHRONOUS_ENV: synchronous,
        }
    )


def synchronous_level(application: Application) -> int:
    """The ``synchronous`` level eventsourcing's connections run at (0 off, 1 normal, 2 full)."""
    with application.factory.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        return cursor.fetchone()[0]


def add_line(streams: dict[str, ClientStream], line: dict[str, Any]) -> ClientStream:
    """Trigger one JSON Lines object's event on its client's aggregate (created on its first event)."""
    client = line["client"]
    stream = streams.get(client)
    if stream is None:
        stream = streams[client] = ClientStream(client)
    stream.happened(type=line["type"], at=line["at"], data=line.get("data", {}))
    return stream
