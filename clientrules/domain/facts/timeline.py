"""A sorted index of one kind of event: bisect to a moment or a window in O(log n).

Every event folded gets an integer **order key**: its ``at`` in microseconds
since the Unix epoch, shifted left by :data:`TIE_BITS`, plus a tie-break (the
event's stream version, else the order in which it was applied). Keys sort in
stream order: by ``at``, then append order. Comparing plain integers keeps
:mod:`bisect` in C.
"""

from __future__ import annotations

from bisect import bisect_right
from decimal import Context, Decimal
from typing import Any

TIE_BITS = 40
TIE_MASK = (1 << TIE_BITS) - 1
DAY_US = 86_400_000_000
#: Exact enough for any sum of amounts or hours written with up to 17 significant digits.
EXACT = Context(prec=80)
ZERO = Decimal(0)


def order_key(at_us: int, tie: int) -> int:
    """The order key of an event at ``at_us`` microseconds with tie-break ``tie``."""
    return (at_us << TIE_BITS) | (tie & TIE_MASK)


def last_key_at(at_us: int) -> int:
    """The largest order key an event at ``at_us`` can have: ``key <= last_key_at(t)`` iff ``at <= t``."""
    return (at_us << TIE_BITS) | TIE_MASK


def at_of(key: int) -> int:
    """The ``at`` (microseconds since the epoch) of an order key."""
    return key >> TIE_BITS


class Timeline:
    """Events of one kind, sorted by order key: ``keys``, ``ids`` and ``rows`` (their fields).

    With ``summed`` (an index into ``rows``), it also keeps exact running
    totals of that field, so the sum over any slice costs O(1). The totals are
    extended lazily: an event inserted before the end only truncates them.
    """

    __slots__ = ("keys", "ids", "rows", "_summed", "_totals")

    def __init__(self, summed: int | None = None) -> None:
        self.keys: list[int] = []
        self.ids: list[str] = []
        self.rows: list[tuple[Any, ...]] = []
        self._summed = summed
        #: running totals of the summed field (``_totals[k]``: sum of the first k rows), if summed
        self._totals: list[Decimal] | None = None if summed is None else [ZERO]

    @classmethod
    def of(cls, entries: list[tuple[int, str, tuple[Any, ...]]], summed: int | None = None) -> Timeline:
        """A timeline of ``(key, id, row)`` entries already sorted by key (a restore)."""
        timeline = cls(summed)
        if entries:
            keys, ids, rows = zip(*entries)
            timeline.keys, timeline.ids, timeline.rows = list(keys), list(ids), list(rows)
        return timeline

    def insert(self, key: int, event_id: str, row: tuple[Any, ...] = ()) -> None:
        """Insert in order, after any equal key."""
        keys = self.keys
        if not keys or key >= keys[-1]:
            keys.append(key)
            self.ids.append(event_id)
            self.rows.append(row)
            return
        index = bisect_right(keys, key)
        keys.insert(index, key)
        self.ids.insert(index, event_id)
        self.rows.insert(index, row)
        if self._totals is not None and len(self._totals) > index + 1:
            del self._totals[index + 1 :]

    def total(self, start: int, stop: int) -> Decimal:
        """The exact sum of the summed field over ``rows[start:stop]``."""
        totals, column = self._totals, self._summed
        assert totals is not None and column is not None, "only a timeline built with summed has totals"
        if len(totals) <= start:  # a window past the totals kept: its own sum, not every row before it
            running = ZERO
            for row in self.rows[start:stop]:
                running = EXACT.add(running, row[column])
            return running
        if len(totals) <= stop:
            running = totals[-1]
            for row in self.rows[len(totals) - 1 : stop]:
                running = EXACT.add(running, row[column])
                totals.append(running)
        return EXACT.subtract(totals[stop], totals[start])


def insort_key(keys: list[int], values: list[Any], key: int, value: Any) -> None:
    """Insert ``value`` into ``values`` kept parallel to the sorted ``keys``."""
    if not keys or key >= keys[-1]:
        keys.append(key)
        values.append(value)
        return
    index = bisect_right(keys, key)
    keys.insert(index, key)
    values.insert(index, value)


def remove_key(keys: list[int], values: list[Any], key: int, value: Any) -> None:
    """Remove ``value`` (by identity) stored under ``key`` from parallel sorted lists."""
    index = bisect_right(keys, key) - 1
    while values[index] is not value:
        index -= 1
    del keys[index]
    del values[index]


__all__ = [
    "DAY_US",
    "EXACT",
    "TIE_BITS",
    "TIE_MASK",
    "ZERO",
    "Timeline",
    "at_of",
    "insort_key",
    "last_key_at",
    "order_key",
    "remove_key",
]
