"""The JSON Lines interchange format of ``spec/events.md``: read strictly, write back the same."""

from __future__ import annotations

import json
from collections import Counter
from typing import IO, Iterable, Iterator

from clientrules.errors import InvalidEvent, InvalidInput
from clientrules.events.event import Event, content_id
from clientrules.events.instant import Instant
from clientrules.events.registry import Registry, registry as default_registry

MAX_LINE_BYTES = 64 * 1024
KEYS = frozenset({"client", "type", "at", "data", "id"})


def parse_line(text: str, *, registry: Registry = default_registry) -> dict:
    """Check one line's JSON and shape; return its object (raises :class:`InvalidEvent`)."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        message = getattr(error, "msg", "too deeply nested")
        raise InvalidEvent(f"invalid JSON ({message})") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("an event must be a JSON object")
    unknown = sorted(set(obj) - KEYS)
    if unknown:
        raise InvalidEvent(f"unknown key {unknown[0][:40]!r} (keys: client, type, at, data, id)")
    for key in ("client", "type", "at"):
        if key not in obj:
            raise InvalidEvent("is required", field=key)
    return obj


def event_from_json(obj: dict, occurrence: int = 0, *, registry: Registry = default_registry) -> Event:
    """Build an :class:`Event` from a parsed line (an id is derived from its content if absent)."""
    payload = registry.decode(obj["type"], obj.get("data"))
    at = Instant.parse(obj["at"])
    event_id = obj.get("id")
    if event_id is None:
        event_id = content_id(obj["client"], obj["type"], obj["at"], obj.get("data") or {}, occurrence)
    return Event(obj["client"], at, payload, event_id)


def read_events(lines: Iterable[str | bytes], *, registry: Registry = default_registry) -> list[Event]:
    """Read a whole JSON Lines document; the first bad line raises :class:`InvalidInput`.

    Blank lines and lines starting with ``#`` are skipped. Nothing is returned
    unless every line is valid, so a caller can store all or nothing.
    """
    events: list[Event] = []
    seen: Counter[str] = Counter()
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            if len(raw) > MAX_LINE_BYTES + 2:
                raise InvalidInput(number, f"line is longer than {MAX_LINE_BYTES // 1024} KiB")
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(number, "not valid UTF-8") from None
        elif len(raw) > MAX_LINE_BYTES + 2 and len(raw.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES + 2:
            raise InvalidInput(number, f"line is longer than {MAX_LINE_BYTES // 1024} KiB")
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            obj = parse_line(text, registry=registry)
            occurrence = 0
            if "id" not in obj:
                fingerprint = json.dumps(obj, sort_keys=True)
                occurrence = seen[fingerprint]
                seen[fingerprint] += 1
            events.append(event_from_json(obj, occurrence, registry=registry))
        except InvalidEvent as error:
            raise InvalidInput(number, str(error)) from None
    return events


def iter_lines(stream: IO[bytes], *, limit: int = MAX_LINE_BYTES + 2) -> Iterator[bytes]:
    """Lines of a binary stream, each cut at ``limit`` bytes so a huge line cannot exhaust memory."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            yield line  # reported as too long by read_events
            while line and not line.endswith(b"\n"):
                line = stream.readline(limit + 1)
            continue
        yield line


def write_events(events: Iterable[Event], out: IO[str]) -> int:
    """Write events as JSON Lines; returns how many were written."""
    count = 0
    for event in events:
        out.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
        count += 1
    return count
