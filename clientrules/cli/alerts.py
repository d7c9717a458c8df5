"""Alert commands: ``watch`` (the watcher of decision changes) and ``changes`` (what it recorded).

Where changes are delivered comes from the settings (``ledger.alert_channels()``):
``CLIENTRULES_WEBHOOK_URL`` and ``_SECRET`` (a signed webhook),
``CLIENTRULES_DIGEST_TO`` and ``_HOUR`` (the owner's digest, sent through
``CLIENTRULES_MAIL_*`` or written to the outbox folder), ``CLIENTRULES_BASE_URL``
(links to the owner app in the digest).
"""

from __future__ import annotations

import json
import signal
import threading

import click

from clientrules import (
    Change,
    DeliveryReport,
    DeliveryRow,
    Instant,
    PassReport,
    check_client_id,
    verdict_words,
)
from clientrules.cli.context import Seconds, ctx_ledger
from clientrules.cli.decisions import AS_OF, MomentType


def _clients(count: int) -> str:
    return f"{count} client" if count == 1 else f"{count} clients"


def _describe(report: PassReport, delivered: DeliveryReport) -> str:
    if report.baseline:
        head = f"baseline set: {_clients(report.decided)} decided, {len(report.changes)} alerted"
    else:
        head = f"{_clients(report.decided)} decided, {len(report.changes)} changed"
    tail = f"; delivered {delivered.delivered}, failed {delivered.failed} (retried later)" if delivered.failed else (
        f"; delivered {delivered.delivered}" if delivered.delivered else ""
    )
    return head + tail


def _change_line(change: Change) -> str:
    fired = ", ".join(change.fired) or "nothing fired"
    return (
        f"{change.at.utc:%Y-%m-%d %H:%M}  {change.client}  "
        f"{verdict_words(change.from_verdict)} -> {verdict_words(change.to_verdict)}  ({fired})"
    )


@click.command("watch")
@click.option("--once", is_flag=True, help="Process what is due, deliver, and exit (for cron).")
@AS_OF
@click.option(
    "--interval",
    type=Seconds(0.1, 86_400),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="While following: how often to look at the clock for clients due with time (new events wake it at once).",
)
@click.option("--alert-baseline", is_flag=True, help="On the first run, alert every client not at plain keep.")
def watch_command(once: bool, as_of: Instant | None, interval: float, alert_baseline: bool) -> None:
    """Follow the events and record each client whose decision changes (a DecisionChanged event).

    A client is decided again when new events touch it, when one of its facts
    can have changed with time (its schedule is due), or when the rule set
    changed. Each change is recorded once and delivered to the webhook and
    the owner's digest if configured (see 'changes'). The first run only sets
    a baseline. Without --once it keeps following until SIGTERM or Ctrl-C.
    """
    ledger = ctx_ledger(create=False)
    channels = ledger.alert_channels()
    for warning in ledger.alert_warnings():
        click.echo(f"warning: {warning}", err=True)
    if once:
        report, delivered = ledger.alerts.once(channels=channels, as_of=as_of, alert_baseline=alert_baseline)
        _print_pass(report, delivered)
        return
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    click.echo(f"watching {ledger.url} (stop with Ctrl-C)", err=True)
    ledger.alerts.follow(
        stop, channels=channels, as_of=as_of, alert_baseline=alert_baseline, interval=interval, on_pass=_print_pass
    )
    click.echo("stopped", err=True)


def _print_pass(report: PassReport, delivered: DeliveryReport) -> None:
    for change in report.changes:
        click.echo(_change_line(change))
    for client, reason in report.set_aside:
        click.echo(f"set aside {client} (tried again in an hour; the others were decided): {reason}", err=True)
    if report.decided or report.changes or delivered.delivered or delivered.failed:
        click.echo(_describe(report, delivered), err=True)


def _delivery_json(row: DeliveryRow) -> dict[str, object]:
    return {
        "channel": row.channel,
        "state": "delivered" if row.delivered_at else "failed" if row.last_error else "pending",
        "attempts": row.attempts,
        "delivered_at": row.delivered_at,
        "last_error": row.last_error,
    }


@click.command("changes")
@click.option("--since", type=MomentType(), metavar="DATE", help="Only changes at or after DATE.")
@click.option("--client", metavar="ID", help="Only this client's changes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of changes, with their delivery log.")
def changes_command(since: Instant | None, client: str | None, as_json: bool) -> None:
    """The decision changes the watcher recorded, oldest first, and how each was delivered."""
    ledger = ctx_ledger(create=False)
    if client is not None:
        check_client_id(client)
    changes = ledger.alerts.changes(since=since, client=client)
    deliveries = ledger.alerts.deliveries(changes)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {**change.to_json(), "deliveries": [_delivery_json(row) for row in deliveries[change.id]]}
                    for change in changes
                ],
                indent=2,
            )
        )
        return
    if not changes:
        click.echo("no changes recorded" + ("" if ledger.alerts.checkpoint() else " (run 'clientrules watch' first)"))
        return
    for change in changes:
        states = ", ".join(f"{row.channel} {_delivery_json(row)['state']}" for row in deliveries[change.id])
        click.echo(_change_line(change) + (f"  [{states}]" if states else ""))


commands = [watch_command, changes_command]
