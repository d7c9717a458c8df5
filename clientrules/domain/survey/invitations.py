"""Invitations as read from a client's events (pure): which link is current, answered, expired or superseded."""

from __future__ import annotations

import datetime as dt
import re
from typing import Callable, Iterable

import attrs

from clientrules.domain.events import (
    Event,
    Instant,
    NoticeGiven,
    RelationshipEnded,
    SurveyAnswered,
    SurveyInvited,
    SurveyReminded,
)

OPEN = "open"
ANSWERED = "answered"
EXPIRED = "expired"
SUPERSEDED = "superseded"

#: the token of an invitation, from its id and when it was issued
TokenOf = Callable[[str, dt.datetime], str]
_EMAIL = re.compile(r"[^@\s<>,;\"\x00-\x1f\x7f]+@[^@\s<>,;\"\x00-\x1f\x7f]+\.[^@\s<>,;\"\x00-\x1f\x7f]+")


def is_email_address(text: str) -> bool:
    """Whether ``text`` looks like one e-mail address (and nothing that could add a header or a recipient)."""
    return bool(_EMAIL.fullmatch(text))


@attrs.frozen
class Invitation:
    """One exit-survey invitation of one client, as it stands at the time it was read.

    ``status`` is ``open`` (the link can be answered), ``answered``,
    ``expired`` or ``superseded`` (the client was invited again since: only
    the newest invitation of a client is usable).
    """

    invitation_id: str
    client: str
    invited_at: Instant
    expires_at: Instant
    email: str | None
    _token_of: TokenOf = attrs.field(alias="token_of", repr=False, eq=False)
    status: str
    answered_at: Instant | None = None
    reminded_at: tuple[Instant, ...] = ()

    @property
    def token(self) -> str:
        """The personal link's token, signed when asked for (finding or listing invitations needs none)."""
        return self._token_of(self.invitation_id, self.invited_at.utc)

    def url(self, base_url: str) -> str:
        """The personal link: ``<base_url>/s/<token>``."""
        return f"{base_url.rstrip('/')}/s/{self.token}"

    @property
    def last_contact(self) -> Instant:
        """When the client was last sent this link (the invitation or its latest reminder)."""
        return self.reminded_at[-1] if self.reminded_at else self.invited_at


def ended_by(events: Iterable[Event]) -> str | None:
    """Who ended the client's latest relationship: ``us`` or ``client`` (None: no notice given and no ending).

    The side that gave notice ended it, whoever recorded the ``RelationshipEnded``
    afterwards; a notice still running counts (the client is leaving).
    """
    notice: str | None = None
    ended: str | None = None
    for event in sorted(events, key=lambda e: e.version or 0):
        payload = event.payload
        if isinstance(payload, NoticeGiven):
            notice = payload.by
        elif isinstance(payload, RelationshipEnded):
            ended, notice = notice or payload.initiated_by, None
    return notice or ended


def invitations_of(events: Iterable[Event], *, now: dt.datetime, token_of: TokenOf) -> list[Invitation]:
    """Every invitation found in ``events`` (of any clients), oldest first, with its status at ``now``.

    "Newest" means appended last (highest stream version), whatever the ``at``
    of the events says.
    """
    invited: list[tuple[Event, SurveyInvited]] = []
    answered: dict[str, Instant] = {}
    reminded: dict[str, list[Instant]] = {}
    for event in sorted(events, key=lambda e: (e.client, e.version or 0)):
        payload = event.payload
        if isinstance(payload, SurveyInvited):
            invited.append((event, payload))
        elif isinstance(payload, SurveyAnswered):
            answered.setdefault(payload.invitation_id, event.at)
        elif isinstance(payload, SurveyReminded):
            reminded.setdefault(payload.invitation_id, []).append(event.at)
    newest = {event.client: payload.invitation_id for event, payload in invited}
    result = []
    for event, payload in invited:
        expires_at = Instant.parse(payload.expires_at, field="expires_at")
        if payload.invitation_id in answered:
            status = ANSWERED
        elif newest[event.client] != payload.invitation_id:
            status = SUPERSEDED
        elif now >= expires_at.utc:
            status = EXPIRED
        else:
            status = OPEN
        result.append(
            Invitation(
                invitation_id=payload.invitation_id,
                client=event.client,
                invited_at=event.at,
                expires_at=expires_at,
                email=payload.email,
                token_of=token_of,
                status=status,
                answered_at=answered.get(payload.invitation_id),
                reminded_at=tuple(reminded.get(payload.invitation_id, ())),
            )
        )
    result.sort(key=lambda invitation: (invitation.invited_at, invitation.client))
    return result
