"""Decisions and their reasons as values (pure: no I/O).

``Decision.to_json()`` is a contract (CLI ``--json``, ``DecisionRecorded``):
the keys ``client, verdict, fired, reasons, advice, ruleset_version, as_of``,
each reason with ``rule, verdict, sentence, facts, evidence, advice``.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from clientrules.domain.events import DecisionRecorded, Event, Instant


@attrs.frozen
class Reason:
    """Why one rule fired: in plain words, with the facts it read and the events behind them."""

    rule: str
    verdict: str | None
    sentence: str
    facts: Mapping[str, int | float | bool | None]
    evidence: tuple[str, ...]
    advice: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "verdict": self.verdict,
            "sentence": self.sentence,
            "facts": dict(self.facts),
            "evidence": list(self.evidence),
            "advice": self.advice,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        return cls(
            rule=data["rule"],
            verdict=data.get("verdict"),
            sentence=data.get("sentence", ""),
            facts=dict(data.get("facts", {})),
            evidence=tuple(data.get("evidence", ())),
            advice=data.get("advice", ""),
        )


@attrs.frozen
class Decision:
    """What the rules decided for one client as of ``as_of``, under rule-set ``ruleset_version``.

    ``fired`` lists every rule that fired, signals included, in firing order
    (a signal always comes before the rules that match it); ``reasons`` follows
    the same order. ``advice`` is the advice of the rules that gave the verdict.
    """

    client: str
    verdict: str
    fired: tuple[str, ...]
    reasons: tuple[Reason, ...]
    advice: tuple[str, ...]
    ruleset_version: int
    as_of: Instant

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "verdict": self.verdict,
            "fired": list(self.fired),
            "reasons": [reason.to_json() for reason in self.reasons],
            "advice": list(self.advice),
            "ruleset_version": self.ruleset_version,
            "as_of": self.as_of.text,
        }

    def recorded_event(self, recorded_at: Instant) -> Event:
        """The ``DecisionRecorded`` event that keeps this decision in the client's stream."""
        payload = DecisionRecorded(
            verdict=self.verdict,
            fired=list(self.fired),
            reasons=[reason.to_json() for reason in self.reasons],
            ruleset_version=self.ruleset_version,
            as_of=self.as_of.text,
        )
        return Event.new(self.client, payload, recorded_at)
