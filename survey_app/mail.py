"""Sending a survey link by mail (Flask-Mail over SMTP), or into the outbox folder when no server is set.

Flask-Mail builds and sends the messages; its connection is replaced by one
that verifies the server's TLS certificate (Flask-Mail's own STARTTLS and SSL
accept any certificate) and gives up on a silent server after a timeout.
"""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path
from typing import Iterable

import attrs
from flask import current_app
from flask_mail import Connection, Mail, Message

from clientrules.domain.errors import ClientRulesError
from clientrules.application.surveys import is_email_address
from clientrules.domain.survey import Invitation

SUBJECT = "Why did we part ways? A three-minute question"


SMTP_TIMEOUT = 30.0


class VerifiedConnection(Connection):
    """A Flask-Mail connection whose TLS (STARTTLS or SMTP over TLS) checks the server's certificate and name."""

    def configure_host(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        host: smtplib.SMTP
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, context=context, timeout=SMTP_TIMEOUT)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=SMTP_TIMEOUT)
            if self.mail.use_tls:
                host.starttls(context=context)
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class VerifiedMail(Mail):
    def connect(self) -> Connection:
        return VerifiedConnection(current_app.extensions["mail"])


class MailError(ClientRulesError):
    """A message could not be sent (the invitation itself is stored; its link works)."""


@attrs.frozen
class Delivery:
    """Where a link went: ``smtp`` (to ``to``), ``outbox`` (a file at ``path``) or ``none`` (no address known)."""

    how: str
    to: str | None = None
    path: Path | None = None

    def describe(self) -> str:
        if self.how == "smtp":
            return f"mailed to {self.to}"
        if self.how == "outbox":
            return f"no mail server is configured: the message to {self.to} was written to {self.path}"
        return "no e-mail address is known for this client: send the link yourself"


def send_link(invitation: Invitation, base_url: str) -> Delivery:
    """Mail ``invitation``'s link (a reminder if it was reminded already). Needs an app context."""
    if not invitation.email:
        return Delivery("none")
    if not is_email_address(invitation.email):  # e.g. imported: never let it add a header or a recipient
        raise MailError(f"{invitation.email[:80]!r} is not an e-mail address: nothing was sent (the link works)")
    state = current_app.extensions["clientrules"]
    message = Message(
        subject=("Reminder: " if invitation.reminded_at else "") + SUBJECT,
        recipients=[invitation.email],
        body=current_app.jinja_env.get_template("mail/invitation.txt").render(
            invitation=invitation, url=invitation.url(base_url)
        ),
        sender=state.settings.mail_from,
    )
    if not state.settings.mail_server:
        return Delivery("outbox", invitation.email, _write_to_outbox(message, state.outbox, invitation))
    try:
        state.mail.send(message)
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(
            f"could not mail {invitation.email} through {state.settings.mail_server}: {error}"
            " (the invitation is stored; its link works)"
        ) from None
    return Delivery("smtp", invitation.email)


def delete_outbox_copies(invitations: Iterable[Invitation]) -> list[Path]:
    """Delete the outbox files of the messages sent for ``invitations`` (invitations and reminders).

    Erasing a person's data leaves no copy of their mail behind. Needs an app context.
    """
    outbox: Path = current_app.extensions["clientrules"].outbox
    stems = {_outbox_stem(invitation) for invitation in invitations}
    deleted = []
    for path in sorted(outbox.glob("*.eml")) if stems and outbox.is_dir() else ():
        if path.stem in stems or path.stem.rpartition("-reminder-")[0] in stems:
            path.unlink()
            deleted.append(path)
    return deleted


def _outbox_stem(invitation: Invitation) -> str:
    return f"{invitation.client}-{invitation.invitation_id}"


def _write_to_outbox(message: Message, outbox: Path, invitation: Invitation) -> Path:
    suffix = f"-reminder-{len(invitation.reminded_at)}" if invitation.reminded_at else ""
    path = outbox / f"{_outbox_stem(invitation)}{suffix}.eml"
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        path.write_bytes(message.as_bytes())
    except OSError as error:
        raise MailError(f"cannot write {path}: {error.strerror}") from None
    return path
