"""Rebuild one client's facts from its 1,000 stored events, cold, against eventsourcing rebuilding the aggregate.

Ours: read the client's events from SQLite (``ledger.events``) and fold them
into its facts (``facts_of``), with nothing cached. Peer: eventsourcing's
``repository.get`` of the same client's 1,000-event aggregate (no snapshot, no
cache): it reads, decodes and applies every event. Mean of repeated calls,
interleaved rounds, best of each.
"""

from __future__ import annotations

from benchmarks.eventsourcing_peer import ClientStream, add_line, open_application, stream_id
from benchmarks.history import AS_OF, client_lines
from benchmarks.measure import best_of, per_call
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.domain.events.jsonl import event_from_json
from clientrules.domain.facts import facts_of

NAME = "rebuild"
CLIENT = "rebuilt-client"
CALLS = 20


def run(context: Context) -> list[Row]:
    count = context.scale.rebuild_events
    lines = client_lines(CLIENT, count)
    application = open_application(str(context.workdir / "rebuild-eventsourcing.db"), "NORMAL")
    streams: dict[str, ClientStream] = {}
    for line in lines:
        add_line(streams, line)
    application.save(streams[CLIENT])
    with Ledger.open(context.workdir / "rebuild-ours.db") as ledger:
        ledger.append([event_from_json(line) for line in lines])

        def ours() -> None:
            facts_of(ledger.events(CLIENT), AS_OF)

        def peer() -> None:
            application.repository.get(stream_id(CLIENT))

        best = best_of(context.scale.rounds * 2, {"ours": per_call(ours, CALLS), "peer": per_call(peer, CALLS)})
    application.close()
    return [
        Row(
            benchmark=NAME,
            name="cold rebuild, 1,000 events",
            measures=f"read one client's {count:,} events from SQLite and fold them into its facts, nothing cached",
            ours=Figure(best["ours"] * 1000, "ms"),
            peer_name="eventsourcing repository.get",
            peer=Figure(best["peer"] * 1000, "ms"),
            target=Target("<=", 0.25),
            notes=f"mean of {CALLS} calls, best of {context.scale.rounds * 2} interleaved rounds",
        )
    ]
