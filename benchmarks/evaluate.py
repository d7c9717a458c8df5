"""Evaluate every client of the shared history end to end, against the bare engine and plain Python.

* ours: ``ledger.decisions.iter_evaluate`` over all 20,000 clients from the
  SQLite store (each client's stored fold and the events after it, its facts,
  the rules on durable-rules, the decision with its reasons in words), in a
  fresh process: nothing cached in memory. The folds were stored by an earlier
  evaluate, whose time is reported on its own row (it folds every event and
  writes every fold);
* the ceiling: the bare durable-rules loop on the engine's own compiled rule
  set with the same clients' facts computed beforehand (assert the facts, run
  the actions, delete the session; nothing checked, nothing built);
* the floor: the default playbook as plain Python if/else on the same facts
  (reported, no target); its verdicts are checked against ours;
* the engine alone: ``DurableEngine.decide`` on the same facts (checks, lock,
  retries, reasons in words) against the same ceiling (reported, no target):
  what the adapter costs, apart from reading and folding;
* isolation: ours (durable-rules in a child process, at most
  ``ROUND_TRIP_CLIENTS`` clients per round trip, the default) against the same evaluation with durable-rules in the
  evaluating process, in the same run, both with folds stored.

:func:`against_ceiling` gives the same rows for any store (the PostgreSQL benchmark uses it).
"""

from __future__ import annotations

import datetime as dt
import json
import time

import durable_rules_engine

from benchmarks.datasets import history_db
from benchmarks.history import AS_OF
from benchmarks.measure import best_of, in_fresh_process, seconds
from benchmarks.plain_rules import plain_verdict
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules.adapters.isolated import ROUND_TRIP_CLIENTS
from clientrules import Ledger
from clientrules.adapters.durable import DurableEngine
from clientrules.adapters.store import open_store
from clientrules.domain.events import Instant
from clientrules.domain.facts import Facts

NAME = "evaluate"
#: days after the history's moment at which a later evaluate is reported
LATER_DAYS = (1, 30)


def timed_evaluation(url: str, in_process: bool = False, days_later: int = 0) -> tuple[float, dict[str, str]]:
    """Seconds of evaluating every client of ``url`` (the rule set adopted beforehand), and the verdicts.

    ``in_process``: durable-rules in the evaluating process rather than in its child (the default);
    ``days_later``: as of that many days after the history's moment.
    """
    verdicts: dict[str, str] = {}
    as_of = Instant.from_datetime(AS_OF.utc + dt.timedelta(days=days_later))
    with Ledger(open_store(url), engine_factory=DurableEngine) if in_process else Ledger.open(url) as ledger:
        ledger.rules.current()

        def every_client() -> None:
            for decision in ledger.decisions.iter_evaluate(as_of=as_of):
                verdicts[decision.client] = decision.verdict

        return seconds(every_client), verdicts


def against_ceiling(url: str, context: Context, *, backend: str = "SQLite", prefix: str = "",
                    benchmark: str = NAME) -> list[Row]:
    """Evaluate every client of ``url`` in fresh processes (folds written, then read) against the engine's ceiling,
    in interleaved rounds: the machine's speed drifts from one minute to the next, and each ratio compares figures
    taken side by side."""
    first_seconds, _ = in_fresh_process(timed_evaluation, url)
    rounds = context.scale.rounds
    verdicts: dict[str, str] = {}

    def evaluation(in_process: bool) -> float:
        spent, verdicts_now = in_fresh_process(timed_evaluation, url, in_process)
        verdicts.update(verdicts_now)
        return spent

    with Ledger.open(url) as ledger:
        clients = ledger.store.client_ids()
        facts = {client: ledger.decisions.facts(client, AS_OF) for client in clients}
        engine = DurableEngine(ledger.rules.current())
        cases = list(facts.values())
        best = best_of(rounds, {
            "ours": lambda: evaluation(False),
            "in process": lambda: evaluation(True),
            "ceiling": lambda: raw_engine_seconds(engine, cases),
            "engine": lambda: seconds(lambda: [engine.decide(client, facts[client]) for client in clients]),
            "floor": lambda: seconds(lambda: [plain_verdict(case.values) for case in cases]),
        })
    # a later evaluate finds the facts kept at the history's moment, and keeps in their place those it computes again:
    # each is timed once, after the rounds, and an evaluate at the history's moment keeps its facts again afterwards
    later_seconds = {days: in_fresh_process(timed_evaluation, url, False, days)[0] for days in LATER_DAYS}
    in_fresh_process(timed_evaluation, url)
    ours_seconds, in_process_seconds = best["ours"], best["in process"]
    wrong = [client for client in clients if plain_verdict(facts[client].values) != verdicts[client]]
    if wrong or len(verdicts) != len(clients):
        raise RuntimeError(f"plain Python and the engine disagree on {len(wrong)} clients, e.g. {wrong[:3]}")
    count = len(clients)
    ours_rate = Figure(count / ours_seconds, "clients/s")
    ceiling = Figure(count / best["ceiling"], "clients/s")
    measures = (f"ledger.decisions.iter_evaluate of {count:,} clients (~50 events each) from {backend}, each client's "
                "fold and facts kept by an earlier evaluate at the same moment: facts + rules + reasons, in a fresh "
                "process")
    spread = ", ".join(f"{verdict} {list(verdicts.values()).count(verdict):,}" for verdict in sorted(set(verdicts.values())))
    return [
        Row(benchmark, f"{prefix}evaluate end to end vs the engine's ceiling", measures, ours_rate,
            "raw durable-rules, same facts", ceiling, Target(">=", 1.0),
            notes=f"each the best of {rounds} interleaved rounds, ours in fresh processes after the evaluate that "
                  f"stored the folds; verdicts: {spread}"),
        Row(benchmark, f"{prefix}first evaluate (folds written) vs the engine's ceiling",
            "the same, on a store with no fold yet: every event read and folded, every fold and every client's facts written",
            Figure(count / first_seconds, "clients/s"), "raw durable-rules, same facts", ceiling, None,
            notes="reported only: what the first evaluate after an import costs, once"),
        *(
            Row(benchmark, f"{prefix}evaluate {_days(days)} later vs the engine's ceiling",
                f"the same, {_days(days)} after the moment the facts were kept at: those that still hold are used, the "
                "others computed from the folds and kept", Figure(count / later_seconds[days], "clients/s"),
                "raw durable-rules, same facts", ceiling, None,
                notes="reported only: once, in a fresh process, after the rounds; the ceiling's facts are of the "
                      "history's moment")
            for days in LATER_DAYS
        ),
        Row(benchmark, f"{prefix}evaluate end to end vs plain Python (floor)", measures, ours_rate,
            "plain Python if/else, same facts", Figure(count / best["floor"], "clients/s"), None,
            notes="reported only; plain Python agrees with every verdict"),
        Row(benchmark, f"{prefix}evaluate, engine in a child process vs in-process", measures, ours_rate,
            "the same with durable-rules in the evaluating process", Figure(count / in_process_seconds, "clients/s"),
            Target(">=", 0.9), notes=f"each the best of {rounds} interleaved rounds, in fresh processes; at most "
                                      f"{ROUND_TRIP_CLIENTS:,} clients per round trip to the child"),
        Row(benchmark, f"{prefix}engine alone (DurableEngine.decide) vs the ceiling",
            f"DurableEngine.decide on the same {count:,} clients' facts",
            Figure(count / best["engine"], "clients/s"), "raw durable-rules, same facts", ceiling, None,
            notes=f"reported only: the adapter's share; best of {rounds} interleaved rounds"),
    ]


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def run(context: Context) -> list[Row]:
    return against_ceiling(str(history_db(context)), context)


def raw_engine_seconds(engine: DurableEngine, cases: list[Facts]) -> float:
    """The bare durable-rules loop on the engine's compiled rule set: one session per client, freed after use.

    The rule set's actions are the engine's (they record what fired and assert
    signals); only their record is reset between clients.
    """
    run = engine.run
    ruleset = run._live_ruleset()
    handle, fired = ruleset._handle, run._fired
    facts = [run._facts_fact("", case.values) for case in cases]
    started = time.perf_counter()
    for n, fact in enumerate(facts):
        fired.clear()
        sid = f"raw{n}"
        messages = [{**fact, "sid": sid, "id": f"{sid}:facts"}, {"t": "stage", "n": 0, "sid": sid, "id": f"{sid}:stage:0"}]
        _, state = durable_rules_engine.assert_facts(handle, json.dumps(messages))
        ruleset.do_actions(state, lambda error, result: None)
        durable_rules_engine.delete_state(handle, sid)
    return time.perf_counter() - started
