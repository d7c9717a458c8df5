"""Crashes: processes writing to the ledger are killed with SIGKILL at random moments.

Nothing they saw acknowledged is lost, no batch or import is half there, the
database stays sound (SQLite's integrity check; PostgreSQL's position
counter), a retry stores nothing twice, and the store keeps working. The
moments come from a seeded generator: the seed is printed (``pytest -s``) and
named in every failure; ``CLIENTRULES_CRASH_SEED=N`` replays it. A worker
killed mid-batch is tests/test_workers.py's.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_child import operation, perform
from store_checks import assert_consistent, wait_for_sessions_to_end
from test_workers import onboard

from clientrules import DecisionRecorded, Ledger, WorkLogged
from clientrules.application.decisions import RECORD_BATCH
from postgres_fixtures import fresh_schema_url

CHILD = Path(__file__).with_name("crash_child.py")
#: kills per run that must land inside an operation: each run draws new moments from its seed, so runs add up
KILLS_IN_FLIGHT = 6
#: at most this many kills per run to get there (on a loaded machine a kill lands between operations more often)
MAX_KILLS = 40
EVALUATED_CLIENTS = 2_500


def crash_seed() -> int:
    seed = int(os.environ.get("CLIENTRULES_CRASH_SEED") or random.randrange(2**32))
    print(f"crash test seed: {seed} (replay with CLIENTRULES_CRASH_SEED={seed})")
    return seed


@pytest.fixture(params=["sqlite", "sqlite-synchronous-full", "postgres"])
def crash_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return fresh_schema_url(request)
    options = "?synchronous=full" if request.param.endswith("full") else ""
    return f"sqlite:///{tmp_path / 'crash.db'}{options}"


def wait_for_acks(log: Path, after: int, count: int, child: subprocess.Popen, deadline: float) -> None:
    """Until the child has acknowledged ``count`` operations numbered ``after`` or later."""
    while time.monotonic() < deadline and child.poll() is None:
        if sum(1 for number, _ in read_log(log)[1].items() if number >= after) >= count:
            return
        time.sleep(0.002)
    raise AssertionError(f"the child acknowledged fewer than {count} operations: {child.stderr.read()}")


def read_log(log: Path) -> tuple[list[int], dict[int, tuple[int | None, int]]]:
    """The operations begun, and those acknowledged with the version and position the store gave."""
    begun, acked = [], {}
    for line in log.read_text().splitlines() if log.exists() else []:
        word, number, *result = line.split()
        if word == "begin":
            begun.append(int(number))
        else:
            version, position = result
            acked[int(number)] = (None if version == "None" else int(version), int(position))
    return begun, acked


@pytest.mark.slow
def test_killed_writers_lose_nothing_acknowledged_and_leave_no_half_batch(crash_url, tmp_path):
    seed = crash_seed()
    rng = random.Random(seed)
    log, workdir = tmp_path / "acks.log", tmp_path / "files"
    workdir.mkdir()
    done: set[str] = set()  # ids of every operation acknowledged or retried
    first = 0
    in_flight_outcomes = {"committed before its ack": 0, "rolled back": 0}
    kills = 0
    with Ledger.open(crash_url) as ledger:
        while sum(in_flight_outcomes.values()) < KILLS_IN_FLIGHT and kills < MAX_KILLS:
            kill, kills = kills, kills + 1
            name = f"crash-child-{os.getpid()}-{kill}"  # its PostgreSQL sessions, to wait for their end
            child = subprocess.Popen(
                [sys.executable, str(CHILD), crash_url, str(seed), str(first), str(log), str(workdir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PGAPPNAME": name},
            )
            wait_for_acks(log, first, rng.randint(1, 4), child, time.monotonic() + 60)
            time.sleep(rng.uniform(0, 0.04))
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL, child.stderr.read()
            child.stderr.close()
            if crash_url.startswith("postgresql://"):
                wait_for_sessions_to_end(crash_url, name)
            where = f"(seed {seed}, kill {kill + 1})"

            begun, acked = read_log(log)
            events = assert_consistent(ledger.store)
            by_id = {event.id: event for event in events}
            for number in sorted(n for n in acked if n >= first):
                op, (version, position) = operation(seed, number), acked[number]
                stored = [by_id.get(event.id) for event in op.events]
                assert None not in stored, f"acknowledged operation {number} ({op.kind}) lost events {where}"
                assert max(event.position for event in stored) == position, where
                if version is not None:
                    assert stored[-1].version == version, where
                done.update(event.id for event in op.events)
            in_flight = begun[-1] if begun[-1] not in acked else None
            if in_flight is not None:
                op = operation(seed, in_flight)
                present = sum(event.id in by_id for event in op.events)
                assert present in (0, len(op.events)), (
                    f"operation {in_flight} ({op.kind}) is half there: {present} of {len(op.events)} events {where}"
                )
                in_flight_outcomes["committed before its ack" if present else "rolled back"] += 1
                done.update(event.id for event in op.events if present)
            assert set(by_id) == done, f"events stored that no operation holds {where}"

            # retry what was in flight (or the last acknowledged operation): stored once, whatever the kill left
            retried = operation(seed, in_flight if in_flight is not None else begun[-1])
            perform(ledger, retried, workdir)
            done.update(event.id for event in retried.events)
            assert {event.id for event in assert_consistent(ledger.store)} == done, where
            first = retried.number + 1

        ledger.record("after-the-crashes", WorkLogged(hours=1.0, billable=True), "2026-12-31", id="last")
        assert [event.id for event in ledger.events("after-the-crashes")] == ["last"]
        assert assert_consistent(ledger.store)[-1].id == "last"
    print(f"{kills} kills; the operation in flight was {in_flight_outcomes}")
    caught = sum(in_flight_outcomes.values())
    assert caught >= KILLS_IN_FLIGHT, f"only {caught} of {kills} kills landed inside an operation (seed {seed})"


@pytest.mark.slow
def test_evaluate_record_killed_midway_leaves_whole_batches_and_every_printed_decision_recorded(store_url):
    seed = crash_seed()
    with Ledger.open(store_url) as ledger:
        ledger.append(onboard(range(EVALUATED_CLIENTS)))
        order = [summary.client for summary in ledger.clients()]
    evaluate = [sys.executable, "-m", "clientrules", "--db", store_url, "evaluate", "--as-of", "2026-06-01", "--record"]
    name = f"crash-evaluate-{os.getpid()}"  # its PostgreSQL sessions, to wait for their end
    child = subprocess.Popen(
        evaluate, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PGAPPNAME": name}
    )
    header = child.stdout.readline()  # the table starts with the first decision, printed once its batch is recorded
    time.sleep(random.Random(seed).uniform(0, 0.3))
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL, f"evaluate finished before it was killed (seed {seed})"
    if store_url.startswith("postgresql://"):
        wait_for_sessions_to_end(store_url, name)
    *lines, cut = child.stdout.read().split("\n")  # the last line may be cut by the kill
    child.stdout.close()
    assert header.startswith("client")
    printed_clients = {line.split()[0] for line in lines if line.strip() and not line[0].isspace()}

    with Ledger.open(store_url) as ledger:
        events = assert_consistent(ledger.store)
        recorded = [event.client for event in events if isinstance(event.payload, DecisionRecorded)]
        assert len(recorded) % RECORD_BATCH == 0 and 0 < len(recorded) < EVALUATED_CLIENTS, f"seed {seed}"
        assert recorded == order[: len(recorded)]  # whole batches, in order, each client once
        assert printed_clients <= set(recorded)
        # the store keeps working: a run to the end records every client once more
        completed = subprocess.run(evaluate, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stderr
        counts = {client: 0 for client in order}
        for event in assert_consistent(ledger.store):
            if isinstance(event.payload, DecisionRecorded):
                counts[event.client] += 1
        assert counts == {client: 1 + (n < len(recorded)) for n, client in enumerate(order)}
