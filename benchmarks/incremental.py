"""Facts of a 10,000-event client after one more event, against the same client's cold rebuild.

Ours: ``ledger.decisions.facts`` after each of a few hundred single-event
appends (only the new event is read and folded into the cached fold); the
mean per call. Against: the cold rebuild of the same client (all its events
read and folded, ``facts_of(ledger.events(...))``). The target says the
incremental cost does not depend on the length of the history. Reported
beside it: one event dated in the middle of the history (the fold bisects it
into place, no refold).
"""

from __future__ import annotations

import time

from benchmarks.history import AS_OF, client_events
from benchmarks.measure import best_of, per_call, seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.domain.facts import facts_of

NAME = "incremental"
CLIENT = "long-client"
COLD_CALLS = 3


def run(context: Context) -> list[Row]:
    count, appends = context.scale.incremental_events, context.scale.incremental_appends
    rounds = context.scale.rounds
    events = client_events(CLIENT, count + appends * rounds)
    later = iter(events[count:])
    with Ledger.open(context.workdir / "incremental.db") as ledger:
        ledger.append(events[:count])
        ledger.decisions.facts(CLIENT, AS_OF)  # the cached fold of the first 10,000 events

        def one_more() -> float:
            spent = 0.0
            for _ in range(appends):
                ledger.append([next(later)])
                started = time.perf_counter()
                ledger.decisions.facts(CLIENT, AS_OF)
                spent += time.perf_counter() - started
            return spent / appends

        def cold() -> None:
            facts_of(ledger.events(CLIENT), AS_OF)

        best = best_of(rounds, {"ours": one_more, "cold": per_call(cold, COLD_CALLS)})
        middle = events[count // 2]
        ledger.record(CLIENT, middle.payload, middle.at)
        backdated = seconds(lambda: ledger.decisions.facts(CLIENT, AS_OF))
        if ledger.decisions.facts(CLIENT, AS_OF) != facts_of(ledger.events(CLIENT), AS_OF):
            raise RuntimeError("the incremental facts differ from a cold rebuild")
    return [
        Row(
            benchmark=NAME,
            name="facts after 1 more event, 10,000-event client",
            measures=f"ledger.decisions.facts after appending one event to a {count:,}-event client (cached fold)",
            ours=Figure(best["ours"] * 1000, "ms"),
            peer_name="cold rebuild of the client",
            peer=Figure(best["cold"] * 1000, "ms"),
            target=Target("<=", 0.01),
            notes=f"mean over {appends} appends, best of {rounds} interleaved rounds; facts checked equal to a rebuild",
        ),
        Row(
            benchmark=NAME,
            name="facts after 1 backdated event, 10,000-event client",
            measures="the same, with the new event dated in the middle of the history",
            ours=Figure(backdated * 1000, "ms"),
            peer_name="cold rebuild of the client",
            peer=Figure(best["cold"] * 1000, "ms"),
            target=None,
            notes="reported only; one call",
        ),
    ]
