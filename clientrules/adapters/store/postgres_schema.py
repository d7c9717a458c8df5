"""Versioned, idempotent migrations of the PostgreSQL store's schema.

Every object lives in one PostgreSQL schema (``clientrules`` unless the URL
says ``?schema=NAME``), so several ledgers can share a database. Migration
``n`` runs once, in its own transaction, and is recorded in
``schema_migrations``; a transaction-scoped advisory lock on the schema name
makes concurrent ``migrate`` calls (two servers starting at once) wait for
each other instead of racing.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import psycopg
from psycopg import sql

from clientrules.domain.errors import StoreError
from clientrules.adapters.store.postgres_watch import MIGRATION as WATCH_MIGRATION
from clientrules.adapters.store.rows import MONEY_TYPES_SQL

DEFAULT_SCHEMA = "clientrules"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Migration(NamedTuple):
    version: int
    description: str
    statements: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events (append-only), position counter, meta",
        """
        CREATE TABLE events (
            position bigint PRIMARY KEY,
            id text NOT NULL UNIQUE,
            stream text NOT NULL,
            version integer NOT NULL,
            type text NOT NULL,
            schema integer NOT NULL,
            at_key bigint NOT NULL,
            at_text text NOT NULL,
            data text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (stream, version)
        );
        CREATE INDEX events_by_time ON events (stream, at_key, version);
        CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'events are append-only' USING ERRCODE = 'restrict_violation';
        END $$;
        CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
            FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();
        -- one row: the last position handed out; appenders lock it (see clientrules.adapters.store.postgres)
        CREATE TABLE position_counter (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            last bigint NOT NULL
        );
        INSERT INTO position_counter (last) VALUES (0);
        CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
        """,
    ),
    Migration(
        2,
        "evaluation queue for clientrules worker",
        """
        -- clients whose history changed since their last recorded decision, and the newest such position
        CREATE TABLE evaluation_queue (client text PRIMARY KEY, position bigint NOT NULL);
        CREATE INDEX evaluation_queue_by_position ON evaluation_queue (position);
        -- how far the queue has been filled from the events (one row)
        CREATE TABLE evaluation_checkpoint (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            position bigint NOT NULL
        );
        INSERT INTO evaluation_checkpoint (position) VALUES (0);
        """,
    ),
    Migration(
        3,
        "clients whose evaluation failed are set aside with the error",
        """
        -- set: the client is not claimed until a newer event queues it again
        ALTER TABLE evaluation_queue ADD COLUMN error text;
        """,
    ),
    Migration(
        4,
        "per-client data keys for personal fields (deleted to erase a client)",
        """
        -- one key per client with personal data; unlike events, a row can be deleted (clientrules.domain.privacy)
        CREATE TABLE client_keys (
            client text PRIMARY KEY,
            key_id text NOT NULL,
            secret bytea NOT NULL CHECK (octet_length(secret) = 32),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE FUNCTION client_keys_are_never_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a client key is never changed, only destroyed' USING ERRCODE = 'restrict_violation';
        END $$;
        CREATE TRIGGER client_keys_no_update BEFORE UPDATE ON client_keys
            FOR EACH ROW EXECUTE FUNCTION client_keys_are_never_changed();
        """,
    ),
    Migration(
        5,
        "each client's fold (a cache of what its facts are computed from)",
        """
        -- one row per client, overwritten as its stream grows; never written by an append (clientrules.application.folds)
        CREATE TABLE client_folds (
            client text PRIMARY KEY,
            version integer NOT NULL,
            format text NOT NULL,
            data text NOT NULL,
            written_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(6, "the watcher's checkpoint, schedule and outbox; events stored notify listeners", WATCH_MIGRATION),
    Migration(
        7,
        "one event appended in one call (one round trip)",
        """
        -- what PostgresStore.append does for one event that needs no other read, in one statement: the position lock,
        -- the id check, the stream's version (and the expected one, if given), the insert and the counter.
        -- No row returned: stored already, or another version (the client's usual path tells which).
        CREATE FUNCTION append_alone(event_id text, event_stream text, expected integer, event_type text,
                                     event_schema integer, event_at_key bigint, event_at_text text, event_data text)
        RETURNS TABLE (stored_version integer, stored_position bigint) LANGUAGE plpgsql AS $$
        DECLARE
            last_position bigint;
            current integer;
        BEGIN
            SELECT last INTO last_position FROM position_counter FOR UPDATE;
            IF EXISTS (SELECT 1 FROM events WHERE id = event_id) THEN
                RETURN;
            END IF;
            SELECT COALESCE(MAX(version), 0) INTO current FROM events WHERE stream = event_stream;
            IF expected IS NOT NULL AND current <> expected THEN
                RETURN;
            END IF;
            INSERT INTO events (position, id, stream, version, type, schema, at_key, at_text, data)
            VALUES (last_position + 1, event_id, event_stream, current + 1, event_type, event_schema,
                    event_at_key, event_at_text, event_data);
            UPDATE position_counter SET last = last_position + 1;
            RETURN QUERY SELECT current + 1, last_position + 1;
        END $$;
        """,
    ),
    Migration(
        8,
        "the owner's portfolio: every client's standing, kept between runs",
        """
        -- one row, replaced whole by clientrules.application.portfolio; deleted by an erasure (it holds names)
        CREATE TABLE portfolio_standings (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            position bigint NOT NULL,
            ruleset_version integer NOT NULL,
            format text NOT NULL,
            data text NOT NULL,
            written_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(
        9,
        "money events found by invoice id (the books' checks read one invoice at a time)",
        f"CREATE INDEX events_by_invoice ON events (stream, (data::json ->> 'invoice_id')) WHERE type IN {MONEY_TYPES_SQL};",
    ),
    Migration(
        10,
        "the learning loop's kept moments, kept between runs",
        """
        -- one row, replaced whole by clientrules.application.learning (clientrules.domain.learning.kept_format)
        CREATE TABLE kept_moments (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            data bytea NOT NULL,
            written_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(
        11,
        "a money event, or a client's first personal field, appended in one call after the caller's checks",
        f"""
        -- append_alone for an event that the caller checked against what it read or made. After the position lock (an
        -- erasure takes it too), so the checks' snapshots hold every earlier append:
        -- * invoice: a money event whose books were checked against that many of its invoice's money events (read just
        --   before, or none for an invoice being issued, or those the caller appended lately): appended only if the
        --   invoice still has as many (events are only ever added, so it has the same ones);
        -- * new_key_id: an event sealed with a new key for its client: stored with the key, if the client has none.
        -- No row returned: not stored (the client's usual path checks again and tells why).
        CREATE FUNCTION append_checked_alone(event_id text, event_stream text, expected integer, event_type text,
                                             event_schema integer, event_at_key bigint, event_at_text text,
                                             event_data text, invoice text, money_read bigint, new_key_id text,
                                             new_secret bytea)
        RETURNS TABLE (stored_version integer, stored_position bigint) LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM position_counter FOR UPDATE;
            IF invoice IS NOT NULL AND (SELECT count(*) FROM events WHERE stream = event_stream
                AND type IN {MONEY_TYPES_SQL} AND data::json ->> 'invoice_id' = invoice) <> money_read THEN
                RETURN;
            END IF;
            IF new_key_id IS NOT NULL AND EXISTS (SELECT 1 FROM client_keys WHERE client = event_stream) THEN
                RETURN;
            END IF;
            RETURN QUERY SELECT * FROM append_alone(event_id, event_stream, expected, event_type, event_schema,
                                                    event_at_key, event_at_text, event_data);
            IF FOUND AND new_key_id IS NOT NULL THEN
                INSERT INTO client_keys (client, key_id, secret) VALUES (event_stream, new_key_id, new_secret);
            END IF;
        END $$;
        """,
    ),
    Migration(
        12,
        "each client's latest computed facts (a cache beside its fold)",
        """
        -- one row per client, replaced as its stream grows; never written by an append (clientrules.ports.FactsStore)
        CREATE TABLE client_facts (
            client text PRIMARY KEY,
            version integer NOT NULL,
            format text NOT NULL,
            data text NOT NULL
        );
        """,
    ),
    Migration(
        13,
        "the rules engine's answers by standing, per compiled rule set (a cache)",
        """
        -- one row per standing a rule set was asked about, never replaced (clientrules.ports.EngineAnswersStore)
        CREATE TABLE engine_answers (
            rules text NOT NULL,
            standing text NOT NULL,
            answer text NOT NULL,
            PRIMARY KEY (rules, standing)
        );
        """,
    ),
    Migration(
        14,
        "each client's first event, indexed: the list of clients without grouping every event",
        """
        CREATE INDEX events_first ON events (position) INCLUDE (stream, at_key) WHERE version = 1;
        """,
    ),
)

LATEST = MIGRATIONS[-1].version


def check_schema_name(name: str) -> str:
    if not SCHEMA_NAME.fullmatch(name):
        raise StoreError(f"schema={name!r} is not a schema name (lower-case letters, digits and '_', 1-63)")
    return name


def applied_versions(connection: psycopg.Connection, schema: str) -> list[int]:
    """The migrations applied to ``schema`` (empty when it has none, or does not exist)."""
    exists = connection.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'schema_migrations'", (schema,)
    ).fetchone()
    if not exists:
        return []
    query = sql.SQL("SELECT version FROM {}.schema_migrations ORDER BY version").format(sql.Identifier(schema))
    return [row[0] for row in connection.execute(query)]


def migrate(connection: psycopg.Connection, schema: str) -> list[int]:
    """Apply the pending migrations to ``schema`` (created if missing); return the versions applied now.

    ``connection`` must be in autocommit mode. Safe to run any number of
    times, from any number of processes at once.
    """
    applied: list[int] = []
    for migration in MIGRATIONS:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(hashtext('clientrules.migrate.' || %s))", (schema,))
            done = applied_versions(connection, schema)
            if done and done[-1] > LATEST:
                raise_too_new(schema, done[-1])
            if migration.version in done:
                continue
            name = sql.Identifier(schema)
            connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
            connection.execute(sql.SQL("SET LOCAL search_path TO {}").format(name))
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, description text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            connection.execute(migration.statements)
            connection.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
            applied.append(migration.version)
    return applied


def raise_too_new(schema: str, version: int) -> None:
    raise StoreError(
        f"PostgreSQL schema {schema!r} has schema version {version}; this clientrules "
        f"knows up to {LATEST}: upgrade clientrules"
    )
