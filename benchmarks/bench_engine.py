"""Clients per second through the durable-rules adapter, against the raw durable-rules ceiling in the same run.

    python benchmarks/bench_engine.py [CLIENTS]      (default 20,000; 100,000 for the long run)

Variants, all on the default playbook and the same synthetic facts (a mix of
clients that fire nothing, one rule, or a chain through a signal and a negation):

* raw: the compiled ruleset driven by the bare durable-rules loop (assert the
  facts, run the actions, delete the session), nothing checked, nothing built:
  the ceiling of any adapter (``notes/durable-rules.md``: 5,500-8,300/s);
* fired: ``DurableEngine.fired`` (checks, retries, lock; only rule ids);
* decide: ``DurableEngine.decide`` (the full Decision with reasons in words).

Also prints the peak RSS and the RSS growth over the run (flat memory).
"""

from __future__ import annotations

import json
import random
import sys
import time

import durable_rules_engine

from clientrules.engine import DurableEngine
from clientrules.events import Instant
from clientrules.facts import Facts
from clientrules.rules import default_ruleset_text, parse_ruleset

T = Instant.parse("2026-06-01")
ROUNDS = 3


def synthetic_facts(count: int, seed: int = 7) -> list[Facts]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        values = {
            "tenure_days": rng.randint(0, 2000),
            "late_invoices_12m": rng.choice([0, 0, 1, 2, 3, 4]),
            "remedy_since_first_late": rng.random() < 0.5,
            "late_after_latest_remedy": rng.choice([0, 0, 1]),
            "unanswered_followups": rng.choice([0, 0, 1, 3, 4]),
            "silent_days": rng.randint(0, 40),
            "clean_before_silence": rng.random() < 0.6,
            "hours_90d": float(rng.randint(0, 40)),
            "unbillable_share_90d": rng.choice([0.0, 0.1, 0.3, 0.5]),
            "unpaid_scope_changes_90d": rng.choice([0, 0, 1, 3]),
            "plans_180d": rng.choice([0, 0, 1]),
            "incidents_180d": rng.choice([0, 0, 0, 1, 2]),
            "severe_staff_incidents_365d": rng.choice([0] * 19 + [1]),
            "contract_breaches_365d": rng.choice([0] * 29 + [1]),
            "needs_outgrown_365d": rng.choice([0] * 14 + [1]),
        }
        cases.append(Facts(as_of=T, values=values, evidence={name: ("ev-1", "ev-2") for name in values}))
    return cases


def rss_kib(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def raw_loop(engine: DurableEngine, cases: list[Facts]) -> float:
    """The bare durable-rules loop on the engine's compiled ruleset: the ceiling."""
    ruleset = engine._live_ruleset()
    payloads = [engine._facts_fact("", facts) for facts in cases]
    start = time.perf_counter()
    for n, fact in enumerate(payloads):
        sid = f"raw{n}"
        messages = [{**fact, "sid": sid, "id": f"{sid}:facts"}, {"t": "stage", "n": 0, "sid": sid, "id": f"{sid}:stage:0"}]
        _, state = durable_rules_engine.assert_facts(ruleset._handle, json.dumps(messages))
        ruleset.do_actions(state, lambda error, result: None)
        durable_rules_engine.delete_state(ruleset._handle, sid)
    return time.perf_counter() - start


def timed(run, cases: list[Facts]) -> float:
    start = time.perf_counter()
    for facts in cases:
        run(facts)
    return time.perf_counter() - start


def main(count: int) -> None:
    cases = synthetic_facts(count)
    engine = DurableEngine(parse_ruleset(default_ruleset_text()))
    engine.decide("warm-up", cases[0])
    before = rss_kib()
    variants = {
        "raw durable-rules loop (ceiling)": lambda: raw_loop(engine, cases),
        "DurableEngine.fired": lambda: timed(engine.fired, cases),
        "DurableEngine.decide (with reasons)": lambda: timed(lambda facts: engine.decide("c", facts), cases),
    }
    results = {name: float("inf") for name in variants}
    for _ in range(ROUNDS):  # interleaved rounds, best of each: the machine is shared
        for name, run in variants.items():
            results[name] = min(results[name], run())
    growth = rss_kib() - before
    ceiling = count / results["raw durable-rules loop (ceiling)"]
    print(f"{count:,} clients, default playbook")
    for name, seconds in results.items():
        rate = count / seconds
        print(f"  {name:<38} {rate:>9,.0f} clients/s  ({rate / ceiling:.0%} of the ceiling)")
    print(f"  peak RSS {rss_kib('VmHWM') / 1024:.1f} MiB; RSS growth over the runs {growth / 1024:.1f} MiB")
    engine.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
