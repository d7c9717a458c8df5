"""ledger.decisions end to end on SQLite: every client evaluated, and one long client re-evaluated.

    python benchmarks/bench_decisions.py [CLIENTS]     (default 20,000; 100,000 for the long run)

* evaluate all: CLIENTS synthetic clients of ~10 events each (a mix of late
  payers, silent clients, unprofitable work, incidents), read from the store,
  folded, decided by durable-rules; clients/s and RSS along the way (flat:
  the fold cache is bounded, sessions are freed).
* incremental: a 5,000-event client evaluated cold, then again after one new
  event (only that event is read and folded).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

from clientrules.events import (
    ClientOnboarded,
    Event,
    FollowUpSent,
    IncidentReported,
    InvoiceIssued,
    MeetingHeld,
    PaymentReceived,
    ScopeChangeRequested,
    WorkLogged,
)
from clientrules.ledger import Ledger

T = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def client_events(client: str, rng: random.Random) -> list[Event]:
    def ago(days: int) -> dt.datetime:
        return T - dt.timedelta(days=days, hours=rng.randint(0, 23))

    events = [Event.new(client, ClientOnboarded(name=client), ago(rng.randint(30, 900)))]
    for n in range(rng.choice([0, 1, 2, 3, 4])):
        due = (T - dt.timedelta(days=rng.randint(10, 300))).date()
        events.append(Event.new(client, InvoiceIssued(invoice_id=f"{client}-{n}", amount=100.0, due_on=due), ago(330)))
        paid = dt.datetime.combine(due, dt.time(12), dt.timezone.utc) + dt.timedelta(days=rng.choice([0, 3, 12, 25]))
        events.append(Event.new(client, PaymentReceived(invoice_id=f"{client}-{n}", amount=100.0), paid))
    if rng.random() < 0.2:
        events.append(Event.new(client, MeetingHeld(topic="payments", outcome="resolved"), ago(rng.randint(0, 200))))
    for _ in range(rng.choice([0, 0, 1, 3, 4])):
        events.append(Event.new(client, FollowUpSent(topic="logo"), ago(rng.randint(0, 40))))
    for _ in range(rng.choice([0, 2, 4])):
        events.append(Event.new(client, WorkLogged(hours=4.0, billable=rng.random() < 0.6), ago(rng.randint(0, 100))))
    if rng.random() < 0.1:
        events.append(Event.new(client, ScopeChangeRequested(description="more", paid=False), ago(rng.randint(0, 80))))
    if rng.random() < 0.05:
        events.append(Event.new(client, IncidentReported(kind="rude", against="staff"), ago(rng.randint(0, 170))))
    return events


def evaluate_all(ledger: Ledger, count: int) -> None:
    rng = random.Random(11)
    batch: list[Event] = []
    for i in range(count):
        batch.extend(client_events(f"client-{i:06d}", rng))
        if len(batch) > 20_000:
            ledger.append(batch)
            batch = []
    ledger.append(batch)
    ledger.decisions.evaluate(["client-000000"], as_of=T)  # warm up: adopt version 1, build the engine
    clients = [summary.client for summary in ledger.clients()]
    before = rss_mib()
    start = time.perf_counter()
    verdicts: dict[str, int] = {}
    step = max(count // 5, 1)
    for done, decision in enumerate(ledger.decisions.iter_evaluate(clients, as_of=T), start=1):
        verdicts[decision.verdict] = verdicts.get(decision.verdict, 0) + 1
        if done % step == 0:
            print(f"    after {done:>7,} clients: RSS {rss_mib():.1f} MiB")
    seconds = time.perf_counter() - start
    print(f"  evaluate all: {count:,} clients in {seconds:.1f} s = {count / seconds:,.0f} clients/s "
          f"(store read + fold + durable-rules + reasons); RSS {before:.1f} -> {rss_mib():.1f} MiB")
    print(f"  verdicts: {dict(sorted(verdicts.items()))}")


def incremental(ledger: Ledger) -> None:
    start_day = T - dt.timedelta(days=700)
    events = [Event.new("long", ClientOnboarded(name="Long"), start_day)]
    for n in range(5_000):
        events.append(Event.new("long", WorkLogged(hours=1.0, billable=n % 3 > 0), start_day + dt.timedelta(hours=3 * n)))
    ledger.append(events)
    start = time.perf_counter()
    ledger.decisions.evaluate(["long"], as_of=T)
    cold = time.perf_counter() - start
    ledger.record("long", WorkLogged(hours=2.0, billable=False), T - dt.timedelta(days=1))
    start = time.perf_counter()
    ledger.decisions.evaluate(["long"], as_of=T)
    warm = time.perf_counter() - start
    print(f"  5,001-event client: cold {cold * 1000:.1f} ms; after one new event {warm * 1000:.2f} ms "
          f"({cold / warm:.0f}x faster)")


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        with Ledger.open(str(Path(directory) / "bench.db")) as ledger:
            print("ledger.decisions on SQLite, default playbook")
            evaluate_all(ledger, count)
            incremental(ledger)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
