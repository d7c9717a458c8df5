"""The learning loop on the shared history: the backtest against one evaluate, and proposals with their backtest.

* ours: ``ledger.learning.backtest()`` over every client of the shared
  history, decided at every monthly moment of its life with us (25 months),
  streamed one client at a time;
* the peer: one ``ledger.decisions.iter_evaluate`` of the same clients as of
  the end of the history, cold (target: the backtest costs at most 3 times it);
* proposals: ``ledger.learning.proposals()`` (the evidence pass, then every
  proposal's backtest in a second pass), target under a minute.
Peak memory of the whole process is in the notes.
"""

from __future__ import annotations

import resource
from typing import Any

from benchmarks.datasets import history_db
from benchmarks.history import AS_OF
from benchmarks.measure import seconds
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger

NAME = "learning"


def run(context: Context) -> list[Row]:
    database = history_db(context)
    with Ledger.open(database) as ledger:
        count = len(ledger.store.client_ids())
        evaluate_seconds = seconds(lambda: sum(1 for _ in ledger.decisions.iter_evaluate(as_of=AS_OF)))
    with Ledger.open(database) as ledger:
        found: dict[str, Any] = {}
        backtest_seconds = seconds(lambda: found.update(backtest=ledger.learning.backtest()))
        proposals_seconds = seconds(lambda: found.update(proposals=ledger.learning.proposals()))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = found["backtest"]
    moments = len(result.moments)
    decisions = result.current.decisions
    proposals = found["proposals"]
    return [
        Row(NAME, "backtest vs one evaluate", f"ledger.learning.backtest() of {count:,} clients at {moments} monthly moments "
            f"({decisions:,} client-moments), streamed per client", Figure(backtest_seconds, "s"),
            f"one evaluate of the same {count:,} clients", Figure(evaluate_seconds, "s"), Target("<=", 3.0),
            notes=f"one round each; peak RSS of the process {peak_mb:,.0f} MB"),
        Row(NAME, "proposals with their backtest", f"ledger.learning.proposals() of {count:,} clients: evidence pass, "
            f"then {len(proposals.pending)} proposals backtested in one replay", Figure(proposals_seconds, "s"),
            "", None, Target("<=", 60.0, on="ours"),
            notes=f"one round; {len(proposals.not_proposed)} reasons without a proposal"),
    ]
