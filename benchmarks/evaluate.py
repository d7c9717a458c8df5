"""Evaluate every client of the shared history end to end, against the bare engine and plain Python.

* ours: ``ledger.decisions.iter_evaluate`` over all 20,000 clients from the
  SQLite store (read each client's events, fold its facts, run the rules on
  durable-rules, build the decision with its reasons in words), cold;
* the ceiling: the bare durable-rules loop on the engine's own compiled rule
  set with the same clients' facts computed beforehand (assert the facts, run
  the actions, delete the session; nothing checked, nothing built);
* the floor: the default playbook as plain Python if/else on the same facts
  (reported, no target); its verdicts are checked against ours;
* the engine alone: ``DurableEngine.decide`` on the same facts (checks, lock,
  retries, reasons in words) against the same ceiling (reported, no target):
  what the adapter costs, apart from reading and folding;
* isolation: ours (durable-rules in a child process, 1,000 clients per round
  trip, the default) against the same evaluation with durable-rules in the
  evaluating process, in the same run, both cold.
"""

from __future__ import annotations

import json
import time

import durable_rules_engine

from benchmarks.datasets import history_db
from benchmarks.history import AS_OF
from benchmarks.measure import best_of, seconds
from benchmarks.plain_rules import plain_verdict
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from clientrules import Ledger
from clientrules.adapters.durable import DurableEngine
from clientrules.adapters.store import open_store
from clientrules.domain.facts import Facts

NAME = "evaluate"


def run(context: Context) -> list[Row]:
    database = history_db(context)
    with Ledger.open(database) as ledger:
        clients = [summary.client for summary in ledger.clients()]
        facts = {client: ledger.decisions.facts(client, AS_OF) for client in clients}
        engine = DurableEngine(ledger.rules.current())
    with Ledger.open(database) as ledger:  # a new ledger: nothing cached
        verdicts: dict[str, str] = {}

        def ours() -> None:
            for decision in ledger.decisions.iter_evaluate(as_of=AS_OF):
                verdicts[decision.client] = decision.verdict

        ours_seconds = seconds(ours)
    with Ledger(open_store(database), engine_factory=DurableEngine) as ledger:
        in_process_seconds = seconds(lambda: sum(1 for _ in ledger.decisions.iter_evaluate(as_of=AS_OF)))
    wrong = [client for client in clients if plain_verdict(facts[client].values) != verdicts[client]]
    if wrong or len(verdicts) != len(clients):
        raise RuntimeError(f"plain Python and the engine disagree on {len(wrong)} clients, e.g. {wrong[:3]}")
    cases = list(facts.values())
    rounds = max(context.scale.rounds - 1, 1)
    best = best_of(rounds, {
        "ceiling": lambda: raw_engine_seconds(engine, cases),
        "engine": lambda: seconds(lambda: [engine.decide(client, facts[client]) for client in clients]),
        "floor": lambda: seconds(lambda: [plain_verdict(case.values) for case in cases]),
    })
    count = len(clients)
    ours_rate = Figure(count / ours_seconds, "clients/s")
    measures = (f"ledger.decisions.iter_evaluate of {count:,} clients (~50 events each) from SQLite: "
                "facts + rules + reasons, cold")
    spread = ", ".join(f"{verdict} {list(verdicts.values()).count(verdict):,}" for verdict in sorted(set(verdicts.values())))
    return [
        Row(NAME, "evaluate end to end vs the engine's ceiling", measures, ours_rate,
            "raw durable-rules, same facts", Figure(count / best["ceiling"], "clients/s"), Target(">=", 0.6),
            notes=f"ours once; the ceiling best of {rounds} rounds after it; verdicts: {spread}"),
        Row(NAME, "evaluate end to end vs plain Python (floor)", measures, ours_rate,
            "plain Python if/else, same facts", Figure(count / best["floor"], "clients/s"), None,
            notes="reported only; plain Python agrees with every verdict"),
        Row(NAME, "evaluate, engine in a child process vs in-process", measures, ours_rate,
            "the same with durable-rules in the evaluating process", Figure(count / in_process_seconds, "clients/s"),
            Target(">=", 0.9), notes="both once, cold, one after the other; 1,000 clients per round trip to the child"),
        Row(NAME, "engine alone (DurableEngine.decide) vs the ceiling", f"DurableEngine.decide on the same {count:,} clients' facts",
            Figure(count / best["engine"], "clients/s"), "raw durable-rules, same facts",
            Figure(count / best["ceiling"], "clients/s"), None,
            notes=f"reported only: the adapter's share; best of {rounds} interleaved rounds"),
    ]


def raw_engine_seconds(engine: DurableEngine, cases: list[Facts]) -> float:
    """The bare durable-rules loop on the engine's compiled rule set: one session per client, freed after use.

    The rule set's actions are the engine's (they record what fired and assert
    signals); only their record is reset between clients.
    """
    ruleset = engine._live_ruleset()
    handle, fired = ruleset._handle, engine._fired
    facts = [engine._facts_fact("", case) for case in cases]
    started = time.perf_counter()
    for n, fact in enumerate(facts):
        fired.clear()
        sid = f"raw{n}"
        messages = [{**fact, "sid": sid, "id": f"{sid}:facts"}, {"t": "stage", "n": 0, "sid": sid, "id": f"{sid}:stage:0"}]
        _, state = durable_rules_engine.assert_facts(handle, json.dumps(messages))
        ruleset.do_actions(state, lambda error, result: None)
        durable_rules_engine.delete_state(handle, sid)
    return time.perf_counter() - started
