"""Tuning the rules we have: would another threshold have warned of more departures, or raised fewer false alarms?

Pure, on the same :class:`~clientrules.domain.learning.evidence.Evidence` and
the same counting as new proposals (censoring included). A rule is tuned when
it gives a verdict, is no other rule's signal, and its only condition is one
comparison ``fact >= t`` or ``fact <= t`` on a number. It is judged on every
departure (whatever the reason): the current threshold (the champion)
against each candidate threshold (the challenger). A challenger is proposed
when it is clearly better: the departures it warns of minus the false alarms
it raises (one missed departure weighs as much as one false alarm) beat the
champion's by at least 2, and the low end of its precision interval is no
lower than the champion's. Among those, the best by that difference, then
the closest to the current threshold. The application backtests the
challenger against the champion with the real engine before showing it.
"""

from __future__ import annotations

from typing import Any

import hashlib
import json

import attrs

from clientrules.domain.learning.evidence import Evidence, Watched, meets
from clientrules.domain.learning.proposals import Finding, Score, Scorer, assess, scores
from clientrules.domain.rules.model import Comparison, Rule, RuleSet


def tunable(ruleset: RuleSet) -> list[tuple[Rule, Watched, int | float]]:
    """The rules that can be tuned: (rule, (fact, op), current threshold)."""
    signals = ruleset.matched_signals()
    found = []
    for rule in ruleset.enabled_rules:
        if not rule.verdict or rule.signal or rule.id in signals or len(rule.when) != 1:
            continue
        condition = rule.when[0]
        if isinstance(condition, Comparison) and condition.op in (">=", "<=") and not isinstance(condition.value, bool):
            found.append((rule, (condition.fact, condition.op), condition.value))
    return found


def watched(ruleset: RuleSet) -> list[Watched]:
    """The facts the tunable rules read, with their direction (gathered with the candidate facts)."""
    return [key for _, key, _ in tunable(ruleset)]


@attrs.frozen
class Tuning:
    """A different threshold for an existing rule: the champion and the challenger, judged the same way."""

    rule: Rule
    champion: Finding
    challenger: Finding

    @property
    def proposal_id(self) -> str:
        canonical = json.dumps(["tune", self.rule.id, self.challenger.fact, self.challenger.op, self.challenger.threshold])
        return "p-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def readable_id(self) -> str:
        bound = "at-least" if self.challenger.op == ">=" else "at-most"
        fact = self.challenger.fact.replace("_", "-")
        return f"tune-{self.rule.id}-to-{fact}-{bound}-{self.challenger.threshold!r}"

    @property
    def evidence(self) -> str:
        return self.challenger.evidence

    def summary(self) -> str:
        champion, challenger = self.champion, self.challenger
        return (
            f"Rule {self.rule.id} fires at {champion.words}. At {challenger.words} instead, it would have warned of "
            f"{len(challenger.flagged)} departures rather than {len(champion.flagged)}, with "
            f"{len(challenger.false_alarms)} false alarms rather than {len(champion.false_alarms)} "
            f"(clients who stayed at least {challenger.horizon_days} days after the warning). "
            f"It would flag {len(challenger.at_risk_now)} clients today rather than {len(champion.at_risk_now)}."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "champion": self.champion.to_json(),
            "challenger": self.challenger.to_json(),
            "summary": self.summary(),
        }


#: how much better (departures warned of minus false alarms) a challenger must be
MIN_GAIN = 2


def _gain(score: Score) -> int:
    return score.hits - score.false_alarms


def _better(champion: Score, challenger: Score) -> bool:
    return _gain(challenger) >= _gain(champion) + MIN_GAIN and challenger.precision_low >= champion.precision_low


def tune(evidence: Evidence, ruleset: RuleSet) -> list[Tuning]:
    """A challenger for each tunable rule where one is clearly better (see the module)."""
    everyone = list(evidence.departed)
    clients = tuple(sorted(d.client for d in everyone))
    found = []
    for rule, key, threshold in tunable(ruleset):
        scorer = Scorer(evidence, key)
        worst = [d.worst[key] for d in everyone]
        champion = Score(key, threshold, sum(meets(key[1], w, threshold) for w in worst), scorer.false_alarms(threshold), len(everyone))
        better = [s for s in scores(evidence, scorer, everyone) if s.threshold != threshold and _better(champion, s)]
        if not better:
            continue
        best = min(better, key=lambda s: (-_gain(s), abs(s.threshold - threshold)))
        found.append(
            Tuning(
                rule,
                assess(evidence, key, threshold, clients, reason=None),
                assess(evidence, key, best.threshold, clients, reason=None),
            )
        )
    return found
