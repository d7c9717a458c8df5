"""From the rules that fired to a :class:`Decision` (pure: the engine says what fired)."""

from __future__ import annotations

from typing import Iterable, Mapping, Protocol

from clientrules.decisions.model import Decision, Reason
from clientrules.decisions.words import describe_fired
from clientrules.events import Instant
from clientrules.rules.model import FactValue, RuleSet, most_severe


class FactsLike(Protocol):
    """What a decision needs of the facts (``clientrules.facts.Facts`` is one)."""

    as_of: Instant
    values: Mapping[str, FactValue]
    evidence: Mapping[str, tuple[str, ...]]


def reason_for(ruleset: RuleSet, rule_id: str, facts: FactsLike) -> Reason:
    rule = ruleset.rule(rule_id)
    used = rule.facts_used
    evidence = dict.fromkeys(event_id for name in used for event_id in facts.evidence.get(name, ()))
    return Reason(
        rule=rule.id,
        verdict=rule.verdict,
        sentence=describe_fired(rule, facts.values),
        facts={name: facts.values.get(name) for name in used},
        evidence=tuple(evidence),
        advice=rule.advice,
    )


def build_decision(
    client: str, ruleset: RuleSet, version: int, facts: FactsLike, fired: Iterable[str]
) -> Decision:
    """The decision for ``client`` given the ids of the rules that fired, in firing order."""
    reasons = tuple(reason_for(ruleset, rule_id, facts) for rule_id in fired)
    verdict = most_severe(reason.verdict for reason in reasons if reason.verdict)
    advice = tuple(
        dict.fromkeys(r.advice for r in reasons if r.verdict == verdict and r.advice)
    )
    return Decision(
        client=client,
        verdict=verdict,
        fired=tuple(reason.rule for reason in reasons),
        reasons=reasons,
        advice=advice,
        ruleset_version=version,
        as_of=facts.as_of,
    )
