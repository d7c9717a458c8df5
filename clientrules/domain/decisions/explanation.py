"""Explanations: the full chain of a decision in plain words, and the rules that came close (pure).

Near misses are read from the rules' conditions and the client's facts, to
explain; the decision itself always comes from the engine.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs

from clientrules.domain.decisions.model import Decision
from clientrules.domain.decisions.reasons import FactsLike
from clientrules.domain.decisions.words import describe_miss
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.rules.model import AnyOf, Comparison, Condition, FactValue, Rule, RuleSet, SignalCondition


class UnknownRule(ClientRulesError):
    """The rule set has no rule with that id."""


@attrs.frozen
class NearMiss:
    """An enabled rule that did not fire because exactly one of its conditions failed."""

    rule: str
    verdict: str | None
    missing: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "verdict": self.verdict, "missing": self.missing}


@attrs.frozen
class Recorded:
    """A decision as it was recorded (``DecisionRecorded``), to compare with its re-explanation."""

    event_id: str
    verdict: str
    fired: tuple[str, ...]


@attrs.frozen
class Explanation:
    """A decision, the facts it was reached from, and the rules that came close."""

    decision: Decision
    facts: FactsLike
    near_misses: tuple[NearMiss, ...]
    ruleset: RuleSet
    recorded: Recorded | None = None

    def why_not(self, rule_id: str) -> str:
        """Why ``rule_id`` did not fire, condition by condition (or that it did, or is disabled)."""
        try:
            rule = self.ruleset.rule(rule_id)
        except KeyError:
            raise UnknownRule(
                f"rule-set version {self.decision.ruleset_version} has no rule {rule_id!r}"
            ) from None
        fired = frozenset(self.decision.fired)
        if rule_id in fired:
            return f"{rule_id} fired."
        if not rule.enabled:
            return f"{rule_id} is disabled in rule-set version {self.decision.ruleset_version}."
        values = self.facts.values
        unmet = [describe_miss(c, values, fired) for c in rule.when if not _holds(c, values, fired)]
        return f"{rule_id} did not fire: {'; '.join(unmet)}."

    @property
    def agrees_with_record(self) -> bool | None:
        """For a re-explained recorded decision: whether the engine reaches it again (None otherwise)."""
        if self.recorded is None:
            return None
        return (self.recorded.verdict, self.recorded.fired) == (self.decision.verdict, self.decision.fired)

    def to_json(self) -> dict[str, Any]:
        data = self.decision.to_json()
        data["near_misses"] = [miss.to_json() for miss in self.near_misses]
        data["facts"] = dict(self.facts.values)
        if self.recorded is not None:
            data["recorded"] = {
                "event_id": self.recorded.event_id,
                "verdict": self.recorded.verdict,
                "fired": list(self.recorded.fired),
                "agrees": self.agrees_with_record,
            }
        return data

    def to_text(self) -> str:
        decision = self.decision
        lines = [
            f"{decision.client} as of {decision.as_of.text}, rule-set version {decision.ruleset_version}: "
            f"{decision.reached.upper()}"
        ]
        if self.recorded is not None:
            lines.append(
                f"(re-explaining decision {self.recorded.event_id}, recorded as {self.recorded.verdict}"
                + ("" if self.agrees_with_record else f"; the same rules now give {decision.verdict}: "
                   "events dated before its moment were added later")
                + ")"
            )
        lines.append("")
        if not decision.reasons:
            lines.append("No rule fired, so the verdict is keep.")
        else:
            lines.append("Why:")
            for number, reason in enumerate(decision.reasons, start=1):
                outcome = f"-> {reason.verdict}" if reason.verdict else "(signal)"
                lines.append(f"  {number}. {reason.rule} {outcome}: {reason.sentence}")
                if reason.evidence:
                    lines.append(f"     evidence: {', '.join(reason.evidence)}")
        if self.near_misses:
            lines.append("")
            lines.append("Came close but did not fire:")
            for miss in self.near_misses:
                outcome = f"-> {miss.verdict}" if miss.verdict else "(signal)"
                lines.append(f"  - {miss.rule} {outcome}: {miss.missing}")
        if decision.advice:
            lines.append("")
            lines.append("Advice:")
            lines.extend(f"  - {advice}" for advice in decision.advice)
        return "\n".join(lines)


def explain_decision(
    ruleset: RuleSet, decision: Decision, facts: FactsLike, *, recorded: Recorded | None = None
) -> Explanation:
    fired = frozenset(decision.fired)
    rules = {rule.id: rule for rule in ruleset.enabled_rules}
    misses: dict[str, NearMiss | None] = {}

    def miss_of(rule_id: str) -> NearMiss | None:
        if rule_id not in misses:
            misses[rule_id] = near_miss(rules[rule_id], facts.values, fired, miss_of)
        return misses[rule_id]

    found = tuple(
        miss for rule_id in rules if rule_id not in fired for miss in [miss_of(rule_id)] if miss is not None
    )
    return Explanation(decision=decision, facts=facts, near_misses=found, ruleset=ruleset, recorded=recorded)


def near_miss(
    rule: Rule,
    values: Mapping[str, FactValue],
    fired: frozenset[str],
    miss_of: Callable[[str], NearMiss | None],
) -> NearMiss | None:
    """The miss of a rule that failed on exactly one condition, if it came close.

    It came close when its other conditions held and the failed one was
    partly met: some but not enough (2 late invoices of the 3 needed), a
    signal whose rule came close itself, or any other condition when the rule
    has several (e.g. a negated signal that fired). A rule of one condition
    that is not met at all did not come close.
    """
    unmet = [c for c in rule.when if not _holds(c, values, fired)]
    if len(unmet) != 1:
        return None
    condition = unmet[0]
    if isinstance(condition, SignalCondition) and not condition.negated:
        if miss_of(condition.name) is None:
            return None
    elif len(rule.when) == 1 and not _partly_met(condition, values):
        return None
    return NearMiss(rule=rule.id, verdict=rule.verdict, missing=describe_miss(condition, values, fired))


def _holds(condition: Condition, values: Mapping[str, FactValue], fired: frozenset[str]) -> bool:
    if isinstance(condition, SignalCondition):
        return (condition.name in fired) != condition.negated
    return condition.holds(values)


def _partly_met(condition: Condition, values: Mapping[str, FactValue]) -> bool:
    if isinstance(condition, AnyOf):
        return any(
            all(c.holds(values) or _partly_met(c, values) for c in option) for option in condition.options
        )
    if isinstance(condition, Comparison) and condition.op in (">=", ">"):
        actual = values.get(condition.fact)
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and 0 < actual
    return False
