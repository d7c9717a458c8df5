"""Rules as values: conditions over facts and signals, rules, and rule sets (pure: no I/O).

A rule fires when every condition of its ``when`` holds. A condition is a
comparison of one fact with a constant, an :class:`AnyOf` (at least one group
of comparisons holds), or a :class:`SignalCondition` (another rule fired, or
with ``negated`` did not). Every rule that fires is a signal other rules can
match; a rule with ``signal = true`` gives no verdict, only that signal.
"""

from __future__ import annotations

import functools
import operator
from typing import Callable, Iterable, Mapping, Union

import attrs

from clientrules.domain.drafts import Drafts
from clientrules.domain.facts.fold import REVENUE_SHARE
from clientrules.domain.facts.schedule import age_thresholds
from clientrules.domain.events.system import VERDICTS as VERDICTS  # the decision is the most severe verdict that fired

#: Rank of each verdict: a higher number is more severe.
SEVERITY: dict[str, int] = {verdict: len(VERDICTS) - i for i, verdict in enumerate(VERDICTS)}

FactValue = Union[int, float, bool]

OPERATORS: dict[str, Callable[[FactValue, FactValue], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _literal(value: FactValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@attrs.frozen
class Comparison:
    """``fact op value``: false when the fact is absent."""

    fact: str
    op: str
    value: FactValue

    def holds(self, values: Mapping[str, FactValue | None]) -> bool:
        actual = values.get(self.fact)
        return actual is not None and OPERATORS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"{self.fact} {self.op} {_literal(self.value)}"


@attrs.frozen
class AnyOf:
    """At least one of ``options`` holds; each option is a group of comparisons that must all hold."""

    options: tuple[tuple[Comparison, ...], ...]

    def holding_options(self, values: Mapping[str, FactValue | None]) -> tuple[tuple[Comparison, ...], ...]:
        return tuple(option for option in self.options if all(c.holds(values) for c in option))

    def holds(self, values: Mapping[str, FactValue | None]) -> bool:
        return bool(self.holding_options(values))

    def comparisons(self) -> tuple[Comparison, ...]:
        return tuple(c for option in self.options for c in option)

    def __str__(self) -> str:
        return "any of (" + "; ".join(" and ".join(map(str, o)) for o in self.options) + ")"


@attrs.frozen
class SignalCondition:
    """The rule ``name`` fired (or, ``negated``, did not fire) for this client."""

    name: str
    negated: bool = False

    def __str__(self) -> str:
        return f"{'not ' if self.negated else ''}signal {self.name}"


Condition = Union[Comparison, AnyOf, SignalCondition]


@attrs.frozen
class Rule:
    """One rule of a rule set, as the owner wrote it."""

    id: str
    when: tuple[Condition, ...]
    verdict: str | None = None
    signal: bool = False
    advice: str = ""
    description: str = ""
    enabled: bool = True
    #: orders the firing within a stage (higher first); never changes the verdict
    salience: int = 0

    @functools.cached_property  # read for every decision: computed once
    def comparisons(self) -> tuple[Comparison, ...]:
        """Every fact comparison of the rule, those inside ``any`` included, in written order."""
        found: list[Comparison] = []
        for condition in self.when:
            if isinstance(condition, Comparison):
                found.append(condition)
            elif isinstance(condition, AnyOf):
                found.extend(condition.comparisons())
        return tuple(found)

    @functools.cached_property  # read for every decision: computed once
    def facts_used(self) -> tuple[str, ...]:
        """The names of the facts the rule reads, each once, in written order."""
        return tuple(dict.fromkeys(c.fact for c in self.comparisons))

    @functools.cached_property  # read for every decision: computed once
    def signal_conditions(self) -> tuple[SignalCondition, ...]:
        return tuple(c for c in self.when if isinstance(c, SignalCondition))


@attrs.frozen
class Parameters:
    """Settings of the fact projection that a rule set fixes."""

    #: days after ``due_on`` an invoice may be paid and still count as on time
    grace_days: int = 7


@attrs.frozen
class RuleSet:
    """A validated rule set: its rules in written order, its parameters and the text it was read from."""

    rules: tuple[Rule, ...]
    parameters: Parameters = Parameters()
    source: str = ""
    description: str = ""
    #: the ``[drafts]`` table (None: the default drafts); see :mod:`clientrules.domain.drafts`
    drafts: Drafts | None = attrs.field(default=None, hash=False)

    @functools.cached_property  # read for every decision: computed once
    def enabled_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)

    def rule(self, rule_id: str) -> Rule:
        """The rule with that id (``KeyError`` when there is none)."""
        return self._by_id[rule_id]

    @functools.cached_property
    def _by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in reversed(self.rules)}  # the first of a repeated id, as a search finds it

    def stages(self) -> dict[str, int]:
        """The stratum of each enabled rule: a rule runs after every signal it negates is settled.

        A rule is in the stage of the signals it matches, and one stage after
        any signal it negates (the rule set has no cycles: validation refuses them).
        """
        by_id = {rule.id: rule for rule in self.enabled_rules}
        stage: dict[str, int] = {}

        def stage_of(rule_id: str) -> int:
            if rule_id not in stage:
                stage[rule_id] = max(
                    (
                        stage_of(c.name) + (1 if c.negated else 0)
                        for c in by_id[rule_id].signal_conditions
                        if c.name in by_id
                    ),
                    default=0,
                )
            return stage[rule_id]

        for rule_id in by_id:
            stage_of(rule_id)
        return stage

    @property
    def facts_used(self) -> frozenset[str]:
        """The names of the facts its enabled rules read."""
        return frozenset(fact for rule in self.enabled_rules for fact in rule.facts_used)

    @property
    def facts_computed(self) -> tuple[int, bool]:
        """What the facts it decides on depend on besides a client's events and the moment: its grace days, and
        whether it reads ``revenue_share`` (the portfolio's value). Rule sets equal here read the same facts."""
        return self.parameters.grace_days, REVENUE_SHARE in self.facts_used

    def age_thresholds(self) -> dict[str, tuple[float, ...]]:
        """The thresholds its enabled rules compare each day count with (for the schedule of time changes)."""
        return age_thresholds((c.fact, c.value) for rule in self.enabled_rules for c in rule.comparisons)

    def matched_signals(self) -> frozenset[str]:
        """Ids of the rules whose signal some enabled rule matches (with or without ``not``)."""
        return frozenset(c.name for rule in self.enabled_rules for c in rule.signal_conditions)


def most_severe(verdicts: Iterable[str]) -> str:
    """The most severe of ``verdicts``; ``keep`` when there is none."""
    return max(verdicts, key=SEVERITY.__getitem__, default="keep")

