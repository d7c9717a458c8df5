"""Invitations by real SMTP: a local aiosmtpd server receives what the CLI and the app send."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clientrules import Ledger
from clientrules.cli.main import cli
from survey_fixtures import add_departed, clean_environment

USER, PASSWORD = "mailer", "mail-password"


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


def text_of(message: Message) -> str:
    """The plain-text part of a message."""
    assert isinstance(message, EmailMessage)
    return message.get_body(("plain",)).get_content()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=(auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode()))


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=check_login, auth_require_tls=False
    )
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def mail_env(smtp_server, monkeypatch, db_url: str, tmp_path: Path):
    controller, inbox = smtp_server
    clean_environment(monkeypatch)
    monkeypatch.setenv("CLIENTRULES_MAIL_SERVER", "127.0.0.1")
    monkeypatch.setenv("CLIENTRULES_MAIL_PORT", str(controller.port))
    monkeypatch.setenv("CLIENTRULES_MAIL_USERNAME", USER)
    monkeypatch.setenv("CLIENTRULES_MAIL_PASSWORD", PASSWORD)
    monkeypatch.setenv("CLIENTRULES_MAIL_FROM", "Studio <hello@studio.example>")
    monkeypatch.setenv("CLIENTRULES_OUTBOX", str(tmp_path / "outbox"))
    with Ledger.open(db_url) as ledger:
        add_departed(ledger, "acme", email="ann@acme.example")
    return inbox


def test_cli_invitation_arrives_by_smtp_with_the_link(mail_env: Inbox, db_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme", "--base-url", "https://s.example"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert "mailed to ann@acme.example" in result.stderr
    ((sender, recipients, message),) = mail_env.messages
    assert sender == "hello@studio.example" and recipients == ["ann@acme.example"]
    assert message["To"] == "ann@acme.example" and "part ways" in message["Subject"]
    assert link in text_of(message)
    assert not (tmp_path / "outbox").exists()


def test_the_mail_lands_as_the_business_with_text_and_html(mail_env: Inbox, db_url: str, monkeypatch) -> None:
    monkeypatch.setenv("CLIENTRULES_BUSINESS_NAME", "Harbour Studio")
    monkeypatch.setenv("CLIENTRULES_OWNER_EMAIL", "owner@studio.example")
    monkeypatch.setenv("CLIENTRULES_SURVEY_EXPIRY_DAYS", "30")
    invited = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme", "--base-url", "https://s.example"])
    assert invited.exit_code == 0, invited.output
    reminded = CliRunner().invoke(cli, ["--db", db_url, "survey", "remind", "--after-days", "0", "--base-url", "https://s.example"])
    assert reminded.exit_code == 0, reminded.output
    first, reminder = (m for _, _, m in mail_env.messages)
    link = invited.stdout.strip()
    with Ledger.open(db_url) as ledger:
        (invitation,) = ledger.surveys.invitations("acme")
    expires = invitation.expires_at.date
    for message in (first, reminder):
        assert message["From"] == "Harbour Studio <hello@studio.example>"
        assert message["Reply-To"] == "owner@studio.example"
        assert message["Message-ID"].endswith("@studio.example>") and message["Date"]
        assert message.get_content_type() == "multipart/alternative"
        text, html = text_of(message), message.get_body(("html",)).get_content()
        assert link in text and f'href="{link}"' in html
        assert f"until {expires.day} {expires:%B %Y}" in " ".join(text.split())
        assert "Harbour Studio" in message["Subject"] and "Harbour Studio" in text and "Harbour Studio" in html
    assert first["Message-ID"] != reminder["Message-ID"]
    assert first["List-Unsubscribe"] is None
    assert reminder["List-Unsubscribe"] == "<mailto:owner@studio.example?subject=stop>"


def test_the_address_given_wins_over_the_known_one(mail_env: Inbox, db_url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme", "--email", "boss@acme.example"])
    assert result.exit_code == 0, result.output
    assert mail_env.messages[0][1] == ["boss@acme.example"]


def test_reminders_arrive_with_the_same_link(mail_env: Inbox, db_url: str) -> None:
    invited = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme"])
    reminded = CliRunner().invoke(cli, ["--db", db_url, "survey", "remind", "--after-days", "0"])
    assert reminded.exit_code == 0, reminded.output
    assert reminded.stdout == invited.stdout
    assert "reminded 1 client(s)" in reminded.stderr
    first, second = (m for _, _, m in mail_env.messages)
    assert second["Subject"] == "Reminder: " + first["Subject"]
    assert invited.stdout.strip() in text_of(second)


def test_a_dashboard_invitation_arrives_by_smtp(mail_env: Inbox, db_url: str, tmp_path: Path) -> None:
    from survey_fixtures import close_app, csrf_token, make_app

    with Ledger.open(db_url) as ledger:
        ledger.surveys.owner.set_password("owner password here")
    app = make_app(db_url, tmp_path, CLIENTRULES_BASE_URL="https://survey.studio.example")
    try:
        client = app.test_client()
        token = csrf_token(client.get("/owner/login").get_data(as_text=True))
        client.post("/owner/login", data={"csrf_token": token, "password": "owner password here"})
        token = csrf_token(client.get("/owner/clients/acme").get_data(as_text=True))
        assert client.post("/owner/clients/acme/invite", data={"csrf_token": token}).status_code == 303
        (invitation,) = app.extensions["clientrules"].ledger.surveys.invitations("acme")
    finally:
        close_app(app)
    ((_, _, message),) = mail_env.messages
    assert invitation.url("https://survey.studio.example") in text_of(message)


def test_an_unreachable_mail_server_is_one_clear_error_and_the_link_still_works(
    mail_env: Inbox, db_url: str, monkeypatch
) -> None:
    monkeypatch.setenv("CLIENTRULES_MAIL_PORT", str(free_port()))  # nobody listens there
    result = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: could not mail ann@acme.example through 127.0.0.1")
    assert "Traceback" not in result.output
    link = result.stdout.strip()
    with Ledger.open(db_url) as ledger:
        assert ledger.surveys.open(link.rsplit("/", 1)[1]).client == "acme"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def starttls_server(tmp_path: Path, mail_env: Inbox, monkeypatch):
    """A second server that requires STARTTLS before anything (and before the login)."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=check_login,
        tls_context=context, require_starttls=True, auth_require_tls=True,
    )
    controller.start()
    monkeypatch.setenv("CLIENTRULES_MAIL_PORT", str(controller.port))
    monkeypatch.setenv("CLIENTRULES_MAIL_USE_TLS", "1")
    yield inbox, cert
    controller.stop()


def test_starttls_with_a_trusted_certificate_delivers(starttls_server, db_url: str, monkeypatch) -> None:
    inbox, cert = starttls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's certificate
    result = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme"])
    assert result.exit_code == 0, result.output
    ((_, recipients, message),) = inbox.messages
    assert recipients == ["ann@acme.example"]
    assert result.stdout.strip() in text_of(message)


def test_starttls_refuses_a_certificate_it_cannot_verify(starttls_server, db_url: str) -> None:
    inbox, _ = starttls_server
    result = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme"])
    assert result.exit_code == 1
    assert "certificate verify failed" in result.stderr and result.stderr.startswith("error: could not mail")
    assert inbox.messages == []


def test_smtp_over_tls_with_a_trusted_certificate_delivers(mail_env: Inbox, db_url: str, tmp_path: Path, monkeypatch) -> None:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=check_login, ssl_context=context,
        auth_require_tls=False,  # aiosmtpd only counts STARTTLS as TLS; this whole connection is TLS
    )
    controller.start()
    try:
        monkeypatch.setenv("CLIENTRULES_MAIL_PORT", str(controller.port))
        monkeypatch.setenv("CLIENTRULES_MAIL_USE_SSL", "1")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        result = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme"])
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert [recipients for _, recipients, _ in inbox.messages] == [["ann@acme.example"]]
