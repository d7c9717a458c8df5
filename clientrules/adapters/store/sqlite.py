"""The embedded event store: one SQLite file in WAL mode.

Schema (version 10)::

    events(position INTEGER PRIMARY KEY,   -- global, gap-free: max + 1 under SQLite's single writer
           id TEXT UNIQUE, stream TEXT, version INTEGER, UNIQUE(stream, version),
           type TEXT, schema INTEGER, at_key INTEGER, at_text TEXT, data TEXT, recorded_at TEXT)
    meta(key TEXT PRIMARY KEY, value TEXT)
    schema_migrations(version INTEGER PRIMARY KEY, applied_at TEXT)
    client_keys(client TEXT PRIMARY KEY, key_id TEXT, secret BLOB, created_at TEXT)   -- version 2
    client_folds(client TEXT PRIMARY KEY, version INTEGER, format TEXT, data TEXT, written_at TEXT)  -- version 3
    watch_checkpoint, watched_clients, deliveries   -- version 4 (clientrules.adapters.store.sqlite_watch)
    portfolio_standings(only_row, position, ruleset_version, format, data, written_at)   -- version 5
    events_by_invoice: an index of the money events by invoice id                        -- version 6
    kept_moments(only_row, data BLOB, written_at)                                         -- version 7
    client_facts(client TEXT PRIMARY KEY, version INTEGER, format TEXT, data TEXT)        -- version 8
    engine_answers(rules TEXT, standing TEXT, answer TEXT, PRIMARY KEY (rules, standing)) -- version 9
    events_first: an index of each stream's first event (version 1), in the order stored  -- version 10

Triggers make ``events`` append-only: an ``UPDATE`` or ``DELETE`` aborts with
``events are append-only``, whoever issues it. Personal fields are sealed with
their client's key from ``client_keys`` (:mod:`clientrules.domain.privacy`); a key is
never updated, only deleted by an erasure, with ``secure_delete`` on every
connection (freed bytes are zeroed) and a truncating checkpoint afterwards, so
the key's bytes are left neither in the file nor in its write-ahead log.

Writers take the write lock up front (``BEGIN IMMEDIATE``), so a version check
and the insert that follows it see the same stream; waiting writers queue on
``busy_timeout`` and are retried, so "database is locked" never reaches a user.
A rolled-back transaction gives its positions back, so positions stay dense.

``client_folds`` caches each client's fold (:class:`~clientrules.ports.FoldStore`)
and ``client_facts`` its latest computed facts (:class:`~clientrules.ports.FactsStore`):
written in transactions of their own, never by an append, and overwritten
as clients' streams grow. ``engine_answers`` keeps the rules engine's answers by
standing per compiled rule set (:class:`~clientrules.ports.EngineAnswersStore`):
written in transactions of their own too, and never overwritten.

Durability: ``synchronous=NORMAL`` (default) keeps every acknowledged append
through a process crash; ``?synchronous=full`` in the URL also keeps it through
a power loss, at a cost of one fsync per commit.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import parse_qs

import attrs

from clientrules.domain.errors import ConcurrencyError, InvalidEvent, StoreError
from clientrules.domain.events import Event, Instant, PersonalDataErased, Registry, registry as default_registry
from clientrules.domain.money import MONEY_TYPES, MoneyBooks
from clientrules.domain.money.integrity import invoice_of
from clientrules.domain.privacy import ClientKey, Erasure, PersonalFields
from clientrules.adapters.clock import utc_now
from clientrules.ports import AppendResult, ClientSummary, StoredFacts, StoredFold, StoredStandings, StreamTail
from clientrules.adapters.store.erasing import record_erasure
from clientrules.adapters.store.books import KnownInvoices
from clientrules.adapters.store.rows import COLUMNS, decode_rows, encode_data, iter_in_batches
from clientrules.adapters.store.rows import MONEY_TYPES_SQL, read_stream_tails
from clientrules.adapters.store.sqlite_watch import MIGRATION as WATCH_MIGRATION, SqliteWatchTables

BUSY_TIMEOUT_MS = 30_000
#: how long a writer keeps retrying a busy database before giving up with a StoreError
RETRY_SECONDS = 120.0
#: rows per INSERT batch (and ids per lookup: under SQLite's 999-variable limit)
CHUNK = 500
SYNCHRONOUS_LEVELS = ("off", "normal", "full", "extra")
#: write-ahead log pages between automatic checkpoints (SQLite's default is 1,000): a checkpoint copies each page
#: changed since the last once and syncs the file, so with one small transaction per append, checkpointing ten
#: times less often halves an append's cost; the log then grows to about 40 MB before it is copied back and reused
WAL_AUTOCHECKPOINT_PAGES = 10_000

#: version -> its statements; version 1 is the whole schema before client keys
_MIGRATIONS: dict[int, str] = {}
_MIGRATIONS[1] = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    schema INTEGER NOT NULL,
    at_key INTEGER NOT NULL,
    at_text TEXT NOT NULL,
    data TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (stream, version)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (stream, at_key, version);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
"""
_MIGRATIONS[2] = """
CREATE TABLE client_keys (
    client TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    secret BLOB NOT NULL CHECK (length(secret) = 32),
    created_at TEXT NOT NULL
);
CREATE TRIGGER client_keys_no_update BEFORE UPDATE ON client_keys
BEGIN SELECT RAISE(ABORT, 'a client key is never changed, only destroyed'); END;
"""
_MIGRATIONS[3] = """
CREATE TABLE client_folds (
    client TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    format TEXT NOT NULL,
    data TEXT NOT NULL,
    written_at TEXT NOT NULL
);
"""
_MIGRATIONS[4] = WATCH_MIGRATION
_MIGRATIONS[5] = """
CREATE TABLE portfolio_standings (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    position INTEGER NOT NULL,
    ruleset_version INTEGER NOT NULL,
    format TEXT NOT NULL,
    data TEXT NOT NULL,
    written_at TEXT NOT NULL
);
"""
_MIGRATIONS[6] = f"""
CREATE INDEX events_by_invoice ON events (stream, json_extract(data, '$.invoice_id')) WHERE type IN {MONEY_TYPES_SQL};
"""
_MIGRATIONS[7] = """
CREATE TABLE kept_moments (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    data BLOB NOT NULL,
    written_at TEXT NOT NULL
);
"""
_MIGRATIONS[8] = """
CREATE TABLE client_facts (
    client TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    format TEXT NOT NULL,
    data TEXT NOT NULL
);
"""
_MIGRATIONS[9] = """
CREATE TABLE engine_answers (
    rules TEXT NOT NULL,
    standing TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (rules, standing)
) WITHOUT ROWID;
"""
#: each stream's first event (its version 1), in the order stored: the list of clients without grouping every event
_MIGRATIONS[10] = "CREATE INDEX events_first ON events (position, stream, at_key) WHERE version = 1;"
SCHEMA_VERSION = max(_MIGRATIONS)

_INSERT = (
    "INSERT INTO events (id, stream, version, type, schema, at_key, at_text, data, recorded_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_WRITE_FOLD = (
    "INSERT INTO client_folds (client, version, format, data, written_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (client) DO UPDATE SET version = excluded.version, format = excluded.format,"
    " data = excluded.data, written_at = excluded.written_at"
    " WHERE excluded.format <> client_folds.format OR excluded.version >= client_folds.version"
)
_WRITE_STORED_FACTS = (
    "INSERT INTO client_facts (client, version, format, data) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (client) DO UPDATE SET version = excluded.version, format = excluded.format, data = excluded.data"
)
#: a standing kept already keeps its answer
_WRITE_ENGINE_ANSWERS = (
    "INSERT INTO engine_answers (rules, standing, answer) VALUES (?, ?, ?) ON CONFLICT (rules, standing) DO NOTHING"
)
#: the stored facts of the clients of a JSON array in a format, those of their stream's current version only (0: no
#: event, as client_version says): the stream's MAX(version) is one seek in the UNIQUE (stream, version) index per client
READ_STORED_FACTS = (
    "SELECT f.client, f.version, f.format, f.data FROM client_facts f"
    " WHERE f.client IN (SELECT value FROM json_each(?)) AND f.format = ?"
    " AND f.version = (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = f.client)"
)
#: the clients in the order of their first event: the events of version 1, one a stream, read in order from their
#: own partial index (events_first) rather than by grouping every event
CLIENT_IDS = "SELECT stream FROM events WHERE version = 1 AND stream NOT LIKE '$%' ORDER BY position"
#: :data:`CLIENT_IDS` of the clients with an event by a moment (?1): their first event is, or an event back-dated
#: before it is (one seek in events_by_time)
CLIENT_IDS_STARTED_BY = (
    "SELECT stream FROM events f WHERE version = 1 AND stream NOT LIKE '$%' AND (at_key <= ?1"
    " OR EXISTS (SELECT 1 FROM events WHERE events.stream = f.stream AND events.at_key <= ?1)) ORDER BY position"
)

#: each client with its count of events (its stream's version) and its first and last event in time, from its
#: first event stored (events_first) and a few seeks, rather than by grouping every event
CLIENT_SUMMARIES = (
    "SELECT s.stream, (SELECT MAX(version) FROM events WHERE stream = s.stream), a.at_key, a.at_text, z.at_key, z.at_text"
    " FROM events s"
    " JOIN events a ON a.position = (SELECT position FROM events WHERE stream = s.stream ORDER BY at_key, version LIMIT 1)"
    " JOIN events z ON z.position ="
    " (SELECT position FROM events WHERE stream = s.stream ORDER BY at_key DESC, version DESC LIMIT 1)"
    " WHERE s.version = 1 AND s.stream NOT LIKE '$%' ORDER BY s.position"
)

#: the clients with an event after a position, in the order of their first such event. ``+stream``: grouping by the
#: bare column makes SQLite scan the whole (stream, at_key, version) index to group without sorting, every event of
#: the store, rather than only those after the position by the primary key (7.5 ms instead of 0.01 ms for two
#: events of a 180,000-event store)
CHANGED_CLIENTS = (
    "SELECT stream FROM events WHERE position > ? AND stream NOT LIKE '$%' GROUP BY +stream ORDER BY MIN(position)"
)
#: one event appended on its own in one statement (its own transaction): its version is the stream's next, and it is
#: skipped if its id is stored (UNIQUE), if ?9 is given and the stream is at another version, or if ?10 is given and
#: that invoice no longer has ?11 money events (its version is then NULL, which NOT NULL refuses); no row returned:
#: the usual path says which. VALUES, not INSERT ... SELECT FROM events, which SQLite would run through a temporary
#: copy of the rows it selects.
_INSERT_ALONE = (
    "INSERT OR IGNORE INTO events (id, stream, version, type, schema, at_key, at_text, data, recorded_at)"
    " VALUES (?1, ?2, (SELECT CASE WHEN (?9 IS NULL OR COALESCE(MAX(version), 0) = ?9)"
    f" AND (?10 IS NULL OR (SELECT COUNT(*) FROM events WHERE stream = ?2 AND type IN {MONEY_TYPES_SQL}"
    " AND json_extract(data, '$.invoice_id') = ?10) = ?11)"
    " THEN COALESCE(MAX(version), 0) + 1 END FROM events WHERE stream = ?2), ?3, ?4, ?5, ?6, ?7, ?8)"
    " RETURNING version, position"
)
_WRITE_STANDINGS = (
    "INSERT INTO portfolio_standings (only_row, position, ruleset_version, format, data, written_at)"
    " VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (only_row) DO UPDATE SET position = excluded.position,"
    " ruleset_version = excluded.ruleset_version, format = excluded.format, data = excluded.data,"
    " written_at = excluded.written_at WHERE excluded.position >= portfolio_standings.position"
)
_WRITE_KEPT_MOMENTS = (
    "INSERT INTO kept_moments (only_row, data, written_at) VALUES (1, ?, ?)"
    " ON CONFLICT (only_row) DO UPDATE SET data = excluded.data, written_at = excluded.written_at"
)
#: standings decided before an erasure hold the name it erased: they are not written
_ERASED_SINCE = "SELECT EXISTS (SELECT 1 FROM events WHERE position > ? AND type = ?)"

_ID_AND_VERSION = (
    "SELECT EXISTS (SELECT 1 FROM events WHERE id = ?),"
    " (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?)"
)

T = TypeVar("T")


def sqlite_path(url: str) -> tuple[Path, dict[str, str]]:
    """The file and options of ``url``: a plain path, or ``sqlite:///path?synchronous=full``.

    As in SQLAlchemy, ``sqlite:///rel.db`` is relative and ``sqlite:////abs.db`` absolute.
    """
    options: dict[str, str] = {}
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if not rest.startswith("///"):
            raise StoreError(f"{url!r} is not a SQLite URL (sqlite:///relative.db or sqlite:////abs.db)")
        rest, _, query = rest[3:].partition("?")
        for key, values in parse_qs(query, keep_blank_values=True).items():
            options[key] = values[-1]
        url = rest
    if not url or url == ":memory:":
        raise StoreError("the SQLite store needs a file path (an in-memory database cannot be shared)")
    unknown = sorted(set(options) - {"synchronous"})
    if unknown:
        raise StoreError(f"unknown SQLite URL option {unknown[0]!r} (known: synchronous)")
    return Path(url).expanduser(), options


class SqliteStore(SqliteWatchTables):
    """An :class:`~clientrules.ports.EventStore` in one SQLite file.

    Safe to share between threads (each thread gets its own connection) and
    between processes (SQLite's file locks; writers queue and are retried).
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        create: bool = True,
        registry: Registry = default_registry,
    ) -> None:
        self.url = str(url)
        self.path, options = sqlite_path(self.url)
        self.synchronous = options.get("synchronous", "normal").lower()
        if self.synchronous not in SYNCHRONOUS_LEVELS:
            raise StoreError(
                f"synchronous={self.synchronous!r} is not one of {', '.join(SYNCHRONOUS_LEVELS)}"
            )
        if not create and not self.path.exists():
            raise StoreError(f"no database at {self.path} (import events first: clientrules import FILE)")
        self.registry = registry
        self.personal = PersonalFields(registry)
        self._key_types = tuple(sorted(self.personal.types))
        self._key_type_marks = ",".join("?" * len(self._key_types))
        #: events joined to the keys that open them (see clientrules.adapters.store.rows.COLUMNS); takes _key_types first
        self._events = (
            f"events e LEFT JOIN client_keys k ON k.client = e.stream AND e.type IN ({self._key_type_marks})"
        )
        self._local = threading.local()
        #: every open connection: (process id, its thread, connection)
        self._connections: list[tuple[int, weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._invoices = KnownInvoices()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # --- connections ------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            return connection
        if self._closed:
            raise StoreError(f"the store {self.url} is closed")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"cannot open the database {self.path}: {error}") from None
        try:
            self._retry(lambda: self._configure(connection))
        except BaseException:
            connection.close()
            raise
        self._local.connection = connection
        self._local.pid = os.getpid()
        self._remember(connection)
        return connection

    def _remember(self, connection: sqlite3.Connection) -> None:
        """Keep ``connection`` for :meth:`close`, and close those of threads that have ended.

        A server that starts a thread per request would otherwise pile up open files.
        """
        pid = os.getpid()
        with self._lock:
            kept = []
            for owner_pid, thread, other in self._connections:
                owner = thread()
                if owner_pid == pid and (owner is None or not owner.is_alive()):
                    other.close()
                else:
                    kept.append((owner_pid, thread, other))
            kept.append((pid, weakref.ref(threading.current_thread()), connection))
            self._connections = kept

    def _configure(self, connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"cannot put {self.path} in WAL mode (journal_mode is {mode})")
        connection.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
        connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        connection.execute("PRAGMA secure_delete = ON")  # a destroyed key leaves no bytes behind in the file

    def _retry(self, operation: Callable[[], T]) -> T:
        """Run ``operation``, retrying while another process holds the database."""
        deadline = time.monotonic() + RETRY_SECONDS
        pause = 0.005
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as error:
                message = str(error)
                if "locked" not in message and "busy" not in message:
                    raise StoreError(f"database {self.path}: {message}") from None
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"database {self.path} stayed busy for {RETRY_SECONDS:.0f} s; try again"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
            except sqlite3.DatabaseError as error:
                raise StoreError(f"database {self.path}: {error}") from None

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction, retried whole if the database is busy."""
        connection = self._connection()

        def attempt() -> T:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            return result

        return self._retry(attempt)

    def _read(self, sql: str, parameters: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        connection = self._connection()
        return self._retry(lambda: connection.execute(sql, tuple(parameters)).fetchall())

    def _migrate(self) -> None:
        """Create or upgrade the schema; an up-to-date database is only read (no write lock)."""
        if self._schema_version(self._connection()) == SCHEMA_VERSION:
            return

        def migrate(connection: sqlite3.Connection) -> None:
            for version in range(self._schema_version(connection) + 1, SCHEMA_VERSION + 1):
                # split by hand: executescript would commit the transaction
                for statement in _MIGRATIONS[version].split(";\n"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, utc_now().isoformat()),
                )

        self._write(migrate)

    def _schema_version(self, connection: sqlite3.Connection) -> int:
        found = self._retry(
            lambda: connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone()
        )
        current = 0
        if found:
            current = self._retry(
                lambda: connection.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
            ) or 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {current}; this clientrules "
                f"knows up to {SCHEMA_VERSION}: upgrade clientrules"
            )
        return current

    # --- writing ------------------------------------------------------------------

    def append(self, events: Iterable[Event], *, expected_version: int | None = None) -> AppendResult:
        """Store ``events`` in one transaction (see :class:`~clientrules.ports.EventStore`).

        ``events`` may be any iterable, including a generator of unbounded
        length: it is consumed in batches inside the transaction, and if it
        raises, nothing is stored. With ``expected_version``, a batch whose
        events are all stored already is an idempotent retry and succeeds
        without the version check.
        """
        if isinstance(events, (list, tuple)) and len(events) == 1:
            alone = self._append_alone(events[0], expected_version)
            if alone is not None:
                return alone
        if expected_version is not None:
            events = list(events)
            streams = {event.client for event in events}
            if len(streams) > 1:
                raise InvalidEvent("an append with expected_version must hold events of one client")
            if expected_version < 0:
                raise InvalidEvent("must be 0 or more", field="expected_version")
            client = next(iter(streams), None)
            return self._write(lambda c: self._append(c, events, expected_version, client))
        if isinstance(events, (list, tuple)):
            return self._write(lambda c: self._append(c, events, None, None))
        # a one-shot iterable cannot be replayed if the transaction has to be retried
        return self._append_once(events)

    def _append_alone(self, event: Event, expected_version: int | None) -> AppendResult | None:
        """One event without the usual path's lookups, in one statement (its own transaction); a money event is
        checked first against its invoice's money events (:mod:`~clientrules.adapters.store.books`), read just before
        when not known. An event that seals a field (its client's key is read first) goes the usual way. None: not
        stored this way (stored already, another version, refused by the books, or its invoice changed since: the
        usual path tells which)."""
        if self.personal.needs_key(event.payload) or (expected_version is not None and expected_version < 0):
            return None
        connection = self._connection()
        money: tuple[Event, ...] | None = None
        checked: tuple[str | None, int | None] = (None, None)
        if event.payload.TYPE in MONEY_TYPES:
            money = self._invoices.books_allow(
                event, lambda invoice: tuple(self._retry(lambda: self._money_events(connection, [invoice])))
            )
            if money is None:
                return None
            checked = (invoice_of(event), len(money))
        payload_type = type(event.payload)
        row = (
            event.id,
            event.client,
            payload_type.TYPE,
            payload_type.SCHEMA,
            event.at.key,
            event.at.text,
            encode_data(event, self.registry, self.personal, {}),
            utc_now().isoformat(),
            expected_version,
            *checked,
        )
        stored = self._retry(lambda: connection.execute(_INSERT_ALONE, row).fetchall())
        if money is not None:
            self._invoices.after_append(event, money, bool(stored))
        if not stored:
            return None
        ((version, position),) = stored
        return AppendResult(1, 0, version, position)

    def _append_once(self, events: Iterable[Event]) -> AppendResult:
        connection = self._connection()
        self._retry(lambda: connection.execute("BEGIN IMMEDIATE"))
        try:
            result = self._append(connection, events, None, None)
            self._retry(lambda: connection.execute("COMMIT"))
        except BaseException as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise StoreError(f"database {self.path}: {error}") from None
            raise
        return result

    def _append(
        self,
        connection: sqlite3.Connection,
        events: Iterable[Event],
        expected_version: int | None,
        client: str | None,
    ) -> AppendResult:
        versions: dict[str, int] = {}
        streams: set[str] = set()
        stored = already_present = 0
        recorded_at = utc_now().isoformat()
        keys: dict[str, ClientKey] = {}
        last_position: int | None = None
        iterator = iter(events)
        checked = expected_version is None
        books = MoneyBooks(lambda invoices: self._money_events(connection, invoices))
        while chunk := list(itertools.islice(iterator, CHUNK)):
            streams.update(event.client for event in chunk)
            fresh = self._fresh(connection, chunk, versions)
            already_present += len(chunk) - len(fresh)
            if not fresh:
                continue
            if not checked:
                assert client is not None and expected_version is not None, "append checks a version for one client"
                actual = self._version(connection, client, versions)
                if actual != expected_version:
                    raise ConcurrencyError(client, expected_version, actual)
                checked = True
            books.check(fresh)
            needed = self.personal.clients_needing_keys(fresh) - keys.keys()
            if needed:
                keys.update(self._keys_for_writing(connection, needed))
            rows = []
            for event in fresh:
                version = self._version(connection, event.client, versions) + 1
                versions[event.client] = version
                payload_type = type(event.payload)
                rows.append(
                    (
                        event.id,
                        event.client,
                        version,
                        payload_type.TYPE,
                        payload_type.SCHEMA,
                        event.at.key,
                        event.at.text,
                        encode_data(event, self.registry, self.personal, keys),
                        recorded_at,
                    )
                )
            if len(rows) == 1:  # execute tells the position it gave; executemany does not
                last_position = connection.execute(_INSERT, rows[0]).lastrowid
            else:
                connection.executemany(_INSERT, rows)
                last_position = None
            stored += len(rows)
        books.finish()
        if stored and last_position is None:
            last_position = connection.execute("SELECT MAX(position) FROM events").fetchone()[0]
        stream_version = None
        if client is not None or len(streams) == 1:
            stream_version = self._version(connection, client or streams.pop(), versions)
        return AppendResult(stored, already_present, stream_version, last_position)

    def _money_events(self, connection: sqlite3.Connection, invoices: Collection[tuple[str, str]]) -> list[Event]:
        """The money events stored for ``invoices`` (client, invoice id), read in the appending transaction, or before
        one event's append that finds as many (:mod:`~clientrules.adapters.store.books`)."""
        rows = connection.execute(
            f"SELECT {COLUMNS} FROM json_each(?) w JOIN events e ON e.stream = json_extract(w.value, '$[0]')"
            f" AND e.type IN {MONEY_TYPES_SQL}"
            " AND json_extract(e.data, '$.invoice_id') = json_extract(w.value, '$[1]')"
            f" LEFT JOIN client_keys k ON k.client = e.stream AND e.type IN ({self._key_type_marks})",
            (json.dumps(sorted(invoices)), *self._key_types),
        ).fetchall()
        return self._decode(rows)

    @staticmethod
    def _keys_for_writing(connection: sqlite3.Connection, clients: set[str]) -> dict[str, ClientKey]:
        """The keys of ``clients``, those without one given a new one in the appending transaction."""
        keys = _select_keys(connection, clients)
        new = {client: ClientKey.generate() for client in clients - keys.keys()}
        connection.executemany(
            "INSERT INTO client_keys (client, key_id, secret, created_at) VALUES (?, ?, ?, ?)",
            [(client, key.id, key.secret, utc_now().isoformat()) for client, key in new.items()],
        )
        return {**keys, **new}

    @staticmethod
    def _fresh(connection: sqlite3.Connection, chunk: list[Event], versions: dict[str, int]) -> list[Event]:
        """The events of ``chunk`` whose id is neither stored (earlier chunks included) nor earlier in it.

        For a chunk of one event (the most common append), the same statement
        puts its client's version in ``versions``.
        """
        if len(chunk) == 1:
            event = chunk[0]
            present, versions[event.client] = connection.execute(_ID_AND_VERSION, (event.id, event.client)).fetchone()
            return [] if present else chunk
        ids = [event.id for event in chunk]
        marks = ",".join("?" * len(ids))
        seen = {row[0] for row in connection.execute(f"SELECT id FROM events WHERE id IN ({marks})", ids)}
        fresh = []
        for event in chunk:
            if event.id not in seen:
                seen.add(event.id)
                fresh.append(event)
        return fresh

    @staticmethod
    def _version(connection: sqlite3.Connection, stream: str, versions: dict[str, int]) -> int:
        if stream not in versions:
            versions[stream] = connection.execute(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?", (stream,)
            ).fetchone()[0]
        return versions[stream]

    def put_meta_if_absent(self, key: str, value: str) -> str:
        def put(connection: sqlite3.Connection) -> str:
            connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return str(connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

        return self._write(put)

    def write_folds(self, folds: Iterable[StoredFold]) -> int:
        """Store ``folds`` in one transaction of their own (see :class:`~clientrules.ports.FoldStore`)."""
        written_at = utc_now().isoformat()
        rows = [(fold.client, fold.version, fold.format, fold.data, written_at) for fold in folds]
        if not rows:
            return 0
        return self._write(lambda connection: connection.executemany(_WRITE_FOLD, rows).rowcount)

    def write_stored_facts(self, facts: Iterable[StoredFacts]) -> int:
        """Store ``facts`` in one transaction of their own (see :class:`~clientrules.ports.FactsStore`)."""
        rows = [(stored.client, stored.version, stored.format, stored.data) for stored in facts]
        if not rows:
            return 0
        return self._write(lambda connection: connection.executemany(_WRITE_STORED_FACTS, rows).rowcount)

    def write_engine_answers(self, rules: str, answers: Mapping[str, str]) -> int:
        """Keep ``answers`` in one transaction of their own, those of standings kept already left as they are (see
        :class:`~clientrules.ports.EngineAnswersStore`); how many were new."""
        rows = [(rules, standing, answer) for standing, answer in answers.items()]
        if not rows:
            return 0
        return self._write(lambda connection: connection.executemany(_WRITE_ENGINE_ANSWERS, rows).rowcount)

    def write_standings(self, standings: StoredStandings) -> bool:
        """Replace the stored standings unless they are of a later position (see :class:`~clientrules.ports.StandingsStore`)."""
        row = (standings.position, standings.ruleset_version, standings.format, standings.data, utc_now().isoformat())

        def write(connection: sqlite3.Connection) -> bool:
            if connection.execute(_ERASED_SINCE, (standings.position, PersonalDataErased.TYPE)).fetchone()[0]:
                return False
            return connection.execute(_WRITE_STANDINGS, row).rowcount > 0

        return bool(self._write(write))

    def write_kept_moments(self, data: bytes) -> None:
        """Replace the kept moments (see :class:`~clientrules.ports.KeptMomentsStore`)."""
        row = (data, utc_now().isoformat())
        self._write(lambda connection: connection.execute(_WRITE_KEPT_MOMENTS, row))

    # --- reading ------------------------------------------------------------------

    def read_client(
        self, client: str, *, until: Instant | None = None, after_version: int = 0
    ) -> list[Event]:
        sql = f"SELECT {COLUMNS} FROM {self._events} WHERE stream = ?"
        parameters: list[Any] = [*self._key_types, client]
        if after_version:  # without it, the index in time order serves the whole read: no sort
            sql += " AND version > ?"
            parameters.append(after_version)
        if until is not None:
            sql += " AND at_key <= ?"
            parameters.append(until.key)
        return self._decode(self._read(sql + " ORDER BY at_key, version", parameters))

    def read_folds(self, clients: Sequence[str], *, format: str) -> Iterator[StreamTail]:
        """Clients' stored folds and the events after them: two statements per :data:`CHUNK` clients."""
        return read_stream_tails(
            clients,
            format,
            chunk=CHUNK,
            folds_of=lambda wanted: self._read(
                "SELECT client, version, format, data FROM client_folds WHERE client IN (SELECT value FROM json_each(?))",
                (json.dumps(wanted),),
            ),
            events_after=lambda wanted, versions: self._decode(
                self._read(
                    f"SELECT {COLUMNS} FROM json_each(?) w JOIN events e"
                    " ON e.stream = json_extract(w.value, '$[0]') AND e.version > json_extract(w.value, '$[1]')"
                    f" LEFT JOIN client_keys k ON k.client = e.stream AND e.type IN ({self._key_type_marks})",
                    (json.dumps(list(zip(wanted, versions))), *self._key_types),
                )
            ),
        )

    def read_stored_facts(self, clients: Sequence[str], *, format: str) -> dict[str, StoredFacts]:
        """Clients' stored facts of their stream's current version: one statement per :data:`CHUNK` clients."""
        found: dict[str, StoredFacts] = {}
        for start in range(0, len(clients), CHUNK):
            wanted = json.dumps(list(clients[start : start + CHUNK]))
            found.update((row[0], StoredFacts(*row)) for row in self._read(READ_STORED_FACTS, (wanted, format)))
        return found

    def read_engine_answers(self, rules: str) -> dict[str, str]:
        """Every answer kept for ``rules``: one statement."""
        return dict(self._read("SELECT standing, answer FROM engine_answers WHERE rules = ?", (rules,)))

    def client_version(self, client: str) -> int:
        return int(self._read("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?", (client,))[0][0])

    def client_versions(self, clients: Collection[str]) -> dict[str, int]:
        rows = self._read(
            "SELECT w.value, (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = w.value) FROM json_each(?) w",
            (json.dumps(list(clients)),),
        )
        return {client: int(version) for client, version in rows}

    def read_all(self, *, after_position: int = 0, limit: int | None = None) -> list[Event]:
        return self._decode(
            self._read(
                f"SELECT {COLUMNS} FROM {self._events} WHERE position > ? ORDER BY position LIMIT ?",
                (*self._key_types, after_position, -1 if limit is None else limit),
            )
        )

    def iter_all(self, *, after_position: int = 0, batch: int = 10_000) -> Iterator[Event]:
        return iter_in_batches(self.read_all, after_position=after_position, batch=batch)

    def iter_types(self, types: Collection[str], *, batch: int = 10_000) -> Iterator[Event]:
        wanted = json.dumps(sorted(types))

        def read(*, after_position: int, limit: int) -> list[Event]:
            return self._decode(
                self._read(
                    f"SELECT {COLUMNS} FROM {self._events} WHERE e.type IN (SELECT value FROM json_each(?))"
                    " AND e.position > ? ORDER BY e.position LIMIT ?",
                    (*self._key_types, wanted, after_position, limit),
                )
            )

        return iter_in_batches(read, after_position=0, batch=batch)

    def head_position(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(position), 0) FROM events")[0][0])

    def clients(self) -> list[ClientSummary]:
        """Client streams in the order their first event was stored."""
        rows = self._read(CLIENT_SUMMARIES)
        return [
            ClientSummary(
                stream, count, Instant.from_key(first_key, first_text), Instant.from_key(last_key, last_text)
            )
            for stream, count, first_key, first_text, last_key, last_text in rows
        ]

    def client_ids(self, *, started_by: Instant | None = None) -> list[str]:
        sql = CLIENT_IDS
        parameters: tuple[int, ...] = ()
        if started_by is not None:
            sql = CLIENT_IDS_STARTED_BY
            parameters = (started_by.key,)
        connection = self._connection()
        # one row at a time from the cursor: no list of every row beside the list of ids
        return self._retry(lambda: [row[0] for row in connection.execute(sql, parameters)])

    def changed_clients(self, after_position: int) -> list[str]:
        rows = self._read(CHANGED_CLIENTS, (after_position,))
        return [row[0] for row in rows]

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def read_standings(self) -> StoredStandings | None:
        rows = self._read("SELECT position, ruleset_version, format, data FROM portfolio_standings")
        return StoredStandings(*rows[0]) if rows else None

    def read_kept_moments(self) -> bytes | None:
        rows = self._read("SELECT data FROM kept_moments")
        return bytes(rows[0][0]) if rows else None

    def client_keys(self, clients: Collection[str]) -> dict[str, ClientKey]:
        """The keys of those of ``clients`` that have one (:class:`~clientrules.domain.privacy.KeyStore`)."""
        return self._retry(lambda: _select_keys(self._connection(), clients))

    def _decode(self, rows: list[tuple[Any, ...]]) -> list[Event]:
        return decode_rows(rows, self.registry, self.personal)

    # --- erasing ------------------------------------------------------------------

    def erase(self, erasure: Event) -> Erasure:
        """Destroy the key of ``erasure``'s client and append ``erasure`` in one transaction.

        When the client has no key and an earlier ``PersonalDataErased`` is
        stored, nothing is written and the earlier one is returned. Then a
        truncating checkpoint copies the zeroed page into the file and empties
        the write-ahead log, where the key's bytes would otherwise remain.
        """
        client = erasure.client

        def erase(connection: sqlite3.Connection) -> Erasure:
            connection.execute("DELETE FROM portfolio_standings")  # they hold the client's name
            return record_erasure(
                erasure,
                self.personal,
                destroyed=connection.execute("DELETE FROM client_keys WHERE client = ?", (client,)).rowcount > 0,
                earlier=self._decode(
                    connection.execute(
                        f"SELECT {COLUMNS} FROM {self._events} WHERE stream = ? AND type = ?"
                        " ORDER BY version DESC LIMIT 1",
                        (*self._key_types, client, PersonalDataErased.TYPE),
                    ).fetchall()
                ),
                append=lambda events: self._append(connection, events, None, None),
                personal_rows=lambda: connection.execute(
                    f"SELECT id, type, data FROM events WHERE stream = ? AND type IN ({self._key_type_marks})"
                    " ORDER BY version",
                    (client, *self._key_types),
                ),
            )

        done = self._write(erase)
        if not done.key_destroyed:
            return done
        busy, _, _ = self._retry(lambda: self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
        if busy:
            return attrs.evolve(
                done,
                lingering=f"another connection was reading {self.path}: the destroyed key's bytes may remain "
                f"in {self.path.name}-wal until its next checkpoint",
            )
        return done

    # --- lifetime -----------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened in this process (a forked child leaves its parent's), but
        those of other threads still running: closing a connection while another thread reads from it can
        crash the process. Such a thread (a build in the background) gets a :class:`StoreError` at its next
        read, and its connection is closed when it lets go of it."""
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        this = threading.current_thread()
        for pid, thread, connection in connections:
            owner = thread()
            if pid == os.getpid() and (owner is None or owner is this or not owner.is_alive()):
                connection.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SqliteStore({self.url!r})"


def _select_keys(connection: sqlite3.Connection, clients: Collection[str]) -> dict[str, ClientKey]:
    keys = {}
    wanted = list(clients)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        for client, key_id, secret in connection.execute(
            f"SELECT client, key_id, secret FROM client_keys WHERE client IN ({marks})", chunk
        ):
            keys[client] = ClientKey(key_id, secret)
    return keys
