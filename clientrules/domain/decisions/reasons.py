"""From the rules that fired to a :class:`Decision` (pure: the engine says what fired)."""

from __future__ import annotations

from typing import Iterable, Mapping, Protocol, Sequence

from clientrules.domain.decisions.model import Decision, Reason
from clientrules.domain.decisions.words import describe_fired
from clientrules.domain.events import Instant
from clientrules.domain.facts.value import Incident
from clientrules.domain.rules.model import FactValue, RuleSet, most_severe


class FactsLike(Protocol):
    """What a decision needs of the facts (``clientrules.domain.facts.Facts`` is one)."""

    @property
    def as_of(self) -> Instant: ...

    @property
    def values(self) -> Mapping[str, FactValue]: ...

    @property
    def evidence(self) -> Mapping[str, tuple[str, ...]]: ...

    @property
    def incidents(self) -> Sequence[Incident]: ...


def reason_for(
    ruleset: RuleSet, rule_id: str, facts: FactsLike, signal_evidence: Mapping[str, tuple[str, ...]]
) -> Reason:
    """The reason of one fired rule; its evidence includes that of the signals it matched."""
    rule = ruleset.rule(rule_id)
    used = rule.facts_used
    own = (event_id for name in used for event_id in facts.evidence.get(name, ()))
    chained = (
        event_id
        for condition in rule.signal_conditions
        if not condition.negated
        for event_id in signal_evidence.get(condition.name, ())
    )
    return Reason(
        rule=rule.id,
        verdict=rule.verdict,
        sentence=describe_fired(rule, facts.values, facts.incidents, facts.evidence),
        facts={name: facts.values.get(name) for name in used},
        evidence=tuple(dict.fromkeys([*own, *chained])),
        advice=rule.advice,
    )


def build_decision(
    client: str, ruleset: RuleSet, version: int, facts: FactsLike, fired: Iterable[str]
) -> Decision:
    """The decision for ``client`` given the ids of the rules that fired, in firing order."""
    reasons: list[Reason] = []
    evidence: dict[str, tuple[str, ...]] = {}
    for rule_id in fired:  # in firing order: a signal's reason exists before the rules that match it
        reason = reason_for(ruleset, rule_id, facts, evidence)
        evidence[rule_id] = reason.evidence
        reasons.append(reason)
    verdict = most_severe(reason.verdict for reason in reasons if reason.verdict)
    advice = tuple(
        dict.fromkeys(r.advice for r in reasons if r.verdict == verdict and r.advice)
    )
    return Decision(
        client=client,
        verdict=verdict,
        fired=tuple(reason.rule for reason in reasons),
        reasons=tuple(reasons),
        advice=advice,
        ruleset_version=version,
        as_of=facts.as_of,
    )
