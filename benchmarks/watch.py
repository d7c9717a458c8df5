"""The watcher (``clientrules watch``) over 100,000 clients: after new events, and the daily pass.

* after events: 1,000 new events spread over 1,000 of the clients (one each:
  work logged, one in ten an abuse incident), then one pass
  (``ledger.alerts.once``: find the touched clients, decide them, schedule
  them, record the changes and the checkpoint), against deciding the same
  1,000 clients (``ledger.decisions.evaluate``). Each from a freshly opened
  ledger (no fold cached), best of the rounds, interleaved. The target says
  the pass costs at most 1.5 times the decisions it makes, however many clients
  the database holds;
* the daily pass: the next day, no new event: only the clients whose schedule
  is due are decided, against the baseline pass that decided every client
  (what re-deciding everyone each day would cost).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path

from benchmarks.history import AS_OF, SEED, client_id, history
from benchmarks.measure import seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import IncidentReported, Ledger, WorkLogged
from clientrules.application.alerts import PassReport
from clientrules.domain.events import Event, Instant
from clientrules.domain.events.jsonl import event_from_json

NAME = "watch"
EVENTS_PER_CLIENT = 5


def new_events(clients: list[str], round_number: int) -> list[Event]:
    """One event per client, dated just before the moment decided: one in ten an abuse incident."""
    at = Instant.from_datetime(AS_OF.utc - dt.timedelta(hours=1 + round_number))
    return [
        Event.new(
            client,
            IncidentReported(kind="abuse", against="staff") if n % 10 == 0 else WorkLogged(hours=2.0, billable=True),
            at,
        )
        for n, client in enumerate(clients)
    ]


def timed_pass(path: Path, as_of: Instant) -> tuple[float, PassReport]:
    """One pass as of ``as_of`` from a freshly opened ledger: its seconds and its report."""
    with Ledger.open(path) as ledger:
        started = time.perf_counter()
        report, _ = ledger.alerts.once(as_of=as_of)
        return time.perf_counter() - started, report


def run(context: Context) -> list[Row]:
    clients, touched, rounds = context.scale.watch_clients, context.scale.watch_touched, context.scale.rounds
    path = context.workdir / "watch.db"
    with Ledger.open(path) as ledger:
        ledger.append(event_from_json(line) for line in history(clients, clients * EVENTS_PER_CLIENT, long_every=0))
    with Ledger.open(path) as ledger:
        baseline = seconds(lambda: ledger.alerts.once(as_of=AS_OF))
    rng = random.Random(SEED)
    ids = [client_id(n) for n in range(clients)]
    best_watch = best_decide = float("inf")
    changed = 0
    for round_number in range(rounds):
        chosen = rng.sample(ids, touched)
        with Ledger.open(path) as ledger:
            ledger.append(new_events(chosen, round_number))
        spent, report = timed_pass(path, AS_OF)
        best_watch = min(best_watch, spent)
        if report.decided != touched:
            raise RuntimeError(f"the pass decided {report.decided} clients, not the {touched} touched")
        changed += len(report.changes)
        with Ledger.open(path) as ledger:
            best_decide = min(best_decide, seconds(lambda: ledger.decisions.evaluate(chosen, as_of=AS_OF)))
    daily_seconds, daily_report = timed_pass(path, Instant.from_datetime(AS_OF.utc + dt.timedelta(days=1)))
    return [
        Row(
            benchmark=NAME,
            name=f"watch pass after {touched:,} events over {touched:,} of {clients:,} clients",
            measures="ledger.alerts.once: touched clients found, decided, scheduled, changes and checkpoint committed",
            ours=Figure(best_watch * 1000, "ms"),
            peer_name=f"deciding those {touched:,} clients",
            peer=Figure(best_decide * 1000, "ms"),
            target=Target("<=", 1.5),
            notes=f"best of {rounds} rounds, each from a freshly opened ledger; {changed} changes recorded in all",
        ),
        Row(
            benchmark=NAME,
            name=f"daily pass over {clients:,} idle clients",
            measures="ledger.alerts.once a day later, no new event: only clients whose schedule is due are decided",
            ours=Figure(daily_seconds * 1000, "ms"),
            peer_name=f"baseline pass deciding all {clients:,}",
            peer=Figure(baseline * 1000, "ms"),
            target=Target("<=", 0.1),
            notes=f"{daily_report.decided:,} of {clients:,} clients were due and decided, "
            f"{len(daily_report.changes)} changed; one run each",
        ),
    ]
