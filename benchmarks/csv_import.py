"""Importing a CSV invoice export (Stripe's shape) against importing the same events as JSON Lines.

* ours: ``ledger.import_csv(file, preset="stripe")`` of a file of invoice rows
  (every one paid, so two events a row, and a client onboarded for each new
  customer) into a new database: the CSV read, every cell checked, clients
  matched or created, the books checked, one transaction;
* the peer: the very events it stored, exported as JSON Lines, imported into
  another new database with ``ledger.import_jsonl`` (the same checks of the
  books, the same transaction). The ratio is the cost of reading a tool's
  export rather than our own format.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from benchmarks.measure import seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger

NAME = "csv_import"
CUSTOMERS = 1_000
HEADER = [
    "id", "Number", "Customer Name", "Customer Email", "Amount Due", "Amount Paid", "Amount Remaining",
    "Currency", "Status", "Date (UTC)", "Due Date (UTC)", "Paid At (UTC)",
]


def run(context: Context) -> list[Row]:
    rows = context.scale.csv_import_rows
    source = context.workdir / "stripe-invoices.csv"
    write_export(source, rows)
    with Ledger.open(context.workdir / "csv-ours.db") as ledger:
        ours = seconds(lambda: ledger.import_csv(source, preset="stripe"))
        stored = ledger.store.head_position()
        exported = context.workdir / "csv-events.jsonl"
        ledger.export_jsonl(exported)
    with Ledger.open(context.workdir / "csv-peer.db") as ledger:
        peer = seconds(lambda: ledger.import_jsonl(exported))
        if ledger.store.head_position() != stored:
            raise RuntimeError(f"the JSON Lines import stored {ledger.store.head_position():,} events, not {stored:,}")
    measures = f"clientrules import --from stripe of {rows:,} invoice rows ({stored:,} events), one transaction"
    return [
        Row(NAME, "CSV import vs JSON Lines import", measures, Figure(stored / ours, "events/s"),
            "the same events as JSON Lines", Figure(stored / peer, "events/s"), Target(">=", 1 / 1.5),
            notes="target: the CSV import takes at most 1.5x the JSON Lines import of what it stored; one round each"),
    ]


def write_export(path: Path, rows: int) -> None:
    """A Stripe invoice export of ``rows`` paid invoices, spread over the customers, a few paid late."""
    start = dt.date(2025, 1, 1)
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for number in range(rows):
            customer = number % CUSTOMERS
            issued = start + dt.timedelta(days=number * 365 // rows)
            due = issued + dt.timedelta(days=14)
            paid = due + dt.timedelta(days=(number * 7) % 30 - 10)
            amount = f"{100 + number % 900}.{number % 100:02d}"
            writer.writerow([
                f"in_{number:08d}", f"C{customer:04d}-{number:07d}", f"Customer {customer:04d} Ltd",
                f"billing{customer}@customer.example", amount, amount, "0.00", "eur", "paid",
                f"{issued} 09:00", f"{due} 00:00", f"{max(paid, issued)} 12:00",
            ])
