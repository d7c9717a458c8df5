"""Kept moments as bytes, as a store keeps them between runs (:class:`~clientrules.ports.KeptMomentsStore`).

A header in JSON (the format, the facts known, the grace days, the
timeframe, every client with its stream version, first moment, moments and
departure, the clients set aside, each fact's distinct values) followed by
each fact's index array, the whole compressed with zlib (whose checksum finds
a damaged copy). The moments themselves are not written: a client's are a run
of the timeframe's monthly moments, then perhaps its end.

Kept moments are a cache: bytes of another format, another catalogue of
facts or damaged read as none (:func:`kept_from_bytes`), and the moments are
kept again from the histories. A departure keeps only what the counts read of
it, never the survey answer's words.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from typing import Any

from clientrules.domain.events import Instant
from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.learning.history import Timeframe
from clientrules.domain.learning.kept import FactColumn, KeptClient, KeptDeparture, KeptMoments

KEPT_FORMAT = "kept-moments-1"
#: zlib's fastest level: the index arrays compress well at any level, and the cache is rewritten as clients change
_LEVEL = 1
#: bytes decompressed, or indexes checked, in one call: each holds the interpreter lock, and a server's requests
#: wait for it
_PIECE = 1 << 16


def kept_to_bytes(kept: KeptMoments) -> bytes:
    """``kept`` as the bytes a store keeps (see the module)."""
    monthly = {moment.key: index for index, moment in enumerate(kept.moments)}
    end = kept.timeframe.end
    clients = []
    for client in kept.clients:
        with_end = bool(client.moments) and end is not None and client.moments[-1].key == end.key and (
            client.moments[-1].key not in monthly
        )
        months = client.moments[:-1] if with_end else client.moments
        first = monthly[months[0].key] if months else 0
        clients.append([
            client.client, client.version, _instant(client.first_at), first, len(months), with_end,
            None if client.departure is None else [
                *_pair(client.departure.at), client.departure.chosen_by_client, client.departure.decided_days_before,
            ],
        ])
    arrays = [column.taken if isinstance(column.taken, array) else array("I", column.taken) for column in kept.facts.values()]
    facts = [
        [name, taken.typecode, list(column.values)] for (name, column), taken in zip(kept.facts.items(), arrays)
    ]
    header = {
        "format": KEPT_FORMAT,
        "facts_known": list(FACTS),
        "byteorder": sys.byteorder,
        "grace_days": kept.grace_days,
        "timeframe": [_instant(kept.timeframe.start), _instant(end)],
        "size": kept.size,
        "clients": clients,
        "set_aside": [[client, why, version] for (client, why), version in zip(kept.set_aside, kept.set_aside_versions)],
        "facts": facts,
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    compressor = zlib.compressobj(_LEVEL)
    parts = [compressor.compress(len(text).to_bytes(8, "little") + text)]
    parts.extend(compressor.compress(taken.tobytes()) for taken in arrays)
    parts.append(compressor.flush())
    return b"".join(parts)


def kept_from_bytes(data: bytes) -> KeptMoments | None:
    """The kept moments ``data`` holds; None when it is of another format or catalogue of facts, or damaged."""
    try:
        raw = _decompressed(data)
        length = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + length])
        if header["format"] != KEPT_FORMAT or header["facts_known"] != list(FACTS):
            return None
        return _kept(header, memoryview(raw)[8 + length :])
    except (zlib.error, ValueError, KeyError, TypeError, IndexError):
        return None


def _decompressed(data: bytes) -> bytes:
    """``data`` decompressed a piece at a time (see :data:`_PIECE`); :class:`zlib.error` unless it is one whole stream."""
    decompressor = zlib.decompressobj()
    pieces = []
    rest = data
    while rest:
        pieces.append(decompressor.decompress(rest, _PIECE))
        rest = decompressor.unconsumed_tail
    pieces.append(decompressor.flush())
    if not decompressor.eof or decompressor.unused_data:
        raise zlib.error("not one whole compressed stream")
    return b"".join(pieces)


def _kept(header: dict[str, Any], arrays: memoryview) -> KeptMoments | None:
    start, end = (_read_instant(value) for value in header["timeframe"])
    timeframe = Timeframe(start, end)
    moments = tuple(timeframe.monthly_moments())
    size = header["size"]
    facts: dict[str, FactColumn] = {}
    offset = 0
    for name, typecode, values in header["facts"]:
        taken = array(typecode)
        length = size * taken.itemsize
        taken.frombytes(arrays[offset : offset + length])
        offset += length
        if len(taken) != size or any(max(taken[at : at + _PIECE]) >= len(values) for at in range(0, size, _PIECE)):
            return None
        if header["byteorder"] != sys.byteorder:
            taken.byteswap()
        facts[name] = FactColumn(tuple(values), taken)
    if offset != len(arrays):
        return None
    clients = []
    position = 0
    for client, version, first_at, first, months, with_end, departure in header["clients"]:
        picked = moments[first : first + months]
        if len(picked) != months or (with_end and end is None):
            return None
        at = picked + ((end,) if with_end and end is not None else ())
        left = None
        if departure is not None:
            key, text, chosen, decided_days_before = departure
            left = KeptDeparture(Instant.from_key(key, text), chosen, decided_days_before)
        clients.append(KeptClient(client, left, at, position, version, _read_instant(first_at)))
        position += len(at)
    if position != size:
        return None
    set_aside = header["set_aside"]
    return KeptMoments(
        timeframe, moments, header["grace_days"], tuple(clients), facts, size,
        tuple((client, why) for client, why, _ in set_aside), tuple(version for _, _, version in set_aside),
    )


def _pair(instant: Instant) -> list[Any]:
    return [instant.key, instant.text]


def _instant(instant: Instant | None) -> list[Any] | None:
    return None if instant is None else _pair(instant)


def _read_instant(value: list[Any] | None) -> Instant | None:
    return None if value is None else Instant.from_key(value[0], value[1])
