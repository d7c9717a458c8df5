"""Checks a rule set must pass before use; each problem names the rule and what is wrong."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from clientrules.domain.errors import InvalidRuleSet
from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.facts.schedule import AGE_FACTS, MAX_DAY_COUNT
from clientrules.domain.rules.limits import engine_limit_problems, size_problems
from clientrules.domain.rules.model import Comparison, RuleSet
from clientrules.domain.suggestions import did_you_mean

#: durable-rules joins at most 16 patterns; a rule uses one for the facts and one for its stage
MAX_SIGNAL_CONDITIONS = 14
_ORDERING = ("<", "<=", ">", ">=")


class RuleSetProblems(InvalidRuleSet):
    """The rule set is not valid; ``problems`` lists every problem, one line each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
        super().__init__(f"invalid rule set: {self.problems[0]}{more}")


def check_ruleset(ruleset: RuleSet) -> list[str]:
    """Every problem of a structurally sound rule set: names, types, references, cycles, the engine's limits."""
    problems = size_problems(ruleset)
    if problems:  # the checks below walk the rules, some recursively
        return problems
    counts = Counter(rule.id for rule in ruleset.rules)
    problems.extend(f"rule {rule_id!r}: the id is used by {n} rules" for rule_id, n in counts.items() if n > 1)
    by_id = {rule.id: rule for rule in ruleset.rules}
    for rule in ruleset.rules:
        where = f"rule {rule.id!r}"
        problems.extend(f"{where}: {problem}" for c in rule.comparisons for problem in _comparison_problems(c))
        signals = rule.signal_conditions
        if len(signals) > MAX_SIGNAL_CONDITIONS:
            problems.append(f"{where}: matches {len(signals)} signals, at most {MAX_SIGNAL_CONDITIONS} are allowed")
        for condition in signals:
            target = by_id.get(condition.name)
            if target is None:
                hint = did_you_mean(condition.name, list(by_id))
                problems.append(f"{where}: unknown signal {condition.name!r}{hint} (no rule has that id)")
            elif rule.enabled and not target.enabled:
                consequence = (
                    "'not signal' would always hold" if condition.negated else "the rule could never fire"
                )
                problems.append(
                    f"{where}: {condition} refers to rule {target.id!r}, which is disabled: {consequence}"
                )
    problems.extend(_cycle_problems(ruleset))
    if not any(rule.verdict for rule in ruleset.enabled_rules):
        problems.append("rule set: no enabled rule gives a verdict, so every client would be kept")
    if not problems:
        problems.extend(engine_limit_problems(ruleset))
    return problems


def _comparison_problems(comparison: Comparison) -> list[str]:
    spec = FACTS.get(comparison.fact)
    if spec is None:
        return [f"unknown fact {comparison.fact!r}{did_you_mean(comparison.fact, list(FACTS))}"]
    value = comparison.value
    if spec.kind is bool:
        if comparison.op in _ORDERING:
            return [f"{comparison}: {spec.name} is true or false; compare it with == or !="]
        if not isinstance(value, bool):
            return [f"{comparison}: {spec.name} is true or false, not a number"]
        return []
    if isinstance(value, bool):
        return [f"{comparison}: {spec.name} is a number, not true or false"]
    if spec.kind is int and isinstance(value, float):
        return [f"{comparison}: {spec.name} is a whole number; compare it with a whole number"]
    if spec.name in AGE_FACTS and abs(value) > MAX_DAY_COUNT:
        return [
            f"{comparison}: {spec.name} counts days, at most {MAX_DAY_COUNT:,} in the years the ledger holds;"
            " compare it with a number of days it can reach"
        ]
    return []


def _cycle_problems(ruleset: RuleSet) -> list[str]:
    """One problem per cycle among signals (through 'not' too): such rules have no meaning."""
    edges = {rule.id: [c.name for c in rule.signal_conditions] for rule in ruleset.rules}
    done: set[str] = set()
    problems: list[str] = []

    def visit(rule_id: str, path: list[str]) -> None:
        if rule_id in path:
            cycle = path[path.index(rule_id):] + [rule_id]
            problems.append(f"rule {rule_id!r}: signals form a cycle: {' -> '.join(cycle)}")
            return
        if rule_id in done or rule_id not in edges:
            return
        for target in edges[rule_id]:
            visit(target, path + [rule_id])
        done.add(rule_id)

    for rule_id in edges:
        visit(rule_id, [])
    return problems
