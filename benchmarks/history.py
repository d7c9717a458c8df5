"""The one generator of client histories every benchmark uses: realistic, deterministic, any size.

A history of ``events`` events over ``clients`` clients (about 50 events per
client on average; one client in 200 has 1,000-2,000 events) as JSON Lines
objects of ``docs/events.md``, ids included (as an export writes them). Each
client starts with ``ClientOnboarded`` and then draws from a mix of the other
event types: invoices due in 30 days and their payments (most around the due
date, some late), work logged (some of it unbillable), follow-ups and replies,
messages and our answers, scope changes, meetings, plans, incidents, needs
outgrown, missed deadlines, contracts. Its events are spread over up to two
years ending at :data:`AS_OF`, in time order. On the default playbook about
57% of clients are kept, 20% renegotiated, 21% terminated, 2% referred out.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any, Iterator

from clientrules.domain.events import Event, Instant
from clientrules.domain.events.jsonl import event_from_json

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
    unpaid: list[tuple[str, dt.datetime, float]] = []
    for n in range(1, count):
        moment += dt.timedelta(days=rng.expovariate(1 / spacing))
        type_name, data = _draw(rng, n, client, unpaid, moment)
        lines.append(_line(client, n, moment, type_name, data))
    return lines


#: (cumulative share, type, data) of the events drawn when no payment falls due
MIX: tuple[tuple[float, str, dict[str, Any]], ...] = (
    (0.45, "WorkLogged", {}),
    (0.54, "FollowUpSent", {"topic": "assets"}),
    (0.63, "ClientReplied", {}),
    (0.73, "ClientMessageReceived", {"topic": "question"}),
    (0.83, "ReplySent", {}),
    (0.87, "ScopeChangeRequested", {}),
    (0.89, "MeetingHeld", {"topic": "payments", "outcome": "resolved"}),
    (0.90, "PlanAgreed", {"summary": "pay upfront"}),
    (0.902, "IncidentReported", {}),
    (0.903, "NeedOutgrown", {"need": "24/7 support"}),
    (0.93, "DeadlineMissed", {"deliverable": "logo"}),
    (1.0, "ContractSigned", {}),
)


def _draw(
    rng: random.Random, n: int, client: str, unpaid: list[tuple[str, dt.datetime, float]], moment: dt.datetime
) -> tuple[str, dict]:
    """One event: the oldest invoice's payment once it is nearly due (often on time, sometimes late), else the mix."""
    if unpaid and moment >= unpaid[0][1] - dt.timedelta(days=5) and rng.random() < 0.6:
        invoice_id, _, amount = unpaid.pop(0)
        return "PaymentReceived", {"invoice_id": invoice_id, "amount": amount}
    roll = rng.random()
    if roll < 0.12:
        invoice_id, amount, due = f"{client}-{n}", rng.choice([500, 1000, 1250.5]), moment + dt.timedelta(days=30)
        unpaid.append((invoice_id, due, amount))
        return "InvoiceIssued", {"invoice_id": invoice_id, "amount": amount, "due_on": due.date().isoformat()}
    roll = rng.random()
    type_name, data = next((name, data) for share, name, data in MIX if roll < share)
    if type_name == "WorkLogged":
        data = {"hours": rng.choice([0.5, 1, 2.5, 4, 8]), "billable": rng.random() < 0.8}
    elif type_name == "ScopeChangeRequested":
        data = {"description": "more", "paid": rng.random() < 0.5}
    elif type_name == "IncidentReported":
        data = {"kind": rng.choice(["rude", "abuse"]), "against": "staff"}
    elif type_name == "ContractSigned":
        data = {"contract_id": f"{client}-K{n}"}
    return type_name, data


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
