"""The rules engine's answers by standing, kept in the store so that a later process need not ask again.

Which rules fire, in order, depends on nothing but a client's standing under
the rule set (:mod:`clientrules.domain.decisions.standing`). Each answer the
engine gives about a standing is kept under a name for what the engine was
given (the rules compiled, the code that runs them and the engine's release:
``name_of``, from the engine's adapter), and read back when a process first
decides under that rule-set version. Only adopted versions keep answers
(drafts come and go). The kept answers are a cache: a row that does not check
(another name, another standing, a damaged text, a rule the version does not
have) is left unread and the engine is asked.
"""

from __future__ import annotations

import json
from typing import Callable, Iterator, Mapping, Protocol

import attrs

from clientrules.domain.decisions.standing import Standing
from clientrules.domain.facts.stored import checksum
from clientrules.domain.rules.model import Rule
from clientrules.ports import EngineAnswersStore, VersionedRuleSet

#: the ids of the rules that fire, in firing order
Fired = tuple[str, ...]


class StoreForKeptAnswers(EngineAnswersStore, Protocol):
    """What kept answers read and write: the engine's answers by standing."""


class KeptAnswers:
    """The engine's answers kept in one store. Safe to share between threads (it keeps none in memory)."""

    def __init__(self, store: StoreForKeptAnswers, name_of: Callable[[VersionedRuleSet], str]) -> None:
        self._store = store
        self._name_of = name_of

    def of(self, version: VersionedRuleSet) -> VersionAnswers | None:
        """The answers kept for ``version``, named once; None for a draft (drafts keep none)."""
        if version.version < 1:
            return None
        return VersionAnswers(self._store, self._name_of(version), version.ruleset.enabled_rules)


@attrs.frozen
class VersionAnswers:
    """The answers kept for one adopted rule-set version, under its ``name``; its ``rules`` are the enabled ones."""

    store: StoreForKeptAnswers
    name: str
    rules: tuple[Rule, ...]

    def read(self) -> dict[Standing, Fired]:
        """The answers kept that check."""
        ids = {rule.id for rule in self.rules}
        return dict(_checked(self.name, self.store.read_engine_answers(self.name), ids, len(self.rules)))

    def keep(self, answers: Mapping[Standing, Fired]) -> None:
        """Keep ``answers``, in one transaction."""
        if not answers:
            return
        texts = {}
        for standing, fired in answers.items():
            standing_text = "".join("1" if holds else "0" for holds in standing)
            body = json.dumps(list(fired))
            texts[standing_text] = f"{_signature(self.name, standing_text, body)} {body}"
        self.store.write_engine_answers(self.name, texts)


def _checked(name: str, texts: Mapping[str, str], rules: set[str], width: int) -> Iterator[tuple[Standing, Fired]]:
    for standing_text, answer in texts.items():
        kept_checksum, _, body = answer.partition(" ")
        if (len(standing_text) != width or not set(standing_text) <= {"0", "1"}
                or kept_checksum != _signature(name, standing_text, body)):
            continue
        try:
            fired = json.loads(body)
        except ValueError:
            continue
        if isinstance(fired, list) and all(isinstance(rule, str) and rule in rules for rule in fired):
            yield tuple(holds == "1" for holds in standing_text), tuple(fired)


def _signature(name: str, standing_text: str, body: str) -> str:
    """The checksum a kept answer is written behind: of its rule set's name, its standing and the answer."""
    return checksum(f"{name} {standing_text} {body}")
