"""The portfolio's value at any moment: what each client's ``revenue_share`` divides by.

It is the sum of the ``monthly_value`` of every client not left at that
moment. What one client adds changes only at a few moments of its history
(:meth:`~clientrules.domain.facts.ClientFold.value_steps`), so those steps are
kept for every client: the value at any moment is then one bisect per client,
with no fold read, and a client whose history changes has its steps replaced.
"""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal
from typing import Iterable, Mapping

from clientrules.domain.events import Instant
from clientrules.domain.facts.timeline import EXACT, ZERO

#: what one client adds from each moment on: the moments (µs since the epoch, ascending) and the values
ValueSteps = tuple[tuple[int, ...], tuple[Decimal, ...]]


class PortfolioValue:
    """Every client's :data:`ValueSteps`; not safe to change while another thread reads it.

    Most clients add one value from one moment on (onboarded at a monthly
    value, never renegotiated, not left): those are kept as running sums in
    the order of their moments, so their part of the value at any moment is
    one bisect; only the clients whose value changed are summed one by one.
    """

    def __init__(self) -> None:
        self._steps: dict[str, ValueSteps] = {}
        #: the clients whose value changed at least once
        self._changing: dict[str, ValueSteps] = {}
        #: the other clients' moments, ascending, and the running sums of their values (built when asked)
        self._once: tuple[list[int], list[Decimal]] | None = None

    def replace(self, steps: Mapping[str, ValueSteps]) -> None:
        """Take each client's steps in place of those it had (a client that adds nothing is dropped)."""
        for client, its_steps in steps.items():
            had = self._steps.get(client, NOTHING)
            if _same(had, its_steps):
                continue
            if len(had[0]) == 1 or len(its_steps[0]) == 1:
                self._once = None
            self._changing.pop(client, None)
            if its_steps[0]:
                self._steps[client] = its_steps
                if len(its_steps[0]) > 1:
                    self._changing[client] = its_steps
            else:
                self._steps.pop(client, None)

    def at(self, moments: Iterable[Instant]) -> list[Decimal]:
        """The portfolio's value at each of ``moments``, exact: the sum, written as the values are."""
        starts, sums = self._running_sums()
        totals = []
        for moment in moments:
            now = moment.key
            total = sums[bisect_right(starts, now)]
            for its_starts, values in self._changing.values():
                count = bisect_right(its_starts, now)
                if count:
                    total = EXACT.add(total, values[count - 1])
            totals.append(total)
        return totals

    def _running_sums(self) -> tuple[list[int], list[Decimal]]:
        if self._once is None:
            once = sorted((starts[0], values[0]) for starts, values in self._steps.values() if len(starts) == 1)
            sums = [ZERO]
            for _, value in once:
                sums.append(EXACT.add(sums[-1], value))
            self._once = ([start for start, _ in once], sums)
        return self._once


#: the steps of a client that adds nothing
NOTHING: ValueSteps = ((), ())


def _same(one: ValueSteps, other: ValueSteps) -> bool:
    """The same moments and the same values written alike (2.5 is not 2.50: the sum is written as they are)."""
    return one[0] == other[0] and all(a.compare_total(b) == 0 for a, b in zip(one[1], other[1]))
