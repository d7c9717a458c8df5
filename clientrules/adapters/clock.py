"""The system's clock: the :class:`~clientrules.domain.events.Clock` of production, to the second, in UTC,
and the time the stores write in their bookkeeping columns (when a row was recorded)."""

from __future__ import annotations

import datetime as dt

from clientrules.domain.events import Instant


def system_clock() -> Instant:
    """Now, by the machine's clock."""
    return Instant.from_datetime(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))


def utc_now() -> dt.datetime:
    """Now, by the machine's clock, to the microsecond (a store's ``recorded_at``, ``written_at``...)."""
    return dt.datetime.now(dt.timezone.utc)
