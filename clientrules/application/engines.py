"""The compiled rule sets in use: one cache of engines per rule-set version, shared by every service.

Compiling a rule set costs milliseconds and the engine's native state, so the
engines of the few most recently used versions are kept; the least recently
used one is closed when a newer one needs its place. A newly adopted version
simply gets an engine of its own on first use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Sequence

from clientrules.domain.decisions.model import Decision
from clientrules.domain.decisions.reasons import FactsLike, build_decision
from clientrules.ports import DecisionEngine, EngineFactory, VersionedRuleSet

#: engines kept compiled at once
ENGINE_CACHE_SIZE = 4


class Engines:
    """The engines of recently used rule-set versions, built by ``factory``. Safe to share between threads."""

    def __init__(self, factory: EngineFactory, *, size: int = ENGINE_CACHE_SIZE) -> None:
        self._factory = factory
        self._size = size
        self._engines: OrderedDict[tuple[int, str], DecisionEngine] = OrderedDict()
        self._lock = threading.Lock()

    def engine(self, version: VersionedRuleSet) -> DecisionEngine:
        """The engine of ``version`` (compiled on first use; the least recently used one is closed)."""
        key = (version.version, version.ruleset.source)
        with self._lock:
            engine = self._engines.pop(key, None) or self._factory(version)
            self._engines[key] = engine
            evicted = list(self._engines)[: -self._size]
            closing = [self._engines.pop(old) for old in evicted]
        for old in closing:
            old.close()
        return engine

    def decide(self, client: str, facts: FactsLike, version: VersionedRuleSet) -> Decision:
        """The decision for ``client`` on ``facts`` under ``version``, with its reasons."""
        fired = self.engine(version).fired(facts, client=client)
        return build_decision(client, version.ruleset, version.version, facts, fired)

    def decide_batch(self, requests: Sequence[tuple[str, FactsLike]], version: VersionedRuleSet) -> list[Decision]:
        """The decisions for many ``(client, facts)`` under ``version``, asked of the engine at once."""
        fired = self.engine(version).fired_batch(requests)
        return [
            build_decision(client, version.ruleset, version.version, facts, rules)
            for (client, facts), rules in zip(requests, fired)
        ]

    def close(self) -> None:
        """Close every engine (they are compiled again if used afterwards)."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.close()
