"""The exit survey's commands: ``survey invite|remind|list|answers`` and ``owner set-password``.

Mail goes through ``ledger.survey_mail`` (SMTP, or the outbox folder),
configured by the same ``CLIENTRULES_*`` settings as the web app.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

import click

from clientrules import MAX_DAYS, SURVEY_FIELDS, ClientRulesError, Event, Sent
from clientrules.cli.context import ctx_ledger

#: what a spreadsheet takes for the start of a formula in a cell (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: where links start when neither --base-url nor CLIENTRULES_BASE_URL says
DEFAULT_BASE_URL = "http://127.0.0.1:8080"

base_url_option = click.option(
    "--base-url",
    metavar="URL",
    help="Where the app is reachable by clients; links start with it. "
    f"[default: $CLIENTRULES_BASE_URL, else {DEFAULT_BASE_URL}]",
)


def _base_url(given: str | None) -> str:
    return given or ctx_ledger().settings.base_url or DEFAULT_BASE_URL


def _print_sent(sent: list[Sent], base_url: str) -> list[Sent]:
    """Print each link on stdout and where its mail went on stderr; those not sent (a lone one is told by the error)."""
    unsent = [each for each in sent if each.problem is not None]
    for each in sent:
        click.echo(each.invitation.url(base_url))
        if each.problem is None or len(unsent) > 1:
            click.echo(f"{each.invitation.client}: {each.describe()}", err=True)
    return unsent


def _fail(unsent: list[Sent], total: int) -> None:
    if len(unsent) == 1:
        raise ClientRulesError(unsent[0].describe())
    raise ClientRulesError(f"{len(unsent)} of {total} messages were not sent (their links work)")


@click.group("survey")
def survey() -> None:
    """Invite clients who left to the exit survey, remind them, list invitations and answers."""


@survey.command("invite")
@click.argument("client", metavar="CLIENT")
@click.option("--email", metavar="ADDR", help="Send the link here [default: the address CLIENT was onboarded with].")
@click.option(
    "--on-purpose", is_flag=True,
    help="Invite a client we ended with: the questions ask how working with us was, not why they stopped.",
)
@base_url_option
def invite(client: str, email: str | None, on_purpose: bool, base_url: str | None) -> None:
    """Invite CLIENT, who has left, and print the personal link.

    Clients who chose to leave are invited once they have left (a notice
    runs until its effective date). A client we ended with is invited only
    with --on-purpose.

    The link is mailed when an address is known: by SMTP when
    CLIENTRULES_MAIL_SERVER is set, else written to the outbox folder.
    Inviting again gives a new link and makes the earlier one unusable.
    """
    base_url = _base_url(base_url)
    sent = ctx_ledger(create=False).survey_mail.invite(client, email=email, base_url=base_url, on_purpose=on_purpose)
    if _print_sent([sent], base_url):
        _fail([sent], 1)


@survey.command("remind")
@click.option(
    "--after-days", type=click.IntRange(0, MAX_DAYS), default=7, show_default=True, metavar="N",
    help="Remind those not contacted for N days who have not answered.",
)
@base_url_option
def remind(after_days: int, base_url: str | None) -> None:
    """Send the link again to invited clients who have not answered after N days."""
    base_url = _base_url(base_url)
    reminded = ctx_ledger(create=False).survey_mail.remind(after_days, base_url=base_url)
    unsent = _print_sent(reminded, base_url)
    if unsent:
        _fail(unsent, len(reminded))
    click.echo(f"reminded {len(reminded)} client(s)", err=True)


@survey.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_invitations(as_json: bool) -> None:
    """List every invitation: client, status (open, answered, expired, superseded), dates, reminders."""
    for invitation in ctx_ledger(create=False).surveys.invitations():
        row = {
            "client": invitation.client,
            "status": invitation.status,
            "invited_at": invitation.invited_at.text,
            "expires_at": invitation.expires_at.text,
            "answered_at": invitation.answered_at.text if invitation.answered_at else None,
            "reminders": len(invitation.reminded_at),
            "email": invitation.email,
        }
        if as_json:
            click.echo(json.dumps(row))
        else:
            answered = f" on {invitation.answered_at.date}" if invitation.answered_at else ""
            click.echo(
                f"{invitation.client}\t{invitation.status}{answered}\tinvited {invitation.invited_at.date}"
                f"\texpires {invitation.expires_at.date}\treminders {row['reminders']}\t{invitation.email or '-'}"
            )


@survey.command("answers")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="csv: a header and one row per answer; json: one object per line.")
def list_answers(fmt: str) -> None:
    """Write every survey answer (client, when, and each question's answer) to standard output.

    In CSV, a text that a spreadsheet would take for a formula (it starts
    with = + - @, a tab or a carriage return) gets a leading ' so that it is
    shown as text; JSON keeps every text as it was written.
    """
    rows = [
        {"client": event.client, "answered_at": event.at.text, **_answer_fields(event)}
        for event in ctx_ledger(create=False).surveys.answers()
    ]
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = io.StringIO()
    # RFC 4180 line ends (\r\n): a field holding a carriage return is quoted too, so it cannot break its row
    writer = csv.DictWriter(table, fieldnames=["client", "answered_at", *SURVEY_FIELDS])
    writer.writeheader()
    for row in rows:
        cells = {**row, "other_reasons": " ".join(row["other_reasons"])}
        writer.writerow({name: _spreadsheet_safe(value) for name, value in cells.items()})
    click.echo(table.getvalue(), nl=False)


def _answer_fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event.payload, name) for name in SURVEY_FIELDS}


def _spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (shown as text); others are as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@click.group("owner")
def owner() -> None:
    """The owner account of the web app's dashboard."""


@owner.command("set-password")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def set_password(password_stdin: bool) -> None:
    """Set the owner's password (stored hashed with the database); open sessions end."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New owner password", hide_input=True, confirmation_prompt=True)
    version = ctx_ledger().surveys.owner.set_password(password)
    click.echo(f"owner password set (version {version}); sessions under an older password have ended")


@owner.command("end-sessions")
def end_sessions() -> None:
    """Log the owner out everywhere: every session opened so far ends on its next request."""
    ctx_ledger().surveys.owner.end_all_sessions()
    click.echo("every owner session has ended; log in again to open a new one")


commands: list[click.Command] = [survey, owner]
