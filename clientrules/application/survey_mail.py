"""Inviting departed clients to the exit survey and mailing them their link, in one call (``ledger.survey_mail``).

An invitation is stored first (its link works from then on), then mailed
through the :class:`~clientrules.ports.InvitationSender` the ledger was built
with: SMTP, or the outbox folder. A mail that cannot be sent does not undo the
invitation; :attr:`Sent.problem` says what went wrong, and the link can be
given by hand.
"""

from __future__ import annotations

import attrs

from clientrules.application.surveys import Surveys
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.survey import Invitation
from clientrules.ports import Delivery, InvitationSender


@attrs.frozen
class Sent:
    """An invitation (or a reminder of it) and how its mail went: ``delivery``, or ``problem`` when it was not sent."""

    invitation: Invitation
    delivery: Delivery | None
    problem: str | None = None

    def describe(self) -> str:
        """Where the message went, or why it did not, in one sentence."""
        if self.delivery is not None:
            return self.delivery.describe()
        return self.problem or "not sent"


class SurveyMail:
    """Invitations and reminders of one ledger's exit survey, each mailed as it is made."""

    def __init__(self, surveys: Surveys, sender: InvitationSender) -> None:
        self._surveys = surveys
        self._sender = sender

    def invite(self, client: str, *, base_url: str, email: str | None = None, on_purpose: bool = False) -> Sent:
        """Invite ``client`` (see :meth:`~clientrules.application.surveys.Surveys.invite`) and mail the link."""
        return self.send(self._surveys.invite(client, email=email, on_purpose=on_purpose), base_url)

    def remind(self, after_days: int = 7, *, base_url: str) -> list[Sent]:
        """Record the reminders due (see :meth:`~clientrules.application.surveys.Surveys.remind`) and mail each link."""
        return [self.send(invitation, base_url) for invitation in self._surveys.remind(after_days)]

    def send(self, invitation: Invitation, base_url: str) -> Sent:
        """Mail ``invitation``'s link (a reminder if it was reminded already)."""
        try:
            return Sent(invitation, self._sender.send(invitation, base_url))
        except ClientRulesError as error:
            return Sent(invitation, None, str(error))
