"""The process tests/test_crash.py kills: appends and imports through the public API, in a loop, until killed.

``python crash_child.py URL SEED FIRST LOG WORKDIR`` performs operations
FIRST, FIRST + 1, ... Operation ``n`` is :func:`operation` ``(SEED, n)``, the
same on every run, so the parent knows which events each one holds. The child
writes ``begin n`` to LOG before an operation and ``ack n VERSION POSITION``
once the call has returned, so LOG lists every append the child saw acknowledged.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import NamedTuple

from clientrules import Event, Ledger, WorkLogged
from clientrules.domain.events import write_events

CLIENTS = 5
KINDS = ("record", "batch", "import")


class Operation(NamedTuple):
    number: int
    kind: str  # record: one event; batch: one client's events with the expected version; import: a JSON Lines file
    client: str
    events: list[Event]


def operation(seed: int, number: int) -> Operation:
    rng = random.Random(f"{seed}:{number}")
    kind = rng.choice(KINDS)
    size = {"record": 1, "batch": rng.randint(2, 60), "import": rng.randint(20, 800)}[kind]
    client = f"c{rng.randrange(CLIENTS)}"
    events = [
        Event.new(
            f"c{rng.randrange(CLIENTS)}" if kind == "import" else client,
            WorkLogged(hours=rng.randint(1, 16) / 4, billable=rng.random() < 0.8),
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            id=f"op{number}-{k}",
        )
        for k in range(size)
    ]
    return Operation(number, kind, client, events)


def perform(ledger: Ledger, op: Operation, workdir: Path) -> tuple[int | None, int | None]:
    """Run ``op`` (again: a retry stores nothing twice); the version and position the store acknowledged."""
    if op.kind == "record":
        (event,) = op.events
        stored = ledger.record(op.client, event.payload, event.at, id=event.id)
        return stored.version, stored.position
    if op.kind == "batch":
        result = ledger.append(op.events, expected_version=ledger.version(op.client))
        return result.version, result.last_position
    path = workdir / f"op{op.number}.jsonl"
    partial = path.with_suffix(".part")  # a kill while writing the file must not leave half a file to import
    with open(partial, "w", encoding="utf-8") as file:
        write_events(op.events, file)
    partial.replace(path)
    return None, ledger.import_jsonl(path).last_position


def main(url: str, seed: str, first: str, log: str, workdir: str) -> None:
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with Ledger.open(url) as ledger:
        number = int(first)
        while True:
            op = operation(int(seed), number)
            os.write(out, f"begin {number}\n".encode())
            version, position = perform(ledger, op, Path(workdir))
            os.write(out, f"ack {number} {version} {position}\n".encode())
            number += 1


if __name__ == "__main__":
    main(*sys.argv[1:])
