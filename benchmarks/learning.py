"""The learning loop on the shared history: the backtest against one evaluate, and proposals with their backtest.

The shared history has no departures, so a copy of it gets some: one client
in :data:`LEAVER_EVERY` leaves a day after its last event and answers the
exit survey. Every other one of them cites missed deadlines, and we missed
:data:`SIGNAL_MISSES` of its deadlines in the two months before (a signal the
loop can find); the others cite the price.

* ours: ``ledger.learning.backtest()`` over every client, decided at every
  monthly moment of its life with us, by a ledger opened afresh: the history's
  kept moments stored by a backtest before it, as for every backtest after a
  store's first (that first one, which folds every client and stores them, is
  a row of its own);
* the peer: one ``ledger.decisions.iter_evaluate`` of the same clients as of
  the end of the history, their folds stored by an evaluate before it, as for
  every evaluate after a store's first (target: the backtest costs at most 2
  times it);
* proposals: ``ledger.learning.proposals()`` (the evidence pass, then every
  proposal's backtest in one replay), target under 30 seconds; the same
  evaluate beside it for scale.
Peak memory of the whole process is in the notes.
"""

from __future__ import annotations

import datetime as dt
import resource
import shutil
from typing import Any

from benchmarks.datasets import history_db
from benchmarks.history import AS_OF
from benchmarks.measure import seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.domain.events import DeadlineMissed, Event, Instant, RelationshipEnded, SurveyAnswered, SurveyInvited

NAME = "learning"
LEAVER_EVERY = 20
SIGNAL_MISSES = 4


def with_departures(context: Context) -> str:
    """A copy of the shared history in which one client in :data:`LEAVER_EVERY` left and answered the survey."""
    path = context.workdir / "learning.db"
    shutil.copyfile(history_db(context), path)
    with Ledger.open(str(path)) as ledger:
        events: list[Event] = []
        for number, summary in enumerate(ledger.clients()[::LEAVER_EVERY]):
            client, last = summary.client, summary.last_at
            left = Instant.from_datetime(last.utc + dt.timedelta(days=1))
            signal = number % 2 == 0
            reason = "missed_deadlines" if signal else "price_too_high"
            invitation = f"inv-{client}"
            if signal:
                events += [
                    Event.new(client, DeadlineMissed(deliverable="launch"), Instant.from_datetime(left.utc - dt.timedelta(days=60 - 5 * n)))
                    for n in range(SIGNAL_MISSES)
                ]
            events += [
                Event.new(client, RelationshipEnded(initiated_by="client"), left),
                Event.new(client, SurveyInvited(invitation_id=invitation, expires_at=(left.date + dt.timedelta(days=30)).isoformat()), left),
                Event.new(client, SurveyAnswered(invitation_id=invitation, primary_reason=reason), left),
            ]
        ledger.append(events)
    return str(path)


def run(context: Context) -> list[Row]:
    database = with_departures(context)
    with Ledger.open(database) as ledger:
        count = len(ledger.store.client_ids())

        def evaluate_all() -> None:
            for _ in ledger.decisions.iter_evaluate(as_of=AS_OF):
                pass

        evaluate_all()  # the shared database may hold folds or not, by which benchmarks ran before: now it does
        evaluate_seconds = seconds(evaluate_all)
    found: dict[str, Any] = {}
    with Ledger.open(database) as ledger:
        first_seconds = seconds(lambda: found.update(first=ledger.learning.backtest()))
    with Ledger.open(database) as ledger:
        backtest_seconds = seconds(lambda: found.update(backtest=ledger.learning.backtest()))
    with Ledger.open(database) as ledger:
        proposals_seconds = seconds(lambda: found.update(proposals=ledger.learning.proposals()))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result, proposals = found["backtest"], found["proposals"]
    evaluate = Figure(evaluate_seconds, "s")
    peer = f"one evaluate of the same {count:,} clients"
    if found["first"].to_json() != result.to_json():
        raise RuntimeError("the backtest on the stored moments differs from the one that stored them")
    return [
        Row(NAME, "first backtest (moments stored) vs one evaluate", "ledger.learning.backtest() on a database "
            "without kept moments: every client folded, its facts kept at every moment and stored",
            Figure(first_seconds, "s"), peer, evaluate, None, notes="one round"),
        Row(NAME, "backtest vs one evaluate", f"ledger.learning.backtest() of {count:,} clients at {len(result.moments)} "
            f"monthly moments ({result.current.decisions:,} client-moments), on the kept moments the first stored",
            Figure(backtest_seconds, "s"), peer, evaluate, Target("<=", 2.0),
            notes=f"one round each; peak RSS of the process {peak_mb:,.0f} MB"),
        Row(NAME, "proposals with their backtest", f"ledger.learning.proposals() of {count:,} clients: the evidence pass, "
            f"then {len(proposals.pending)} proposals backtested in one replay", Figure(proposals_seconds, "s"),
            peer, evaluate, Target("<=", 30.0, on="ours"),
            notes=f"one round; {len(proposals.not_proposed)} reasons without a proposal"),
    ]
