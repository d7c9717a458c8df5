"""Durable single-event append: each event its own committed transaction, against eventsourcing's save() per event.

Ours: ``ledger.record(client, payload, at)`` (the payloads built beforehand,
as a caller holds them). Peer: one aggregate per client, one triggered event
and one ``save()`` per event. Both on SQLite in WAL mode at our default
``synchronous=NORMAL`` (an acknowledged append survives a crash of the
process), checked on both connections; interleaved rounds, best of each.
The notes add the bare cost of the commits: the same rows inserted by bare
SQLite, one per transaction.
"""

from __future__ import annotations

import time

from benchmarks.eventsourcing_peer import ClientStream, add_line, open_application, synchronous_level
from benchmarks.history import history
from benchmarks.measure import best_of
from benchmarks.raw_sqlite import raw_insert_seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.domain.events.jsonl import event_from_json

NAME = "append"
SYNCHRONOUS_LEVELS = {"off": 0, "normal": 1, "full": 2, "extra": 3}


def run(context: Context) -> list[Row]:
    count = context.scale.append_events
    lines = list(history(max(count // 50, 1), count))
    events = [event_from_json(line) for line in lines]
    # each round records the history again under clients of its own: the same invoice twice for one client is refused
    rounds = [[(f"{event.client}-r{number}", event.payload, event.at) for event in events]
              for number in range(context.scale.rounds)]
    application = open_application(str(context.workdir / "append-eventsourcing.db"), "NORMAL")
    streams: dict[str, ClientStream] = {}
    with Ledger.open(context.workdir / "append-ours.db") as ledger:
        ours_level = SYNCHRONOUS_LEVELS[ledger.store.synchronous]
        peer_level = synchronous_level(application)
        if ours_level != peer_level:
            raise RuntimeError(f"synchronous differs: ours {ours_level}, eventsourcing {peer_level}")

        def ours() -> float:
            records = rounds.pop()
            started = time.perf_counter()
            for client, payload, at in records:
                ledger.record(client, payload, at)
            return time.perf_counter() - started

        def peer() -> float:
            started = time.perf_counter()
            for line in lines:
                application.save(add_line(streams, line))
            return time.perf_counter() - started

        best = best_of(context.scale.rounds, {"ours": ours, "peer": peer})
    application.close()
    bare = raw_insert_seconds(context.workdir / "append-ours.db", context.workdir / "append-bare.db",
                              per_transaction=1, rows=count)
    return [
        Row(
            benchmark=NAME,
            name="durable single-event append",
            measures="ledger.record of one event per transaction, committed (WAL, synchronous=NORMAL)",
            ours=Figure(count / best["ours"], "events/s"),
            peer_name="eventsourcing save() per event",
            peer=Figure(count / best["peer"], "events/s"),
            target=Target(">=", 1.5),
            notes=f"{count:,} events per round, best of {context.scale.rounds} interleaved rounds; "
                  f"synchronous level {ours_level} on both sides; a bare INSERT of the same rows, one per "
                  f"transaction, into the same table: {count / bare:,.0f} rows/s",
        )
    ]
