"""Helpers for the survey tests: a clock the test moves, and ledgers with departed clients."""

from __future__ import annotations

import datetime as dt

from clientrules import ClientOnboarded, Instant, Ledger, RelationshipEnded
from clientrules.application.surveys import Surveys

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
SECRET = "test-secret-for-survey-links"


class Clock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> Instant:
        return Instant.from_datetime(self.now)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def add_departed(ledger: Ledger, client: str, *, email: str | None = None) -> None:
    """A client onboarded in January who left in October."""
    ledger.record(client, ClientOnboarded(name=client.title(), email=email), "2026-01-05")
    ledger.record(client, RelationshipEnded(initiated_by="client"), "2026-10-30")


def surveys(ledger: Ledger, clock: Clock, *, expiry_days: int = 30, secret: str = SECRET) -> Surveys:
    return Surveys(ledger.store, secret=secret, expiry_days=expiry_days, clock=clock)


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


def clean_environment(monkeypatch) -> None:
    """Drop every ``CLIENTRULES_*`` variable, so the machine's settings cannot leak into a test."""
    import os

    for key in list(os.environ):
        if key.startswith("CLIENTRULES_"):
            monkeypatch.delenv(key)


def csrf_token(html: str) -> str:
    """The CSRF token of the (first) form of a page."""
    import re

    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, "the page has a csrf_token field"
    return found.group(1)


def make_app(db_url: str, tmp_path, *, ledger: Ledger | None = None, **settings):
    """The app on ``db_url`` (or on ``ledger``) with its outbox under ``tmp_path``; close with ``close_app``."""
    from survey_app import create_app

    config = {"CLIENTRULES_DB": db_url, "CLIENTRULES_OUTBOX": str(tmp_path / "outbox"), **settings}
    return create_app(config, ledger=ledger)


def close_app(app) -> None:
    app.extensions["clientrules"].ledger.close()


#: the answers above as a browser posts them
FULL_FORM = {
    "primary_reason": "missed_deadlines",
    "other_reasons": ["poor_communication", "price_too_high"],
    "rating_communication": "2",
    "rating_timeliness": "1",
    "rating_quality": "4",
    "rating_value": "3",
    "recommend": "5",
    "would_return": "maybe",
    "what_to_change": "Tell us early when a deadline slips.",
    "may_contact": "y",
}


def naming_token(secret: str, invitation_id: str, client: str, issued_at: dt.datetime) -> str:
    """A link token as issued before tokens were opaque: signed ``[invitation id, client id]``."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from clientrules.domain.survey.links import NAMING_SALT

    class IssuedThen(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(issued_at.timestamp())

    return URLSafeTimedSerializer(secret, salt=NAMING_SALT, signer=IssuedThen).dumps([invitation_id, client])
