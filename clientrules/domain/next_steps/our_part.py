"""Did we do our part? Our own shortfalls with a client, listed before any ending (pure).

Relationships sour through missed deadlines and slow answers, and through
terms we agreed and never applied; an owner about to end it looks at those
first. Three kinds, over the last 365 days:

- every deadline we missed (``DeadlineMissed``);
- every reply that took :data:`SLOW_REPLY_DAYS` days or more (from the oldest
  ``ClientMessageReceived`` it answers to our ``ReplySent``), and every message
  still waiting that long;
- agreed terms of upfront payment or a deposit (``TermsRenegotiated``,
  ``PlanAgreed``) after which we never asked for a deposit (``DepositRequested``).
"""

from __future__ import annotations

import re
from typing import Sequence

from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT, plain_date
from clientrules.domain.events import (
    ClientMessageReceived,
    DeadlineMissed,
    DepositRequested,
    Event,
    Instant,
    PlanAgreed,
    ReplySent,
    TermsRenegotiated,
)

#: a reply taking this many days or more is slow (the default playbook's our-side-slipping threshold)
SLOW_REPLY_DAYS = 5
_WINDOW_DAYS = 365
_DAY = 86_400_000_000
_UPFRONT = re.compile(r"\b(up-?front|deposit|in advance|advance payment|prepay\w*)\b", re.IGNORECASE)


def our_shortfalls(events: Sequence[Event], as_of: Instant, date_format: str = DEFAULT_DATE_FORMAT) -> list[str]:
    """Our shortfalls with the client of ``events`` in the 365 days up to ``as_of``, oldest first, in plain words
    (dates as ``date_format`` writes them)."""
    horizon = as_of.key - _WINDOW_DAYS * _DAY
    found: list[tuple[int, str]] = []
    waiting: list[Event] = []
    for event in events:
        payload = event.payload
        if event.at.key > as_of.key:
            break
        if isinstance(payload, ClientMessageReceived):
            waiting.append(event)
        elif isinstance(payload, ReplySent) and waiting:
            days = (event.at.key - waiting[0].at.key) / _DAY
            if days >= SLOW_REPLY_DAYS and event.at.key > horizon:
                found.append((event.at.key, f"we took {days:.0f} days to answer their message about "
                              f"{_topic(waiting[0])} of {plain_date(waiting[0].at, date_format)}"))
            waiting = []
        elif isinstance(payload, DeadlineMissed) and event.at.key > horizon:
            found.append((event.at.key, f"we missed the deadline for {payload.deliverable} ({plain_date(event.at, date_format)})"))
    if waiting and (as_of.key - waiting[0].at.key) / _DAY >= SLOW_REPLY_DAYS:
        found.append((waiting[0].at.key, f"their message about {_topic(waiting[0])} of "
                      f"{plain_date(waiting[0].at, date_format)} is still waiting for our answer"))
    found.extend(_terms_never_applied(events, as_of, horizon, date_format))
    return [text for _, text in sorted(found, key=lambda item: item[0])]


def _terms_never_applied(
    events: Sequence[Event], as_of: Instant, horizon: int, date_format: str
) -> list[tuple[int, str]]:
    found = []
    for event in events:
        payload = event.payload
        if not horizon < event.at.key <= as_of.key:
            continue
        agreed = payload.change if isinstance(payload, TermsRenegotiated) else (
            payload.summary if isinstance(payload, PlanAgreed) else None
        )
        if agreed is None or not _UPFRONT.search(agreed):
            continue
        asked = any(
            isinstance(later.payload, DepositRequested) and event.at.key <= later.at.key <= as_of.key
            for later in events
        )
        if not asked:
            found.append((event.at.key, f"we agreed \u201c{agreed}\u201d on {plain_date(event.at, date_format)} "
                          "and have not asked for a deposit since"))
    return found


def _topic(event: Event) -> str:
    payload = event.payload
    return payload.topic if isinstance(payload, ClientMessageReceived) else "their request"
