"""When a client's facts can next change with time alone, no new event stored (pure).

Facts change without an event in a few ways, each a moment derived from the fold:

* a windowed count or sum forgets an event: an event at ``a`` counts in "the
  last N days" until ``a + N days`` (``T - N days < at``);
* an invoice turns late at 00:00 UTC of ``due_on + grace_days + 1`` (and its
  ``overdue_amount`` with it), and enters and leaves ``late_invoices_12m``'s
  window at ``due_on`` and ``due_on + 365 days``;
* an event already stored but dated after T starts to count at its ``at``;
* a day count (``tenure_days``, ``silent_days``, ``plan_age_days``) grows
  every day: only the days on which it crosses a threshold that a rule
  compares it with matter, so those are the moments kept (otherwise every
  client would be due every day).

:func:`next_change` is the earliest of those moments after T. Until then the
facts, and so the decision, stay what they are as of T (day counts aside,
which stay on the same side of every threshold given); the test suite checks
this property on random histories.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from typing import Collection, Iterable, Iterator, Mapping

from clientrules.domain.events import Instant
from clientrules.domain.events.instant import FIRST_YEAR, LAST_KEY, LAST_YEAR
from clientrules.domain.facts.fold import ClientFold
from clientrules.domain.facts.invoices import midnight_of
from clientrules.domain.facts.timeline import DAY_US, at_of, last_key_at

#: The day counts that grow with time, and so matter only at the thresholds rules compare them with.
AGE_FACTS = ("tenure_days", "silent_days", "plan_age_days")
#: Timelines of the fold whose facts look at the last N days: the kind and N.
WINDOWS: dict[str, int] = {
    "work": 90,
    "unbillable": 90,
    "unpaid_scope": 90,
    "deadline": 90,
    "answer": 90,
    "plan": 180,
    "incident": 180,
    "severe": 365,
    "serious": 365,
    "breach": 365,
    "outgrown": 365,
}
INVOICE_WINDOW_DAYS = 365
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
#: the most days a day count can reach in the years the ledger holds: a rule comparing one with more can never change
MAX_DAY_COUNT = (dt.date(LAST_YEAR, 12, 31) - dt.date(FIRST_YEAR, 1, 1)).days


def age_thresholds(comparisons: Iterable[tuple[str, object]]) -> dict[str, tuple[float, ...]]:
    """The thresholds of each day count among ``(fact, value)`` pairs (a rule set's comparisons)."""
    found: dict[str, set[float]] = {}
    for fact, value in comparisons:
        if fact in AGE_FACTS and isinstance(value, (int, float)) and not isinstance(value, bool):
            found.setdefault(fact, set()).add(float(value))
    return {fact: tuple(sorted(values)) for fact, values in found.items()}


def next_change(
    fold: ClientFold,
    after: Instant,
    *,
    grace_days: int,
    ages: Mapping[str, Collection[float]],
) -> Instant | None:
    """The earliest moment after ``after`` at which one of the fold's facts can change, None if never.

    ``ages`` holds the thresholds of the day counts (:func:`age_thresholds`);
    a day count with none is taken to change nothing. A moment returned may
    change no verdict (re-deciding then costs one decision); a moment missed
    would be an alert missed, so every moment at which a fact's value can
    change (day counts: cross a threshold) is considered.
    """
    now = after.key
    # nothing is scheduled after the last moment the ledger holds
    later = [moment for moment in _moments(fold, now, grace_days, ages) if now < moment <= LAST_KEY]
    if not later:
        return None
    return Instant.from_datetime(_EPOCH + dt.timedelta(microseconds=min(later)))


def _moments(fold: ClientFold, now: int, grace_days: int, ages: Mapping[str, Collection[float]]) -> Iterator[int]:
    bound = last_key_at(now)
    yield from _events_after(fold, bound)
    for kind, days in WINDOWS.items():
        keys = fold._of(kind).keys
        oldest = bisect_right(keys, last_key_at(now - days * DAY_US))
        if oldest < len(keys) and keys[oldest] <= bound:
            yield at_of(keys[oldest]) + days * DAY_US
    for invoice in fold._book.issue_invoices:
        yield invoice.due_us
        yield invoice.due_us + INVOICE_WINDOW_DAYS * DAY_US
        if invoice.paid_key is None or invoice.paid_key > bound:
            yield midnight_of(invoice.due_ordinal + grace_days + 1)
    for fact, start in age_starts(fold, bound):
        for threshold in ages.get(fact, ()):
            # d(T) = (T - start) // day; "d >= v" and "d < v" flip at ceil(v), "d > v", "d <= v", "==", "!=" at floor(v) + 1
            for days in {math.ceil(threshold), math.floor(threshold) + 1}:
                yield start + days * DAY_US


def _events_after(fold: ClientFold, bound: int) -> Iterator[int]:
    """The ``at`` of the earliest event of each timeline dated after ``bound``."""
    timelines = [*fold._timelines.values()]
    for invoice in fold._book.invoices.values():
        timelines += (invoice.issues, invoice.payments, invoice.voids)
    for timeline in timelines:
        index = bisect_right(timeline.keys, bound)
        if index < len(timeline.keys):
            yield at_of(timeline.keys[index])
    if fold._first is not None and fold._first[0] > bound:
        yield at_of(fold._first[0])


def age_starts(fold: ClientFold, bound: int) -> Iterator[tuple[str, int]]:
    """The moment each day count counts from, as of ``bound`` (as :meth:`ClientFold.facts` reads them)."""
    onboarded = fold._of("onboarded")
    if onboarded.keys and onboarded.keys[0] <= bound:
        yield "tenure_days", at_of(onboarded.keys[0])
    elif fold._first is not None and fold._first[0] <= bound:
        yield "tenure_days", at_of(fold._first[0])
    followups, replies = fold._of("followup"), fold._of("reply")
    replied = bisect_right(replies.keys, bound)
    first = bisect_right(followups.keys, replies.keys[replied - 1]) if replied else 0
    if first < bisect_right(followups.keys, bound):
        yield "silent_days", at_of(followups.keys[first])
    plans = fold._of("plan")
    count = bisect_right(plans.keys, bound)
    if count:
        yield "plan_age_days", at_of(plans.keys[count - 1])
