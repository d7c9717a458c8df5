"""Stored rows to events and back, shared by the backends: personal fields sealed on the way in, opened on the way out."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from clientrules.domain.events import Event, Instant, Registry
from clientrules.domain.events.jsonl import MAX_LINE_BYTES, check_exportable
from clientrules.domain.privacy import ClientKey, PersonalFields

#: what every backend selects to read events, from ``events e`` left-joined to ``client_keys k`` on the
#: event's client where its type has personal fields: in one statement, so a key and the events it opens
#: are read from the same snapshot
COLUMNS = "e.position, e.id, e.stream, e.version, e.type, e.schema, e.at_key, e.at_text, e.data, k.key_id, k.secret"
# ASCII escapes: a string the caller built with a lone surrogate is stored rather than crashing the driver
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
#: a ``data`` column up to this long always exports within MAX_LINE_BYTES: export writes what one stored
#: character holds in at most 6 bytes (a \\u escape), and the rest of the line (ids of at most 128
#: characters, type, moment) is under 2 KiB
_EXPORTABLE_DATA = MAX_LINE_BYTES // 8


def encode_data(event: Event, registry: Registry, personal: PersonalFields, keys: Mapping[str, ClientKey]) -> str:
    """The ``data`` column of ``event``: its payload as JSON, personal values sealed with their client's key.

    Raises :class:`~clientrules.domain.errors.InvalidEvent` for an event too long for
    one line of an export, so that every export can be imported again.
    """
    data = _COMPACT_JSON.encode(personal.seal(event, registry.encode(event.payload), keys))
    if len(data) > _EXPORTABLE_DATA:
        check_exportable(event)
    return data


def decode_rows(rows: Sequence[tuple], registry: Registry, personal: PersonalFields) -> list[Event]:
    """Events from rows of :data:`COLUMNS`, without validating them again (they were when appended).

    A sealed field opens with the key read in its row; without one (the key
    was destroyed) it reads as erased.
    """
    restore_payload = registry.restore
    restore_event = Event.restore
    loads = json.loads
    personal_types = personal.types
    instants: dict[int, Instant] = {}  # events of one stream often share a moment
    keys: dict[str, ClientKey] = {}
    events = []
    for position, event_id, stream, version, type_name, schema, at_key, at_text, text, key_id, secret in rows:
        at = instants.get(at_key)
        if at is None or at.text != at_text:
            at = instants[at_key] = Instant.from_key(at_key, at_text)
        data = loads(text)
        if type_name in personal_types and personal.is_sealed(type_name, data):
            key = None
            if key_id is not None:
                key = keys.get(key_id) or keys.setdefault(key_id, ClientKey(key_id, bytes(secret)))
            personal.open(event_id, type_name, data, key)
        events.append(restore_event(stream, at, restore_payload(type_name, data, schema), event_id, version, position))
    return events
