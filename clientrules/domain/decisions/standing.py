"""The standing of a client's facts under a rule set: all the engine's answer depends on (pure).

Every condition of the rule language compares one fact with a constant
(alone or inside ``any``) or matches a signal, and a signal is the firing of
another rule of the same set, itself decided by the facts. The engine is
given only the values of the facts the enabled rules read. So which rules
fire, and in which order, depends on nothing but where each of those facts
stands against the constants the rules compare it with: absent, or below,
equal to or above each of them. That tuple of positions is the
**standing**; two clients with the same standing under the same rule set get
the same answer from the engine, so it is asked once for both.

A standing exists only where that argument holds exactly (:meth:`Standings.of`
is None otherwise, and the client is then decided by the engine on its own):

* every condition of every enabled rule is a comparison, an ``any`` of
  comparisons, or a signal, and every fact compared is in the catalogue, with
  constants of its kind (true/false for a yes/no fact, numbers otherwise);
* every value read is of its fact's kind: true or false for a yes/no fact; a
  finite number for the others, and a whole number no larger than 2^53 in
  size (where a double holds it exactly, whichever way the engine reads it).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import Mapping

import attrs

from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.rules.model import AnyOf, Comparison, FactValue, RuleSet, SignalCondition

#: a standing: for each fact the rules read, -1 when absent, else ``2 i`` below the i-th of its constants
#: (from 0, sorted) and above the one before, ``2 i + 1`` equal to it
Standing = tuple[int, ...]
#: the largest whole number (in size) a standing holds: every double up to it is a whole number exactly
LARGEST_EXACT = 2**53
_ABSENT = -1


@attrs.frozen
class Standings:
    """How to read a client's standing under one rule set (:meth:`for_ruleset`)."""

    #: each fact the enabled rules compare, its constants sorted, and whether it is a yes/no fact
    thresholds: tuple[tuple[str, tuple[FactValue, ...], bool], ...]
    #: every condition of the enabled rules is one a standing represents
    representable: bool

    @classmethod
    def for_ruleset(cls, ruleset: RuleSet) -> Standings:
        constants: dict[str, set[FactValue]] = {}
        representable = True
        for rule in ruleset.enabled_rules:
            for condition in rule.when:
                representable &= isinstance(condition, (Comparison, AnyOf, SignalCondition))
            for comparison in rule.comparisons:
                constants.setdefault(comparison.fact, set()).add(comparison.value)
        thresholds = []
        for fact, values in sorted(constants.items()):
            spec = FACTS.get(fact)
            boolean = spec is not None and spec.kind is bool
            representable &= spec is not None and all(isinstance(value, bool) == boolean for value in values)
            thresholds.append((fact, tuple(sorted(values)), boolean))
        return cls(tuple(thresholds), representable)

    def of(self, values: Mapping[str, FactValue | None]) -> Standing | None:
        """The standing of ``values``; None when it cannot stand for them (see the module): the engine decides alone."""
        if not self.representable:
            return None
        get = values.get
        positions: list[int] = []
        for fact, constants, boolean in self.thresholds:
            position = position_of(get(fact), constants, boolean)
            if position is None:
                return None
            positions.append(position)
        return tuple(positions)


def position_of(value: FactValue | None, constants: tuple[FactValue, ...], boolean: bool) -> int | None:
    """Where ``value`` stands against the sorted ``constants`` of a fact (see :data:`Standing`); None when a
    standing cannot hold it (a value not of its fact's kind, not finite, or a whole number too large)."""
    if value is None:
        return _ABSENT
    kind = type(value)
    if boolean:
        if kind is not bool:
            return None
    elif kind is int:
        if not -LARGEST_EXACT <= value <= LARGEST_EXACT:
            return None
    elif kind is not float or not math.isfinite(value):
        return None
    return bisect_left(constants, value) + bisect_right(constants, value)
