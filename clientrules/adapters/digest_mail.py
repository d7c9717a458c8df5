"""The owner's digest by mail: the message of :func:`clientrules.domain.alerts.digest_message`, handed to the
project's :class:`~clientrules.ports.Mailer` (SMTP, or the outbox folder when no mail server is set)."""

from __future__ import annotations

import time
from email.utils import parseaddr
from typing import Callable, Iterable, Mapping, Sequence

import attrs

from clientrules.domain.alerts import Change, digest_message
from clientrules.adapters.mail import stamp
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT
from clientrules.ports import Mailer

DAY_SECONDS = 86_400


@attrs.frozen
class MailDigest:
    """A :class:`~clientrules.application.alerts.Channel` mailing every change it is given as one digest.

    Each delivery round sends at most one mail (the changes due in that round):
    one per pass of the watcher, or with ``hour`` (0-23, UTC) one a day, the
    changes gathered until that hour. ``sender`` is the whole ``From``
    (``Studio <hello@studio.example>``); its domain is the ``Message-ID``'s.
    """

    recipient: str
    sender: str
    mailer: Mailer
    client_url: str | None = None
    hour: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.in_(range(24))))
    name: str = "digest"
    #: the names of the clients given (those without one are shown by their id)
    names: Callable[[Iterable[str]], Mapping[str, str]] = lambda clients: {}
    #: how dates are written (:data:`~clientrules.domain.events.dates.DATE_FORMATS`)
    date_format: str = DEFAULT_DATE_FORMAT

    def first_attempt(self, now: float) -> float:
        if self.hour is None:
            return now
        at_the_hour = now - now % DAY_SECONDS + self.hour * 3600
        return at_the_hour if at_the_hour >= now else at_the_hour + DAY_SECONDS

    def deliver(self, changes: Sequence[Change]) -> list[str | None]:
        if not changes:
            return []
        names = self.names(change.client for change in changes)
        message = digest_message(
            changes,
            sender=self.sender,
            recipient=self.recipient,
            client_url=self.client_url,
            names=names,
            date_format=self.date_format,
        )
        stamp(message, parseaddr(self.sender)[1].rpartition("@")[2] or "localhost")
        reference = f"digest-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{changes[0].id}"
        try:
            self.mailer.send(message, reference=reference)
        except ClientRulesError as error:
            return [f"the digest was not sent: {error}"[:500]] * len(changes)
        return [None] * len(changes)
