"""Decisions and their reasons as values (pure: no I/O).

``Decision.to_json()`` is a contract (CLI ``--json``, ``DecisionRecorded``):
the keys ``client, verdict, fired, reasons, advice, ruleset_version, as_of``,
each reason with ``rule, verdict, sentence, facts, evidence, advice``, then
``status`` (``active``, ``leaving``, ``left``) and ``effective_on`` (the date
a leaving client leaves or a left client left; null when active). A left
client has no verdict to act on: ``verdict`` null and no rules fired.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

import attrs

from clientrules.domain.events import DecisionRecorded, Event, Instant
from clientrules.domain.facts.status import ACTIVE, LEFT, ClientStatus


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
    ``status``: where the client stands as of ``as_of``; ``verdict`` is None
    only for a client who has left (:meth:`for_left`).
    """

    client: str
    verdict: str | None
    fired: tuple[str, ...]
    reasons: tuple[Reason, ...]
    advice: tuple[str, ...]
    ruleset_version: int
    as_of: Instant
    status: str = ACTIVE
    effective_on: dt.date | None = None

    def __reduce__(self) -> tuple[Callable[..., Decision], tuple[Any, ...]]:
        # its reasons as plain tuples: evaluate --workers sends a thousand decisions at a time between processes,
        # and attrs' own way (a state dict per object, set field by field) takes about twice as long both ways
        reasons = tuple([(r.rule, r.verdict, r.sentence, r.facts, r.evidence, r.advice) for r in self.reasons])
        return _unpickled_decision, (
            self.client, self.verdict, self.fired, reasons, self.advice, self.ruleset_version, self.as_of,
            self.status, self.effective_on,
        )

    @classmethod
    def for_left(cls, client: str, status: ClientStatus, ruleset_version: int, as_of: Instant) -> Decision:
        """The decision of a client who has left: nothing to act on (its last decision stays in its history)."""
        return cls(client, None, (), (), (), ruleset_version, as_of, LEFT, status.on)

    @property
    def reached(self) -> str:
        """The verdict the rules reached (every decision but a left client's has one)."""
        if self.verdict is None:
            raise ValueError(f"client {self.client!r} has left: the rules reached no verdict")
        return self.verdict

    def with_status(self, status: ClientStatus) -> Decision:
        """This decision of an active or leaving client, saying which."""
        if status.state == self.status and status.on == self.effective_on:
            return self  # as it is for an active client: a decision is immutable
        return attrs.evolve(self, status=status.state, effective_on=status.on)

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "verdict": self.verdict,
            "fired": list(self.fired),
            "reasons": [reason.to_json() for reason in self.reasons],
            "advice": list(self.advice),
            "ruleset_version": self.ruleset_version,
            "as_of": self.as_of.text,
            "status": self.status,
            "effective_on": None if self.effective_on is None else self.effective_on.isoformat(),
        }

    def recorded_event(self, recorded_at: Instant) -> Event:
        """The ``DecisionRecorded`` event that keeps this decision in the client's stream (not for a left client)."""
        if self.verdict is None:
            raise ValueError(f"client {self.client!r} has left: there is no decision to record")
        payload = DecisionRecorded(
            verdict=self.verdict,
            fired=list(self.fired),
            reasons=[reason.to_json() for reason in self.reasons],
            ruleset_version=self.ruleset_version,
            as_of=self.as_of.text,
        )
        return Event.new(self.client, payload, recorded_at)


def _unpickled_decision(
    client: str, verdict: str | None, fired: tuple[str, ...], reasons: tuple[tuple[Any, ...], ...],
    advice: tuple[str, ...], ruleset_version: int, as_of: Instant, status: str, effective_on: dt.date | None,
) -> Decision:
    return Decision(
        client, verdict, fired, tuple([Reason(*reason) for reason in reasons]), advice, ruleset_version, as_of,
        status, effective_on,
    )
