"""The networked event store: PostgreSQL through psycopg 3 and a connection pool.

URL: ``postgresql://user[:password]@host[:port]/dbname[?schema=NAME&...]``.
Every table lives in the PostgreSQL schema ``NAME`` (default ``clientrules``),
so several ledgers (or test runs) can share one database; any other query
parameter is passed to libpq (``sslmode``, ``connect_timeout``...). Opening
the store applies pending migrations (:mod:`clientrules.adapters.store.postgres_schema`);
``clientrules db migrate`` does the same explicitly, and ``db status`` shows them.

Guarantees, enforced by the database:

* append-only: a trigger raises ``events are append-only`` on any ``UPDATE``,
  ``DELETE`` or ``TRUNCATE`` of ``events``, whoever issues it;
* per-client versions: ``UNIQUE (stream, version)``, and the expected version
  is checked inside the appending transaction (:class:`ConcurrencyError`);
* idempotent appends: ``UNIQUE (id)``; ids stored already are skipped and counted;
* a gap-free global position in commit order. A ``bigserial`` would not do: a
  transaction can take position 7, another position 8 and commit first, and
  a reader that saw 8 and checkpointed past it would never see 7. Instead an
  append locks the single row of ``position_counter`` (``SELECT ... FOR
  UPDATE``), hands out ``last + 1 ...`` and writes the new ``last`` back in the
  same transaction. The row lock is held until commit, so appends commit in
  position order, one after the other, and a rolled-back append gives its
  positions back: positions are dense and a reader following
  ``read_all(after_position=...)`` can never see a later position before an
  earlier one. The cost: appenders are serialised (as with SQLite's single
  writer) for the few round trips of their transaction; readers never wait;
* personal fields sealed with their client's key from ``client_keys``
  (:mod:`clientrules.domain.privacy`), created in the appending transaction; an
  erasure takes the position lock too, so no append can seal with a key
  that is being destroyed, deletes the key, and rewrites the table
  (``VACUUM FULL``) so that its files no longer hold the key's bytes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from clientrules.domain.errors import ConcurrencyError, InvalidEvent, StoreError
from clientrules.domain.events import Event, Instant, PersonalDataErased, Registry
from clientrules.domain.events import registry as default_registry
from clientrules.domain.money import MONEY_TYPES, MoneyBooks
from clientrules.domain.money.integrity import invoice_of
from clientrules.domain.privacy import ClientKey, Erasure, PersonalFields
from clientrules.adapters.store import postgres_schema
from clientrules.ports import AppendResult, ClientSummary, StoredFacts, StoredFold, StoredStandings, StreamTail
from clientrules.adapters.store.books import Invoice, KnownInvoices
from clientrules.adapters.store.erasing import record_erasure
from clientrules.adapters.store.rows import COLUMNS, decode_rows, encode_data, iter_in_batches
from clientrules.adapters.store.rows import MONEY_TYPES_SQL, read_stream_tails
from clientrules.adapters.store.postgres_watch import PostgresWatchTables

#: events per round trip when appending (ids looked up, versions read, rows copied)
CHUNK = 5_000
POOL_MAX_SIZE = 8
CONNECT_TIMEOUT_SECONDS = 10

# a few rows: one round trip, the rows as column arrays and the counter moved to the last position
_INSERT_FEW = (
    "WITH stored AS (INSERT INTO events (position, id, stream, version, type, schema, at_key, at_text, data)"
    " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::text[], %s::int[],"
    " %s::bigint[], %s::text[], %s::text[]))"
    " UPDATE position_counter SET last = %s"
)
_COPY = "COPY events (position, id, stream, version, type, schema, at_key, at_text, data) FROM STDIN"
#: most rows sent as arrays in one INSERT; more go through COPY (Python-side array quoting costs more than the round trips)
FEW_ROWS = 32
# Arrays of clients are joined by a lookup per element (a LATERAL subquery with ORDER BY is never flattened
# into a join the planner may turn into a scan of the whole table): the right plan whatever the statistics
# say, which are absent or stale after an import until the table is analyzed.
_SELECT_KEYS = (
    "SELECT wanted.client, k.key_id, k.secret FROM unnest(%s::text[]) AS wanted (client)"
    " CROSS JOIN LATERAL (SELECT key_id, secret FROM client_keys WHERE client = wanted.client ORDER BY client) k"
)
#: events joined to the keys that open them (see clientrules.adapters.store.rows.COLUMNS); its parameter: the types with personal fields
_EVENTS = "events e LEFT JOIN client_keys k ON k.client = e.stream AND e.type = ANY(%s)"
_INSERT_KEYS = "INSERT INTO client_keys (client, key_id, secret) SELECT * FROM unnest(%s::text[], %s::text[], %s::bytea[])"
_WRITE_FOLDS = (
    "INSERT INTO client_folds AS stored (client, version, format, data)"
    " SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[])"
    " ON CONFLICT (client) DO UPDATE SET version = excluded.version, format = excluded.format,"
    " data = excluded.data, written_at = now()"
    " WHERE excluded.format <> stored.format OR excluded.version >= stored.version"
)
_WRITE_STORED_FACTS = (
    "INSERT INTO client_facts (client, version, format, data)"
    " SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[])"
    " ON CONFLICT (client) DO UPDATE SET version = excluded.version, format = excluded.format, data = excluded.data"
)
#: the stored facts of an array of clients in a format, those of their stream's current version only (0: no event, as
#: client_version says): its MAX(version) is one lookup in the UNIQUE (stream, version) index per client
READ_STORED_FACTS = (
    "SELECT wanted.client, f.version, f.format, f.data FROM unnest(%s::text[]) AS wanted (client)"
    " CROSS JOIN LATERAL (SELECT * FROM client_facts WHERE client = wanted.client ORDER BY client) f"
    " WHERE f.format = %s AND f.version = (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = wanted.client)"
)
#: the clients in the order of their first event: the events of version 1, one a stream, read from their own
#: partial index (events_first) rather than by grouping every event
CLIENT_IDS = "SELECT stream FROM events WHERE version = 1 AND stream NOT LIKE '$%%' ORDER BY position"
#: :data:`CLIENT_IDS` of the clients with an event by a moment (given twice): their first event is, or an event
#: back-dated before it is (one seek in events_by_time)
CLIENT_IDS_STARTED_BY = (
    "SELECT stream FROM events f WHERE version = 1 AND stream NOT LIKE '$%%' AND (at_key <= %s"
    " OR EXISTS (SELECT FROM events WHERE events.stream = f.stream AND events.at_key <= %s)) ORDER BY position"
)
#: each client with its count of events (its stream's version) and its first and last event in time, from its
#: first event stored (events_first) and a few seeks, rather than by grouping every event
CLIENT_SUMMARIES = (
    "SELECT s.stream, (SELECT MAX(version) FROM events WHERE stream = s.stream), f.at_key, f.at_text, l.at_key, l.at_text"
    " FROM events s"
    " CROSS JOIN LATERAL (SELECT at_key, at_text FROM events WHERE stream = s.stream ORDER BY at_key, version LIMIT 1) f"
    " CROSS JOIN LATERAL (SELECT at_key, at_text FROM events WHERE stream = s.stream"
    "  ORDER BY at_key DESC, version DESC LIMIT 1) l"
    " WHERE s.version = 1 AND s.stream NOT LIKE '$%%' ORDER BY s.position"
)
#: answers of one rule set, as arrays of standings and answers: a standing kept already keeps its answer
_WRITE_ENGINE_ANSWERS = (
    "INSERT INTO engine_answers (rules, standing, answer) SELECT %s::text, * FROM unnest(%s::text[], %s::text[])"
    " ON CONFLICT (rules, standing) DO NOTHING"
)
_WRITE_STANDINGS = (
    "INSERT INTO portfolio_standings AS stored (position, ruleset_version, format, data) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (only_row) DO UPDATE SET position = excluded.position, ruleset_version = excluded.ruleset_version,"
    " format = excluded.format, data = excluded.data, written_at = now() WHERE excluded.position >= stored.position"
)
_WRITE_KEPT_MOMENTS = (
    "INSERT INTO kept_moments (data) VALUES (%s)"
    " ON CONFLICT (only_row) DO UPDATE SET data = excluded.data, written_at = now()"
)
#: one event appended in one call (migrations 7 and 11; see PostgresStore._append_alone)
_APPEND_ALONE = "SELECT * FROM append_alone(%s, %s, %s, %s, %s, %s, %s, %s)"
_APPEND_CHECKED_ALONE = "SELECT * FROM append_checked_alone(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
#: how long an erasure waits to rewrite client_keys while appends read it
VACUUM_LOCK_TIMEOUT = "3s"
#: how long an erasure waits, before it rewrites client_keys, for what may still see the deleted key to end
SEEING_WAIT_SECONDS = 3.0
#: what may still see a row deleted by transaction ``%(xid)s`` (which VACUUM FULL keeps for it): a session of this
#: database, or a standby's (no database), whose snapshot or transaction began before that one ended, a prepared
#: transaction of before, a replication slot holding back cleanup
_SEEING_DELETED = """
SELECT (SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()
          AND (datname = current_database() OR datname IS NULL)
          AND (age(backend_xmin) >= age(%(xid)s::xid) OR age(backend_xid) >= age(%(xid)s::xid)))
     + (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()
          AND age(transaction) >= age(%(xid)s::xid))
     + (SELECT count(*) FROM pg_replication_slots WHERE age(xmin) >= age(%(xid)s::xid))
"""

T = TypeVar("T")


def postgres_conninfo(url: str) -> tuple[str, str]:
    """The libpq connection string of ``url`` without ``schema=``, and the schema name."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = postgres_schema.DEFAULT_SCHEMA
    kept = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    conninfo = urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))  # libpq reads "+" as itself
    try:
        psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as error:
        raise StoreError(f"not a PostgreSQL URL: {_one_line(error)}") from None
    return conninfo, postgres_schema.check_schema_name(schema)


def one_row(cursor: psycopg.Cursor[Any]) -> Any:
    """The row of a statement that always returns exactly one (an aggregate, the one-row counter, a meta value)."""
    row = cursor.fetchone()
    assert row is not None, "the statement returns exactly one row"
    return row


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _where(conninfo: str) -> str:
    """host:port/dbname of a connection string, for messages (never the password)."""
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"


class PostgresStore(PostgresWatchTables):
    """An :class:`~clientrules.ports.EventStore` in a PostgreSQL schema.

    Safe to share between threads (a pool of connections). A process forked
    after opening gets a pool of its own on first use.
    """

    _events = _EVENTS

    def __init__(self, url: str, *, registry: Registry = default_registry, migrate: bool = True) -> None:
        self.url = url
        self.registry = registry
        self.personal = PersonalFields(registry)
        self._key_types = sorted(self.personal.types)
        self.conninfo, self.schema = postgres_conninfo(url)
        self.where = _where(self.conninfo)
        self._closed = False
        if migrate:
            self.migrate()
        self._pid = os.getpid()
        self._pool: ConnectionPool | None = None  # opened on first use
        self._inherited: list[ConnectionPool] = []
        self._opening = threading.Lock()
        self._invoices = KnownInvoices()

    # --- schema -----------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations (:mod:`~clientrules.adapters.store.postgres_schema`); return those applied now."""
        with self.direct_connection() as connection:
            return self._run(lambda: postgres_schema.migrate(connection, self.schema))

    def applied_migrations(self) -> list[int]:
        with self.direct_connection() as connection:
            return self._run(lambda: postgres_schema.applied_versions(connection, self.schema))

    # --- connections ------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        params = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        # No JIT (the URL's options may turn it on): it compiles any query whose estimated cost is high, and a
        # table not analyzed since an import makes even a batch of index lookups look costly (80 ms of compiling
        # for 3 ms of work); none of the store's queries runs long enough to gain from it.
        options = f"-c jit=off {params.get('options', '')} -c search_path={self.schema}"
        return {"options": options, "connect_timeout": params.get("connect_timeout", CONNECT_TIMEOUT_SECONDS)}

    @contextmanager
    def direct_connection(self) -> Iterator[psycopg.Connection]:
        """A connection of its own (autocommit, search path set), outside the pool."""
        try:
            connection = psycopg.connect(self.conninfo, autocommit=True, **self._options())
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to PostgreSQL at {self.where}: {_one_line(error)}") from None
        with connection:
            yield connection

    def _new_pool(self) -> ConnectionPool:
        pool = ConnectionPool(
            self.conninfo,
            kwargs={"autocommit": True, **self._options()},
            min_size=1,
            max_size=POOL_MAX_SIZE,
            timeout=CONNECT_TIMEOUT_SECONDS * 3,
            name=f"clientrules {self.where}",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS * 3)
        except PoolTimeout:
            pool.close()
            raise StoreError(f"cannot connect to PostgreSQL at {self.where}") from None
        return pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection (autocommit; use ``connection.transaction()`` for a transaction)."""
        if self._closed:
            raise StoreError(f"the store {self.where} (schema {self.schema}) is closed")
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use or close
            if self._pool is not None:
                self._inherited.append(self._pool)
            self._pool, self._pid = None, os.getpid()
        with self._opening:
            if self._pool is None:
                self._pool = self._new_pool()
        try:
            with self._pool.connection() as connection:
                yield connection
        except PoolTimeout:
            raise StoreError(f"no connection to PostgreSQL at {self.where} became available") from None

    @contextmanager
    def transaction(self, *, pipeline: bool = False) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction, committed at the end or rolled back on an error.

        With ``pipeline``, statements whose results are not read yet travel
        together (``BEGIN`` with the first query, the last write with
        ``COMMIT``); ``COPY`` cannot be used then. Database errors become :class:`StoreError`.
        """
        try:
            with self.connection() as connection:
                with connection.pipeline() if pipeline else contextlib.nullcontext(), connection.transaction():
                    yield connection
        except psycopg.Error as error:
            raise StoreError(f"PostgreSQL at {self.where}: {_one_line(error)}") from None

    def _run(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except psycopg.Error as error:
            raise StoreError(f"PostgreSQL at {self.where}: {_one_line(error)}") from None

    def read(self, query: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one query on a pooled connection; database errors become :class:`StoreError`."""

        def read() -> list[tuple[Any, ...]]:
            with self.connection() as connection:
                rows: list[tuple[Any, ...]] = connection.execute(query, parameters).fetchall()
                return rows

        return self._run(read)

    # --- writing ------------------------------------------------------------------

    def append(self, events: Iterable[Event], *, expected_version: int | None = None) -> AppendResult:
        """Store ``events`` in one transaction (see :class:`~clientrules.ports.EventStore`).

        ``events`` may be any iterable, even a generator of unbounded length:
        it is consumed in chunks inside the transaction, and if it raises,
        nothing is stored. With ``expected_version``, a batch whose events are
        all stored already is an idempotent retry and succeeds without the check.
        """
        if isinstance(events, (list, tuple)) and len(events) == 1:
            alone = self._append_alone(events[0], expected_version)
            if alone is not None:
                return alone
        # a few events: two round trips (BEGIN + lock + lookups, then INSERT + COMMIT)
        few = isinstance(events, (list, tuple)) and len(events) <= FEW_ROWS
        with self.transaction(pipeline=few) as connection:
            return self.append_in(connection, events, expected_version=expected_version)

    def _append_alone(self, event: Event, expected_version: int | None) -> AppendResult | None:
        """One event in one call, its own transaction: the ``append_alone`` function for an event that needs nothing
        read first. A money event's books are checked first (:meth:`_append_money_alone`), a client's first personal
        field is sealed with a key made here, and the call finds them still right before it appends. None: not stored
        that way (stored already, another version, or not as checked: the usual path tells which)."""
        if expected_version is not None and expected_version < 0:
            return None
        sealing = self.personal.needs_key(event.payload)
        if event.payload.TYPE in MONEY_TYPES:
            return None if sealing else self._append_money_alone(event, expected_version)  # no such type seals
        if sealing:
            key = ClientKey.generate()
            return self._call_alone(event, expected_version, {event.client: key}, (None, None, key.id, key.secret))
        return self._call_alone(event, expected_version, {}, ())

    def _append_money_alone(self, event: Event, expected_version: int | None) -> AppendResult | None:
        """A money event checked against its invoice's money events (:mod:`~clientrules.adapters.store.books`; read
        here in a round trip of its own when not known), then appended if the invoice still has as many."""

        def read(invoice: Invoice) -> tuple[Event, ...]:
            with self.connection() as connection:
                return tuple(self._money_events(connection, [invoice]))

        money = self._invoices.books_allow(event, lambda invoice: self._run(lambda: read(invoice)))
        if money is None:
            return None
        appended = self._call_alone(event, expected_version, {}, (invoice_of(event), len(money), None, None))
        self._invoices.after_append(event, money, appended is not None)
        return appended

    def _call_alone(
        self, event: Event, expected_version: int | None, keys: dict[str, ClientKey], checked: tuple[object, ...]
    ) -> AppendResult | None:
        """``append_alone``, or with what was ``checked`` (invoice id, its money events read, new key id and secret)
        ``append_checked_alone``."""
        payload_type = type(event.payload)
        row = (event.id, event.client, expected_version, payload_type.TYPE, payload_type.SCHEMA, event.at.key,
               event.at.text, encode_data(event, self.registry, self.personal, keys), *checked)
        query = _APPEND_ALONE
        if checked:
            query = _APPEND_CHECKED_ALONE
        stored = self.read(query, row)
        if not stored:
            return None
        ((version, position),) = stored
        return AppendResult(1, 0, version, position)

    def append_in(
        self,
        connection: psycopg.Connection,
        events: Iterable[Event],
        *,
        expected_version: int | None = None,
    ) -> AppendResult:
        """:meth:`append` inside the caller's transaction on ``connection`` (e.g. with a queue update).

        Holds the position lock until that transaction ends: commit soon after.
        """
        client = None
        if expected_version is not None:
            events = list(events)
            owners = {event.client for event in events}
            if len(owners) > 1:
                raise InvalidEvent("an append with expected_version must hold events of one client")
            if expected_version < 0:
                raise InvalidEvent("must be 0 or more", field="expected_version")
            client = next(iter(owners), None)
        # its own statement: the reads below get a snapshot taken after the lock, so they see every earlier append
        counter = connection.execute("SELECT last FROM position_counter FOR UPDATE")
        versions: dict[str, int] = {}
        streams: set[str] = set()
        stored = already_present = 0
        checked = expected_version is None
        keys: dict[str, ClientKey] = {}
        iterator = iter(events)
        position: int | None = None
        books = MoneyBooks(lambda invoices: self._money_events(connection, invoices))
        while chunk := list(itertools.islice(iterator, CHUNK)):
            streams.update(event.client for event in chunk)
            wanted = sorted(self.personal.clients_needing_keys(chunk) - keys.keys())
            found = connection.execute(_SELECT_KEYS, (wanted,)) if wanted else None
            fresh = _fresh_and_versions(connection, chunk, versions)  # in a pipeline: sent with the lock and keys
            if position is None:
                position = one_row(counter)[0]
            if found is not None:
                keys.update(_keys(found.fetchall()))
            already_present += len(chunk) - len(fresh)
            if not fresh:
                continue
            if not checked:
                assert client is not None and expected_version is not None, "append checks a version for one client"
                actual = versions[client]
                if actual != expected_version:
                    raise ConcurrencyError(client, expected_version, actual)
                checked = True
            books.check(fresh)
            new = {client: ClientKey.generate() for client in self.personal.clients_needing_keys(fresh) - keys.keys()}
            if new:  # under the position lock, which every key's creator and destroyer holds
                connection.execute(_INSERT_KEYS, (list(new), [k.id for k in new.values()], [k.secret for k in new.values()]))
                keys.update(new)
            rows = []
            for event in fresh:
                position += 1
                versions[event.client] += 1
                payload_type = type(event.payload)
                rows.append(
                    (
                        position,
                        event.id,
                        event.client,
                        versions[event.client],
                        payload_type.TYPE,
                        payload_type.SCHEMA,
                        event.at.key,
                        event.at.text,
                        encode_data(event, self.registry, self.personal, keys),
                    )
                )
            _insert(connection, rows)
            stored += len(fresh)
        books.finish()
        single = client or (next(iter(streams)) if len(streams) == 1 else None)
        version = versions.get(single) if single is not None else None
        return AppendResult(stored, already_present, version, position if stored else None)

    def _money_events(self, connection: psycopg.Connection, invoices: Collection[tuple[str, str]]) -> list[Event]:
        """The money events stored for ``invoices`` (client, invoice id), read in the appending transaction (after its
        lock), or before one event's append that finds as many (:mod:`~clientrules.adapters.store.books`)."""
        clients, invoice_ids = zip(*sorted(invoices))
        rows = connection.execute(
            f"SELECT {COLUMNS} FROM unnest(%s::text[], %s::text[]) AS w (stream, invoice_id)"
            f" JOIN events e ON e.stream = w.stream AND e.type IN {MONEY_TYPES_SQL} AND e.data::json ->> 'invoice_id' = w.invoice_id"
            " LEFT JOIN client_keys k ON k.client = e.stream AND e.type = ANY(%s)",
            (list(clients), list(invoice_ids), self._key_types),
        ).fetchall()
        return self._decode(rows)

    def put_meta_if_absent(self, key: str, value: str) -> str:
        with self.transaction() as connection:
            connection.execute("INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING", (key, value))
            return str(one_row(connection.execute("SELECT value FROM meta WHERE key = %s", (key,)))[0])

    def write_folds(self, folds: Iterable[StoredFold]) -> int:
        """Store ``folds`` in one transaction of their own (see :class:`~clientrules.ports.FoldStore`)."""
        return self._write_per_client(_WRITE_FOLDS, folds)

    def write_stored_facts(self, facts: Iterable[StoredFacts]) -> int:
        """Store ``facts`` in one transaction of their own (see :class:`~clientrules.ports.FactsStore`)."""
        return self._write_per_client(_WRITE_STORED_FACTS, facts)

    def _write_per_client(self, statement: str, rows: Iterable[StoredFold | StoredFacts]) -> int:
        """``rows`` (one per client, the last of each) through ``statement``, which takes their four columns."""
        kept = sorted({row.client: row for row in rows}.values(), key=lambda row: row.client)  # one lock order
        if not kept:
            return 0
        columns = ([r.client for r in kept], [r.version for r in kept], [r.format for r in kept], [r.data for r in kept])
        with self.transaction() as connection:
            return connection.execute(statement, columns).rowcount

    def write_engine_answers(self, rules: str, answers: Mapping[str, str]) -> int:
        """Keep ``answers`` in one transaction of their own, those of standings kept already left as they are (see
        :class:`~clientrules.ports.EngineAnswersStore`); how many were new."""
        standings = sorted(answers)  # one lock order
        if not standings:
            return 0
        parameters = (rules, standings, [answers[standing] for standing in standings])
        with self.transaction() as connection:
            return connection.execute(_WRITE_ENGINE_ANSWERS, parameters).rowcount

    def write_standings(self, standings: StoredStandings) -> bool:
        """Replace the stored standings unless they are of a later position (see :class:`~clientrules.ports.StandingsStore`)."""
        row = (standings.position, standings.ruleset_version, standings.format, standings.data)
        with self.transaction() as connection:
            # after an erasure under way (it holds the counter): standings decided before it hold the name it erased
            connection.execute("SELECT last FROM position_counter FOR SHARE")
            erased = connection.execute(
                "SELECT EXISTS (SELECT 1 FROM events WHERE position > %s AND type = %s)",
                (standings.position, PersonalDataErased.TYPE),
            )
            if one_row(erased)[0]:
                return False
            return connection.execute(_WRITE_STANDINGS, row).rowcount > 0

    def write_kept_moments(self, data: bytes) -> None:
        """Replace the kept moments (see :class:`~clientrules.ports.KeptMomentsStore`)."""
        with self.transaction() as connection:
            connection.execute(_WRITE_KEPT_MOMENTS, (data,))

    # --- reading ------------------------------------------------------------------

    def read_client(
        self, client: str, *, until: Instant | None = None, after_version: int = 0
    ) -> list[Event]:
        query = f"SELECT {COLUMNS} FROM {_EVENTS} WHERE stream = %s AND version > %s"
        parameters: list[Any] = [self._key_types, client, after_version]
        if until is not None:
            query += " AND at_key <= %s"
            parameters.append(until.key)
        return self._decode(self.read(query + " ORDER BY at_key, version", parameters))

    def read_folds(self, clients: Sequence[str], *, format: str) -> Iterator[StreamTail]:
        """Clients' stored folds and the events after them: two round trips per :data:`CHUNK` clients."""
        return read_stream_tails(
            clients,
            format,
            chunk=CHUNK,
            folds_of=lambda wanted: self.read(
                "SELECT wanted.client, f.version, f.format, f.data FROM unnest(%s::text[]) AS wanted (client)"
                " CROSS JOIN LATERAL (SELECT * FROM client_folds WHERE client = wanted.client ORDER BY client) f",
                (wanted,),
            ),
            events_after=lambda wanted, versions: self._decode(
                self.read(
                    f"SELECT {COLUMNS} FROM unnest(%s::text[], %s::int[]) AS wanted (stream, after)"
                    " CROSS JOIN LATERAL (SELECT * FROM events"
                    " WHERE stream = wanted.stream AND version > wanted.after ORDER BY version) e"
                    " LEFT JOIN LATERAL (SELECT key_id, secret FROM client_keys"
                    " WHERE client = e.stream AND e.type = ANY(%s) ORDER BY client) k ON true",
                    (wanted, versions, self._key_types),
                )
            ),
        )

    def read_stored_facts(self, clients: Sequence[str], *, format: str) -> dict[str, StoredFacts]:
        """Clients' stored facts of their stream's current version: one round trip per :data:`CHUNK` clients."""
        found: dict[str, StoredFacts] = {}
        for start in range(0, len(clients), CHUNK):
            rows = self.read(READ_STORED_FACTS, (list(clients[start : start + CHUNK]), format))
            found.update((row[0], StoredFacts(*row)) for row in rows)
        return found

    def read_engine_answers(self, rules: str) -> dict[str, str]:
        """Every answer kept for ``rules``: one round trip."""
        return dict(self.read("SELECT standing, answer FROM engine_answers WHERE rules = %s", (rules,)))

    def client_version(self, client: str) -> int:
        return int(self.read("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = %s", (client,))[0][0])

    def client_versions(self, clients: Collection[str]) -> dict[str, int]:
        rows = self.read(
            "SELECT c, (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = c) FROM unnest(%s::text[]) AS c",
            (list(clients),),
        )
        return {client: int(version) for client, version in rows}

    def read_all(self, *, after_position: int = 0, limit: int | None = None) -> list[Event]:
        return self._decode(
            self.read(
                f"SELECT {COLUMNS} FROM {_EVENTS} WHERE position > %s ORDER BY position LIMIT %s",
                (self._key_types, after_position, limit),
            )
        )

    def iter_all(self, *, after_position: int = 0, batch: int = 10_000) -> Iterator[Event]:
        return iter_in_batches(self.read_all, after_position=after_position, batch=batch)

    def iter_types(self, types: Collection[str], *, batch: int = 10_000) -> Iterator[Event]:
        wanted = sorted(types)

        def read(*, after_position: int, limit: int) -> list[Event]:
            return self._decode(
                self.read(
                    f"SELECT {COLUMNS} FROM {_EVENTS} WHERE e.type = ANY(%s) AND e.position > %s ORDER BY e.position LIMIT %s",
                    (self._key_types, wanted, after_position, limit),
                )
            )

        return iter_in_batches(read, after_position=0, batch=batch)

    def head_position(self) -> int:
        return int(self.read("SELECT COALESCE(MAX(position), 0) FROM events")[0][0])

    def clients(self) -> list[ClientSummary]:
        """Client streams in the order their first event was stored."""
        rows = self.read(CLIENT_SUMMARIES)
        return [
            ClientSummary(stream, count, Instant.from_key(first_key, first_text), Instant.from_key(last_key, last_text))
            for stream, count, first_key, first_text, last_key, last_text in rows
        ]

    def client_ids(self, *, started_by: Instant | None = None) -> list[str]:
        if started_by is None:
            return [row[0] for row in self.read(CLIENT_IDS)]
        return [row[0] for row in self.read(CLIENT_IDS_STARTED_BY, (started_by.key, started_by.key))]

    def changed_clients(self, after_position: int) -> list[str]:
        rows = self.read(
            "SELECT stream FROM events WHERE position > %s AND stream NOT LIKE '$%%'"
            " GROUP BY stream ORDER BY MIN(position)",
            (after_position,),
        )
        return [row[0] for row in rows]

    def get_meta(self, key: str) -> str | None:
        rows = self.read("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def read_standings(self) -> StoredStandings | None:
        rows = self.read("SELECT position, ruleset_version, format, data FROM portfolio_standings")
        return StoredStandings(*rows[0]) if rows else None

    def read_kept_moments(self) -> bytes | None:
        rows = self.read("SELECT data FROM kept_moments")
        return bytes(rows[0][0]) if rows else None

    def client_keys(self, clients: Collection[str]) -> dict[str, ClientKey]:
        """The keys of those of ``clients`` that have one (:class:`~clientrules.domain.privacy.KeyStore`)."""
        return _keys(self.read(_SELECT_KEYS, (sorted(clients),)))

    def _decode(self, rows: list[tuple[Any, ...]]) -> list[Event]:
        return decode_rows(rows, self.registry, self.personal)

    # --- erasing ------------------------------------------------------------------

    def erase(self, erasure: Event) -> Erasure:
        """Destroy the key of ``erasure``'s client and append ``erasure`` in one transaction, then rewrite
        ``client_keys`` (``VACUUM FULL``): a deleted row's bytes stay in the table's pages until then. The rewrite
        keeps the row for any transaction older than the erasure, so it waits for those to end first (at most
        :data:`SEEING_WAIT_SECONDS`; one still open then is named in ``lingering``).

        When the client has no key and an earlier ``PersonalDataErased`` is
        stored, nothing is written and the earlier one is returned.
        """
        client = erasure.client
        with self.transaction() as connection:
            # the position lock first: every append that read a key commits before the key goes
            connection.execute("SELECT last FROM position_counter FOR UPDATE")
            (erasing,) = one_row(connection.execute("SELECT pg_current_xact_id()::xid::text"))
            connection.execute("DELETE FROM portfolio_standings")  # they hold the client's name
            done = record_erasure(
                erasure,
                self.personal,
                destroyed=connection.execute("DELETE FROM client_keys WHERE client = %s", (client,)).rowcount > 0,
                earlier=self._decode(
                    connection.execute(
                        f"SELECT {COLUMNS} FROM {_EVENTS} WHERE stream = %s AND type = %s"
                        " ORDER BY version DESC LIMIT 1",
                        (self._key_types, client, PersonalDataErased.TYPE),
                    ).fetchall()
                ),
                append=lambda events: self.append_in(connection, events),
                personal_rows=lambda: connection.execute(
                    "SELECT id, type, data FROM events WHERE stream = %s AND type = ANY(%s) ORDER BY version",
                    (client, self._key_types),
                ),
            )
        if not done.key_destroyed:
            return done
        try:
            with self.direct_connection() as connection:
                seeing = _seeing_deleted(connection, erasing)
                if seeing:
                    return attrs.evolve(
                        done,
                        lingering=f"{seeing} transaction{'s' if seeing != 1 else ''} older than the erasure "
                        f"{'were' if seeing != 1 else 'was'} still open after {SEEING_WAIT_SECONDS:g} s: the destroyed "
                        "key's bytes remain in the pages of client_keys until they end and the table is rewritten "
                        "(VACUUM FULL client_keys)",
                    )
                connection.execute(f"SET lock_timeout = '{VACUUM_LOCK_TIMEOUT}'")
                connection.execute("VACUUM FULL client_keys")
        except (psycopg.Error, StoreError) as error:
            return attrs.evolve(
                done,
                lingering=f"VACUUM FULL client_keys failed ({_one_line(error)}): the destroyed key's bytes may "
                "remain in the table's pages until it is vacuumed",
            )
        return done

    # --- lifetime -----------------------------------------------------------------

    def close(self) -> None:
        """Close this process's pool (a forked child leaves its parent's connections alone)."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r}, schema={self.schema!r})"


def _seeing_deleted(connection: psycopg.Connection, xid: str) -> int:
    """How many of what may still see rows deleted by transaction ``xid`` are left after waiting up to
    :data:`SEEING_WAIT_SECONDS` for them to end."""
    deadline = time.monotonic() + SEEING_WAIT_SECONDS
    while True:
        seeing = int(one_row(connection.execute(_SEEING_DELETED, {"xid": xid}))[0])
        if not seeing or time.monotonic() >= deadline:
            return seeing
        time.sleep(0.05)


def _insert(connection: psycopg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (in position order) and move the position counter to the last one."""
    if len(rows) <= FEW_ROWS:
        connection.execute(_INSERT_FEW, (*(list(column) for column in zip(*rows)), rows[-1][0]))
        return
    with connection.cursor().copy(_COPY) as copy:
        for row in rows:
            copy.write_row(row)
    connection.execute("UPDATE position_counter SET last = %s", (rows[-1][0],))


def _keys(rows: Iterable[tuple[str, str, bytes]]) -> dict[str, ClientKey]:
    return {client: ClientKey(key_id, bytes(secret)) for client, key_id, secret in rows}


def _fresh_and_versions(connection: psycopg.Connection, chunk: list[Event], versions: dict[str, int]) -> list[Event]:
    """The events of ``chunk`` whose id is neither stored nor earlier in it; adds the current version
    (0 for a new stream) of the chunk's streams not in ``versions`` yet. One round trip."""
    ids = [event.id for event in chunk]
    streams = list({event.client for event in chunk} - versions.keys())
    versions.update(dict.fromkeys(streams, 0))
    seen = set()
    rows = connection.execute(
        # joins and index lookups per element: fast whatever the planner's statistics say
        # (``id = ANY(array)`` became a quadratic scan on a freshly grown table)
        "SELECT wanted.id, NULL, NULL FROM unnest(%s::text[]) AS wanted (id) JOIN events USING (id)"
        " UNION ALL SELECT name, name, (SELECT MAX(version) FROM events WHERE stream = name)"
        " FROM unnest(%s::text[]) AS streams (name)",
        (ids, streams),
    )
    for event_id, stream, version in rows:
        if stream is None:
            seen.add(event_id)
        elif version is not None:
            versions[stream] = version
    fresh = []
    for event in chunk:
        if event.id not in seen:
            seen.add(event.id)
            fresh.append(event)
    return fresh
