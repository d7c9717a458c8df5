"""Each client's fold at its latest version, from its stored fold and only the events after it (``ledger.folds``).

The store keeps (:class:`~clientrules.ports.FoldStore`) each
client's :class:`~clientrules.domain.facts.ClientFold` with the stream
version it has seen. Bringing a client up to date reads that fold and the
events stored after its version, for many clients in a few queries; the
result is exactly the fold of the whole stream, whatever the events' ``at``
(a fold keeps every event's place in time, so a back-dated event and any
``as_of`` are answered as a full refold would).

When folds are written: by whoever brought a fold up to date (an evaluation,
the facts of a client, the learning loop), once it had to fold at least
:data:`WRITE_AFTER` events the stored fold had not seen (and a
:data:`WRITE_SHARE`-th of its history, for a long one), in a transaction of
its own after the work is done. An append or an import never writes one, so
they cost what they did. A stored fold in another format, damaged (its
checksum), or not the client's is never used: the client's events are folded
again and the fold is written anew.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator, Protocol

from clientrules.domain.events import Event, Registry, registry as default_registry
from clientrules.domain.facts import ClientFold, FactsError
from clientrules.domain.facts.stored import fold_format, fold_from_text, fold_text
from clientrules.ports import EventStreams, FoldStore, StoredFold, StreamTail

#: new events a fold must have folded beyond its stored version before it is written again...
WRITE_AFTER = 4
#: ... or this share of its history, if more: a long history is not rewritten for every few events
WRITE_SHARE = 16
#: clients read together (their folds and the events after them: a few queries)
READ_BATCH = 500


class StoreForFolds(EventStreams, FoldStore, Protocol):
    """What folds read and write: the clients' streams and the folds kept beside them."""


class Folds:
    """The latest folds of the clients of one store. Safe to share between threads (it keeps no fold)."""

    def __init__(
        self,
        store: StoreForFolds,
        *,
        registry: Registry = default_registry,
        write_after: int = WRITE_AFTER,
    ) -> None:
        self._store = store
        self._write_after = write_after
        #: the format of the folds written and read
        self.format = fold_format(registry)

    def latest(self, client: str) -> ClientFold:
        """``client``'s fold of every event stored so far (an empty fold for a client with no event)."""
        folds = list(self.iter_latest([client]))  # to the end: a fold to write is written
        return folds[0] if folds else ClientFold()

    def iter_latest(self, clients: Iterable[str]) -> Iterator[ClientFold]:
        """The latest fold of each of ``clients`` that has an event, in the order given, one at a time.

        Read :data:`READ_BATCH` clients at a time, so memory stays bounded
        however many clients there are; a yielded fold is the caller's to
        keep, query (``facts`` at any moment) or fold further. The folds that
        had to be written are written once their batch has been yielded.
        """
        for fold, _ in self.iter_latest_with_stored(clients):
            yield fold

    def iter_latest_with_stored(self, clients: Iterable[str]) -> Iterator[tuple[ClientFold, int]]:
        """:meth:`iter_latest`, each fold with the version of the fold now stored for its client (0: none)."""
        iterator = iter(clients)
        while batch := list(itertools.islice(iterator, READ_BATCH)):
            tails = {tail.client: tail for tail in self._store.read_folds(batch, format=self.format)}
            stale: list[StoredFold] = []
            for client in batch:
                tail = tails.pop(client, None)
                if tail is None:
                    continue
                fold, usable, events = self._restored(tail)
                fold.apply_all(events)
                stored = usable or 0
                if usable is None or self._stale(fold, stored):
                    stale.append(self._stored(fold))  # before the caller gets the fold to change
                    stored = fold.version
                yield fold, stored
            self._write(stale)

    def catch_up(self, fold: ClientFold, stored: int) -> int:
        """Fold the events stored after ``fold.version`` into ``fold`` (a fold kept in memory); return the stored version.

        ``stored`` is the version of the fold stored for its client; when
        ``fold`` got enough events past it (:meth:`_stale`), ``fold`` is written.
        """
        if fold.client is None:
            raise ValueError("an empty fold has no client to catch up with")
        fold.apply_all(self._store.read_client(fold.client, after_version=fold.version))
        if not self._stale(fold, stored):
            return stored
        self._write([self._stored(fold)])
        return fold.version

    def _stale(self, fold: ClientFold, stored: int) -> bool:
        """Whether ``fold`` got enough events past the ``stored`` version to be written again.

        At least :data:`WRITE_AFTER`, and a :data:`WRITE_SHARE`-th of its
        history: writing a fold costs its whole history, reading the events
        after it only those, so a long history is rewritten less often.
        """
        return fold.version - stored >= max(self._write_after, fold.version // WRITE_SHARE)

    def _restored(self, tail: StreamTail) -> tuple[ClientFold, int | None, list[Event]]:
        """The fold to continue, the version of the usable fold stored, and the events still to fold.

        No fold stored: an empty fold, 0 and every event. A stored fold that
        cannot be used (another format, damaged, not the client's): an empty
        fold, None (write one) and every event, read again if only those after it came.
        """
        stored = tail.fold
        if stored is None:
            return ClientFold(), 0, tail.events
        if stored.format != self.format:
            return ClientFold(), None, tail.events
        try:
            return fold_from_text(stored.data, client=tail.client, version=stored.version), stored.version, tail.events
        except FactsError:
            return ClientFold(), None, self._store.read_client(tail.client)

    def _stored(self, fold: ClientFold) -> StoredFold:
        assert fold.client is not None, "a fold that has events knows its client"
        return StoredFold(fold.client, fold.version, self.format, fold_text(fold))

    def _write(self, folds: list[StoredFold]) -> None:
        if folds:
            self._store.write_folds(folds)
