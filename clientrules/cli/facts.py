"""``clientrules facts CLIENT``: the facts rules see for one client as of a moment, with their evidence."""

from __future__ import annotations

import json

import click

from clientrules import FACTS, MAX_GRACE_DAYS, Facts, UnknownClient, facts_of, moment_or_now
from clientrules.cli.context import ctx_ledger

SHOWN_IDS = 3


@click.command("facts")
@click.argument("client", metavar="CLIENT")
@click.option("--as-of", "as_of", metavar="WHEN", help="A date (00:00 UTC) or date-time with offset [default: now].")
@click.option(
    "--grace-days",
    type=click.IntRange(0, MAX_GRACE_DAYS),
    help="Days after due_on an invoice may be paid and still be on time [default: the current rule set's].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: as_of, values, evidence.")
def facts_command(client: str, as_of: str | None, grace_days: int | None, as_json: bool) -> None:
    """Show every fact of CLIENT as of WHEN, and the ids of the events behind each."""
    ledger = ctx_ledger(create=False)
    moment = moment_or_now(as_of, ledger.clock, field="--as-of")
    if ledger.version(client) == 0:
        raise UnknownClient(client)
    if grace_days is None:
        grace_days = ledger.rules.current().ruleset.parameters.grace_days
    events = ledger.events(client, until=moment)
    found = facts_of(events, moment, grace_days=grace_days, portfolio_value=ledger.decisions.portfolio_value(moment))
    if as_json:
        click.echo(json.dumps({"client": client, "grace_days": grace_days, **found.to_json()}, indent=1))
    else:
        click.echo(f"facts of {client} as of {moment.text} (grace_days {grace_days})")
        click.echo(table(found, {event.id: f"{event.type} {event.at.text}" for event in events}))


def table(found: Facts, labels: dict[str, str]) -> str:
    """One line per catalogue fact: its name, its value (``-`` when absent) and the events behind it.

    ``labels`` names events for people (``InvoiceIssued 2026-03-01``) instead of by id.
    """
    width = max(len(name) for name in FACTS)
    lines = []
    for name in FACTS:
        if name not in found.values:
            lines.append(f"  {name:<{width}}  -")
            continue
        value = found.values[name]
        shown = f"{value:g}" if isinstance(value, float) else str(value).lower() if isinstance(value, bool) else str(value)
        ids = found.evidence.get(name, ())
        more = f" +{len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
        named = ", ".join(labels.get(event_id, event_id) for event_id in ids[:SHOWN_IDS])
        evidence = f"  [{named}{more}]" if ids else ""
        lines.append(f"  {name:<{width}}  {shown:<8}{evidence}".rstrip())
    return "\n".join(lines)


commands: list[click.Command] = [facts_command]
