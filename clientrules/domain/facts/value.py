"""The facts of one client as of a moment: what rules match, and the events behind each."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import attrs

from clientrules.domain.events import Instant


@attrs.frozen
class Incident:
    """One ``IncidentReported``, as the conduct facts count it and an explanation names it."""

    event_id: str
    on: dt.date
    kind: str
    against: str
    severity: int


@attrs.frozen
class Facts:
    """The facts of ``clientrules.domain.facts.catalogue.FACTS`` as of ``as_of``.

    ``values`` maps a fact name to its value (``int``, ``float`` or ``bool`` as
    the catalogue says); a fact with no meaning as of ``as_of`` (e.g.
    ``silent_days`` with no unanswered follow-up) is simply missing.
    ``evidence`` maps each present fact to the ids of the events behind it
    (possibly none, e.g. ``hours_90d`` is 0 with no work logged). Both are
    plain dicts for speed and interoperability: treat them as read-only.
    ``incidents`` are the incidents of the last 365 days, oldest first, so
    that an explanation can name them ("rudeness toward you on 5 May 2026").
    """

    as_of: Instant
    values: Mapping[str, int | float | bool]
    evidence: Mapping[str, tuple[str, ...]]
    incidents: tuple[Incident, ...] = ()

    def __getitem__(self, name: str) -> int | float | bool:
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def to_json(self) -> dict[str, Any]:
        """``{"as_of": text, "values": {...}, "evidence": {name: [ids]}}``, ready for ``json.dumps``."""
        return {
            "as_of": self.as_of.text,
            "values": dict(self.values),
            "evidence": {name: list(ids) for name, ids in self.evidence.items()},
        }
