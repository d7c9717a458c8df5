"""Client histories as the learning loop reads them: one client at a time, folded once.

Pure: a :class:`ClientRecord` is built from one client's events
(:meth:`ClientRecord.from_events`); the service reads them from the store one
client after another, so no pass of the learning loop holds more than one
client's events. Every fact the loop asks for comes from the record's
:class:`~clientrules.domain.facts.ClientFold`: a client is folded once and
asked "as of" every moment the loop needs.

:class:`History` keeps every record in memory: for tests and small examples
built from a list of events; the service streams instead
(:class:`Histories` is what both give).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Callable, Iterable, Iterator, Protocol

import attrs

from clientrules.domain.events import ClientOnboarded, Event, Instant, NoticeGiven, RelationshipEnded, as_instant
from clientrules.domain.events.instant import FIRST_YEAR
from clientrules.domain.events.system import SurveyAnswered
from clientrules.domain.facts import ClientFold, Facts
from clientrules.domain.rules.model import FactValue

DAY = dt.timedelta(days=1)
#: the first moment a store can hold
CALENDAR_START = dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.timezone.utc)
#: "When did you first think of leaving?" -> how many days before it left the client had decided, at least;
#: "from the start" counts as the longest window the answers name (a warning could not have come in time)
DECIDED_DAYS_BEFORE: dict[str, int] = {
    "under_a_month": 0,
    "one_to_three_months": 30,
    "over_three_months": 90,
    "from_the_start": 90,
}


def days_before(moment: Instant, count: int) -> Instant:
    """The moment ``count`` whole days before ``moment`` (in UTC; written as a date when at midnight), or the
    first moment of the supported calendar if that is earlier (nothing is recorded before it)."""
    back = count * DAY
    earlier = moment.utc - back if back <= moment.utc - CALENDAR_START else CALENDAR_START
    if earlier.time() == dt.time(0):
        return as_instant(earlier.date())
    return Instant.from_datetime(earlier)


def days_between(earlier: Instant, later: Instant) -> int:
    """Whole days from ``earlier`` to ``later`` (rounded down)."""
    return (later.utc - earlier.utc) // DAY


@attrs.frozen
class Timeframe:
    """From the first to the newest client event: the months the loop looks back on."""

    start: Instant | None
    end: Instant | None

    def monthly_moments(self) -> list[Instant]:
        """00:00 UTC of the first day of every month after ``start``, up to ``end``."""
        if self.start is None or self.end is None:
            return []
        day = self.start.date.replace(day=1)
        moments: list[Instant] = []
        while True:
            day = (day + 32 * DAY).replace(day=1)
            if day > self.end.date:  # checked before it becomes a moment: the month after the last may be past the years
                return moments
            moments.append(as_instant(day))

    def checked_moments(self) -> list[Instant]:
        """The :meth:`monthly_moments` and ``end``: every moment a replay checks some client at."""
        return [*self.monthly_moments(), *([self.end] if self.end is not None else [])]


@attrs.frozen
class Departure:
    """A client's departure and, where the client answered the exit survey, the answer.

    ``at`` is when it was decided: the ``NoticeGiven`` when one came first,
    else the ``RelationshipEnded``; ``initiated_by`` is the side that gave the
    notice or ended it (``us`` or ``client``).
    """

    at: Instant
    initiated_by: str
    event_id: str
    answer: SurveyAnswered | None = None
    answered_at: Instant | None = None

    @property
    def chosen_by_client(self) -> bool:
        """Whether the client chose to leave: only these are departures the rules can catch (ours are decisions carried out)."""
        return self.initiated_by == "client"

    @property
    def decided_days_before(self) -> int | None:
        """How many days before leaving the client says it had decided, at least (None: not said)."""
        if self.answer is None or self.answer.first_thought_leaving is None:
            return None
        return DECIDED_DAYS_BEFORE[self.answer.first_thought_leaving]

    @property
    def reasons(self) -> tuple[str, ...]:
        """The primary reason first, then the contributing ones (none without an answer)."""
        if self.answer is None:
            return ()
        others = [r for r in self.answer.other_reasons if r != self.answer.primary_reason]
        return (self.answer.primary_reason, *dict.fromkeys(others))


class ClientRecord:
    """One client: its fold, when it was active, its monthly value, and its departure if it left."""

    def __init__(self, client: str, read: Callable[[], Iterable[Event]] | None = None) -> None:
        self.client = client
        #: the highest stream version of its events (0: none stored)
        self.version = 0
        self._fold: ClientFold | None = None
        self._unfolded: list[Event] = []
        #: what gives every event of a record built without them (:meth:`known`), should it have to fold
        self._read = read
        self.first_at: Instant | None = None
        self.last_at: Instant | None = None
        self.monthly_value: float | None = None
        #: the name it was last onboarded with
        self.name: str | None = None
        self.departure: Departure | None = None
        self._notice: Departure | None = None
        self._answers: list[tuple[Instant, SurveyAnswered]] = []
        self._facts: dict[tuple[int, int], Facts] = {}

    @classmethod
    def from_events(cls, client: str, events: Iterable[Event]) -> ClientRecord:
        """The record of ``client`` from its events (in any order)."""
        record = cls(client)
        for event in events:
            record.add(event)
        record.finish()
        return record

    @classmethod
    def known(
        cls, client: str, *, version: int, first_at: Instant, onboardings: Iterable[Event], read: Callable[[], Iterable[Event]]
    ) -> ClientRecord:
        """The record of ``client``, a client that has not left, built without reading its events: its stream's
        ``version`` and its ``first_at`` as known, its name and monthly value from its ``onboardings`` (its
        ``ClientOnboarded`` events); its ``last_at`` is not known (None). Its facts are those it is told
        (:meth:`knows`); asked any other moment, it folds every event ``read`` gives."""
        record = cls(client, read)
        record.version, record.first_at = version, first_at
        for event in sorted(onboardings, key=_stream_order):
            if isinstance(event.payload, ClientOnboarded):
                record._onboarded(event.payload)
        return record

    @property
    def fold(self) -> ClientFold:
        """Its events folded, the first time it is asked (a record whose facts it is told folds nothing)."""
        if self._fold is None:
            self._fold = ClientFold()
            self._fold.apply_all(self._unfolded if self._read is None else self._read())
            self._unfolded = []
        return self._fold

    def add(self, event: Event) -> None:
        self._facts.clear()
        if self._fold is None:
            self._unfolded.append(event)
        else:
            self._fold.apply(event)
        if event.version is not None and event.version > self.version:
            self.version = event.version
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
        if isinstance(payload, ClientOnboarded):
            self._onboarded(payload)
        elif isinstance(payload, NoticeGiven) and (self.departure is None or event.at > self.departure.at):
            self.departure = Departure(at=event.at, initiated_by=payload.by, event_id=event.id)
            self._notice = self.departure
        elif isinstance(payload, RelationshipEnded) and (self.departure is None or event.at > self.departure.at):
            # the notice that came before it is when the relationship's end was decided
            notice = self._notice
            self.departure = notice or Departure(at=event.at, initiated_by=payload.initiated_by, event_id=event.id)
            self._notice = None

    def _onboarded(self, payload: ClientOnboarded) -> None:
        self.name = payload.name
        if payload.monthly_value is not None:
            self.monthly_value = payload.monthly_value

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

    def facts(self, as_of: Instant, grace_days: int, portfolio_value: Decimal | None = None) -> Facts:
        """The client's facts as of ``as_of``: their values only (the learning loop reads verdicts, not reasons);
        ``revenue_share`` only with the ``portfolio_value`` of that moment. Those without it are remembered while
        the record lives: the passes that read one record together ask it the same moments."""
        if portfolio_value is not None:
            return self.fold.facts(as_of, grace_days=grace_days, portfolio_value=portfolio_value, explained=False)
        key = (as_of.key, grace_days)
        found = self._facts.get(key)
        if found is None:
            found = self._facts[key] = self.fold.facts(as_of, grace_days=grace_days, explained=False)
        return found

    def knows(self, as_of: Instant, grace_days: int, values: dict[str, FactValue]) -> None:
        """Remember ``values`` as its facts as of ``as_of`` (kept earlier at its current version): :meth:`facts`
        answers with them instead of folding."""
        self._facts[(as_of.key, grace_days)] = Facts(as_of, values, {})

    def active_moments(self, moments: Iterable[Instant]) -> Iterator[Instant]:
        """The moments at which the client was a client: from its first event, and before it left."""
        return active_between(moments, self.first_at, None if self.departure is None else self.departure.at)


def active_between(
    moments: Iterable[Instant], first_at: Instant | None, departed_at: Instant | None
) -> Iterator[Instant]:
    """The ``moments`` at which a client first seen at ``first_at`` (None: never) that left at ``departed_at``
    (None: stayed) was a client."""
    if first_at is None:
        return iter(())
    return (moment for moment in moments if moment >= first_at and (departed_at is None or moment < departed_at))


def _stream_order(event: Event) -> tuple[int, int]:
    """Where ``event`` stands in its stream read in time order: its moment, then its version."""
    return (event.at.key, event.version or 0)


class Onboardings:
    """Of every client's ``ClientOnboarded`` events, taken in any order, those its record reads
    (:meth:`ClientRecord.known`): the last in time, which names it, and the last in time that gives a monthly
    value. At most two a client, however many it has."""

    def __init__(self) -> None:
        self._named: dict[str, Event] = {}
        self._valued: dict[str, Event] = {}

    def add(self, event: Event) -> None:
        payload = event.payload
        if not isinstance(payload, ClientOnboarded):
            return
        for last in (self._named, self._valued) if payload.monthly_value is not None else (self._named,):
            found = last.get(event.client)
            if found is None or _stream_order(found) < _stream_order(event):
                last[event.client] = event

    def of(self, client: str) -> list[Event]:
        """The onboardings of ``client`` its record reads (none if it has none)."""
        named, valued = self._named.get(client), self._valued.get(client)
        return [event for event in (valued, named) if event is not None]


class Histories(Protocol):
    """Every client's record, one at a time, and the timeframe they span (what each pass of the loop reads)."""

    @property
    def timeframe(self) -> Timeframe: ...

    def __iter__(self) -> Iterator[ClientRecord]:
        """Each client's record, in client order; a new iteration reads them again."""
        ...


class History:
    """Every client of a list of events (system streams aside), folded once and kept in memory."""

    def __init__(self, records: dict[str, ClientRecord]) -> None:
        self.records = dict(sorted(records.items()))
        firsts = [r.first_at for r in self.records.values() if r.first_at is not None]
        lasts = [r.last_at for r in self.records.values() if r.last_at is not None]
        self.timeframe = Timeframe(min(firsts) if firsts else None, max(lasts) if lasts else None)

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> History:
        """Fold events of any clients, in any order; system streams (``$...``) are left out."""
        by_client: dict[str, list[Event]] = {}
        for event in events:
            if not event.client.startswith("$"):
                by_client.setdefault(event.client, []).append(event)
        return cls({client: ClientRecord.from_events(client, found) for client, found in by_client.items()})

    def __iter__(self) -> Iterator[ClientRecord]:
        return iter(self.records.values())
