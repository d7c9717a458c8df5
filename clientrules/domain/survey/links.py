"""Signed survey links: a token names one invitation of one client, proves it is genuine, and carries its age.

The signature (itsdangerous' ``URLSafeTimedSerializer``, as Flask uses for
its own cookies) only proves that the link was issued with this database's
secret and when; whether it may still be used is decided from the stored
invitations (:mod:`clientrules.application.surveys`).
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from clientrules.domain.survey.errors import LinkExpired, LinkUnknown

SALT = "clientrules.survey-link"
Clock = Callable[[], dt.datetime]


class LinkSigner:
    """Issues and checks tokens over ``(invitation id, client id)``, stamped with the time they were issued."""

    def __init__(self, secret: str, *, max_age: dt.timedelta, clock: Clock) -> None:
        self._secret = secret
        self._max_age = max_age
        self._reader = self._serializer(clock)

    def token(self, invitation_id: str, client: str, issued_at: dt.datetime) -> str:
        """The token of an invitation; the same invitation always gets the same token."""
        return self._serializer(lambda: issued_at).dumps([invitation_id, client])

    def read(self, token: str) -> tuple[str, str]:
        """``(invitation id, client id)`` of a genuine, unexpired token, else :class:`LinkUnknown` / :class:`LinkExpired`."""
        try:
            invitation_id, client = self._reader.loads(
                token, max_age=int(self._max_age.total_seconds())
            )
        except SignatureExpired:
            raise LinkExpired() from None
        except (BadSignature, TypeError, ValueError):
            raise LinkUnknown() from None
        if not isinstance(invitation_id, str) or not isinstance(client, str):
            raise LinkUnknown()
        return invitation_id, client

    def _serializer(self, clock: Clock) -> URLSafeTimedSerializer:
        class ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        return URLSafeTimedSerializer(self._secret, salt=SALT, signer=ClockSigner)
