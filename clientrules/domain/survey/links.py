"""Signed survey links: a token names one invitation, proves it is genuine, and carries its age.

A token holds the invitation's id (random: ``inv-`` and 32 hex digits) and
nothing else: no client id, no name, so a mail scanner or a proxy's log that
sees the link learns nothing about whom it is for. The signature
(itsdangerous' ``URLSafeTimedSerializer``, as Flask uses for its own cookies)
only proves that the link was issued with this database's secret and when;
which client the invitation belongs to, and whether it may still be used, is
decided from the store (:mod:`clientrules.application.surveys`).

Links issued before tokens were opaque named the client too (a different
salt); they keep working until they expire like any link.
"""

from __future__ import annotations

import datetime as dt

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Clock, Instant
from clientrules.domain.survey.errors import LinkExpired, LinkUnknown

SALT = "clientrules.survey-link.opaque"
#: the salt of the links that named ``[invitation id, client id]``
NAMING_SALT = "clientrules.survey-link"
#: the shortest signing secret accepted from the environment (a generated one has 43 characters)
MIN_SECRET_LENGTH = 32
DEFAULT_EXPIRY_DAYS = 30
#: the longest a link may stay valid, and the longest wait before a reminder (ten years)
MAX_DAYS = 3650


def check_secret(secret: str, *, origin: str) -> str:
    """``secret`` if it is long enough to sign links and sessions, else a one-line error naming ``origin``."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ClientRulesError(
            f"{origin} is too short ({len(secret)} characters; at least {MIN_SECRET_LENGTH}): make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))', or unset it to use the database's own"
        )
    return secret


class LinkSigner:
    """Issues tokens over an invitation id, stamped with the time they were issued, and checks them."""

    def __init__(self, secret: str, *, max_age: dt.timedelta, clock: Clock) -> None:
        self._secret = secret
        self._max_age = int(max_age.total_seconds())
        self._reader = self._serializer(clock, SALT)
        self._naming_reader = self._serializer(clock, NAMING_SALT)

    def token(self, invitation_id: str, issued_at: dt.datetime) -> str:
        """The token of an invitation; the same invitation always gets the same token."""
        return self._serializer(lambda: Instant.from_datetime(issued_at), SALT).dumps(invitation_id)

    def read(self, token: str) -> tuple[str, str | None]:
        """``(invitation id, client id)`` of a genuine, unexpired token, else :class:`LinkUnknown` / :class:`LinkExpired`.

        The client id is None unless the token is one of the older links that named it.
        """
        try:
            invitation_id = self._reader.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise LinkExpired() from None
        except (BadSignature, TypeError, ValueError):
            return self._read_naming(token)
        if not isinstance(invitation_id, str):
            raise LinkUnknown()
        return invitation_id, None

    def _read_naming(self, token: str) -> tuple[str, str]:
        try:
            invitation_id, client = self._naming_reader.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise LinkExpired() from None
        except (BadSignature, TypeError, ValueError):
            raise LinkUnknown() from None
        if not isinstance(invitation_id, str) or not isinstance(client, str):
            raise LinkUnknown()
        return invitation_id, client

    def _serializer(self, clock: Clock, salt: str) -> URLSafeTimedSerializer:
        class ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock().utc.timestamp())

        return URLSafeTimedSerializer(self._secret, salt=salt, signer=ClockSigner)
