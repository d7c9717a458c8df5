"""The watcher's tables in the PostgreSQL store (migration 6): checkpoint, what it saw of each client, outbox.

The tables are those of :mod:`clientrules.adapters.store.sqlite_watch`. A
statement trigger on ``events`` sends a notification on the channel
``clientrules_events_<schema>`` when events are stored (delivered at commit), so
a watcher waiting with ``LISTEN`` wakes within milliseconds. The lease is a
session advisory lock, held by the watcher's own connection: PostgreSQL
releases it when that connection ends, however the process ends.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Collection, ContextManager, Mapping, Sequence

import psycopg
from psycopg import sql

from clientrules.domain.errors import StoreError
from clientrules.domain.events import DecisionChanged, Event
from clientrules.ports import AppendResult, DeliveryRow, NewDelivery, WatchCheckpoint, Watched, WatcherBusy
from clientrules.adapters.store.rows import COLUMNS

MIGRATION = """
CREATE TABLE watch_checkpoint (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL,
    ruleset_version integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE watched_clients (
    client text PRIMARY KEY,
    verdict text NOT NULL,
    fired text NOT NULL,
    due_key bigint
);
CREATE INDEX watched_clients_by_due ON watched_clients (due_key) WHERE due_key IS NOT NULL;
CREATE TABLE deliveries (
    id bigserial PRIMARY KEY,
    change_id text NOT NULL,
    channel text NOT NULL,
    client text NOT NULL,
    body text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_key bigint NOT NULL,
    delivered_at timestamptz,
    last_error text,
    UNIQUE (change_id, channel)
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_key) WHERE delivered_at IS NULL;
CREATE FUNCTION notify_events_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clientrules_events_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_stored AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION notify_events_stored();
"""
_ISO = """'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'"""
_DELIVERY = (
    f"SELECT id, change_id, channel, client, body, attempts, to_char(created_at AT TIME ZONE 'UTC', {_ISO}),"
    f" next_attempt_key, to_char(delivered_at AT TIME ZONE 'UTC', {_ISO}), last_error FROM deliveries"
)


class PostgresLease:
    """The watch lease of one PostgreSQL schema: a session advisory lock on a connection of its own."""

    def __init__(self, connection: psycopg.Connection, schema: str, head_position: Callable[[], int]) -> None:
        self._connection = connection
        self._head_position = head_position
        try:
            [taken] = connection.execute(
                "SELECT pg_try_advisory_lock(hashtext('clientrules.watch.' || %s))", (schema,)
            ).fetchall()
            if not taken[0]:
                raise WatcherBusy(f"another watcher is running on PostgreSQL schema {schema!r}")
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(f"clientrules_events_{schema}")))
        except BaseException:
            connection.close()
            raise

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        if self._head_position() > after_position:
            return True
        try:
            for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as error:
            raise StoreError(f"the watcher lost its PostgreSQL connection: {error}") from None
        return self._head_position() > after_position

    def release(self) -> None:
        """Free the lease at once, then close its connection (the LISTEN ends with it).

        Closing alone would free it only once the server has ended the session, a moment later: a watcher
        started right after (the next ``watch --once``) could find it still taken.
        """
        try:
            self._connection.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            pass  # the connection is broken: its session, and the lock with it, end on the server's side
        finally:
            self._connection.close()


class PostgresWatchTables:
    """:class:`~clientrules.ports.WatchStore` and :class:`~clientrules.ports.DeliveryStore` for
    :class:`~clientrules.adapters.store.postgres.PostgresStore` (which provides the helpers used here)."""

    schema: str
    conninfo: str
    _events: str
    _key_types: list[str]
    read: Callable[..., list[tuple[Any, ...]]]
    transaction: Callable[..., ContextManager[psycopg.Connection]]
    append_in: Callable[..., AppendResult]
    _decode: Callable[[list[tuple[Any, ...]]], list[Event]]
    _options: Callable[[], dict[str, Any]]
    head_position: Callable[[], int]

    def watch_lease(self) -> PostgresLease:
        try:
            connection = psycopg.connect(self.conninfo, autocommit=True, **self._options())
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to PostgreSQL: {error}") from None
        return PostgresLease(connection, self.schema, self.head_position)

    def watch_checkpoint(self) -> WatchCheckpoint | None:
        rows = self.read("SELECT position, ruleset_version FROM watch_checkpoint")
        return WatchCheckpoint(*rows[0]) if rows else None

    def touched_clients(self, after_position: int, until_position: int) -> list[str]:
        rows = self.read(
            "SELECT stream FROM events WHERE position > %s AND position <= %s AND type <> %s AND stream NOT LIKE '$%%'"
            " GROUP BY stream ORDER BY MIN(position)",
            (after_position, until_position, DecisionChanged.TYPE),
        )
        return [row[0] for row in rows]

    def due_clients(self, moment_key: int) -> list[str]:
        rows = self.read("SELECT client FROM watched_clients WHERE due_key <= %s ORDER BY due_key", (moment_key,))
        return [row[0] for row in rows]

    def watched(self, clients: Collection[str]) -> dict[str, Watched]:
        rows = self.read(
            "SELECT client, verdict, fired, due_key FROM watched_clients WHERE client = ANY(%s)", (list(clients),)
        )
        return {client: Watched(verdict, tuple(json.loads(fired)), due_key) for client, verdict, fired, due_key in rows}

    def commit_watch(
        self,
        *,
        expected: WatchCheckpoint | None,
        checkpoint: WatchCheckpoint | None,
        watched: Mapping[str, Watched],
        changes: Sequence[Event],
        deliveries: Sequence[NewDelivery],
    ) -> None:
        with self.transaction() as connection:
            # the row lock orders concurrent commits; the check then sees the other's checkpoint
            rows = connection.execute("SELECT position, ruleset_version FROM watch_checkpoint FOR UPDATE").fetchall()
            WatcherBusy.unless_at(expected, WatchCheckpoint(*rows[0]) if rows else None)
            if changes:
                self.append_in(connection, changes)
            if watched:
                connection.execute(
                    "INSERT INTO watched_clients (client, verdict, fired, due_key)"
                    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[])"
                    " ON CONFLICT (client) DO UPDATE SET verdict = excluded.verdict, fired = excluded.fired,"
                    " due_key = excluded.due_key",
                    (
                        list(watched),
                        [seen.verdict for seen in watched.values()],
                        [json.dumps(list(seen.fired)) for seen in watched.values()],
                        [seen.due_key for seen in watched.values()],
                    ),
                )
            if deliveries:
                connection.execute(
                    "INSERT INTO deliveries (change_id, channel, client, body, next_attempt_key)"
                    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[])"
                    " ON CONFLICT (change_id, channel) DO NOTHING",
                    (
                        [d.change_id for d in deliveries],
                        [d.channel for d in deliveries],
                        [d.client for d in deliveries],
                        [d.body for d in deliveries],
                        [d.due_key for d in deliveries],
                    ),
                )
            if checkpoint is not None:
                connection.execute(
                    "INSERT INTO watch_checkpoint (position, ruleset_version) VALUES (%s, %s)"
                    " ON CONFLICT (only_row) DO UPDATE SET position = excluded.position,"
                    " ruleset_version = excluded.ruleset_version, updated_at = now()",
                    (checkpoint.position, checkpoint.ruleset_version),
                )

    def decision_changes(self, *, since_key: int | None = None, client: str | None = None) -> list[Event]:
        query = f"SELECT {COLUMNS} FROM {self._events} WHERE e.type = %s"
        parameters: list[Any] = [self._key_types, DecisionChanged.TYPE]
        if client is not None:
            query += " AND e.stream = %s"
            parameters.append(client)
        if since_key is not None:
            query += " AND e.at_key >= %s"
            parameters.append(since_key)
        return self._decode(self.read(query + " ORDER BY e.at_key, e.position", parameters))

    def due_deliveries(self, now_key: int, channels: Collection[str], *, limit: int = 1_000) -> list[DeliveryRow]:
        rows = self.read(
            f"{_DELIVERY} WHERE delivered_at IS NULL AND next_attempt_key <= %s AND channel = ANY(%s)"
            " ORDER BY id LIMIT %s",
            (now_key, list(channels), limit),
        )
        return [DeliveryRow(*row) for row in rows]

    def deliveries_of(self, change_ids: Collection[str]) -> list[DeliveryRow]:
        rows = self.read(f"{_DELIVERY} WHERE change_id = ANY(%s) ORDER BY id", (list(change_ids),))
        return [DeliveryRow(*row) for row in rows]

    def settle_delivery(
        self, delivery_id: int, *, delivered_at: str | None, error: str | None, next_attempt_key: int
    ) -> None:
        with self.transaction() as connection:
            connection.execute(
                "UPDATE deliveries SET attempts = attempts + 1, delivered_at = %s, last_error = COALESCE(%s, last_error),"
                " next_attempt_key = %s WHERE id = %s",
                (delivered_at, error, next_attempt_key, delivery_id),
            )
