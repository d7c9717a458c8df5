"""Evaluate clients with long histories against clients with short ones: the cost of a decision should not grow with age.

Two stores from the shared generator, each with the same number of clients
(1,500 in the full run): about 160 events per client in one, about 8 in the
other (no long clients in either). Each client's fold is stored by a first
evaluate; then every client is evaluated end to end
(``ledger.decisions.iter_evaluate``) in a fresh process, the two stores in
interleaved rounds, and the best times are compared. :func:`length_rows` gives the same row for any backend (the
PostgreSQL benchmark uses it).
"""

from __future__ import annotations

from typing import Callable

from benchmarks.evaluate import timed_evaluation
from benchmarks.history import history
from benchmarks.measure import best_of, in_fresh_process
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.domain.events.jsonl import event_from_json

NAME = "history_length"
SHORT, LONG = 8, 160


def build(url: str, clients: int, events_per_client: int) -> None:
    """Append the clients' generated events in batches, then evaluate them once (their folds are stored)."""
    with Ledger.open(url) as ledger:
        events = (event_from_json(line) for line in history(clients, clients * events_per_client, long_every=0))
        while batch := [event for _, event in zip(range(10_000), events)]:
            ledger.append(batch)
    timed_evaluation(url)


def length_rows(url_of: Callable[[int], str], clients: int, rounds: int, *, backend: str = "SQLite", prefix: str = "",
                benchmark: str = NAME) -> list[Row]:
    """Build a store of ``clients`` clients at each history length (``url_of(length)``) and compare their evaluation,
    each the best of ``rounds`` interleaved rounds."""
    for length in (SHORT, LONG):
        in_fresh_process(build, url_of(length), clients, length)

    def evaluation(length: int) -> float:
        spent, verdicts = in_fresh_process(timed_evaluation, url_of(length))
        if len(verdicts) != clients:
            raise RuntimeError(f"decided {len(verdicts):,} of {clients:,} clients")
        return spent

    spent = best_of(rounds, {"short": lambda: evaluation(SHORT), "long": lambda: evaluation(LONG)})
    return [
        Row(benchmark, f"{prefix}evaluate, ~{LONG} vs ~{SHORT} events per client",
            f"ledger.decisions.iter_evaluate of {clients:,} clients from {backend}, folds stored, fresh process",
            Figure(spent["long"], "s"), f"{clients:,} clients of ~{SHORT} events", Figure(spent["short"], "s"),
            Target("<=", 1.2),
            notes=f"{clients / spent['long']:,.0f} and {clients / spent['short']:,.0f} clients/s; best of {rounds} "
                  "interleaved rounds each"),
    ]


def run(context: Context) -> list[Row]:
    return length_rows(lambda length: str(context.workdir / f"length-{length}.db"), context.scale.length_clients,
                       context.scale.rounds)
