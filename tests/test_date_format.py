"""Dates the business's way (``CLIENTRULES_DATE_FORMAT``): on the owner's pages and in the digest mail, in
every format; a format we do not know is refused in one line."""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from test_alerts import smtp_inbox  # noqa: F401 (a fixture)
from test_mail_smtp import Inbox
from test_owner_app import PASSWORD, log_in

from clientrules import ClientOnboarded, IncidentReported, InvoiceIssued, Ledger, Settings, SettingsError, load_settings
from clientrules.cli.main import cli
from survey_fixtures import Clock, clean_environment, close_app, make_app

#: each format, and how it writes the days of the story below: 17 February 2026, and 21 March 2026 (the invoice's
#: due date, the day of the incident, the day the decision changed)
WRITTEN = {
    "5 December 2026": ("17 February 2026", "21 March 2026"),
    "December 5, 2026": ("February 17, 2026", "March 21, 2026"),
    "05/12/2026": ("17/02/2026", "21/03/2026"),
    "12/05/2026": ("02/17/2026", "03/21/2026"),
    "05.12.2026": ("17.02.2026", "21.03.2026"),
    "2026-12-05": ("2026-02-17", "2026-03-21"),
}


def test_the_default_is_the_day_then_the_month_in_words_and_an_unknown_format_is_refused() -> None:
    assert load_settings({}, environ={}).date_format == Settings().date_format == "5 December 2026"
    with pytest.raises(SettingsError, match=r"^CLIENTRULES_DATE_FORMAT='5/12/26' is not one of 5 December 2026, "):
        load_settings({"CLIENTRULES_DATE_FORMAT": "5/12/26"}, environ={})


@pytest.fixture(scope="module")
def story_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Acme, onboarded on 17 February 2026 with an invoice due on 21 March 2026, turned by an abuse incident
    that the watcher recorded on 21 March 2026; and the owner's password."""
    db = tmp_path_factory.mktemp("dates") / "story.db"
    with Ledger.open(str(db)) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme"), "2026-02-17")
        ledger.record("acme", InvoiceIssued(invoice_id="A-1", amount=500.0, due_on="2026-03-21"), "2026-02-17")
        ledger.alerts.once(as_of="2026-02-18")
        ledger.record("acme", IncidentReported(kind="abuse", against="staff", severity=2), "2026-03-21")
        ledger.alerts.once(as_of="2026-03-21T12:00:00Z")
        ledger.surveys.owner.set_password(PASSWORD)
    return db


@pytest.mark.parametrize("date_format", sorted(WRITTEN))
def test_the_owner_pages_write_dates_the_business_way(
    story_db: Path, db_url: str, tmp_path: Path, monkeypatch, date_format: str
) -> None:
    clean_environment(monkeypatch)
    with closing(sqlite3.connect(story_db)) as source, closing(sqlite3.connect(db_url)) as copy:
        source.backup(copy)
    soon_after = Clock(dt.datetime(2026, 3, 25, tzinfo=dt.timezone.utc))  # What changed lists the last 90 days
    app = make_app(db_url, tmp_path, ledger=Ledger.open(db_url, clock=soon_after), CLIENTRULES_DATE_FORMAT=date_format)
    try:
        owner = app.test_client()
        assert log_in(owner).status_code == 303
        onboarded, turned = WRITTEN[date_format]
        client_page = owner.get("/owner/clients/acme").get_data(as_text=True)
        assert f'<p class="when">{onboarded}</p>' in client_page  # the timeline
        assert f"Due on</dt><dd class=\"free-text\">{turned}</dd>" in client_page  # the invoice's details
        assert f"After what happened on {turned}, we will not continue." in client_page  # the draft of the ending
        changes_page = owner.get("/owner/changes/").get_data(as_text=True)
        assert f"On {turned}: was" in changes_page
    finally:
        close_app(app)


@pytest.mark.parametrize("date_format", sorted(WRITTEN))
def test_the_digest_mail_writes_dates_the_business_way(
    db_url: str, smtp_inbox: tuple[Controller, Inbox], monkeypatch, date_format: str
) -> None:
    clean_environment(monkeypatch)
    controller, inbox = smtp_inbox
    env = {
        "CLIENTRULES_DIGEST_TO": "owner@studio.example",
        "CLIENTRULES_MAIL_SERVER": "127.0.0.1",
        "CLIENTRULES_MAIL_PORT": str(controller.port),
        "CLIENTRULES_DATE_FORMAT": date_format,
    }
    with Ledger.open(db_url) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme"), "2026-02-17")
    watch = ["--db", db_url, "watch", "--once", "--as-of"]
    assert CliRunner().invoke(cli, [*watch, "2026-02-18"], env=env).exit_code == 0
    with Ledger.open(db_url) as ledger:
        ledger.record("acme", IncidentReported(kind="abuse", against="staff", severity=2), "2026-03-20")
    done = CliRunner().invoke(cli, [*watch, "2026-03-21T12:00:00Z"], env=env)
    assert done.exit_code == 0, done.output
    [(_, _, message)] = inbox.messages
    assert isinstance(message, EmailMessage)
    written = f"was keep, now terminate ({WRITTEN[date_format][1]})"
    assert f"Acme: {written}" in message.get_body(("plain",)).get_content()
    assert f"<strong>Acme</strong>: {written}" in message.get_body(("html",)).get_content()
