"""The standing of a client's facts under a rule set: all the engine's answer depends on (pure).

Every condition of the rule language compares one fact with a constant
(alone or inside ``any``) or matches a signal, and a signal is the firing of
another rule of the same set, itself decided by the facts. A rule fires when
its conditions on facts hold and its signal conditions are met; the engine is
given only the values of the facts the enabled rules read. So which rules
fire, and in which order, depends on nothing but which rules' conditions on
facts hold. That tuple of truths, one per enabled rule, is the **standing**;
two clients with the same standing under the same rule set get the same
answer from the engine, so it is asked once for both.

A condition on facts holds as :meth:`Comparison.holds` and :meth:`AnyOf.holds`
say (a comparison with an absent fact is false), which is how the engine
compares the values a standing accepts (a differential test checks the
engine against that reading). A standing exists only where that argument
holds exactly (:meth:`Standings.of` is None otherwise, and the client is then
decided by the engine on its own):

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
from typing import Any, Callable, Mapping, Sequence

import attrs

from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.rules.model import OPERATORS, AnyOf, Comparison, FactValue, RuleSet, SignalCondition

#: a standing: for each enabled rule, in order, whether its conditions on facts hold
Standing = tuple[bool, ...]
#: where the values of the facts the rules read stand against their constants: for each fact, -1 when absent,
#: else ``2 i`` below the i-th of its constants (from 0, sorted) and above the one before, ``2 i + 1`` equal to it.
#: Values placed alike make every comparison alike, so they have the same standing: it is found once per placing.
Placing = tuple[int, ...]
#: the largest whole number (in size) a standing holds: every double up to it is a whole number exactly
LARGEST_EXACT = 2**53
#: the most placings whose standing is remembered (a few hundred bytes each); beyond, they are found again
PLACINGS_KEPT = 100_000
#: the place of a fact with no value
ABSENT = -1


@attrs.frozen
class Standings:
    """How to read a client's standing under one rule set (:meth:`for_ruleset`)."""

    #: each fact the enabled rules compare, its constants sorted, and whether it is a yes/no fact
    thresholds: tuple[tuple[str, tuple[FactValue, ...], bool], ...]
    #: each comparison the enabled rules make, once
    comparisons: tuple[Comparison, ...]
    #: each enabled rule's conditions on facts, as places in :attr:`comparisons`: those that must hold, and its
    #: ``any`` conditions, each options of comparisons that must all hold
    rules: tuple[tuple[tuple[int, ...], tuple[tuple[tuple[int, ...], ...], ...]], ...]
    #: every condition of the enabled rules is one a standing represents
    representable: bool
    #: each of :attr:`comparisons` read off a placing: the place of its fact in :attr:`thresholds`, its operator, and
    #: the position of a value equal to its constant (see :data:`Placing`), which places compare as values do
    _placed: tuple[tuple[int, Callable[[int, int], bool], int], ...] = attrs.field(init=False, eq=False, repr=False)
    #: the standing of each placing met, up to :data:`PLACINGS_KEPT`
    _known: dict[Placing, Standing] = attrs.field(init=False, factory=dict, eq=False, repr=False)
    #: :attr:`thresholds` as three columns (facts, constants, yes/no), which :meth:`placing` maps over
    _columns: tuple[tuple[Any, ...], ...] = attrs.field(init=False, eq=False, repr=False)

    @_columns.default
    def _columns_of_thresholds(self) -> tuple[tuple[Any, ...], ...]:
        return tuple(zip(*self.thresholds)) if self.thresholds else ((), (), ())

    @_placed.default
    def _comparisons_on_placings(self) -> tuple[tuple[int, Callable[[int, int], bool], int], ...]:
        if not self.representable:
            return ()
        place = {fact: index for index, (fact, _, _) in enumerate(self.thresholds)}
        constants = {fact: values for fact, values, _ in self.thresholds}
        return tuple(
            (place[c.fact], OPERATORS[c.op], 2 * constants[c.fact].index(c.value) + 1) for c in self.comparisons
        )

    @classmethod
    def for_ruleset(cls, ruleset: RuleSet) -> Standings:
        constants: dict[str, set[FactValue]] = {}
        places: dict[Comparison, int] = {}
        rules = []
        representable = True
        for rule in ruleset.enabled_rules:
            required: list[int] = []
            anys = []
            for condition in rule.when:
                representable &= isinstance(condition, (Comparison, AnyOf, SignalCondition))
                if isinstance(condition, Comparison):
                    required.append(places.setdefault(condition, len(places)))
                elif isinstance(condition, AnyOf):
                    anys.append(tuple(
                        tuple(places.setdefault(comparison, len(places)) for comparison in option)
                        for option in condition.options
                    ))
            rules.append((tuple(required), tuple(anys)))
            for comparison in rule.comparisons:
                constants.setdefault(comparison.fact, set()).add(comparison.value)
        thresholds = []
        for fact, values in sorted(constants.items()):
            spec = FACTS.get(fact)
            boolean = spec is not None and spec.kind is bool
            representable &= spec is not None and all(isinstance(value, bool) == boolean for value in values)
            thresholds.append((fact, tuple(sorted(values)), boolean))
        return cls(tuple(thresholds), tuple(places), tuple(rules), representable)

    def of(self, values: Mapping[str, FactValue | None]) -> Standing | None:
        """The standing of ``values``; None when it cannot stand for them (see the module): the engine decides alone."""
        placing = self.placing(values)
        return None if placing is None else self.of_placing(placing)

    def of_placing(self, placing: Placing) -> Standing:
        """The standing of values placed as ``placing`` (one place per fact of :attr:`thresholds`, in order)."""
        known = self._known
        found = known.get(placing)
        if found is None:
            if len(known) >= PLACINGS_KEPT:
                known.clear()
            found = known[placing] = self._holding([
                placing[fact] != ABSENT and compare(placing[fact], equal) for fact, compare, equal in self._placed
            ])
        return found

    def placing(self, values: Mapping[str, FactValue | None]) -> Placing | None:
        """Where ``values`` stand against the rules' constants; None when no standing can hold them."""
        if not self.representable:
            return None
        facts, constants, booleans = self._columns
        positions = tuple(map(position_of, map(values.get, facts), constants, booleans))
        return None if None in positions else positions  # type: ignore[return-value]  # no None left in it

    def _holding(self, truths: Sequence[bool]) -> Standing:
        """The standing in which each of :attr:`comparisons` holds as ``truths`` says."""
        holds = truths.__getitem__
        return tuple(
            all(map(holds, required)) and all(any(all(map(holds, option)) for option in options) for options in anys)
            for required, anys in self.rules
        )


def position_of(value: FactValue | None, constants: tuple[FactValue, ...], boolean: bool) -> int | None:
    """Where ``value`` stands against the sorted ``constants`` of a fact (see :data:`Placing`); None when a
    standing cannot hold it (a value not of its fact's kind, not finite, or a whole number too large)."""
    if value is None:
        return ABSENT
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
