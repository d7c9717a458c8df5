"""Evaluating many clients from a real SQLite ledger keeps memory flat (the large run is in benchmarks/)."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from test_engine_memory import rss_kib

from clientrules.domain.events import ClientOnboarded, Event, FollowUpSent, InvoiceIssued, PaymentReceived
from clientrules.ledger import Ledger

T = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


def history(client: str, n: int) -> list[Event]:
    start = T - dt.timedelta(days=400 + n % 50)
    events = [Event.new(client, ClientOnboarded(name=client), start)]
    for k in range(n % 4):
        due = (T - dt.timedelta(days=30 * (k + 1))).date()
        events.append(Event.new(client, InvoiceIssued(invoice_id=f"{client}-{k}", amount=10.0, due_on=due), start))
        paid = dt.datetime.combine(due, dt.time(9), dt.timezone.utc) + dt.timedelta(days=10)
        events.append(Event.new(client, PaymentReceived(invoice_id=f"{client}-{k}", amount=10.0), paid))
    for k in range(n % 5):
        events.append(Event.new(client, FollowUpSent(topic="x"), T - dt.timedelta(days=20 + k)))
    return events


@pytest.mark.slow
def test_evaluating_every_client_streams_in_flat_memory(tmp_path):
    count = 6_000
    with Ledger.open(str(tmp_path / "many.db")) as ledger:
        ledger.append([event for n in range(count) for event in history(f"c{n:05d}", n)])
        verdicts: dict[str, int] = {}
        marks: dict[int, int] = {}
        for done, decision in enumerate(ledger.decisions.iter_evaluate(as_of=T), start=1):
            verdicts[decision.verdict] = verdicts.get(decision.verdict, 0) + 1
            if done in (2_000, count):
                gc.collect()
                marks[done] = rss_kib()
    assert sum(verdicts.values()) == count
    # n % 4 == 3: three late invoices, no remedy -> renegotiate (unless silence decides terminate)
    assert verdicts["renegotiate"] > 0 and verdicts["terminate"] > 0 and verdicts["keep"] > 0
    growth = marks[count] - marks[2_000]
    assert growth < 6 * 1024, f"RSS grew by {growth} KiB from 2,000 to {count:,} clients"
