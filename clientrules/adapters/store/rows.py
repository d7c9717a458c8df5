"""Stored rows to events and back, shared by the backends: personal fields sealed on the way in, opened on the way out."""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import orjson

from clientrules.application.collector import collector_held
from clientrules.domain.events import Event, Instant, Registry
from clientrules.domain.events.door import admitted_json
from clientrules.domain.money import MONEY_TYPES
from clientrules.domain.privacy import ClientKey, PersonalFields
from clientrules.ports import StoredFold, StreamTail

#: what every backend selects to read events, from ``events e`` left-joined to ``client_keys k`` on the
#: event's client where its type has personal fields: in one statement, so a key and the events it opens
#: are read from the same snapshot
COLUMNS = "e.position, e.id, e.stream, e.version, e.type, e.schema, e.at_key, e.at_text, e.data, k.key_id, k.secret"
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
#: the money types as an SQL list of literals, written the same in the partial index over invoice ids and in the
#: queries that must use it (a database uses a partial index only for a query naming the same literal condition)
MONEY_TYPES_SQL = "(" + ", ".join(f"'{name}'" for name in sorted(MONEY_TYPES)) + ")"
#: 19 digits in a row: an integer orjson might not read exactly (it reads one beyond 64 bits as a float)
_LONG_DIGITS = re.compile(r"\d{19}")


def encode_data(event: Event, registry: Registry, personal: PersonalFields, keys: Mapping[str, ClientKey]) -> str:
    """The ``data`` column of ``event``: its payload as JSON, personal values sealed with their client's key.

    Raises :class:`~clientrules.domain.errors.InvalidEvent` for an event the door refuses
    (:func:`~clientrules.domain.events.door.admitted_json`), so that every export can be imported again.
    """
    data, text = admitted_json(event, registry)
    if not personal.needs_key(event.payload):
        return text
    return _COMPACT_JSON.encode(personal.seal(event, data, keys))


def decode_rows(rows: Sequence[tuple[Any, ...]], registry: Registry, personal: PersonalFields) -> list[Event]:
    """Events from rows of :data:`COLUMNS`, without validating them again (they were when appended).

    A sealed field opens with the key read in its row; without one (the key
    was destroyed) it reads as erased. The events are objects in no cycle: they
    are made with the cyclic garbage collector held off
    (:mod:`~clientrules.application.collector`).
    """
    with collector_held():
        return _decoded(rows, registry, personal)


def _decoded(rows: Sequence[tuple[Any, ...]], registry: Registry, personal: PersonalFields) -> list[Event]:
    restore_payload = registry.restore
    restore_event = Event.restore
    long_digits = _LONG_DIGITS.search
    personal_types = personal.types
    instants: dict[int, Instant] = {}  # events of one stream often share a moment
    keys: dict[str, ClientKey] = {}
    events = []
    for position, event_id, stream, version, type_name, schema, at_key, at_text, text, key_id, secret in rows:
        at = instants.get(at_key)
        if at is None or at.text != at_text:
            at = instants[at_key] = Instant.from_key(at_key, at_text)
        data = json.loads(text) if long_digits(text) else orjson.loads(text)
        if type_name in personal_types and personal.is_sealed(type_name, data):
            key = None
            if key_id is not None:
                key = keys.get(key_id) or keys.setdefault(key_id, ClientKey(key_id, bytes(secret)))
            personal.open(event_id, type_name, data, key)
        events.append(restore_event(stream, at, restore_payload(type_name, data, schema), event_id, version, position))
    return events


def read_stream_tails(
    clients: Sequence[str],
    format: str,
    *,
    chunk: int,
    folds_of: Callable[[list[str]], Iterable[tuple[str, int, str, str]]],
    events_after: Callable[[list[str], list[int]], Iterable[Event]],
) -> Iterator[StreamTail]:
    """What every backend's ``read_folds`` does, ``chunk`` clients at a time, with its own two queries.

    ``folds_of(clients)`` reads their stored ``(client, version, format, data)``;
    ``events_after(clients, versions)`` their events after those versions. The
    versions passed are those the first query read, so a fold written in between changes nothing.
    """
    for start in range(0, len(clients), chunk):
        wanted = list(dict.fromkeys(clients[start : start + chunk]))
        folds = {row[0]: StoredFold(*row) for row in folds_of(wanted)}
        versions = [
            fold.version if fold is not None and fold.format == format else 0 for fold in map(folds.get, wanted)
        ]
        grouped: dict[str, list[Event]] = {}
        for event in events_after(wanted, versions):
            grouped.setdefault(event.client, []).append(event)
        for client in wanted:
            fold = folds.get(client)
            if fold is not None or client in grouped:
                yield StreamTail(client, fold, grouped.get(client, []))


def iter_in_batches(read_all: Callable[..., list[Event]], *, after_position: int, batch: int) -> Iterator[Event]:
    """Every event after ``after_position``, read by ``read_all(after_position=..., limit=batch)`` one batch at a time."""
    while events := read_all(after_position=after_position, limit=batch):
        yield from events
        last = events[-1].position
        assert last is not None, "an event read from the store has its position"
        after_position = last
