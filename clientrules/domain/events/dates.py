"""Dates in the owner's words, the way the business writes them (``CLIENTRULES_DATE_FORMAT``).

Every page, mail and draft that writes a date writes it with :func:`plain_date`:
"5 December 2026" by default, or as the business chose among
:data:`DATE_FORMATS`, each named by how it writes 5 December 2026. A moment's
date is its UTC date, as the rules count days.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Union

from clientrules.domain.events.instant import Instant

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
#: how each date format writes a day, named by how it writes 5 December 2026; the default first
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "5 December 2026": lambda day: f"{day.day} {MONTHS[day.month - 1]} {day.year}",
    "December 5, 2026": lambda day: f"{MONTHS[day.month - 1]} {day.day}, {day.year}",
    "05/12/2026": lambda day: f"{day.day:02d}/{day.month:02d}/{day.year}",
    "12/05/2026": lambda day: f"{day.month:02d}/{day.day:02d}/{day.year}",
    "05.12.2026": lambda day: f"{day.day:02d}.{day.month:02d}.{day.year}",
    "2026-12-05": lambda day: day.isoformat(),
}
DEFAULT_DATE_FORMAT = next(iter(DATE_FORMATS))
Day = Union[Instant, dt.date, dt.datetime]


def plain_date(value: Day, date_format: str = DEFAULT_DATE_FORMAT) -> str:
    """``value``'s day as ``date_format`` writes it: ``5 December 2026``, ``December 5, 2026``, ``05/12/2026``..."""
    if isinstance(value, Instant):
        day = value.date
    elif isinstance(value, dt.datetime):
        day = value.astimezone(dt.timezone.utc).date() if value.tzinfo else value.date()
    else:
        day = value
    return DATE_FORMATS[date_format](day)
