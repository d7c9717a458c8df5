"""Moments in time as events and the CLI write them: ISO dates or date-times with an offset.

The domain never reads the clock: what needs "now" is given a :class:`Clock`
(the system's, built by :mod:`clientrules.wiring`; a fixed one in tests), and
:func:`moment_or_now` is the one place where a moment left out becomes now.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Protocol, Union

import attrs

from clientrules.domain.errors import InvalidEvent

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
#: the years a moment or a date may be in: far enough from the calendar's ends (1 and 9999) that
#: windows of days before and after any of them (facts, grace, survey expiry) stay in the calendar
FIRST_YEAR, LAST_YEAR = 1000, 8999
_RANGE = f"the years {FIRST_YEAR} to {LAST_YEAR}"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})"
)


@attrs.frozen(order=False)
class Instant:
    """A moment as written (``text``, kept for round trips) and as ``key``: microseconds since the Unix epoch.

    Instants compare and sort by their moment, whatever offset they were written in.
    ``utc`` is the same moment as an aware datetime in UTC.
    """

    text: str
    #: the order the store sorts by; kept as the moment itself, since reading a stream builds an instant for each
    #: event from its stored key and most are only ever compared
    key: int = attrs.field(eq=False, repr=False)

    @functools.cached_property
    def utc(self) -> dt.datetime:
        """This moment as an aware datetime in UTC."""
        return _EPOCH + dt.timedelta(0, 0, self.key)  # days, seconds, microseconds: without keywords, a third faster

    @property
    def date(self) -> dt.date:
        """The UTC calendar date of this moment."""
        return self.utc.date()

    def __lt__(self, other: Instant) -> bool:
        return self.key < other.key

    def __le__(self, other: Instant) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Instant) -> bool:
        return self.key > other.key

    def __ge__(self, other: Instant) -> bool:
        return self.key >= other.key

    @classmethod
    def parse(cls, text: object, *, field: str = "at") -> Instant:
        """Read an ISO 8601 date (00:00 UTC) or date-time with an offset (``Z`` or ``+02:00``)."""
        if not isinstance(text, str):
            raise InvalidEvent("must be an ISO 8601 date or date-time string", field=field)
        try:
            if _DATE.fullmatch(text):
                day = dt.date.fromisoformat(text)
                moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            elif _DATE_TIME.fullmatch(text):
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                raise ValueError
        except ValueError:
            raise InvalidEvent(
                f"{text[:40]!r} is not an ISO 8601 date (2026-03-01) or "
                "date-time with offset (2026-03-01T09:30:00+02:00)",
                field=field,
            ) from None
        return cls(text, _key_of(_in_range(moment, text, field)))

    @classmethod
    def from_datetime(cls, moment: dt.datetime) -> Instant:
        """Wrap an aware datetime; a naive one is refused rather than guessed."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidEvent("a datetime needs a time zone", field="at")
        return cls(moment.isoformat(), _key_of(_in_range(moment, moment.isoformat(), "at")))

    @classmethod
    def from_key(cls, key: int, text: str) -> Instant:
        """Rebuild an instant read back from a store (its key and its original text)."""
        return cls(text, key)


def _key_of(utc: dt.datetime) -> int:
    delta = utc - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _in_range(moment: dt.datetime, text: str, field: str) -> dt.datetime:
    """``moment`` in UTC, if it falls in the supported years (raises :class:`InvalidEvent`)."""
    try:
        utc = moment.astimezone(dt.timezone.utc)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in year 10000 in UTC
        utc = None
    if utc is None or not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise InvalidEvent(f"{text[:40]!r} is outside {_RANGE} (in UTC)", field=field)
    return utc


#: what a caller naturally has for a moment: an :class:`Instant`, an aware datetime, a date (00:00 UTC) or ISO text
Moment = Union[Instant, dt.datetime, dt.date, str]


class Clock(Protocol):
    """The time now, to the second (the system's in production; a test passes one it sets)."""

    def __call__(self) -> Instant: ...


def moment_or_now(value: Moment | None, clock: Clock, *, field: str = "as_of") -> Instant:
    """``value`` as an :class:`Instant`, or now by ``clock`` when it is None."""
    return clock() if value is None else as_instant(value, field=field)


def as_instant(value: Moment, *, field: str = "at") -> Instant:
    """Accept what a caller naturally has for a moment and return an :class:`Instant`."""
    if isinstance(value, Instant):
        return value
    if isinstance(value, dt.datetime):
        return Instant.from_datetime(value)
    if isinstance(value, dt.date):
        return Instant.parse(value.isoformat(), field=field)
    return Instant.parse(value, field=field)


def parse_date(value: object, *, field: str) -> dt.date:
    """Read an ISO date (``2026-03-15``) strictly."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value  # a date the caller built is held to the same years as one read from text
    elif not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidEvent("must be an ISO date such as 2026-03-15", field=field)
    else:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidEvent(f"{value!r} is not a calendar date", field=field) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidEvent(f"{day.isoformat()!r} is outside {_RANGE}", field=field)
    return day


#: the keys of the first and the last moment of the supported years (their first and last microseconds, in UTC)
FIRST_KEY = _key_of(dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.timezone.utc))
LAST_KEY = _key_of(dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.timezone.utc)) - 1


def check_instant(value: object, *, field: str) -> Instant:
    """``value`` if it is an :class:`Instant` in the supported years (one built by hand is checked too)."""
    if not isinstance(value, Instant) or type(value.key) is not int:
        raise InvalidEvent("must be a moment (an Instant)", field=field)
    if not FIRST_KEY <= value.key <= LAST_KEY:
        raise InvalidEvent(f"{value.text[:40]!r} is outside {_RANGE} (in UTC)", field=field)
    return value
