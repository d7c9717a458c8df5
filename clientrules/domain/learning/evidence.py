"""What the learning loop knows about each client, gathered in one pass and kept small.

:func:`gather` reads every client once (:class:`~clientrules.domain.learning.history.Histories`)
and keeps, for each watched fact (a fact and the direction in which it is a
worse sign), only what the proposal method needs:

* for a departed client, the **worst value** the fact took at the checks
  between ``horizon_days`` and ``lead_days`` before it left (the monthly
  checks in that window, and the moment ``lead_days`` before leaving): a rule
  on that fact would have warned us in time if that value meets it. A client
  who said when it first thought of leaving moves its window earlier when that
  was longer ago than ``lead_days``: a warning after it had decided is too late;
* a client we ended with is kept apart (:attr:`Evidence.ended_by_us`): its
  ending is a decision carried out, not a departure a rule could catch;
* for a retained client (no ``RelationshipEnded``), three values: the worst
  at the monthly checks up to ``horizon_days`` before the end of the history
  (**settled**: had a rule fired then, we have seen whether the client left
  within the horizon), the worst at the checks after that (**recent**: the
  outcome is not known yet), and the value at the end of the history (**now**).

This is the censoring rule: a retained client counts against a rule (a
false alarm) only if the rule would have fired for it at a settled check. One
for which it would first have fired in the last ``horizon_days`` is
**pending**: neither a hit nor a false alarm, and listed as at risk now.

Memory: a few numbers per client and watched fact, in arrays; no event and
no fold outlives its client.
"""

from __future__ import annotations

import math
from array import array
from typing import Iterable, Mapping

import attrs

from clientrules.domain.events import Instant
from clientrules.domain.learning.history import (
    ClientRecord,
    Departure,
    Histories,
    Timeframe,
    active_between,
    days_before,
)
from clientrules.domain.rules.model import FactValue

#: A fact and the operator under which a higher (``>=``) or lower (``<=``) value is the worse sign.
Watched = tuple[str, str]
ABSENT = math.nan


def worse(op: str, first: float, second: float) -> float:
    """The worse of two values under ``op`` (``nan``, an absent fact, loses to any value)."""
    if math.isnan(first):
        return second
    if math.isnan(second):
        return first
    return max(first, second) if op == ">=" else min(first, second)


def meets(op: str, value: float, threshold: float) -> bool:
    """``value op threshold``, false for an absent value."""
    if math.isnan(value):
        return False
    return value >= threshold if op == ">=" else value <= threshold


def _number(value: FactValue | None) -> float:
    return ABSENT if value is None or isinstance(value, bool) else float(value)


@attrs.frozen
class DepartedClient:
    """A client who left: its departure (and survey answer), and its facts before it left."""

    client: str
    departure: Departure
    monthly_value: float | None
    #: every fact as of ``lead_days`` before it left
    facts_before: Mapping[str, FactValue]
    #: each watched fact's worst value at the checks in the window before it left (nan: absent)
    worst: Mapping[Watched, float]

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.departure.reasons


@attrs.define
class RetainedValues:
    """One watched fact's settled, recent and current value for every retained client (nan: absent)."""

    settled: array[float] = attrs.field(factory=lambda: array("d"))
    recent: array[float] = attrs.field(factory=lambda: array("d"))
    now: array[float] = attrs.field(factory=lambda: array("d"))


@attrs.frozen
class Evidence:
    """What :func:`gather` kept: the departed clients in departure order, the retained clients' values."""

    timeframe: Timeframe
    lead_days: int
    horizon_days: int
    departed: tuple[DepartedClient, ...]
    retained: tuple[str, ...]
    values: Mapping[Watched, RetainedValues]
    #: clients we ended with (or gave notice to), in the order they were ended
    ended_by_us: tuple[DepartedClient, ...] = ()
    #: client -> the name it was onboarded with (clients onboarded without one are left out)
    names: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def clients(self) -> int:
        return len(self.departed) + len(self.retained) + len(self.ended_by_us)

    @property
    def settled_until(self) -> Instant | None:
        """The last moment whose outcome is known: ``horizon_days`` before the end of the history."""
        end = self.timeframe.end
        return None if end is None else days_before(end, self.horizon_days)


def check_moments(record: ClientRecord, moments: list[Instant], timeframe: Timeframe) -> list[Instant]:
    """The moments a client is checked at: the first of every month while a client, and, if it stayed, the end of the history."""
    return moments_checked(record.first_at, None if record.departure is None else record.departure.at, moments, timeframe)


def moments_checked(
    first_at: Instant | None, departed_at: Instant | None, moments: list[Instant], timeframe: Timeframe
) -> list[Instant]:
    """:func:`check_moments` of a client first seen at ``first_at`` that left at ``departed_at`` (None: stayed)."""
    if first_at is None:
        return []
    checks = list(active_between(moments, first_at, departed_at))
    end = timeframe.end
    if departed_at is not None or end is None or end < first_at:
        return checks
    if not checks or checks[-1] < end:
        checks.append(end)
    return checks


def gather(
    histories: Histories,
    watched: Iterable[Watched],
    *,
    lead_days: int,
    horizon_days: int,
    grace_days: int,
) -> Evidence:
    """One pass over every client: the departed clients and the retained clients' values (see the module)."""
    watched = tuple(dict.fromkeys(watched))
    timeframe = histories.timeframe
    moments = timeframe.monthly_moments()
    settled_until = None if timeframe.end is None else days_before(timeframe.end, horizon_days)
    departed: list[DepartedClient] = []
    ours: list[DepartedClient] = []
    retained: list[str] = []
    names: dict[str, str] = {}
    values = {key: RetainedValues() for key in watched}
    higher = [op == ">=" for _, op in watched]
    for record in histories:
        if record.first_at is None:
            continue
        if record.name:
            names[record.client] = record.name
        if record.departure is not None:
            found = _departed(record, moments, watched, lead_days, horizon_days, grace_days)
            (departed if record.departure.chosen_by_client else ours).append(found)
            continue
        retained.append(record.client)
        settled = [ABSENT] * len(watched)
        recent = [ABSENT] * len(watched)
        now: Mapping[str, FactValue] = {}
        for moment in check_moments(record, moments, timeframe):
            now = record.facts(moment, grace_days).values
            side = settled if settled_until is not None and moment <= settled_until else recent
            # the inner loop of the pass: worse() inlined
            for index, (fact, _) in enumerate(watched):
                value = now.get(fact)
                if value is None or isinstance(value, bool):
                    continue
                old = side[index]
                if old != old or (value > old if higher[index] else value < old):  # old != old: nan, nothing yet
                    side[index] = value
        for index, key in enumerate(watched):
            column = values[key]
            column.settled.append(settled[index])
            column.recent.append(recent[index])
            column.now.append(_number(now.get(key[0])))
    departed.sort(key=lambda d: (d.departure.at, d.client))
    ours.sort(key=lambda d: (d.departure.at, d.client))
    return Evidence(timeframe, lead_days, horizon_days, tuple(departed), tuple(retained), values, tuple(ours), names)


def _departed(
    record: ClientRecord, moments: list[Instant], watched: tuple[Watched, ...], lead_days: int, horizon_days: int, grace_days: int
) -> DepartedClient:
    departure = record.departure
    assert departure is not None
    decided = departure.decided_days_before
    latest = days_before(departure.at, max(lead_days, decided or 0))
    earliest = days_before(departure.at, horizon_days)
    checks = [m for m in record.active_moments(moments) if earliest <= m < latest]
    worst = dict.fromkeys(watched, ABSENT)
    before: Mapping[str, FactValue] = {}
    for moment in [*checks, latest]:
        if record.first_at is None or moment < record.first_at:
            continue
        facts = record.facts(moment, grace_days).values
        if moment is latest:
            before = facts
        for key in watched:
            worst[key] = worse(key[1], worst[key], _number(facts.get(key[0])))
    return DepartedClient(record.client, departure, record.monthly_value, dict(before), worst)
