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
    """Every client's :data:`ValueSteps`; not safe to change while another thread reads it."""

    def __init__(self) -> None:
        self._steps: dict[str, ValueSteps] = {}

    def replace(self, steps: Mapping[str, ValueSteps]) -> None:
        """Take each client's steps in place of those it had (a client that adds nothing is dropped)."""
        for client, its_steps in steps.items():
            if its_steps[0]:
                self._steps[client] = its_steps
            else:
                self._steps.pop(client, None)

    def at(self, moments: Iterable[Instant]) -> list[Decimal]:
        """The portfolio's value at each of ``moments``, exact: the sum, written as the values are."""
        totals = []
        for moment in moments:
            now = moment.key
            total = ZERO
            for starts, values in self._steps.values():
                count = bisect_right(starts, now)
                if count:
                    total = EXACT.add(total, values[count - 1])
            totals.append(total)
        return totals
