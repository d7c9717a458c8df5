"""Helpers for the survey tests: a clock the test moves, and ledgers with departed clients."""

from __future__ import annotations

import datetime as dt

from clientrules import ClientOnboarded, Ledger, RelationshipEnded
from clientrules.survey import Surveys

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
SECRET = "test-secret-for-survey-links"


class Clock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def add_departed(ledger: Ledger, client: str, *, email: str | None = None) -> None:
    """A client onboarded in January who left in October."""
    ledger.record(client, ClientOnboarded(name=client.title(), email=email), "2026-01-05")
    ledger.record(client, RelationshipEnded(initiated_by="client"), "2026-10-30")


def surveys(ledger: Ledger, clock: Clock, *, expiry_days: int = 30, secret: str = SECRET) -> Surveys:
    return Surveys(ledger, secret=secret, expiry_days=expiry_days, clock=clock)


#: a complete, valid set of answers as Python values
FULL_ANSWERS = {
    "primary_reason": "missed_deadlines",
    "other_reasons": ["poor_communication", "price_too_high"],
    "rating_communication": 2,
    "rating_timeliness": 1,
    "rating_quality": 4,
    "rating_value": 3,
    "recommend": 5,
    "would_return": "maybe",
    "what_to_change": "Tell us early when a deadline slips.",
    "may_contact": True,
}
