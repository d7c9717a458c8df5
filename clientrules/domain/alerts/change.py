"""A decision change: what the watcher records when a client's verdict or set of fired rules changes.

``Change.to_json()`` is a contract (``clientrules changes --json``, the
webhook's body): the keys ``id, client, at, from, to, fired, previous_fired,
reasons, advice, ruleset_version, cause``.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from clientrules.domain.decisions.model import Decision, Reason
from clientrules.domain.events import DecisionChanged, Event, Instant

#: what made the watcher decide again (see :class:`~clientrules.domain.events.DecisionChanged`)
CAUSES = ("event", "time", "rules", "baseline")
#: the decision of a client the watcher has not seen: nothing fired, keep
UNSEEN = ("keep", ())


@attrs.frozen
class Change:
    """One recorded change of a client's decision (a ``DecisionChanged`` event)."""

    id: str
    client: str
    at: Instant
    from_verdict: str | None
    to_verdict: str
    previous_fired: tuple[str, ...]
    fired: tuple[str, ...]
    reasons: tuple[Reason, ...]
    advice: tuple[str, ...]
    ruleset_version: int
    cause: str

    @classmethod
    def from_event(cls, event: Event) -> Change:
        payload = event.payload
        if not isinstance(payload, DecisionChanged):
            raise TypeError(f"event {event.id} is a {event.type}, not a DecisionChanged")
        return cls(
            id=event.id,
            client=event.client,
            at=event.at,
            from_verdict=payload.from_verdict,
            to_verdict=payload.to_verdict,
            previous_fired=tuple(payload.previous_fired),
            fired=tuple(payload.fired),
            reasons=tuple(Reason.from_json(reason) for reason in payload.reasons),
            advice=tuple(payload.advice),
            ruleset_version=payload.ruleset_version,
            cause=payload.cause,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        """The change of :meth:`to_json`'s output."""
        return cls(
            id=data["id"],
            client=data["client"],
            at=Instant.parse(data["at"]),
            from_verdict=data["from"],
            to_verdict=data["to"],
            previous_fired=tuple(data["previous_fired"]),
            fired=tuple(data["fired"]),
            reasons=tuple(Reason.from_json(reason) for reason in data["reasons"]),
            advice=tuple(data["advice"]),
            ruleset_version=data["ruleset_version"],
            cause=data["cause"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client": self.client,
            "at": self.at.utc.isoformat().replace("+00:00", "Z"),
            "from": self.from_verdict,
            "to": self.to_verdict,
            "fired": list(self.fired),
            "previous_fired": list(self.previous_fired),
            "reasons": [reason.to_json() for reason in self.reasons],
            "advice": list(self.advice),
            "ruleset_version": self.ruleset_version,
            "cause": self.cause,
        }


def decision_change(decision: Decision, previous: tuple[str, tuple[str, ...]] | None, cause: str) -> Event | None:
    """The ``DecisionChanged`` event for ``decision`` if it differs from ``previous``, else None.

    ``previous`` is the verdict and fired rules seen last (None: the client
    was never seen, which counts as keep with nothing fired, so a new client
    who is fine raises nothing). Fired rules are compared as a set.
    """
    verdict, fired = UNSEEN if previous is None else previous
    if decision.verdict == verdict and set(decision.fired) == set(fired):
        return None
    payload = DecisionChanged(
        from_verdict=None if previous is None else verdict,
        to_verdict=decision.reached,
        previous_fired=list(fired),
        fired=list(decision.fired),
        reasons=[reason.to_json() for reason in decision.reasons],
        advice=list(decision.advice),
        ruleset_version=decision.ruleset_version,
        as_of=decision.as_of.text,
        cause=cause,
    )
    return Event.new(decision.client, payload, decision.as_of)
