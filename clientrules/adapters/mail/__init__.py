"""Survey mail: the invitation written in text and HTML, and sent by SMTP or into the outbox folder.

The standard library builds the messages (:class:`email.message.EmailMessage`,
no hand-made MIME) and talks SMTP (:mod:`smtplib`, with the server's TLS
certificate and name checked, and a timeout), so the CLI and the web app send
the same mail without a web framework::

    mail = InvitationMail.from_settings(settings, database_url=ledger.url)
    delivery = mail.send(invitation, "https://survey.example.com")
    print(delivery.describe())

Without a mail server (``CLIENTRULES_MAIL_SERVER`` unset) each message is
written to the outbox folder as an ``.eml`` file instead.
"""

from __future__ import annotations

import datetime as dt
import math
import smtplib
import socket
import ssl
import textwrap
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Iterable, Protocol

import attrs
import jinja2

from clientrules.adapters.deadline import Deadline, ResolutionTimeout, connect_to_any, resolve
from clientrules.adapters.store.sqlite import sqlite_path
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT, plain_date
from clientrules.domain.survey import Invitation, is_email_address
from clientrules.ports import Delivery, Mailer

SMTP_TIMEOUT = 30.0
SUBJECT = "why did we part ways? A three-minute question"
DEFAULT_ACCENT = "#1d6f42"
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("clientrules.adapters.mail", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


class MailError(ClientRulesError):
    """A message could not be sent (the invitation itself is stored; its link works)."""


class MailSettings(Protocol):
    """The settings the mail reads (:class:`clientrules.config.Settings` has them all)."""

    @property
    def mail_server(self) -> str | None: ...

    @property
    def mail_port(self) -> int | None: ...

    @property
    def mail_use_tls(self) -> bool: ...

    @property
    def mail_use_ssl(self) -> bool: ...

    @property
    def mail_username(self) -> str | None: ...

    @property
    def mail_password(self) -> str | None: ...

    @property
    def mail_from(self) -> str: ...

    @property
    def date_format(self) -> str: ...

    @property
    def outbox(self) -> str | None: ...

    @property
    def business_name(self) -> str | None: ...

    @property
    def business_logo(self) -> str | None: ...

    @property
    def accent_colour(self) -> str | None: ...

    @property
    def owner_email(self) -> str | None: ...


class _SmtpWithinDeadline(smtplib.SMTP):
    """smtplib's client that resolves the server's name within what is left of the delivery's deadline
    (``resolve_by``, a :func:`time.monotonic` time): a stalled resolver has no socket for the deadline to shut."""

    resolve_by = math.inf

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect_to_any(resolve(host, port, max(0.0, self.resolve_by - time.monotonic())), timeout)


class _SmtpSslWithinDeadline(smtplib.SMTP_SSL, _SmtpWithinDeadline):
    """The same over TLS from the start: SMTP_SSL wraps the socket the class above connects."""


@attrs.frozen
class SmtpMailer:
    """Sends by SMTP; STARTTLS (``use_tls``) or SMTP over TLS (``use_ssl``) check the server's certificate and name."""

    host: str
    port: int
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = SMTP_TIMEOUT

    def send(self, message: EmailMessage, *, reference: str) -> Delivery:
        """Sends ``message`` within :attr:`timeout` seconds in all, the server's name resolved within them too (a
        server that answers slowly line by line is cut off at the deadline: :mod:`clientrules.adapters.deadline`)."""
        server = _SmtpSslWithinDeadline(context=ssl.create_default_context(), timeout=self.timeout) if self.use_ssl else (
            _SmtpWithinDeadline(timeout=self.timeout)
        )
        server.resolve_by = time.monotonic() + self.timeout
        failure: str | None = None
        unresolved = False
        try:
            with Deadline(self.timeout, lambda: getattr(server, "sock", None)) as deadline:
                try:
                    self._converse(server, message)
                except ResolutionTimeout:  # the deadline came while the name was resolved
                    unresolved = True
                except (smtplib.SMTPException, OSError) as error:
                    failure = str(error)
        finally:
            server.close()
        if deadline.passed or unresolved:
            failure = f"no answer within {self.timeout:g} seconds"
        if failure is not None:
            raise MailError(
                f"could not mail {message['To']} through {self.host}: {failure} (the invitation is stored; its link works)"
            )
        return Delivery("smtp", str(message["To"]))

    def _converse(self, server: smtplib.SMTP, message: EmailMessage) -> None:
        server._host = self.host  # type: ignore[attr-defined]  # the name TLS checks the certificate against: smtplib sets it only when constructing
        server.connect(self.host, self.port)
        if self.use_tls:
            server.starttls(context=ssl.create_default_context())
        if self.username and self.password:
            server.login(self.username, self.password)
        server.send_message(message)
        server.quit()


@attrs.frozen
class OutboxMailer:
    """Writes each message to ``folder/<reference>.eml`` instead of sending it (no mail server configured)."""

    folder: Path

    def send(self, message: EmailMessage, *, reference: str) -> Delivery:
        path = self.folder / f"{reference}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(message.as_bytes())
        except OSError as error:
            raise MailError(f"cannot write {path}: {error.strerror}") from None
        return Delivery("outbox", str(message["To"]), path)

    def delete(self, references: Iterable[str]) -> list[Path]:
        """Delete the files of the messages whose reference starts with one of ``references``; those deleted."""
        prefixes = tuple(references)
        if not prefixes or not self.folder.is_dir():
            return []
        deleted = []
        for path in sorted(self.folder.glob("*.eml")):
            if path.stem in prefixes or path.stem.rpartition("-reminder-")[0] in prefixes:
                path.unlink()
                deleted.append(path)
        return deleted


@attrs.frozen
class Sender:
    """Who survey mail comes from: the business's name and address, where replies go, its logo and colour."""

    address: str
    name: str | None = None
    reply_to: str | None = None
    #: whether the web app serves a logo (at ``<base url>/brand/logo``, as links are at ``<base url>/s/<token>``)
    has_logo: bool = False
    accent: str = DEFAULT_ACCENT
    #: how its mail writes dates (:data:`~clientrules.domain.events.dates.DATE_FORMATS`)
    date_format: str = DEFAULT_DATE_FORMAT

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"

    @property
    def from_header(self) -> Address:
        """The ``From`` of its mail: the business's name as display name, then the address."""
        return Address(display_name=self.name or "", addr_spec=self.address)


@attrs.frozen
class InvitationMail:
    """Writes an invitation's (or reminder's) message and hands it to a :class:`~clientrules.ports.Mailer`."""

    mailer: Mailer
    sender: Sender

    @classmethod
    def from_settings(cls, settings: MailSettings, *, database_url: str) -> InvitationMail:
        """The mail as the settings describe it: SMTP when a server is set, else the outbox folder."""
        mailer: Mailer
        if settings.mail_server:
            port = settings.mail_port or (465 if settings.mail_use_ssl else 587 if settings.mail_use_tls else 25)
            mailer = SmtpMailer(settings.mail_server, port, settings.mail_use_tls, settings.mail_use_ssl,
                                settings.mail_username, settings.mail_password)
        else:
            mailer = OutboxMailer(outbox_folder(settings.outbox, database_url))
        display_name, address = parseaddr(settings.mail_from)
        sender = Sender(
            address=address or settings.mail_from,
            name=settings.business_name or display_name or None,
            reply_to=settings.owner_email,
            has_logo=bool(settings.business_logo),
            accent=settings.accent_colour or DEFAULT_ACCENT,
            date_format=settings.date_format,
        )
        return cls(mailer, sender)

    def send(self, invitation: Invitation, base_url: str) -> Delivery:
        """Mail ``invitation``'s link (a reminder if it was reminded already); ``Delivery("none")`` without an address."""
        if not invitation.email:
            return Delivery("none")
        if not is_email_address(invitation.email):  # e.g. imported: never let it add a header or a recipient
            raise MailError(f"{invitation.email[:80]!r} is not an e-mail address: nothing was sent (the link works)")
        return self.mailer.send(self.message(invitation, base_url), reference=outbox_reference(invitation))

    def message(self, invitation: Invitation, base_url: str) -> EmailMessage:
        """The message: a text part and an HTML part, from the business, replies to the owner."""
        reminder = bool(invitation.reminded_at)
        business = self.sender.name or "us"
        subject = ("Reminder: " if reminder else "") + (f"{self.sender.name}: " if self.sender.name else "") + SUBJECT
        subject = subject[0].upper() + subject[1:]
        values = {
            "business": business,
            "signed": self.sender.name,
            "url": invitation.url(base_url),
            "expires": plain_date(invitation.expires_at, self.sender.date_format),
            "reminder": reminder,
            "subject": subject,
            "logo_url": f"{base_url.rstrip('/')}/brand/logo" if self.sender.has_logo else None,
            "accent": self.sender.accent,
        }
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.sender.from_header
        message["To"] = invitation.email
        if self.sender.reply_to:
            message["Reply-To"] = self.sender.reply_to
        stamp(message, self.sender.domain)
        if reminder:
            unsubscribe = self.sender.reply_to or self.sender.address
            message["List-Unsubscribe"] = f"<mailto:{unsubscribe}?subject=stop>"
        text = _wrapped(_TEMPLATES.get_template("invitation.txt").render(values))
        html = _TEMPLATES.get_template("invitation.html").render(values)
        message.set_content(text, cte=_transfer_encoding(text))
        message.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
        return message


def stamp(message: EmailMessage, domain: str) -> None:
    """Give ``message`` the ``Date`` (now) and a ``Message-ID`` on ``domain`` that mail readers and filters expect."""
    message["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    message["Message-ID"] = make_msgid(domain=domain)


def outbox_reference(invitation: Invitation) -> str:
    """The outbox file name (without ``.eml``) of the message for ``invitation``'s latest sending."""
    suffix = f"-reminder-{len(invitation.reminded_at)}" if invitation.reminded_at else ""
    return f"{invitation.client}-{invitation.invitation_id}{suffix}"


def outbox_folder(configured: str | None, database_url: str) -> Path:
    """``CLIENTRULES_OUTBOX``, else ``outbox/`` beside a SQLite database, else ``./outbox``."""
    if configured:
        return Path(configured)
    if database_url.startswith(("postgresql://", "postgres://")):
        return Path.cwd() / "outbox"
    return sqlite_path(database_url)[0].parent / "outbox"


def delete_outbox_copies(folder: Path, invitations: Iterable[Invitation]) -> list[Path]:
    """Delete the outbox files of every message sent for ``invitations`` (invitations and reminders).

    Erasing a person's data leaves no copy of their mail behind.
    """
    return OutboxMailer(folder).delete({f"{i.client}-{i.invitation_id}" for i in invitations})


def _transfer_encoding(text: str) -> str:
    """Plain 7bit when the text allows it, so the link stays whole in an outbox file; else quoted-printable."""
    return "7bit" if text.isascii() and max(map(len, text.splitlines()), default=0) <= 900 else "quoted-printable"


def _wrapped(text: str) -> str:
    """Paragraphs wrapped at 72 columns for plain-text readers; a line holding a link is left whole."""
    paragraphs = text.split("\n\n")
    return "\n\n".join(p if "://" in p or "\n" in p.strip() else textwrap.fill(p.strip(), 72) for p in paragraphs) + "\n"


__all__ = [
    "DEFAULT_ACCENT",
    "InvitationMail",
    "MailError",
    "MailSettings",
    "OutboxMailer",
    "Sender",
    "SmtpMailer",
    "delete_outbox_copies",
    "outbox_folder",
    "outbox_reference",
    "stamp",
]
