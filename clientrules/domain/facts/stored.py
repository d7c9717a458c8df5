"""A client's fold as a store keeps it: checksummed snapshot text in a named format.

A stored fold is a cache, never a source of truth. :func:`fold_text` writes
a fold's snapshot (:meth:`ClientFold.to_snapshot`) as compact JSON behind a
BLAKE2b checksum of it; :func:`fold_from_text` gives the fold back only if
the checksum, the snapshot's schema, its client and its version all check,
and raises :class:`~clientrules.domain.facts.FactsError` otherwise, so that
the caller folds the events again.

:func:`fold_format` names what a stored fold depends on: the snapshot schema
(raised whenever what the fold keeps of an event changes) and the schema of
every event type (an upcaster can change what old events say). A fold
written in any other format is ignored and replaced.
"""

from __future__ import annotations

import hashlib

import orjson

from clientrules.domain.events import Registry
from clientrules.domain.facts.fold import SNAPSHOT_SCHEMA, ClientFold, FactsError

_CHECKSUM_BYTES = 16


def fold_format(registry: Registry) -> str:
    """The format of folds of events read through ``registry``: ``"fold-<schema>/<digest of the event schemas>"``."""
    schemas = ",".join(f"{name}:{registry.payload_type(name).SCHEMA}" for name in sorted(registry.names()))
    return f"fold-{SNAPSHOT_SCHEMA}/{hashlib.blake2b(schemas.encode(), digest_size=6).hexdigest()}"


def fold_text(fold: ClientFold) -> str:
    """The fold as stored: the hex checksum of its snapshot's JSON, a line break, that JSON."""
    body = orjson.dumps(fold.to_snapshot()).decode()  # compact JSON, several times faster than json's encoder
    return f"{checksum(body)}\n{body}"


def fold_from_text(text: str, *, client: str, version: int) -> ClientFold:
    """The fold :func:`fold_text` wrote for ``client`` at stream ``version`` (:class:`FactsError` if it is not that)."""
    written, _, body = text.partition("\n")
    if written != checksum(body):
        raise FactsError(f"the stored fold of client {client!r} fails its checksum: fold the events again")
    try:
        # orjson reads a snapshot two to three times faster than json, and exactly: it reads an integer beyond 64 bits
        # as a float, and every number in a snapshot is an integer far below (a moment of the supported years in
        # microseconds, a tie-break, a date's ordinal, a count, a severity)
        snapshot = orjson.loads(body)
    except ValueError:  # orjson.JSONDecodeError is one
        raise FactsError(f"the stored fold of client {client!r} is not JSON: fold the events again") from None
    fold = ClientFold.from_snapshot(snapshot, checked=False)  # the checksum held: it is what fold_text wrote
    if fold.client != client or fold.version != version:
        raise FactsError(
            f"the stored fold of client {client!r} at version {version} holds client {fold.client!r} "
            f"at version {fold.version}: fold the events again"
        )
    return fold


def checksum(body: str) -> str:
    """The hex BLAKE2b checksum a stored cache's text is kept behind (folds here, kept facts too)."""
    return hashlib.blake2b(body.encode(), digest_size=_CHECKSUM_BYTES).hexdigest()


__all__ = ["checksum", "fold_format", "fold_from_text", "fold_text"]
