"""The Python API in one page: open a ledger, record typed events, read them back, import and export.

Run it from the repository root: ``python examples/quickstart.py`` (it works in a
temporary directory and leaves nothing behind).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from clientrules import (
    ConcurrencyError,
    FollowUpSent,
    InvalidInput,
    InvoiceIssued,
    Ledger,
    PaymentReceived,
)

EXAMPLES = Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        with Ledger.open(Path(workdir) / "clients.db") as ledger:
            # Record typed events; each comes back with its version in the client's stream.
            invoice = ledger.record(
                "acme", InvoiceIssued(invoice_id="A-1", amount=900.0, due_on="2026-03-31"), "2026-03-01"
            )
            ledger.record("acme", FollowUpSent(topic="invoice A-1"), "2026-04-07T09:30:00+02:00")
            print(f"recorded {invoice.type} as version {invoice.version} of acme")

            # Name the version you read to detect a concurrent writer.
            seen = ledger.version("acme")
            ledger.record("acme", PaymentReceived(invoice_id="A-1", amount=900.0), "2026-04-10", expected_version=seen)
            try:
                ledger.record("acme", PaymentReceived(invoice_id="A-1", amount=900.0), "2026-04-10", expected_version=seen)
            except ConcurrencyError as error:
                print(f"second writer refused: {error}")

            # Read a client's events in time order, optionally up to a moment.
            for event in ledger.events("acme", until="2026-04-08"):
                print(f"  {event.at.text:<25} {event.type:<14} {event.data}")

            # Import JSON Lines all or nothing; importing again stores nothing.
            result = ledger.import_jsonl(EXAMPLES / "clients.jsonl")
            print(f"imported {result.stored} events, {result.already_present} already present")
            print(f"imported again: {ledger.import_jsonl(EXAMPLES / 'clients.jsonl').stored} stored")

            bad = Path(workdir) / "bad.jsonl"
            bad.write_text('{"client": "acme", "type": "WorkLogged", "at": "2026-03-01", "data": {"hours": "two"}}\n')
            try:
                ledger.import_jsonl(bad)
            except InvalidInput as error:
                print(f"bad file refused: {error}")

            for summary in ledger.clients():
                print(f"  {summary.client:<22} {summary.events:>3} events, last {summary.last_at.text}")

            # Export one client (or everyone) back to JSON Lines, ids included.
            count = ledger.export_jsonl(sys.stdout, client="acme")
            print(f"exported {count} events of acme")


if __name__ == "__main__":
    main()
