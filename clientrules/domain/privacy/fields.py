"""Which fields of which event types are personal, and sealing and opening them in an event's ``data`` (pure)."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import attrs

from clientrules.domain.events import Event, Payload, Registry
from clientrules.domain.events.types import DATA_KEY, ERASED, ERASED_AS, PERSONAL
from clientrules.domain.privacy.envelope import key_id, open_value, seal_value
from clientrules.domain.privacy.keys import ClientKey


class PersonalFields:
    """The personal fields of a registry's types (``metadata={"personal": True}``).

    Events of other types, and events whose personal fields are all empty,
    need no key and are stored and read exactly as before.
    """

    def __init__(self, registry: Registry) -> None:
        #: payload class -> (attribute, data key) of each personal field
        self._by_class: dict[type[Payload], tuple[tuple[str, str], ...]] = {}
        #: type name -> (data key, what it reads as once erased) of each personal field
        self._by_type: dict[str, tuple[tuple[str, Any], ...]] = {}
        for type_name in registry.names():
            payload_type = registry.payload_type(type_name)
            fields = [f for f in attrs.fields(payload_type) if f.metadata.get(PERSONAL)]
            if fields:
                keys = [f.metadata.get(DATA_KEY, f.name) for f in fields]
                self._by_class[payload_type] = tuple((f.name, key) for f, key in zip(fields, keys))
                self._by_type[type_name] = tuple(
                    (key, f.metadata.get(ERASED_AS, ERASED)) for f, key in zip(fields, keys)
                )

    @property
    def types(self) -> frozenset[str]:
        """The names of the types with personal fields."""
        return frozenset(self._by_type)

    def needs_key(self, payload: Payload) -> bool:
        """Whether ``payload`` holds a personal value (to be sealed with its client's key)."""
        fields = self._by_class.get(type(payload))
        return fields is not None and any(getattr(payload, name) is not None for name, _ in fields)

    def clients_needing_keys(self, events: Iterable[Event]) -> set[str]:
        return {event.client for event in events if self.needs_key(event.payload)}

    def seal(self, event: Event, data: dict[str, Any], keys: Mapping[str, ClientKey]) -> dict[str, Any]:
        """``data`` (``event``'s encoded payload) with each personal value sealed with the client's key in ``keys``."""
        fields = self._by_class.get(type(event.payload))
        if fields is not None:
            for _, data_key in fields:
                value = data.get(data_key)
                if value is not None:
                    data[data_key] = seal_value(keys[event.client], event.id, data_key, value)
        return data

    def is_sealed(self, type_name: str, data: Mapping[str, Any]) -> bool:
        """Whether ``data`` (as stored) holds an envelope, to be opened with its client's key."""
        fields = self._by_type.get(type_name)
        return fields is not None and any(type(data.get(key)) is dict for key, _ in fields)

    def open(self, event_id: str, type_name: str, data: dict[str, Any], key: ClientKey | None) -> dict[str, Any]:
        """``data`` (as stored) with each envelope replaced by its value, in place.

        An envelope sealed with another key than ``key`` (None: the client has
        none) was sealed with a key since destroyed: the field reads as erased.
        A plain string is a value stored before encryption and is read as it is.
        """
        for data_key, erased_as in self._by_type.get(type_name, ()):
            value = data.get(data_key)
            if type(value) is not dict:
                continue
            if key is not None and key_id(value) == key.id:
                data[data_key] = open_value(key, event_id, data_key, value)
            elif erased_as is None:
                del data[data_key]  # absent is how data holds None
            else:
                data[data_key] = erased_as
        return data

    def plaintext(self, type_name: str, data: Mapping[str, Any]) -> bool:
        """Whether ``data`` (as stored) holds a personal value in plain text (stored before encryption)."""
        return any(isinstance(data.get(key), str) for key, _ in self._by_type.get(type_name, ()))

    def census(self, rows: Iterable[tuple[str, str, str]]) -> tuple[int, tuple[str, ...]]:
        """Among stored ``(id, type, data JSON)`` rows: how many hold sealed personal fields, and the ids of
        those holding plaintext ones."""
        sealed = 0
        plaintext = []
        for event_id, type_name, text in rows:
            data = json.loads(text)
            sealed += self.is_sealed(type_name, data)
            if self.plaintext(type_name, data):
                plaintext.append(event_id)
        return sealed, tuple(plaintext)
