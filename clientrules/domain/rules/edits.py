"""Changes an owner makes to a rule set without writing TOML: thresholds, on/off, advice, a new rule (pure).

Each returns the candidate rule set's text (:func:`~clientrules.domain.rules.format.ruleset_to_toml`),
validated as ``rules check`` validates a file: a change that breaks the rule set raises
:class:`~clientrules.domain.rules.validation.RuleSetProblems`, and nothing is adopted.
"""

from __future__ import annotations

import re
from typing import Iterator, Sequence

import attrs

from clientrules.domain.rules.format import parse_ruleset, ruleset_to_toml
from clientrules.domain.rules.model import AnyOf, Comparison, Condition, FactValue, Rule, RuleSet
from clientrules.domain.rules.validation import RuleSetProblems

_ID_GAPS = re.compile(r"[^a-z0-9]+")


def edit_rule(
    ruleset: RuleSet,
    rule_id: str,
    *,
    thresholds: Sequence[FactValue] | None = None,
    enabled: bool | None = None,
    advice: str | None = None,
    description: str | None = None,
) -> str:
    """The text of ``ruleset`` with rule ``rule_id`` changed; ``thresholds`` are the values of its
    comparisons in written order (:attr:`Rule.comparisons`)."""
    rule = ruleset.rule(rule_id)
    changes: dict[str, object] = {}
    if thresholds is not None:
        if len(thresholds) != len(rule.comparisons):
            raise RuleSetProblems([f"rule {rule_id}: {len(rule.comparisons)} thresholds expected, not {len(thresholds)}"])
        values = iter(thresholds)
        changes["when"] = tuple(_with_values(condition, values) for condition in rule.when)
    if enabled is not None:
        changes["enabled"] = enabled
    if advice is not None:
        changes["advice"] = advice.strip()
    if description is not None:
        changes["description"] = description.strip()
    changed = attrs.evolve(rule, **changes)  # type: ignore[arg-type]
    return _checked(attrs.evolve(ruleset, rules=tuple(changed if r.id == rule_id else r for r in ruleset.rules)))


def add_rule(
    ruleset: RuleSet, *, fact: str, op: str, value: FactValue, verdict: str, description: str, advice: str = ""
) -> str:
    """The text of ``ruleset`` with a new rule ``fact op value`` giving ``verdict``; its id is made from ``description``."""
    rule_id = _ID_GAPS.sub("-", description.casefold()).strip("-")[:48] or "new-rule"
    taken = {rule.id for rule in ruleset.rules}
    unique, n = rule_id, 2
    while unique in taken:
        unique, n = f"{rule_id}-{n}", n + 1
    rule = Rule(
        id=unique,
        when=(Comparison(fact, op, value),),
        verdict=verdict,
        advice=advice.strip(),
        description=description.strip(),
    )
    return _checked(attrs.evolve(ruleset, rules=(*ruleset.rules, rule)))


def _with_values(condition: Condition, values: Iterator[FactValue]) -> Condition:
    """``condition`` with its comparisons' values taken from ``values``, in written order."""
    if isinstance(condition, Comparison):
        return attrs.evolve(condition, value=next(values))
    if isinstance(condition, AnyOf):
        return AnyOf(tuple(tuple(attrs.evolve(c, value=next(values)) for c in option) for option in condition.options))
    return condition


def _checked(ruleset: RuleSet) -> str:
    text = ruleset_to_toml(ruleset)
    parse_ruleset(text)  # every problem, as ``rules check`` lists them
    return text
