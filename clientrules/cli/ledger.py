"""The ledger's commands: ``import``, ``export``, ``history``, ``clients`` and ``erase``."""

from __future__ import annotations

import json
from typing import Any

import click

from clientrules import ERASED, PRESETS, ClientRulesError, Event, ImportRefused, Instant, InvalidInput, UnknownClient
from clientrules.cli.context import ctx_ledger

#: longest value shown for one field in a timeline (the export has them whole)
SHOWN_VALUE = 60


@click.command("import")
@click.argument("file", metavar="FILE")
@click.option("--from", "preset", type=click.Choice(PRESETS), help="The tool a CSV export comes from.")
@click.option("--map", "mapping", metavar="MAPPING.toml", help="A mapping file describing any other CSV.")
@click.option("--dry-run", is_flag=True, help="Store nothing; print what would be stored.")
def import_command(file: str, preset: str | None, mapping: str | None, dry_run: bool) -> None:
    """Import events from a JSON Lines FILE ('-' for standard input), or a CSV export, all or nothing.

    Prints how many events were stored and how many were there already
    (importing the same file again stores nothing). A bad line stops the
    import with its line number, and nothing of the file is stored.

    A CSV export (a FILE ending in .csv, or with --from or --map) is read by
    the preset named, else by the preset its header fits; every bad row is
    listed with its row and column, and nothing of the file is stored.
    """
    ledger = ctx_ledger()
    if preset or mapping or file.casefold().endswith(".csv"):
        _import_csv(file, preset, mapping, dry_run)
        return
    if dry_run:
        raise ClientRulesError("--dry-run reads CSV exports (with --from or --map, or a FILE ending in .csv)")
    try:
        result = ledger.import_jsonl(file)
    except InvalidInput as error:
        name = "<stdin>" if file == "-" else file
        raise InvalidInput(error.line, f"{error.reason} (in {name}; nothing was stored)") from None
    click.echo(f"stored {result.stored} events, {result.already_present} already present")


def _import_csv(file: str, preset: str | None, mapping: str | None, dry_run: bool) -> None:
    try:
        result = ctx_ledger().import_csv(file, preset=preset, mapping=mapping, dry_run=dry_run)
    except ImportRefused as refusal:
        for problem in refusal.problems:
            click.echo(f"error: {problem}", err=True)
        raise ClientRulesError(f"nothing of {file} was stored: fix the file and run the import again") from None
    plan = result.plan
    if result.appended is None:
        click.echo(f"dry run with {result.mapping.name}: nothing stored; {len(plan.events)} events would be stored")
    else:
        click.echo(
            f"stored {result.appended.stored} events, {result.appended.already_present} already present"
            f" (read as {result.mapping.name})"
        )
    for line in plan.summary():
        click.echo(line)


@click.command("export")
@click.option("--client", "client", metavar="ID", help="Only this client's events.")
@click.argument("file", metavar="[FILE]", required=False, default="-")
def export_command(client: str | None, file: str) -> None:
    """Write events as JSON Lines to FILE (default: standard output).

    Each client's events are in time order, clients in the order they were
    first recorded; ids are included, so importing the output is a no-op here
    and rebuilds the ledger elsewhere.
    """
    ledger = ctx_ledger(create=False)
    count = ledger.export_jsonl(file, client=client)
    if file != "-":
        click.echo(f"exported {count} events to {file}", err=True)


@click.command("history")
@click.argument("client", metavar="CLIENT")
@click.option("--until", metavar="DATE", help="Only events at or before DATE (2026-03-01 or a date-time).")
def history_command(client: str, until: str | None) -> None:
    """Show CLIENT's timeline: when, what happened, and its fields."""
    ledger = ctx_ledger(create=False)
    events = ledger.events(client, until=until)
    if not events and not ledger.version(client):
        raise UnknownClient(client)
    click.echo(f"{client}: {len(events)} events" + (f" up to {until}" if until else ""))
    whens = [_when(event.at) for event in events]
    when_width = max(map(len, whens), default=0)
    type_width = max((len(event.type) for event in events), default=0)
    for when, event in zip(whens, events):
        click.echo(f"{when:<{when_width}}  {event.type:<{type_width}}  {_fields(event)}".rstrip())


@click.command("clients")
def clients_command() -> None:
    """List the clients with their number of events and last activity."""
    summaries = ctx_ledger(create=False).clients()
    if not summaries:
        click.echo("no clients yet (import events with: clientrules import FILE)")
        return
    width = max(len("CLIENT"), *(len(summary.client) for summary in summaries))
    click.echo(f"{'CLIENT':<{width}}  {'EVENTS':>6}  {'FIRST':<10}  LAST ACTIVITY")
    for summary in summaries:
        click.echo(
            f"{summary.client:<{width}}  {summary.events:>6}  {summary.first_at.text[:10]:<10}  {summary.last_at.text[:10]}"
        )


@click.command("erase")
@click.argument("client", metavar="CLIENT")
@click.option("--yes", is_flag=True, help="Confirm: an erasure cannot be undone.")
@click.option("--requested-by", metavar="TEXT", help="Who asked for it (recorded as it is: no personal data here).")
def erase_command(client: str, yes: bool, requested_by: str | None) -> None:
    """Erase CLIENT's personal data for good: names, e-mail addresses, notes, reasons, free-text answers.

    Destroys the client's key, so those fields read as [erased] from then on,
    everywhere (history, export, reports, the web app), and deletes the copies
    of its survey mail in the outbox folder; the rest of its history (amounts,
    dates, reason codes, ratings) and its decisions stay. Running it again
    changes nothing.
    """
    if not yes:
        raise ClientRulesError(f"erasing the personal data of {client} cannot be undone: run again with --yes")
    ledger = ctx_ledger(create=False)
    erasure = ledger.erase(client, requested_by=requested_by)
    if erasure.already_erased:
        click.echo(f"{client} was erased on {erasure.event.at.date}: nothing left to erase")
    else:
        count = erasure.erased_events
        click.echo(f"erased {client}: the personal fields of {count} event{'s' if count != 1 else ''} now read as {ERASED}")
    for path in ledger.delete_outbox_copies(client):
        click.echo(f"deleted the outbox copy {path}")
    for warning in erasure.warnings:
        click.echo(f"warning: {warning}", err=True)


def _when(at: Instant) -> str:
    """The moment as written, readable: ``2026-03-01`` or ``2026-03-01 09:30:00+02:00``."""
    return at.text.replace("T", " ")


def _fields(event: Event) -> str:
    return ", ".join(f"{key}={_shown(value)}" for key, value in event.data.items())


def _shown(value: Any) -> str:
    """``value`` on one line of the timeline: control characters (line breaks, terminal escapes) shown escaped."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


commands = [import_command, export_command, history_command, clients_command, erase_command]
