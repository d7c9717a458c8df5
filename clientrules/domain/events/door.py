"""The one check every event passes on its way into a store, whatever path it comes by.

The API (``record``, ``append``), an import, the owner's forms and the
library's own writers (the watcher's ``DecisionChanged``, survey answers,
rule-set adoptions) all reach a store's ``append``, and every backend encodes
an event's ``data`` with :func:`admitted_json`. Together with the validators of
the payload classes (dates and moments in the supported years, amounts of at
most :data:`~clientrules.domain.events.types.MAX_AMOUNT`, system events in the
shape the system writes them) it holds every event to what an import of its
export would accept: what a store accepts, every command and page can read.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events.event import Event
from clientrules.domain.events.jsonl import MAX_LINE_BYTES, check_exportable
from clientrules.domain.events.registry import Registry

#: how deeply the values of an event may nest (lists and objects in ``data``)
MAX_DEPTH = 32
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
#: a compact ``data`` up to this long always exports within MAX_LINE_BYTES (see check_exportable)
_SURELY_EXPORTABLE = MAX_LINE_BYTES // 8


def admitted_json(event: Event, registry: Registry) -> tuple[dict[str, Any], str]:
    """The JSON ``data`` of ``event`` and its compact text, if a store may keep it.

    Every value is plain JSON an import reads back the same (text, finite
    numbers, true, false, null, lists, objects with text keys, nested at most
    :data:`MAX_DEPTH` deep), and the line export would write for the event is
    at most :data:`~clientrules.domain.events.jsonl.MAX_LINE_BYTES`. A refusal
    is an :class:`InvalidEvent` that names the event (``event_id``).
    """
    try:
        data = registry.encode(event.payload)
        for key, value in data.items():
            _check_plain(value, f"data.{key}", 1)
        text = _COMPACT_JSON.encode(data)
        if len(text) > _SURELY_EXPORTABLE:
            check_exportable(event)
    except InvalidEvent as refusal:
        raise InvalidEvent(refusal.reason, field=refusal.field, event_id=event.id) from None
    return data, text


def _check_plain(value: object, field: str, depth: int) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidEvent("is not valid Unicode (it holds a lone surrogate)", field=field) from None
        return
    if isinstance(value, int):
        if abs(value) > sys.float_info.max:  # export would write more digits than an import reads
            raise InvalidEvent("is a number too large to read back (at most 1.8e308)", field=field)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEvent("must be a finite number (JSON has no NaN or Infinity)", field=field)
        return
    if depth >= MAX_DEPTH:
        raise InvalidEvent(f"nests lists and objects more than {MAX_DEPTH} deep", field=field)
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{field}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEvent(f"has the key {key!r}: JSON object keys are text", field=field)
            _check_plain(key, field, depth + 1)
            _check_plain(item, f"{field}.{key[:40]}", depth + 1)
        return
    raise InvalidEvent(f"is a {type(value).__name__}, not a JSON value", field=field)
