"""The JSON Lines interchange format of ``docs/events.md``: read strictly, write back the same."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter, OrderedDict
from typing import IO, Any, Callable, Iterable, Iterator

from clientrules.domain.errors import InvalidEvent, InvalidInput
from clientrules.domain.events.event import Event, content_id
from clientrules.domain.events.instant import Instant
from clientrules.domain.events.registry import Registry, registry as default_registry

MAX_LINE_BYTES = 64 * 1024
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LINE_BREAK_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}
KEYS = frozenset({"client", "type", "at", "data", "id"})
#: lines up to this many characters are never written back longer than MAX_LINE_BYTES: a character is
#: at most 4 bytes, and export at most multiplies bytes by 4.5 (1e15 becomes 1000000000000000.0) and adds an id
_SHORT_ENOUGH = MAX_LINE_BYTES // 20


def parse_line(text: str, *, registry: Registry = default_registry) -> dict[str, Any]:
    """Check one line's JSON and shape; return its object (raises :class:`InvalidEvent`)."""
    try:
        obj = _DECODER.decode(text)
    except (json.JSONDecodeError, RecursionError) as error:
        message = getattr(error, "msg", "too deeply nested")
        raise InvalidEvent(f"invalid JSON ({message})") from None
    except ValueError:  # Python reads at most 4,300 digits of an integer
        raise InvalidEvent(f"a number has more than {sys.get_int_max_str_digits():,} digits") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("an event must be a JSON object")
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEvent("a string holds a lone surrogate escape (\\ud800-\\udfff): not valid Unicode") from None
    unknown = sorted(set(obj) - KEYS)
    if unknown:
        raise InvalidEvent(f"unknown key {unknown[0][:40]!r} (keys: client, type, at, data, id)")
    for key in ("client", "type", "at"):
        if key not in obj:
            raise InvalidEvent("is required", field=key)
    return obj


def _reject_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, unless a key appears twice in it (JSON would keep the last value silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise InvalidEvent(f"the key {twice[:40]!r} appears twice in one object")
    return obj


#: one decoder for every line (``json.loads`` with an option builds a new one per call)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def event_from_json(obj: dict[str, Any], occurrence: int = 0, *, registry: Registry = default_registry) -> Event:
    """Build an :class:`Event` from a parsed line (an id is derived from its content if absent)."""
    payload = registry.decode(obj["type"], obj.get("data"))
    at = Instant.parse(obj["at"])
    event_id = obj.get("id")
    if event_id is None:
        event_id = content_id(obj["client"], obj["type"], obj["at"], obj.get("data") or {}, occurrence)
    return Event(obj["client"], at, payload, event_id)


class LineNumbers:
    """The line of each of the latest events read, so that a refusal found when they are stored can name it.

    A store checks a batch soon after reading it, so only the last ``keep``
    events are remembered: memory stays bounded whatever the document's length.
    """

    def __init__(self, keep: int = 20_000) -> None:
        self._keep = keep
        self._lines: OrderedDict[str, int] = OrderedDict()

    def note(self, event_id: str, line: int) -> None:
        lines = self._lines
        lines[event_id] = line
        if len(lines) > self._keep:
            # the oldest goes; OrderedDict drops its first item at once, where a dict
            # would step over every slot its earlier deletions left at its front
            lines.popitem(last=False)

    def of(self, event_id: str) -> int | None:
        """The line ``event_id`` was read from, if it is among the latest remembered."""
        return self._lines.get(event_id)


def iter_events(
    lines: Iterable[str | bytes],
    *,
    registry: Registry = default_registry,
    check: Callable[[Event], None] | None = None,
    numbers: LineNumbers | None = None,
) -> Iterator[Event]:
    """The events of a JSON Lines document, one line at a time; a bad line raises :class:`InvalidInput`.

    Blank lines and lines starting with ``#`` are skipped; a UTF-8 byte-order
    mark before the first line is allowed. A line is at most
    :data:`MAX_LINE_BYTES`, and so is the line export would write for its
    event, so that every export can be imported again. Memory stays bounded
    by one line (plus 16 bytes per distinct line without an ``id``), whatever
    the length of the document; events before a bad line have been yielded
    already, so a caller that must store all or nothing does so in one
    transaction. ``check`` is called on each event and may refuse it by
    raising :class:`InvalidEvent`, which is reported with its line number.
    ``numbers`` remembers the line of each event yielded.
    """
    seen: Counter[bytes] = Counter()
    for number, raw in enumerate(lines, start=1):
        text = _line_text(number, raw)
        if not text or text.startswith("#"):
            continue
        try:
            obj = parse_line(text, registry=registry)
            occurrence = 0
            if "id" not in obj:
                fingerprint = json.dumps(obj, sort_keys=True).encode("utf-8", "surrogatepass")
                digest = hashlib.blake2b(fingerprint, digest_size=16).digest()
                occurrence = seen[digest]
                seen[digest] += 1
            event = event_from_json(obj, occurrence, registry=registry)
            if len(text) > _SHORT_ENOUGH:
                check_exportable(event)
            if check is not None:
                check(event)
            if numbers is not None:
                numbers.note(event.id, number)
            yield event
        except InvalidEvent as error:
            raise InvalidInput(number, str(error)) from None


def read_events(lines: Iterable[str | bytes], *, registry: Registry = default_registry) -> list[Event]:
    """Read a whole JSON Lines document (see :func:`iter_events`); nothing is returned unless every line is valid."""
    return list(iter_events(lines, registry=registry))


def _line_text(number: int, raw: str | bytes) -> str:
    """One line as text without its line ending; too long or not UTF-8 raises :class:`InvalidInput`."""
    if isinstance(raw, bytes):
        raw = raw.rstrip(b"\r\n")
        if len(raw) > MAX_LINE_BYTES:
            raise InvalidInput(number, f"line is longer than {MAX_LINE_BYTES // 1024} KiB")
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(number, "not valid UTF-8") from None
    else:
        text = raw.rstrip("\r\n")
        if number == 1:
            text = text.removeprefix("\ufeff")
        if len(text) * 4 > MAX_LINE_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES:
            raise InvalidInput(number, f"line is longer than {MAX_LINE_BYTES // 1024} KiB")
    return text.strip()


def iter_lines(stream: IO[bytes], *, limit: int = MAX_LINE_BYTES + 2) -> Iterator[bytes]:
    """Lines of a binary stream, each cut after ``limit`` bytes so a huge line cannot exhaust memory.

    A cut line is yielded once, longer than ``limit``, and reported as too long by :func:`iter_events`.
    """
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            yield line  # reported as too long by iter_events
            while line and not line.endswith(b"\n"):
                line = stream.readline(limit + 1)
            continue
        yield line


def check_exportable(event: Event) -> None:
    """Raise :class:`InvalidEvent` if export would write ``event`` longer than :data:`MAX_LINE_BYTES`.

    Such an event could be stored, but its export could not be imported again.
    """
    if len(event_line(event).encode("utf-8")) > MAX_LINE_BYTES:
        raise InvalidEvent(
            f"export would write this event longer than {MAX_LINE_BYTES // 1024} KiB"
            " (with its id, spaces after commas and colons, numbers in full)"
        )


def event_line(event: Event) -> str:
    """``event`` as one line of JSON Lines (UTF-8 text kept readable), without its line break.

    The characters some tools take for line breaks (U+0085, U+2028, U+2029)
    are written as ``\\u`` escapes, so every event stays on one line for any reader.
    """
    line = json.dumps(event.to_json(), ensure_ascii=False)
    return line if line.isascii() else line.translate(_LINE_BREAK_ESCAPES)


def write_events(events: Iterable[Event], out: IO[str]) -> int:
    """Write events as JSON Lines (:func:`event_line`); returns how many were written."""
    count = 0
    for event in events:
        out.write(event_line(event) + "\n")
        count += 1
    return count
