"""Many clients through one engine in one process: memory stays flat (the 100,000 run is in benchmarks/)."""

from __future__ import annotations

import gc

import pytest

from clientrules.adapters.durable import DurableEngine
from clientrules.domain.events import Instant
from clientrules.domain.facts import Facts
from clientrules.domain.rules import default_ruleset_text, parse_ruleset

T = Instant.parse("2026-06-01")
SITUATIONS = [
    {},
    {"late_invoices_12m": 4, "remedy_since_first_late": False},
    {"late_invoices_12m": 3, "remedy_since_first_late": True, "late_after_latest_remedy": 2},
    {"unanswered_followups": 3, "silent_days": 30, "tenure_days": 800, "clean_before_silence": True},
    {"unanswered_followups": 5, "silent_days": 15, "tenure_days": 20, "clean_before_silence": True},
    {"hours_90d": 40.0, "unbillable_share_90d": 0.5, "plans_180d": 0, "needs_outgrown_365d": 1},
    {"incidents_180d": 2, "contract_breaches_365d": 1, "tenure_days": 100},
]


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.mark.slow
def test_twenty_thousand_clients_with_flat_memory():
    with DurableEngine(parse_ruleset(default_ruleset_text())) as engine:
        cases = [
            Facts(as_of=T, values=values, evidence={name: (f"ev-{n}",) for n, name in enumerate(values)})
            for values in SITUATIONS
        ]

        def run(count: int) -> dict[str, int]:
            verdicts: dict[str, int] = {}
            for i in range(count):
                decision = engine.decide(f"client-{i}", cases[i % len(cases)])
                verdicts[decision.verdict] = verdicts.get(decision.verdict, 0) + 1
            return verdicts

        run(2_000)  # warm up: caches, allocator arenas
        gc.collect()
        before = rss_kib()
        verdicts = run(20_000)
        gc.collect()
        growth = rss_kib() - before
    assert sum(verdicts.values()) == 20_000
    assert verdicts["keep"] == 20_000 // 7 + (1 if 20_000 % 7 > 0 else 0)
    assert growth < 4 * 1024, f"RSS grew by {growth} KiB over 20,000 clients"
