"""Type names to payload classes, the ``data`` codec, and upcasters for old stored shapes.

An upcaster turns the ``data`` of a type as stored under schema version ``n``
into its shape under ``n + 1``. When a field of a type changes, raise that
class's ``SCHEMA`` and register the upcaster; events stored earlier are then
read in the new shape::

    registry.register_upcaster("WorkLogged", 1, lambda data: {**data, "hours": data["minutes"] / 60})
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MemberDescriptorType
from typing import Any, Callable, Iterable

import attrs

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events.system import SYSTEM_TYPES
from clientrules.domain.events.types import DATA_KEY, READ_BACK, SPEC_TYPES, Payload

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
Restorer = Callable[[dict[str, Any]], Payload]
SetField = Callable[[Any, Any], None]
_ABSENT = object()


class Registry:
    """Maps event type names to payload classes, and knows their shapes' history."""

    def __init__(self, types: Iterable[type[Payload]] = ()) -> None:
        self._types: dict[str, type[Payload]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._keys: dict[type[Payload], tuple[tuple[str, str], ...]] = {}
        #: the (field name, data key) pairs a payload cannot be built without
        self._required: dict[type[Payload], tuple[tuple[str, str], ...]] = {}
        #: type name -> its current schema and how a payload stored under it is rebuilt (None: only ``__init__`` will do)
        self._restorers: dict[str, tuple[int, Restorer | None]] = {}
        for payload_type in types:
            self.register(payload_type)

    def register(self, payload_type: type[Payload]) -> None:
        if payload_type.TYPE in self._types:
            raise ValueError(f"event type {payload_type.TYPE} is already registered")
        self._types[payload_type.TYPE] = payload_type
        self._keys[payload_type] = tuple(
            (f.name, f.metadata.get(DATA_KEY, f.name))
            for f in attrs.fields(payload_type)
            if f.name != "extra"
        )
        self._required[payload_type] = tuple(
            name_key
            for name_key, field in zip(self._keys[payload_type], _fields(payload_type))
            if field.default is attrs.NOTHING
        )
        self._restorers[payload_type.TYPE] = (payload_type.SCHEMA, _restorer(payload_type))

    def register_upcaster(self, type_name: str, from_schema: int, upcaster: Upcaster) -> None:
        """Register how ``data`` stored under ``from_schema`` becomes ``from_schema + 1``."""
        self._upcasters[(type_name, from_schema)] = upcaster

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._types

    def names(self) -> list[str]:
        return list(self._types)

    def payload_type(self, type_name: object) -> type[Payload]:
        try:
            return self._types[type_name]  # type: ignore[index]
        except (KeyError, TypeError):
            raise InvalidEvent(f"unknown event type {str(type_name)[:60]!r}", field="type") from None

    def decode(self, type_name: str, data: Any, schema: int | None = None) -> Payload:
        """Build the payload of ``type_name`` from its JSON ``data`` (upcast first if ``schema`` is old)."""
        payload_type = self.payload_type(type_name)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InvalidEvent("must be a JSON object", field="data")
        data = dict(data)
        version = payload_type.SCHEMA if schema is None else schema
        if version > payload_type.SCHEMA:
            raise InvalidEvent(
                f"schema {version} of {type_name} is newer than this clientrules reads "
                f"({payload_type.SCHEMA}): upgrade clientrules",
                field="data",
            )
        while version < payload_type.SCHEMA:
            upcaster = self._upcasters.get((type_name, version))
            if upcaster is None:
                raise InvalidEvent(
                    f"no upcaster from schema {version} of {type_name}", field="data"
                )
            data = upcaster(data)
            version += 1
        known = {}
        for name, key in self._keys[payload_type]:
            if key in data:
                known[name] = data.pop(key)
        required = [key for name, key in self._required[payload_type] if name not in known]
        if required:
            raise InvalidEvent("is required", field=f"data.{required[0]}")
        try:
            return payload_type(extra=data, **known)
        except InvalidEvent as error:
            raise InvalidEvent(str(error).split(": ", 1)[-1], field=f"data.{error.field}") from None

    def restore(self, type_name: str, data: dict[str, Any], schema: int) -> Payload:
        """Rebuild a payload read back from a store, as :meth:`decode` does but faster.

        A stored ``data`` at the current schema was encoded from a valid payload,
        so its fields are set without running the validators again (a field's
        :data:`~clientrules.domain.events.types.READ_BACK` reads its value, in place of its converter);
        an older schema goes through :meth:`decode` and its upcasters. ``data`` is consumed.
        """
        current, restorer = self._restorers.get(type_name, (None, None))
        if restorer is None or schema != current:
            return self.decode(type_name, data, schema)
        return restorer(data)

    def encode(self, payload: Payload) -> dict[str, Any]:
        """The JSON ``data`` of a payload: set fields (``None`` omitted), then kept extras."""
        data: dict[str, Any] = {}
        for name, key in self._keys[type(payload)]:
            value = getattr(payload, name)
            if value is None:
                continue
            data[key] = value.isoformat() if isinstance(value, dt.date) else _plain(value)
        for key, value in payload.extra.items():
            data.setdefault(key, value)
        return data


def _fields(payload_type: type[Payload]) -> list[attrs.Attribute[Any]]:
    return [f for f in attrs.fields(payload_type) if f.name != "extra"]


def _restorer(payload_type: type[Payload]) -> Restorer | None:
    """How :meth:`Registry.restore` builds a ``payload_type`` from stored data, or None where only ``__init__`` will do.

    The fields are sorted once by what reading them takes, so that rebuilding one (this runs for every event
    read) does no more than each field needs.
    """
    if hasattr(payload_type, "__attrs_pre_init__") or hasattr(payload_type, "__attrs_post_init__"):
        return None
    plain: list[tuple[SetField, str, Any]] = []
    read: list[tuple[SetField, str, Callable[[Any], Any]]] = []
    made: list[tuple[SetField, str, Callable[[], Any]]] = []
    for field in _fields(payload_type):
        key = field.metadata.get(DATA_KEY, field.name)
        read_back = field.metadata.get(READ_BACK, field.converter)
        set_field = slot_setter(payload_type, field.name)
        if read_back is not None:
            read.append((set_field, key, read_back))
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]  # attrs' stubs: a function
            made.append((set_field, key, field.default.factory))  # type: ignore[union-attr]
        else:  # a required field's default is never used: a stored payload has every required field
            plain.append((set_field, key, None if field.default is attrs.NOTHING else field.default))
    new = object.__new__
    set_extra = slot_setter(payload_type, "extra")

    def restore(data: dict[str, Any]) -> Payload:
        payload = new(payload_type)
        pop = data.pop
        for set_field, key, default in plain:
            set_field(payload, pop(key, default))
        for set_field, key, read_back in read:
            value = pop(key, None)
            set_field(payload, None if value is None else read_back(value))
        for set_field, key, factory in made:
            value = pop(key, _ABSENT)
            set_field(payload, factory() if value is _ABSENT else value)
        set_extra(payload, data)
        return payload

    return restore


def slot_setter(frozen: type[Any], name: str) -> SetField:
    """What sets field ``name`` of an instance of the attrs class ``frozen`` without its frozen ``__setattr__``: its
    slot's own setter (a class made without slots: ``object.__setattr__``). For objects read back from a store."""
    slot = getattr(frozen, name, None)
    if isinstance(slot, MemberDescriptorType):
        setter: SetField = slot.__set__
        return setter
    return lambda instance, value: object.__setattr__(instance, name, value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


#: The registry of every type in ``docs/events.md`` and the library's own.
registry = Registry((*SPEC_TYPES, *SYSTEM_TYPES))
