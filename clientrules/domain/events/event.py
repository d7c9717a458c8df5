"""The event envelope: which client, what type, when, its payload, its id, and where it was stored."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import secrets
from typing import Any

import attrs

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events.instant import Instant, as_instant, check_instant
from clientrules.domain.events.registry import registry, slot_setter
from clientrules.domain.events.types import Payload

CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
SYSTEM_STREAM = re.compile(r"\$[a-z][a-z0-9_-]{0,31}")
MAX_ID_LENGTH = 128
#: letters that do not split into a base letter and accents, written the way they are read
_SPELLED = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_ID_GAPS = re.compile(r"[^a-z0-9]+")


def check_client_id(client: object, *, field: str = "client") -> str:
    """Return ``client`` if it is a valid client id (1-64 of letters, digits, ``.``, ``_``, ``-``)."""
    if not isinstance(client, str) or not CLIENT_ID.fullmatch(client):
        shown = repr(client)[:70]
        raise InvalidEvent(
            f"{shown} is not a client id (1-64 letters, digits, '.', '_' or '-')", field=field
        )
    return client


def client_id_from_name(name: str) -> str | None:
    """The client id made of ``name``, accents and special letters transliterated
    (``"Orchard Café Ltd"`` -> ``orchard-cafe-ltd``, ``"Straße & Søn"`` -> ``strasse-son``);
    None when nothing of it can be written in an id (``"東京"``)."""
    split = unicodedata.normalize("NFKD", name.casefold().translate(_SPELLED))
    unaccented = "".join(c for c in split if not unicodedata.combining(c))
    candidate = _ID_GAPS.sub("-", unaccented).strip("-")[:64].rstrip("-")
    return candidate or None


def _check_stream(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if isinstance(value, str) and (CLIENT_ID.fullmatch(value) or SYSTEM_STREAM.fullmatch(value)):
        return
    check_client_id(value, field=attribute.name)


def _check_at(_: object, attribute: attrs.Attribute[Instant], value: object) -> None:
    check_instant(value, field=attribute.name)


def _check_payload(_: object, attribute: attrs.Attribute[Payload], value: object) -> None:
    if not isinstance(value, Payload):
        raise InvalidEvent("must be the payload of an event type", field="type")


def _check_id(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LENGTH:
        raise InvalidEvent(f"must be a string of 1 to {MAX_ID_LENGTH} characters", field="id")
    if "\x00" in value:  # PostgreSQL text cannot hold it: an id must fit either backend
        raise InvalidEvent("must not hold the NUL character (\\u0000)", field="id")


@attrs.frozen
class Event:
    """One event of one client's stream.

    ``version`` (1, 2, ... within the client's stream, in append order) and
    ``position`` (gap-free across all streams, in commit order) are set by the
    store; an event not yet stored has neither.
    """

    client: str = attrs.field(validator=_check_stream)
    at: Instant = attrs.field(validator=_check_at)
    payload: Payload = attrs.field(validator=_check_payload)
    id: str = attrs.field(validator=_check_id)
    version: int | None = attrs.field(default=None, kw_only=True)
    position: int | None = attrs.field(default=None, kw_only=True)

    @property
    def type(self) -> str:
        return self.payload.TYPE

    @property
    def data(self) -> dict[str, Any]:
        return registry.encode(self.payload)

    @classmethod
    def new(
        cls,
        client: str,
        payload: Payload,
        at: Instant | str | Any,
        *,
        id: str | None = None,
    ) -> Event:
        """A new event to append; without an ``id`` it gets a random one."""
        return cls(client, as_instant(at), payload, id or f"ev-{secrets.token_hex(16)}")

    def to_json(self) -> dict[str, Any]:
        """The event as one object of the JSON Lines format (``docs/events.md``)."""
        line: dict[str, Any] = {
            "client": self.client,
            "type": self.type,
            "at": self.at.text,
            "data": self.data,
            "id": self.id,
        }
        return line

    def stored(self, version: int, position: int) -> Event:
        """This event as the store keeps it, with its version and position (it was validated when built)."""
        return self.restore(self.client, self.at, self.payload, self.id, version, position)

    @classmethod
    def restore(
        cls, client: str, at: Instant, payload: Payload, id: str, version: int, position: int
    ) -> Event:
        """Rebuild an event read back from a store without validating it again.

        A store only holds events that were validated when appended; reading a
        long stream is several times faster without the second check.
        """
        event = object.__new__(cls)
        # one call per field, unrolled, each its slot's own setter: this runs for every event read
        _set_client(event, client)
        _set_at(event, at)
        _set_payload(event, payload)
        _set_id(event, id)
        _set_version(event, version)
        _set_position(event, position)
        return event


#: what sets each field of an :class:`Event` read back
_set_client, _set_at, _set_payload, _set_id, _set_version, _set_position = (
    slot_setter(Event, field.name) for field in attrs.fields(Event)
)


def content_id(client: str, type_name: str, at: str, data: Any, occurrence: int) -> str:
    """A deterministic id for an event given without one: the same line imported twice is one event.

    ``occurrence`` tells apart identical events of one file (two identical
    ``WorkLogged`` lines on one day are two events).
    """
    canonical = json.dumps([client, type_name, at, data, occurrence], sort_keys=True, separators=(",", ":"))
    return "c-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
