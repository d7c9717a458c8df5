"""Stored rows to events and back, shared by the backends: personal fields sealed on the way in, opened on the way out."""

from __future__ import annotations

import json
from typing import Callable, Collection, Mapping, Sequence

from clientrules.events import Event, Instant, Registry
from clientrules.privacy import ClientKey, PersonalFields

#: the columns every backend reads an event from, in this order
COLUMNS = "position, id, stream, version, type, schema, at_key, at_text, data"
KeysOf = Callable[[Collection[str]], Mapping[str, ClientKey]]
# ASCII escapes: a string the caller built with a lone surrogate is stored rather than crashing the driver
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def encode_data(event: Event, registry: Registry, personal: PersonalFields, keys: Mapping[str, ClientKey]) -> str:
    """The ``data`` column of ``event``: its payload as JSON, personal values sealed with their client's key."""
    return _COMPACT_JSON.encode(personal.seal(event, registry.encode(event.payload), keys))


def decode_rows(rows: Sequence[tuple], registry: Registry, personal: PersonalFields, keys_of: KeysOf) -> list[Event]:
    """Events from rows of :data:`COLUMNS`, without validating them again (they were when appended).

    The keys of the streams with sealed fields are asked of ``keys_of`` once,
    after the rows were read: a key missing then was destroyed after the rows
    were written, and its fields read as erased.
    """
    loads = json.loads
    datas = [loads(row[8]) for row in rows]
    is_sealed = personal.is_sealed
    sealed = [index for index, (row, data) in enumerate(zip(rows, datas)) if is_sealed(row[4], data)]
    if sealed:
        keys = keys_of({rows[index][2] for index in sealed})
        for index in sealed:
            _, event_id, stream, _, type_name, *_ = rows[index]
            personal.open(event_id, type_name, datas[index], keys.get(stream))
    restore_payload = registry.restore
    restore_event = Event.restore
    instants: dict[int, Instant] = {}  # events of one stream often share a moment
    events = []
    for (position, event_id, stream, version, type_name, schema, at_key, at_text, _), data in zip(rows, datas):
        at = instants.get(at_key)
        if at is None or at.text != at_text:
            at = instants[at_key] = Instant.from_key(at_key, at_text)
        events.append(restore_event(stream, at, restore_payload(type_name, data, schema), event_id, version, position))
    return events
