"""Each client's facts as last computed by a decision over many clients, kept in the store and read back while they hold.

Deciding a client from its stored fold means restoring the fold and computing
its facts, most of the cost of a decision, and the more so the longer its
history. A decision over many clients keeps each client's facts beside its
stream (:class:`~clientrules.domain.facts.memo.FactsMemo`: the facts, the
moment they are of and the moment they stop holding); a later one at a moment
they still hold for, with the stream at the same version, decides from them
without reading the fold. The kept facts are a cache: any doubt (another
format or version, a damaged text, a moment outside their span, another
grace) and the fold answers, and the facts it gives are kept in their place.
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence

from clientrules.domain.events import Instant, Registry, registry as default_registry
from clientrules.domain.facts import FactsError
from clientrules.domain.facts.memo import FactsMemo, memo_format, memo_if_holding, memo_text
from clientrules.ports import FactsStore, StoredFacts


class StoreForKeptFacts(FactsStore, Protocol):
    """What kept facts read and write: the facts kept beside each client's stream."""


class KeptFacts:
    """The kept facts of the clients of one store. Safe to share between threads (it keeps none in memory)."""

    def __init__(self, store: StoreForKeptFacts, *, registry: Registry = default_registry) -> None:
        self._store = store
        #: the format of the facts written and read
        self.format = memo_format(registry)

    def holding(self, clients: Sequence[str], moment: Instant, grace_days: int) -> dict[str, FactsMemo]:
        """The kept facts of those of ``clients`` that hold as of ``moment`` under ``grace_days``."""
        found = {}
        for client, stored in self._store.read_stored_facts(clients, format=self.format).items():
            try:
                memo = memo_if_holding(
                    stored.data, client=client, version=stored.version, moment=moment, grace_days=grace_days
                )
            except FactsError:
                continue
            if memo is not None:
                found[client] = memo
        return found

    def keep(self, memos: Iterable[FactsMemo]) -> None:
        """Store ``memos`` in one transaction, each in place of its client's."""
        rows = [StoredFacts(memo.client, memo.version, self.format, memo_text(memo)) for memo in memos]
        if rows:
            self._store.write_stored_facts(rows)
