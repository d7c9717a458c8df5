"""An event store of plain Python objects, in this process's memory (``memory:``): for tests and trials.

Like ``eventsourcing``'s POPO recorders, it keeps every guarantee of the
store contract (:mod:`clientrules.ports`) that does not need a disk:
append-only streams, per-client versions with optimistic concurrency, dense
global positions, idempotent appends by id, all-or-nothing batches, personal
fields sealed with their client's key and read as erased once it is
destroyed, the folds, stored facts and engine answers, the watcher's state
and the delivery outbox. Events are kept as the database backends keep their
rows (:mod:`clientrules.adapters.store.rows`), so what is read back is
exactly what SQLite or PostgreSQL would give.

Nothing outlives the store object: another process, or another
``Ledger.open("memory:")``, sees an empty store of its own.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Collection, Iterable, Iterator, Mapping, Sequence

import attrs

from clientrules.adapters.clock import utc_now
from clientrules.adapters.store.erasing import record_erasure
from clientrules.adapters.store.rows import decode_rows, encode_data, iter_in_batches, read_stream_tails
from clientrules.domain.errors import ConcurrencyError, InvalidEvent
from clientrules.domain.events import DecisionChanged, Event, Instant, PersonalDataErased, Registry
from clientrules.domain.events import registry as default_registry
from clientrules.domain.money import MONEY_TYPES, MoneyBooks
from clientrules.domain.privacy import ClientKey, Erasure, PersonalFields
from clientrules.ports import (
    AppendResult,
    ClientSummary,
    DeliveryRow,
    NewDelivery,
    StoredFacts,
    StoredFold,
    StoredStandings,
    StreamTail,
    WatchCheckpoint,
    Watched,
    WatcherBusy,
)

URL = "memory:"


@attrs.frozen
class _Row:
    """One stored event, as the database backends store it."""

    position: int
    id: str
    stream: str
    version: int
    type: str
    schema: int
    at_key: int
    at_text: str
    data: str


class MemoryLease:
    """The watch lease of one in-memory store."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        with self._store._appended:
            return self._store._appended.wait_for(lambda: self._store.head_position() > after_position, timeout)

    def release(self) -> None:
        self._store._release_lease(self)


class MemoryStore:
    """An :class:`~clientrules.ports.EventStore` of Python lists and dicts. Safe to share between threads."""

    def __init__(self, url: str = URL, *, registry: Registry = default_registry) -> None:
        self.url = url
        self.registry = registry
        self.personal = PersonalFields(registry)
        self._lock = threading.RLock()
        self._appended = threading.Condition(self._lock)
        self._rows: list[_Row] = []
        self._ids: set[str] = set()
        self._streams: dict[str, list[_Row]] = {}
        self._keys: dict[str, ClientKey] = {}
        self._meta: dict[str, str] = {}
        self._folds: dict[str, StoredFold] = {}
        self._facts: dict[str, StoredFacts] = {}
        #: rules -> standing -> answer
        self._engine_answers: dict[str, dict[str, str]] = {}
        self._standings: StoredStandings | None = None
        self._kept_moments: bytes | None = None
        self._lease: MemoryLease | None = None
        self._checkpoint: WatchCheckpoint | None = None
        self._watched: dict[str, Watched] = {}
        self._deliveries: list[DeliveryRow] = []

    # --- writing ------------------------------------------------------------------

    def append(self, events: Iterable[Event], *, expected_version: int | None = None) -> AppendResult:
        """Store ``events`` all or nothing (see :class:`~clientrules.ports.EventStore`)."""
        if expected_version is not None:
            events = list(events)
            if len({event.client for event in events}) > 1:
                raise InvalidEvent("an append with expected_version must hold events of one client")
            if expected_version < 0:
                raise InvalidEvent("must be 0 or more", field="expected_version")
        with self._lock:
            return self._append(events, expected_version)

    def _append(self, events: Iterable[Event], expected_version: int | None) -> AppendResult:
        """Stage every event, then store them at once: an error on the way (a bad event, a generator that raises) stores nothing."""
        staged: list[_Row] = []
        seen: set[str] = set()
        versions: dict[str, int] = {}
        streams: set[str] = set()
        keys: dict[str, ClientKey] = {}
        already_present = 0
        books = MoneyBooks(self._money_events)
        for event in events:
            streams.add(event.client)
            if event.id in self._ids or event.id in seen:
                already_present += 1
                continue
            books.check([event])
            if expected_version is not None and not staged:
                actual = self.client_version(event.client)
                if actual != expected_version:
                    raise ConcurrencyError(event.client, expected_version, actual)
            seen.add(event.id)
            for client in self.personal.clients_needing_keys([event]) - keys.keys():
                keys[client] = self._keys.get(client) or ClientKey.generate()
            version = versions[event.client] = versions.get(event.client, self.client_version(event.client)) + 1
            payload_type = type(event.payload)
            staged.append(
                _Row(
                    len(self._rows) + len(staged) + 1,
                    event.id,
                    event.client,
                    version,
                    payload_type.TYPE,
                    payload_type.SCHEMA,
                    event.at.key,
                    event.at.text,
                    encode_data(event, self.registry, self.personal, keys),
                )
            )
        books.finish()
        self._keys.update(keys)
        for row in staged:
            self._rows.append(row)
            self._ids.add(row.id)
            self._streams.setdefault(row.stream, []).append(row)
        self._appended.notify_all()
        stream_version = self.client_version(next(iter(streams))) if len(streams) == 1 else None
        return AppendResult(len(staged), already_present, stream_version, staged[-1].position if staged else None)

    def _money_events(self, invoices: Collection[tuple[str, str]]) -> list[Event]:
        """The money events stored for the clients of ``invoices``, every invoice of theirs (the caller holds the lock)."""
        clients = {client for client, _ in invoices}
        rows = [row for client in clients for row in self._streams.get(client, ()) if row.type in MONEY_TYPES]
        return self._decode(rows)

    def put_meta_if_absent(self, key: str, value: str) -> str:
        with self._lock:
            return self._meta.setdefault(key, value)

    def write_folds(self, folds: Iterable[StoredFold]) -> int:
        """Store ``folds``: each replaces its client's unless that one is in the same format and has seen more."""
        written = 0
        with self._lock:
            for fold in folds:
                kept = self._folds.get(fold.client)
                if kept is None or kept.format != fold.format or fold.version >= kept.version:
                    self._folds[fold.client] = fold
                    written += 1
        return written

    def write_stored_facts(self, facts: Iterable[StoredFacts]) -> int:
        """Store ``facts``, each replacing its client's."""
        written = 0
        with self._lock:
            for stored in facts:
                self._facts[stored.client] = stored
                written += 1
        return written

    def write_engine_answers(self, rules: str, answers: Mapping[str, str]) -> int:
        """Keep ``answers`` for ``rules``, those of standings kept already left as they are; how many were new."""
        with self._lock:
            kept = self._engine_answers.setdefault(rules, {})
            new = {standing: answer for standing, answer in answers.items() if standing not in kept}
            kept.update(new)
        return len(new)

    def read_engine_answers(self, rules: str) -> dict[str, str]:
        with self._lock:
            return dict(self._engine_answers.get(rules, {}))

    def write_standings(self, standings: StoredStandings) -> bool:
        with self._lock:
            later = self._standings is not None and standings.position < self._standings.position
            erased_since = any(row.type == PersonalDataErased.TYPE for row in self._rows[standings.position:])
            if later or erased_since:
                return False
            self._standings = standings
            return True

    def read_standings(self) -> StoredStandings | None:
        with self._lock:
            return self._standings

    def write_kept_moments(self, data: bytes) -> None:
        with self._lock:
            self._kept_moments = data

    def read_kept_moments(self) -> bytes | None:
        with self._lock:
            return self._kept_moments

    # --- reading ------------------------------------------------------------------

    def read_client(self, client: str, *, until: Instant | None = None, after_version: int = 0) -> list[Event]:
        with self._lock:
            rows = [
                row
                for row in self._streams.get(client, ())
                if row.version > after_version and (until is None or row.at_key <= until.key)
            ]
        return self._decode(sorted(rows, key=lambda row: (row.at_key, row.version)))

    def read_folds(self, clients: Sequence[str], *, format: str) -> Iterator[StreamTail]:
        return read_stream_tails(
            clients,
            format,
            chunk=len(clients) or 1,
            folds_of=self._folds_of,
            events_after=self._events_after,
        )

    def _folds_of(self, clients: list[str]) -> list[tuple[str, int, str, str]]:
        with self._lock:
            found = [self._folds[client] for client in clients if client in self._folds]
        return [(fold.client, fold.version, fold.format, fold.data) for fold in found]

    def _events_after(self, clients: list[str], versions: list[int]) -> list[Event]:
        with self._lock:
            rows = [
                row for client, version in zip(clients, versions) for row in self._streams.get(client, ()) if row.version > version
            ]
        return self._decode(rows)

    def read_stored_facts(self, clients: Sequence[str], *, format: str) -> dict[str, StoredFacts]:
        with self._lock:
            return {
                client: stored
                for client in clients
                if (stored := self._facts.get(client)) is not None
                and stored.format == format
                and stored.version == len(self._streams.get(client, ()))
            }

    def client_version(self, client: str) -> int:
        with self._lock:
            return len(self._streams.get(client, ()))

    def client_versions(self, clients: Collection[str]) -> dict[str, int]:
        with self._lock:
            return {client: len(self._streams.get(client, ())) for client in clients}

    def read_all(self, *, after_position: int = 0, limit: int | None = None) -> list[Event]:
        with self._lock:
            rows = self._rows[after_position : None if limit is None else after_position + limit]
        return self._decode(rows)

    def iter_all(self, *, after_position: int = 0, batch: int = 10_000) -> Iterator[Event]:
        return iter_in_batches(self.read_all, after_position=after_position, batch=batch)

    def iter_types(self, types: Collection[str], *, batch: int = 10_000) -> Iterator[Event]:
        wanted = set(types)

        def read(*, after_position: int, limit: int) -> list[Event]:
            with self._lock:
                after = itertools.islice(self._rows, after_position, None)
                rows = list(itertools.islice((row for row in after if row.type in wanted), limit))
            return self._decode(rows)

        return iter_in_batches(read, after_position=0, batch=batch)

    def head_position(self) -> int:
        with self._lock:
            return len(self._rows)

    def clients(self) -> list[ClientSummary]:
        """Client streams in the order their first event was stored."""
        summaries = []
        with self._lock:
            streams = [(client, list(rows)) for client, rows in self._streams.items() if not client.startswith("$")]
        for client, rows in streams:
            first = min(rows, key=lambda row: (row.at_key, row.version))
            last = max(rows, key=lambda row: (row.at_key, row.version))
            summaries.append(
                ClientSummary(
                    client, len(rows), Instant.from_key(first.at_key, first.at_text), Instant.from_key(last.at_key, last.at_text)
                )
            )
        return summaries

    def client_ids(self, *, started_by: Instant | None = None) -> list[str]:
        with self._lock:
            return [
                client
                for client, rows in self._streams.items()
                if not client.startswith("$") and (started_by is None or min(row.at_key for row in rows) <= started_by.key)
            ]

    def changed_clients(self, after_position: int) -> list[str]:
        with self._lock:
            changed = dict.fromkeys(row.stream for row in self._rows[after_position:] if not row.stream.startswith("$"))
        return list(changed)

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta.get(key)

    def client_keys(self, clients: Collection[str]) -> dict[str, ClientKey]:
        with self._lock:
            return {client: self._keys[client] for client in clients if client in self._keys}

    def _decode(self, rows: Sequence[_Row]) -> list[Event]:
        """Events from rows, each sealed field opened with its client's key as it is now (none once erased)."""
        types = self.personal.types
        with self._lock:
            keys = {row.stream: self._keys.get(row.stream) for row in rows if row.type in types}
        columns: list[tuple[Any, ...]] = []
        for row in rows:
            key = keys.get(row.stream) if row.type in types else None
            columns.append(
                (
                    row.position,
                    row.id,
                    row.stream,
                    row.version,
                    row.type,
                    row.schema,
                    row.at_key,
                    row.at_text,
                    row.data,
                    None if key is None else key.id,
                    None if key is None else key.secret,
                )
            )
        return decode_rows(columns, self.registry, self.personal)

    # --- erasing ------------------------------------------------------------------

    def erase(self, erasure: Event) -> Erasure:
        """Destroy the key of ``erasure``'s client and append ``erasure``, at once."""
        client = erasure.client
        with self._lock:
            rows = self._streams.get(client, [])
            earlier = [row for row in rows if row.type == PersonalDataErased.TYPE][-1:]
            self._standings = None  # they hold the client's name
            return record_erasure(
                erasure,
                self.personal,
                destroyed=self._keys.pop(client, None) is not None,
                earlier=self._decode(earlier),
                append=lambda events: self._append(events, None),
                personal_rows=lambda: [(row.id, row.type, row.data) for row in rows if row.type in self.personal.types],
            )

    # --- the watcher's state --------------------------------------------------------

    def watch_lease(self) -> MemoryLease:
        with self._lock:
            if self._lease is not None:
                raise WatcherBusy(f"another watcher is running on {self.url}")
            self._lease = MemoryLease(self)
            return self._lease

    def _release_lease(self, lease: MemoryLease) -> None:
        with self._lock:
            if self._lease is lease:
                self._lease = None

    def watch_checkpoint(self) -> WatchCheckpoint | None:
        with self._lock:
            return self._checkpoint

    def touched_clients(self, after_position: int, until_position: int) -> list[str]:
        with self._lock:
            rows = self._rows[after_position:until_position]
        touched = dict.fromkeys(
            row.stream for row in rows if row.type != DecisionChanged.TYPE and not row.stream.startswith("$")
        )
        return list(touched)

    def due_clients(self, moment_key: int) -> list[str]:
        with self._lock:
            due = [(seen.due_key, client) for client, seen in self._watched.items() if seen.due_key is not None]
        return [client for due_key, client in sorted(due, key=lambda pair: pair[0]) if due_key <= moment_key]

    def watched(self, clients: Collection[str]) -> dict[str, Watched]:
        with self._lock:
            return {client: self._watched[client] for client in clients if client in self._watched}

    def commit_watch(
        self,
        *,
        expected: WatchCheckpoint | None,
        checkpoint: WatchCheckpoint | None,
        watched: Mapping[str, Watched],
        changes: Sequence[Event],
        deliveries: Sequence[NewDelivery],
    ) -> None:
        with self._lock:
            WatcherBusy.unless_at(expected, self._checkpoint)
            if changes:
                self._append(changes, None)
            self._watched.update(watched)
            known = {(row.change_id, row.channel) for row in self._deliveries}
            for new in deliveries:
                if (new.change_id, new.channel) not in known:
                    known.add((new.change_id, new.channel))
                    self._deliveries.append(
                        DeliveryRow(
                            len(self._deliveries) + 1, new.change_id, new.channel, new.client, new.body, 0,
                            utc_now().isoformat(), new.due_key, None, None,
                        )
                    )
            if checkpoint is not None:
                self._checkpoint = checkpoint

    def decision_changes(self, *, since_key: int | None = None, client: str | None = None) -> list[Event]:
        with self._lock:
            rows = [
                row
                for row in self._rows
                if row.type == DecisionChanged.TYPE
                and (client is None or row.stream == client)
                and (since_key is None or row.at_key >= since_key)
            ]
        return self._decode(sorted(rows, key=lambda row: (row.at_key, row.position)))

    # --- the delivery outbox --------------------------------------------------------

    def due_deliveries(self, now_key: int, channels: Collection[str], *, limit: int = 1_000) -> list[DeliveryRow]:
        with self._lock:
            due = (
                row
                for row in self._deliveries
                if row.delivered_at is None and row.next_attempt_key <= now_key and row.channel in channels
            )
            return list(itertools.islice(due, limit))

    def deliveries_of(self, change_ids: Collection[str]) -> list[DeliveryRow]:
        wanted = set(change_ids)
        with self._lock:
            return [row for row in self._deliveries if row.change_id in wanted]

    def settle_delivery(
        self, delivery_id: int, *, delivered_at: str | None, error: str | None, next_attempt_key: int
    ) -> None:
        with self._lock:
            row = self._deliveries[delivery_id - 1]
            self._deliveries[delivery_id - 1] = attrs.evolve(
                row,
                attempts=row.attempts + 1,
                delivered_at=delivered_at,
                last_error=error if error is not None else row.last_error,
                next_attempt_key=next_attempt_key,
            )

    # --- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        """Nothing to release: the events live as long as this object."""

    def __repr__(self) -> str:
        return f"MemoryStore({self.url!r})"
