"""The one generator of client histories every benchmark uses: realistic, deterministic, any size.

A history of ``events`` events over ``clients`` clients (about 50 events per
client on average; one client in 200 has 1,000-2,000 events) as JSON Lines
objects of ``spec/events.md``, ids included (as an export writes them). Each
client starts with ``ClientOnboarded`` and then draws from a mix of the other
event types: invoices and their payments (some late), work logged (some of it
unbillable), follow-ups and replies, messages and our answers, scope changes,
meetings, plans, incidents, missed deadlines, contracts. Its events are spread
over up to two years ending at :data:`AS_OF`, in time order.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any, Iterator

from clientrules.events import Event, Instant
from clientrules.events.jsonl import event_from_json

#: every history ends just before this moment; benchmarks decide as of it
AS_OF = Instant.parse("2026-06-01")
END = dt.datetime(2026, 5, 31, tzinfo=dt.timezone.utc)
#: one client in LONG_EVERY has a long history
LONG_EVERY = 200
LONG_SIZES = (1_000, 2_000)
SEED = 7


def sizes(clients: int, events: int, *, long_every: int = LONG_EVERY, seed: int = SEED) -> list[int]:
    """How many events each client gets: exactly ``events`` in all; one in ``long_every`` (0: none) is long."""
    rng = random.Random(seed)
    counts = [
        rng.randint(*LONG_SIZES) if long_every and n % long_every == long_every - 1 else 0 for n in range(clients)
    ]
    short = [n for n, count in enumerate(counts) if not count]
    base, extra = divmod(events - sum(counts), len(short))
    if base < 4:
        raise ValueError(f"{events:,} events are too few for {clients:,} clients")
    for rank, n in enumerate(short):
        counts[n] = base + (rank < extra)
    for first, second in zip(short[0::2], short[1::2]):  # spread sizes out, total unchanged
        jitter = rng.randint(0, min(counts[first], counts[second]) * 2 // 3)
        counts[first] += jitter
        counts[second] -= jitter
    return counts


def client_lines(client: str, count: int, rng: random.Random | None = None) -> list[dict[str, Any]]:
    """``count`` events of one client in time order, as JSON Lines objects."""
    rng = rng or random.Random(SEED)
    span_days = rng.uniform(60, 730)
    spacing = span_days / count
    moment = END - dt.timedelta(days=span_days + rng.uniform(0, 30))
    lines = [_line(client, 0, moment, "ClientOnboarded", {"name": client.replace("-", " ").title()})]
    open_invoices: list[str] = []
    for n in range(1, count):
        moment += dt.timedelta(days=rng.expovariate(1 / spacing))
        type_name, data = _draw(rng, n, client, open_invoices, moment)
        lines.append(_line(client, n, moment, type_name, data))
    return lines


def _draw(rng: random.Random, n: int, client: str, open_invoices: list[str], moment: dt.datetime) -> tuple[str, dict]:
    roll = rng.random()
    if roll < 0.12:
        invoice_id = f"{client}-{n}"
        open_invoices.append(invoice_id)
        due = (moment + dt.timedelta(days=30)).date().isoformat()
        return "InvoiceIssued", {"invoice_id": invoice_id, "amount": rng.choice([500, 1000, 1250.5]), "due_on": due}
    if roll < 0.24 and open_invoices:
        return "PaymentReceived", {"invoice_id": open_invoices.pop(0), "amount": 1250.5}
    if roll < 0.55:
        return "WorkLogged", {"hours": rng.choice([0.5, 1, 2.5, 4, 8]), "billable": rng.random() < 0.8}
    if roll < 0.65:
        return "FollowUpSent", {"topic": "assets"}
    if roll < 0.72:
        return "ClientReplied", {}
    if roll < 0.8:
        return "ClientMessageReceived", {"topic": "question"}
    if roll < 0.87:
        return "ReplySent", {}
    if roll < 0.9:
        return "ScopeChangeRequested", {"description": "more", "paid": rng.random() < 0.5}
    if roll < 0.92:
        return "MeetingHeld", {"topic": "payments", "outcome": "resolved"}
    if roll < 0.93:
        return "PlanAgreed", {"summary": "pay upfront"}
    if roll < 0.935:
        return "IncidentReported", {"kind": rng.choice(["rude", "abuse"]), "against": "staff"}
    if roll < 0.97:
        return "DeadlineMissed", {"deliverable": "logo"}
    return "ContractSigned", {"contract_id": f"{client}-K{n}"}


def _line(client: str, n: int, moment: dt.datetime, type_name: str, data: dict) -> dict[str, Any]:
    line: dict[str, Any] = {"client": client, "type": type_name, "at": moment.isoformat(timespec="seconds")}
    if data:
        line["data"] = data
    line["id"] = f"{client}:{n}"
    return line


def client_id(n: int) -> str:
    return f"client-{n:06d}"


def history(
    clients: int, events: int, *, long_every: int = LONG_EVERY, seed: int = SEED
) -> Iterator[dict[str, Any]]:
    """Every client's events, client after client: ``events`` JSON Lines objects in all."""
    rng = random.Random(seed + 1)
    for n, count in enumerate(sizes(clients, events, long_every=long_every, seed=seed)):
        yield from client_lines(client_id(n), count, rng)


def client_events(client: str, count: int) -> list[Event]:
    """One client's ``count`` events from the same mix, as events ready to append."""
    return [event_from_json(line) for line in client_lines(client, count)]


def write_jsonl(lines: Iterator[dict[str, Any]], path: Path) -> int:
    """Write ``lines`` as a JSON Lines file (what ``clientrules import`` reads); returns how many."""
    written = 0
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(dumps(line) + "\n")
            written += 1
    return written
