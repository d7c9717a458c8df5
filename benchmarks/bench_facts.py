"""How fast the facts fold is: cold folds, one more event on a long history, facts() of a typical client.

Run: ``python benchmarks/bench_facts.py`` (a few seconds). Figures drift from
run to run on a shared machine; each line compares within the same run.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import tempfile
import time
from typing import Callable

import attrs

from clientrules import Ledger
from clientrules.events import Event, Instant, registry
from clientrules.facts import ClientFold

START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def history(count: int, *, seed: int = 1, days_per_event: float = 1.0) -> list[Event]:
    """A plausible client history of ``count`` events, one every ``days_per_event`` days on average."""
    rng = random.Random(seed)
    events: list[Event] = []
    open_invoices: list[tuple[str, dt.datetime]] = []
    moment = START
    for n in range(count):
        moment += dt.timedelta(days=rng.expovariate(1 / days_per_event))
        roll = rng.random()
        if roll < 0.12:
            invoice_id = f"INV-{n}"
            due = (moment + dt.timedelta(days=30)).date()
            data = {"invoice_id": invoice_id, "amount": rng.choice([500, 1000, 1250.5]), "due_on": due.isoformat()}
            open_invoices.append((invoice_id, moment))
            type_name = "InvoiceIssued"
        elif roll < 0.24 and open_invoices:
            invoice_id, _ = open_invoices.pop(0)
            type_name, data = "PaymentReceived", {"invoice_id": invoice_id, "amount": 1250.5}
        elif roll < 0.55:
            type_name, data = "WorkLogged", {"hours": rng.choice([0.5, 1, 2.5, 4, 8]), "billable": rng.random() < 0.8}
        elif roll < 0.65:
            type_name, data = "FollowUpSent", {"topic": "assets"}
        elif roll < 0.72:
            type_name, data = "ClientReplied", {}
        elif roll < 0.8:
            type_name, data = "ClientMessageReceived", {"topic": "question"}
        elif roll < 0.87:
            type_name, data = "ReplySent", {}
        elif roll < 0.9:
            type_name, data = "ScopeChangeRequested", {"description": "more", "paid": rng.random() < 0.5}
        elif roll < 0.92:
            type_name, data = "MeetingHeld", {"topic": "x", "outcome": "resolved"}
        elif roll < 0.93:
            type_name, data = "PlanAgreed", {"summary": "x"}
        elif roll < 0.95:
            type_name, data = "IncidentReported", {"kind": rng.choice(["rude", "abuse"]), "against": "staff"}
        elif roll < 0.97:
            type_name, data = "DeadlineMissed", {"deliverable": "x"}
        else:
            type_name, data = "ContractSigned", {"contract_id": f"K{n}"}
        events.append(
            Event("bench", Instant.from_datetime(moment), registry.decode(type_name, data), f"e{n}").stored(n + 1, n + 1)
        )
    return events


def per_call(action: Callable[[], object], *, seconds: float = 0.5) -> float:
    """Mean seconds per call of ``action``, repeated for about ``seconds``."""
    calls, started = 0, time.perf_counter()
    while True:
        action()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls


def folded(events: list[Event]) -> ClientFold:
    fold = ClientFold()
    fold.apply_all(events)
    return fold


def main() -> None:
    typical = history(50, days_per_event=7)  # a year of a typical client
    as_of = Instant.from_datetime(typical[-1].at.utc + dt.timedelta(days=3))
    fold = folded(typical)
    print(f"facts() of a 50-event client:            {per_call(lambda: fold.facts(as_of)) * 1e6:8.1f} µs")
    print(f"fold 50 events + facts():                {per_call(lambda: folded(typical).facts(as_of)) * 1e6:8.1f} µs")

    thousand = history(1_000)
    as_of = Instant.from_datetime(thousand[-1].at.utc)
    print(f"cold fold of 1,000 events:               {per_call(lambda: folded(thousand)) * 1e3:8.2f} ms")
    fold = folded(thousand)
    print(f"facts() of a 1,000-event fold:           {per_call(lambda: fold.facts(as_of)) * 1e6:8.1f} µs")
    shuffled = random.Random(2).sample(thousand, len(thousand))
    print(f"cold fold of 1,000 events, random order: {per_call(lambda: folded(shuffled)) * 1e3:8.2f} ms")

    grown = history(11_000)
    base, later = grown[:10_000], grown[10_000:]
    fold = folded(base)
    fold.facts(Instant.from_datetime(base[-1].at.utc))
    started = time.perf_counter()
    for event in later:
        fold.apply(event)
        fold.facts(event.at)
    one_more = (time.perf_counter() - started) / len(later)
    as_of = later[-1].at
    print(f"10,000-event fold: apply 1 more event + facts(): {one_more * 1e6:6.1f} µs (mean of the next 1,000)")
    refold = per_call(lambda: folded(grown).facts(as_of), seconds=2)
    print(f"11,000 events folded from scratch + facts():      {refold * 1e3:6.1f} ms")
    print(f"facts match a refold: {fold.facts(as_of) == folded(grown).facts(as_of)}")

    samples = []
    for event in later[:30]:
        fold = folded(base)
        fold.facts(as_of)
        backdated = attrs.evolve(event, at=base[len(base) // 2].at, id=f"back-{event.id}")
        started = time.perf_counter()
        fold.apply(backdated)
        fold.facts(as_of)
        samples.append(time.perf_counter() - started)
    print(f"10,000-event fold: apply 1 event dated mid-history + facts(): {statistics.median(samples) * 1e6:6.1f} µs (median of 30)")

    extra = later[0]
    as_of = extra.at
    snapshot = folded(base).to_snapshot()
    restore = per_call(lambda: ClientFold.from_snapshot(snapshot), seconds=1.0)
    print(f"10,000-event snapshot: {len(json.dumps(snapshot)) / 1e6:.2f} MB of JSON, restored in {restore * 1e3:.1f} ms")

    with tempfile.TemporaryDirectory() as directory, Ledger.open(f"{directory}/bench.db") as ledger:
        ledger.append(base)
        fold = folded(ledger.events("bench"))
        text = json.dumps(fold.to_snapshot())
        ledger.append([extra])

        def from_store() -> None:
            folded(ledger.events("bench")).facts(as_of)

        def from_snapshot() -> None:
            fold = ClientFold.from_snapshot(json.loads(text))
            fold.apply_all(ledger.store.read_client("bench", after_version=fold.version))
            fold.facts(as_of)

        print(f"SQLite, 10,001 events: read all + fold + facts(): {per_call(from_store, seconds=2) * 1e3:7.1f} ms")
        print(f"SQLite, 10,001 events: JSON snapshot + read 1 + facts(): {per_call(from_snapshot, seconds=2) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
