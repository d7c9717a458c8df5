"""The stored history as the learning loop reads it: each client folded once, departures and their survey answers.

Pure: built from events (:meth:`History.from_events`); the service reads them
from the ledger. Every fact the loop asks for comes from the client's
:class:`~clientrules.facts.ClientFold`, so the whole history is folded once
and asked "as of" as many moments as needed.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Iterator

import attrs

from clientrules.domain.events import Event, Instant, as_instant
from clientrules.domain.events.system import SurveyAnswered
from clientrules.domain.facts import ClientFold, Facts

DAY = dt.timedelta(days=1)


def days_before(moment: Instant, count: int) -> Instant:
    """The moment ``count`` whole days before ``moment`` (in UTC; written as a date when at midnight)."""
    earlier = moment.utc - count * DAY
    if earlier.time() == dt.time(0):
        return as_instant(earlier.date())
    return Instant.from_datetime(earlier)


def days_between(earlier: Instant, later: Instant) -> int:
    """Whole days from ``earlier`` to ``later`` (rounded down)."""
    return (later.utc - earlier.utc) // DAY


@attrs.frozen
class Departure:
    """A client's ``RelationshipEnded`` and, where the client answered the exit survey, the answer."""

    at: Instant
    initiated_by: str
    event_id: str
    answer: SurveyAnswered | None = None
    answered_at: Instant | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        """The primary reason first, then the contributing ones (none without an answer)."""
        if self.answer is None:
            return ()
        others = [r for r in self.answer.other_reasons if r != self.answer.primary_reason]
        return (self.answer.primary_reason, *dict.fromkeys(others))


class ClientRecord:
    """One client: its fold, when it was active, its monthly value, and its departure if it left."""

    def __init__(self, client: str) -> None:
        self.client = client
        self.fold = ClientFold()
        self.first_at: Instant | None = None
        self.last_at: Instant | None = None
        self.monthly_value: float | None = None
        self.departure: Departure | None = None
        self._answers: list[tuple[Instant, SurveyAnswered]] = []
        self._facts: dict[tuple[int, int], Facts] = {}

    def add(self, event: Event) -> None:
        self.fold.apply(event)
        payload = event.payload
        if isinstance(payload, SurveyAnswered):
            self._answers.append((event.at, payload))
            return
        if payload.SYSTEM:
            return
        if self.first_at is None or event.at < self.first_at:
            self.first_at = event.at
        if self.last_at is None or event.at > self.last_at:
            self.last_at = event.at
        if event.type == "ClientOnboarded" and payload.monthly_value is not None:
            self.monthly_value = payload.monthly_value
        elif event.type == "RelationshipEnded" and (self.departure is None or event.at > self.departure.at):
            self.departure = Departure(at=event.at, initiated_by=payload.initiated_by, event_id=event.id)

    def finish(self) -> None:
        """Join the latest survey answer given after the departure to it."""
        if self.departure is None:
            return
        answers = sorted((a for a in self._answers if a[0] >= self.departure.at), key=lambda a: a[0])
        if answers:
            at, answer = answers[-1]
            self.departure = attrs.evolve(self.departure, answer=answer, answered_at=at)

    @property
    def departed(self) -> bool:
        return self.departure is not None

    def facts(self, as_of: Instant, grace_days: int) -> Facts:
        """The client's facts as of ``as_of`` (remembered: the report and every backtest ask the same moments)."""
        key = (as_of.key, grace_days)
        found = self._facts.get(key)
        if found is None:
            found = self._facts[key] = self.fold.facts(as_of, grace_days=grace_days)
        return found

    def active_moments(self, moments: Iterable[Instant]) -> Iterator[Instant]:
        """The moments at which the client was a client: from its first event, and before it left."""
        for moment in moments:
            if self.first_at is not None and moment >= self.first_at and (
                self.departure is None or moment < self.departure.at
            ):
                yield moment


class History:
    """Every client of the ledger (system streams aside), folded once."""

    def __init__(self, records: dict[str, ClientRecord]) -> None:
        self.records = dict(sorted(records.items()))
        firsts = [r.first_at for r in self.records.values() if r.first_at is not None]
        lasts = [r.last_at for r in self.records.values() if r.last_at is not None]
        self.start: Instant | None = min(firsts) if firsts else None
        self.end: Instant | None = max(lasts) if lasts else None

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> History:
        """Fold events of any clients, in any order; system streams (``$...``) are left out."""
        records: dict[str, ClientRecord] = {}
        for event in events:
            if event.client.startswith("$"):
                continue
            record = records.get(event.client)
            if record is None:
                record = records[event.client] = ClientRecord(event.client)
            record.add(event)
        for record in records.values():
            record.finish()
        return cls(records)

    @property
    def departed(self) -> list[ClientRecord]:
        """Clients who left, in order of departure (then client id)."""
        gone = [r for r in self.records.values() if r.departure is not None]
        return sorted(gone, key=lambda r: (r.departure.at, r.client))  # type: ignore[union-attr]

    @property
    def retained(self) -> list[ClientRecord]:
        return [r for r in self.records.values() if r.departure is None]

    def monthly_moments(self) -> list[Instant]:
        """00:00 UTC of the first day of every month after the first event, up to the last event."""
        if self.start is None or self.end is None:
            return []
        day = self.start.date.replace(day=1)
        moments = []
        while True:
            day = (day + 32 * DAY).replace(day=1)
            moment = as_instant(day)
            if moment > self.end:
                return moments
            moments.append(moment)
