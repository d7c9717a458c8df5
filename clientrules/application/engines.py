"""The compiled rule sets in use, and what each answered: shared by every service that decides.

Compiling a rule set costs milliseconds and the engine's native state, so the
engines of the few most recently used versions are kept; the least recently
used one is closed when a newer one needs its place. A newly adopted version
simply gets an engine of its own on first use.

Every decision goes through here (evaluate, the watcher, the portfolio, the
rule preview, the backtest), and each is asked of the engine once per
**standing** (:mod:`clientrules.domain.decisions.standing`): the rules that
fire, in order, are kept per standing of the facts and rule-set version, up
to :data:`STANDINGS_KEPT` of them, and another client with the same standing
gets them without asking the engine. Its reasons and evidence are built from
its own facts. A client whose facts have no standing is asked of the engine
on its own. Given kept answers (:mod:`clientrules.application.kept_answers`),
the answers of an adopted version are read from the store when it is first
used and each new one is kept there, so a later process asks the engine only
about standings never met before.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections import OrderedDict
from typing import Callable, Sequence

import attrs

from clientrules.application.kept_answers import Fired, KeptAnswers, VersionAnswers
from clientrules.domain.decisions.model import Decision
from clientrules.domain.decisions.reasons import FactsLike, build_decision
from clientrules.domain.decisions.standing import Standing, Standings
from clientrules.ports import DecisionEngine, EngineFactory, VersionedRuleSet

#: engines kept compiled at once
ENGINE_CACHE_SIZE = 4
#: engine answers kept per rule-set version, by standing: a few hundred bytes each. 20,000 clients of the
#: benchmarks' history have 4,500 standings as of one moment, and 16,500 over the 46 months a backtest replays
STANDINGS_KEPT = 50_000


@attrs.define
class _Compiled:
    """One rule-set version: its engine (built by ``build`` when first needed), how to read a standing under it, the
    engine's answer for each standing seen, and where they are kept (None: nowhere)."""

    build: Callable[[], DecisionEngine]
    standings: Standings
    answers: dict[Standing, Fired]
    kept: VersionAnswers | None
    _built: DecisionEngine | None = None
    _building: threading.Lock = attrs.Factory(threading.Lock)

    @property
    def engine(self) -> DecisionEngine:
        with self._building:
            if self._built is None:
                self._built = self.build()
            return self._built

    def close(self) -> None:
        with self._building:
            built, self._built = self._built, None
        if built is not None:
            built.close()


class Engines:
    """The engines of recently used rule-set versions, built by ``factory``, and their answers by standing.

    ``standings_kept``: answers kept in memory per version (0: none, the engine
    is asked for every client); ``kept``: the answers kept in the store, read
    and added to. Safe to share between threads.
    """

    def __init__(
        self,
        factory: EngineFactory,
        *,
        size: int = ENGINE_CACHE_SIZE,
        standings_kept: int = STANDINGS_KEPT,
        kept: KeptAnswers | None = None,
    ) -> None:
        self._factory = factory
        self._size = size
        self._standings_kept = standings_kept
        self._kept = kept if standings_kept else None
        self._compiled: OrderedDict[tuple[int, str], _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def engine(self, version: VersionedRuleSet) -> DecisionEngine:
        """The engine of ``version`` (compiled on first use; the least recently used one is closed)."""
        return self._compiled_for(version).engine

    def prepare(self, version: VersionedRuleSet) -> None:
        """Get ``version`` ready to decide: its answers read, and its engine started at once (an engine in a
        process of its own starts up while the caller reads its clients), unless answers are known for it: then
        the engine starts when first asked, if ever."""
        if not self._compiled_for(version).answers:
            self.engine(version)

    def _compiled_for(self, version: VersionedRuleSet) -> _Compiled:
        key = (version.version, version.ruleset.source)
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is not None:
                self._compiled.move_to_end(key)
                return compiled
        made = self._compile(version)  # outside the lock: it reads the store, while other versions are asked for
        with self._lock:
            compiled = self._compiled.setdefault(key, made)  # another thread's, if it compiled the version first
            self._compiled.move_to_end(key)
            closing = [self._compiled.pop(old) for old in list(self._compiled)[: -self._size]]
        for old in closing:
            old.close()
        return compiled

    def _compile(self, version: VersionedRuleSet) -> _Compiled:
        """``version`` ready to decide, its kept answers read; its engine is built when first asked for."""
        standings = Standings.for_ruleset(version.ruleset)
        kept = self._kept.of(version) if self._kept is not None and standings.representable else None
        answers = dict(itertools.islice(kept.read().items(), self._standings_kept)) if kept is not None else {}
        return _Compiled(functools.partial(self._factory, version), standings, answers, kept)

    def fired(self, client: str, facts: FactsLike, version: VersionedRuleSet) -> Fired:
        """The ids of the rules that fire for ``client``'s ``facts`` under ``version``, in firing order."""
        return self.fired_batch([(client, facts)], version)[0]

    def fired_batch(self, requests: Sequence[tuple[str, FactsLike]], version: VersionedRuleSet) -> list[Fired]:
        """:meth:`fired` for many ``(client, facts)``: the engine is asked at once for one client of each standing
        it has not answered yet, and for every client without a standing."""
        compiled = self._compiled_for(version)
        answers = compiled.answers
        fired: list[Fired] = [()] * len(requests)  # each filled in below
        waiting: dict[Standing, list[int]] = {}  # standing -> the requests that wait for it, the one asked first
        asked: list[int] = []
        for index, (_, facts) in enumerate(requests):
            standing = compiled.standings.of(facts.values) if self._standings_kept else None
            if standing is None:
                asked.append(index)
            elif (known := answers.get(standing)) is not None:
                fired[index] = known
            elif standing in waiting:
                waiting[standing].append(index)
            else:
                waiting[standing] = [index]
                asked.append(index)
        if asked:
            for index, rules in zip(asked, compiled.engine.fired_batch([requests[index] for index in asked])):
                fired[index] = tuple(rules)
            with self._lock:
                for standing, indices in waiting.items():
                    answer = answers[standing] = fired[indices[0]]
                    for index in indices[1:]:
                        fired[index] = answer
                while len(answers) > self._standings_kept:
                    del answers[next(iter(answers))]  # the oldest first: memory stays bounded
            if compiled.kept is not None and waiting:
                compiled.kept.keep({standing: fired[indices[0]] for standing, indices in waiting.items()})
        return fired

    def decide(self, client: str, facts: FactsLike, version: VersionedRuleSet) -> Decision:
        """The decision for ``client`` on ``facts`` under ``version``, with its reasons."""
        return build_decision(client, version.ruleset, version.version, facts, self.fired(client, facts, version))

    def decide_batch(self, requests: Sequence[tuple[str, FactsLike]], version: VersionedRuleSet) -> list[Decision]:
        """The decisions for many ``(client, facts)`` under ``version`` (see :meth:`fired_batch`), with their reasons."""
        return [
            build_decision(client, version.ruleset, version.version, facts, rules)
            for (client, facts), rules in zip(requests, self.fired_batch(requests, version))
        ]

    def close(self) -> None:
        """Close every engine and forget its answers (they are compiled again if used afterwards)."""
        with self._lock:
            compiled, self._compiled = list(self._compiled.values()), OrderedDict()
        for each in compiled:
            each.close()
