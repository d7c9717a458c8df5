"""Parallel evaluation: ``evaluate --workers N`` on both backends, and ``clientrules worker`` sharing a PostgreSQL queue."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from clientrules import ClientRulesError, Ledger
from clientrules.cli.main import cli
from clientrules.domain.events import ClientOnboarded, DecisionRecorded, Event, InvoiceIssued, RelationshipEnded, WorkLogged
from clientrules.application.evaluation_queue import WorkerReport, run_worker
from clientrules.domain.events import Instant
from clientrules.parallel import MAX_CHUNK, _Split, iter_evaluate_parallel

CHANGED_CLIENTS = 300


def run(db: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db, *args])


def onboard(clients: range | list[str], at: str = "2026-01-05") -> list[Event]:
    events = []
    for number in clients:
        client = number if isinstance(number, str) else f"c{number:04d}"
        events.append(Event.new(client, ClientOnboarded(name=client, monthly_value=500.0), at))
        events.append(Event.new(client, InvoiceIssued(invoice_id=f"{client}-1", amount=500.0, due_on="2026-02-01"), at))
    return events


def recorded_per_client(ledger: Ledger) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in ledger.store.iter_all():
        if isinstance(event.payload, DecisionRecorded):
            counts[event.client] = counts.get(event.client, 0) + 1
    return counts


@pytest.mark.slow
def test_evaluate_with_workers_gives_the_decisions_of_one_process_in_the_same_order(store_url, stories_path):
    assert run(store_url, "import", str(stories_path)).exit_code == 0
    one = run(store_url, "evaluate", "--as-of", "2026-06-01", "--json")
    three = run(store_url, "evaluate", "--as-of", "2026-06-01", "--json", "--workers", "3")
    assert one.exit_code == three.exit_code == 0, three.stderr
    assert len(json.loads(one.stdout)) == 11
    assert three.stdout == one.stdout

    recorded = run(store_url, "evaluate", "--as-of", "2026-06-01", "--record", "--workers", "2", "acme-late", "no-such")
    assert (recorded.exit_code, recorded.stderr) == (1, "error: no events are stored for client 'no-such'\n")
    with Ledger.open(store_url) as ledger:
        assert recorded_per_client(ledger) == {}  # checked before any process records
    recorded = run(store_url, "evaluate", "--as-of", "2026-06-01", "--record", "--workers", "2")
    assert recorded.exit_code == 0, recorded.stderr
    with Ledger.open(store_url) as ledger:
        counts = recorded_per_client(ledger)
        assert sorted(counts) == sorted(summary.client for summary in ledger.clients())
        assert set(counts.values()) == {1}


@pytest.mark.slow
def test_evaluate_with_workers_gives_each_client_its_share_of_the_whole_portfolio(store_url):
    with Ledger.open(store_url) as ledger:
        ledger.append([Event.new(f"c{value:04d}", ClientOnboarded(name=f"c{value:04d}", monthly_value=float(value)),
                                 "2026-01-05") for value in range(100, 1100, 100)])
        changes = ledger.rule_changes
        changes.adopt(changes.added(fact="revenue_share", op=">=", value=0.1, verdict="renegotiate",
                                    description="A large share of our revenue"), note="a rule on the share")
    one = run(store_url, "evaluate", "--as-of", "2026-06-01", "--json")
    two = run(store_url, "evaluate", "--as-of", "2026-06-01", "--json", "--workers", "2")
    assert one.exit_code == two.exit_code == 0, two.stderr
    shares = {decision["client"]: reason["facts"]["revenue_share"] for decision in json.loads(one.stdout)
              for reason in decision["reasons"] if "revenue_share" in reason["facts"]}
    # each monthly value over the 5,500 of all ten clients
    assert shares == {f"c{value:04d}": pytest.approx(value / 5500) for value in range(600, 1100, 100)}
    assert two.stdout == one.stdout


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_evaluate_with_workers_stopped_early_decides_and_records_no_further(store_url):
    clients = [f"c{number:04d}" for number in range(4000)]
    with Ledger.open(store_url) as ledger:
        ledger.append(onboard(clients))
        decisions = ledger.iter_evaluate(as_of="2026-06-01", record=True, workers=2)
        first = next(decisions)
        decisions.close()
        assert not multiprocessing.active_children()  # the pool's process is gone
        counts = recorded_per_client(ledger)
    assert first.client == "c0000"
    assert set(counts.values()) == {1}
    # the chunk the caller decided (the first 500), and the chunks the other process had taken from the back by then
    # (how many depends on how soon it was up): never a client between the two, and never all of them
    recorded = sorted(counts)
    back = recorded[500:]
    assert recorded[:500] == clients[:500]
    assert back == clients[len(clients) - len(back):]
    assert len(recorded) < len(clients)


def _no_store_here() -> Ledger:
    raise OSError("no store here")


@pytest.mark.slow
def test_a_pool_that_cannot_start_leaves_every_chunk_to_the_calling_process(db_url):
    moment = Instant.parse("2026-06-01")
    with Ledger.open(db_url) as ledger:
        ledger.append(onboard(range(40)))
        alone = [(decision.client, decision.verdict) for decision in ledger.iter_evaluate(as_of=moment)]
        clients = ledger.decisions.clients_to_decide(None, moment)
        shared = iter_evaluate_parallel(ledger, _no_store_here, clients, workers=2, moment=moment,
                                        version=ledger.rules.current())
        assert [(decision.client, decision.verdict) for decision in shared] == alone
    assert len(alone) == 40


class _DyingLedger:
    """A ledger whose process dies (as a crash in native code would end it) the first time it decides."""

    def __init__(self, url: str) -> None:
        self._ledger = Ledger.open(url)
        self.rules = self._ledger.rules
        self.close = self._ledger.close

    @property
    def decisions(self) -> None:
        os._exit(3)


class _OutlivingLedger:
    """A ledger that decides nothing before the other processes have ended."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.rules = ledger.rules

    @property
    def decisions(self):
        deadline = time.monotonic() + 60
        while multiprocessing.active_children():
            assert time.monotonic() < deadline, "the other process never ended"
            time.sleep(0.01)
        return self._ledger.decisions


@pytest.mark.slow
def test_a_process_that_dies_with_clients_taken_is_an_error_after_the_callers_decisions(db_url):
    moment = Instant.parse("2026-06-01")
    with Ledger.open(db_url) as ledger:
        ledger.append(onboard(range(2000)))
        clients = ledger.decisions.clients_to_decide(None, moment)
        given_back = []
        decisions = iter_evaluate_parallel(_OutlivingLedger(ledger), functools.partial(_DyingLedger, db_url), clients,
                                           workers=2, moment=moment, version=ledger.rules.current())
        with pytest.raises(ClientRulesError) as raised:
            for decision in decisions:
                given_back.append(decision.client)
    undecided = len(clients) - len(given_back)
    assert str(raised.value) == (
        f"a process deciding clients ended without finishing (exit code 3): {undecided:,} clients undecided"
    )
    assert given_back == clients[:len(given_back)] and undecided > 0  # the caller's, in order, then the error
    assert not multiprocessing.active_children()


@given(st.integers(1, 5_000), st.integers(2, 4), st.lists(st.booleans(), max_size=200))
def test_the_front_and_the_back_take_every_client_once_in_chunks_that_shrink_as_they_meet(count, workers, turns):
    smallest = min(250, -(-count // (workers * 4)))
    split = _Split(multiprocessing.get_context("spawn"), count, workers=workers, smallest=smallest)
    fronts: list[tuple[int, int]] = []
    backs: list[tuple[int, int]] = []
    left = count
    for from_front in [*turns, *[True] * count]:
        chunk = split.take_front() if from_front else split.take_back()
        if chunk is None:
            break
        (fronts if from_front else backs).append(chunk)
        # a quarter of a process's share of the clients left, or the smallest chunk
        assert chunk[1] - chunk[0] <= max(smallest, -(-left // (workers * 4)))
        left -= chunk[1] - chunk[0]
    assert split.take_back() is None and split.stop() == sum(end - start for start, end in backs)
    chunks = sorted(fronts + backs)
    assert [start for start, _ in chunks] == [0, *[end for _, end in chunks[:-1]]] and chunks[-1][1] == count
    sizes = [end - start for start, end in fronts] + [end - start for start, end in backs]
    assert max(sizes) <= MAX_CHUNK
    for side in (fronts, backs):
        side_sizes = [end - start for start, end in side]
        assert side_sizes == sorted(side_sizes, reverse=True)  # each side's chunks shrink
        assert all(size >= smallest for size in side_sizes[:-1])  # only the very last may be smaller


def test_the_queue_holds_clients_changed_since_their_last_worker_decision(pg_url):
    with Ledger.open(pg_url) as ledger:
        queue = ledger.evaluation_queue()
        ledger.append(onboard(["acme", "bolt"]))
        ledger.rules.current()  # an event in the system stream $rules: never queued
        assert queue.fill() == 5
        assert (queue.pending(), queue.checkpoint()) == (2, 5)
        assert run_worker(ledger.evaluation_queue(), once=True).evaluated == 2
        assert recorded_per_client(ledger) == {"acme": 1, "bolt": 1}
        queue.fill()
        assert (queue.pending(), queue.checkpoint()) == (0, 7)  # the two DecisionRecorded events: read, not queued
        ledger.record("bolt", WorkLogged(hours=2.0, billable=True), "2026-01-06")
        assert run_worker(ledger.evaluation_queue(), once=True).evaluated == 1
        assert recorded_per_client(ledger) == {"acme": 1, "bolt": 2}
        assert run_worker(ledger.evaluation_queue(), once=True).evaluated == 0


def test_a_client_that_cannot_be_decided_is_set_aside_without_stopping_the_others(pg_url):
    with Ledger.open(pg_url) as ledger:
        ledger.append(onboard(["acme", "bolt"]))
        queue = ledger.evaluation_queue()
        queue.fill()
        with ledger.store.transaction() as connection:  # a queued client with no events (e.g. a hand-made row)
            connection.execute("INSERT INTO evaluation_queue (client, position) VALUES ('ghost', 1)")
        report = run_worker(ledger.evaluation_queue(), once=True)
        assert (report.evaluated, report.failed) == (2, 1)
        assert recorded_per_client(ledger) == {"acme": 1, "bolt": 1}
        assert queue.failed() == [("ghost", "no events are stored for client 'ghost'")]
        assert queue.pending() == 0
        assert run_worker(ledger.evaluation_queue(), once=True) == WorkerReport(0, 0, 0)  # not claimed again
        status = run(pg_url, "db", "status")
        assert "set aside until its next event: ghost: no events are stored for client 'ghost'" in status.stdout
        ledger.append(onboard(["ghost"]))  # its next event queues it again
        assert run_worker(ledger.evaluation_queue(), once=True) == WorkerReport(1, 1, 0)
        assert (queue.failed(), recorded_per_client(ledger)["ghost"]) == ([], 1)


def test_a_client_that_has_left_leaves_the_queue_with_nothing_recorded(pg_url):
    with Ledger.open(pg_url) as ledger:
        ledger.append(onboard(["acme", "bolt", "gone"]))
        ledger.append([Event.new("gone", RelationshipEnded(initiated_by="client"), "2026-01-20")])
        queue = ledger.evaluation_queue()
        queue.fill()
        assert run_worker(ledger.evaluation_queue(), once=True) == WorkerReport(3, 1, 0)
        assert recorded_per_client(ledger) == {"acme": 1, "bolt": 1}
        assert (queue.pending(), queue.failed()) == (0, [])
        ledger.record("gone", WorkLogged(hours=1.0, billable=False), "2026-01-21")  # queued again, still left
        assert run_worker(ledger.evaluation_queue(), once=True) == WorkerReport(1, 1, 0)
        assert "gone" not in recorded_per_client(ledger) and queue.pending() == 0


def test_the_worker_needs_postgresql(tmp_path):
    result = run(str(tmp_path / "ledger.db"), "worker", "--once")
    assert result.exit_code == 2
    assert "the worker needs a PostgreSQL database (--db postgresql://...)" in result.stderr
    assert not (tmp_path / "ledger.db").exists()


def _worker(url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "clientrules", "--db", url, "worker", "--batch", "10", "--idle-exit", "1.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_claim(url: str, application: str, deadline: float) -> None:
    """Until a connection of ``application`` holds claimed queue rows (``FOR UPDATE``: a row-share lock)."""
    schema = url.partition("schema=")[2].partition("&")[0]
    with psycopg.connect(url.partition("?")[0], autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT COUNT(*) FROM pg_locks JOIN pg_stat_activity USING (pid)"
                " WHERE application_name = %s AND relation = %s::regclass AND mode = 'RowShareLock'",
                (application, f"{schema}.evaluation_queue"),
            ).fetchone()
            if row[0]:
                return
            time.sleep(0.002)
    raise AssertionError(f"{application} never claimed a batch")


@pytest.mark.slow
def test_two_workers_and_one_killed_midway_record_each_changed_client_exactly_once(pg_url):
    with Ledger.open(pg_url) as ledger:
        ledger.rules.current()
        ledger.append(onboard(range(CHANGED_CLIENTS)))
    victim_url = f"{pg_url}&application_name=victim"
    victim = _worker(victim_url)
    # the others start once the victim holds a batch: started together, under load they could drain the queue first
    _wait_for_claim(pg_url, "victim", time.monotonic() + 60)
    workers = [_worker(pg_url), _worker(pg_url)]
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    workers.append(_worker(victim_url))  # restarted
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    with Ledger.open(pg_url) as ledger:
        counts = recorded_per_client(ledger)
        assert ledger.evaluation_queue().pending() == 0
    assert sorted(counts) == [f"c{number:04d}" for number in range(CHANGED_CLIENTS)]
    assert set(counts.values()) == {1}  # the killed worker's claimed batch was recorded once, by another


def test_a_ledger_in_memory_is_evaluated_in_one_process():
    with Ledger.open("memory:") as ledger:
        ledger.append(onboard(range(3)))
        assert len(list(ledger.iter_evaluate(as_of="2026-06-01"))) == 3
        with pytest.raises(ClientRulesError, match="in memory cannot be shared with other processes"):
            list(ledger.iter_evaluate(as_of="2026-06-01", workers=2))


#: run in an interpreter of its own (``sys.argv[1]``: the store): which way the other processes start, with no
#: other thread, with one, and with durable-rules' native code loaded, and whether each way decides as one process
FORKED_OR_SPAWNED = """
import json, sys, threading
from clientrules import ClientOnboarded, Event, InvoiceIssued, Ledger
from clientrules.parallel import start_method

def decided(ledger, workers):
    return [decision.to_json() for decision in ledger.iter_evaluate(as_of="2026-06-01", workers=workers)]

with Ledger.open(sys.argv[1]) as ledger:
    ledger.append([event for number in range(2000) for event in (
        Event.new(f"c{number:04d}", ClientOnboarded(name="C", monthly_value=500.0), "2026-01-05"),
        Event.new(f"c{number:04d}", InvoiceIssued(invoice_id="I", amount=500.0, due_on="2026-02-01"), "2026-01-05"),
    )])
    alone = decided(ledger, 1)
    seen = {"alone": start_method()}
    same = {"alone": decided(ledger, 2) == alone}
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    seen["beside a thread"] = start_method()
    same["beside a thread"] = decided(ledger, 2) == alone
    stop.set()
    thread.join()
    import clientrules.adapters.durable_run  # the engine's adapter, which loads its native code in this process
    seen["beside the engine"] = start_method()
    same["beside the engine"] = decided(ledger, 2) == alone
print(json.dumps({"seen": seen, "same": same, "decided": len(alone)}))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="other processes are forked on Linux only")
def test_other_processes_are_forked_only_where_nothing_copied_can_be_caught_half_done(store_url):
    done = subprocess.run([sys.executable, "-c", FORKED_OR_SPAWNED, store_url], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    alone = "spawn" if store_url.startswith("postgresql") else "fork"  # PostgreSQL's connection pool runs threads
    assert json.loads(done.stdout) == {
        "seen": {"alone": alone, "beside a thread": "spawn", "beside the engine": "spawn"},
        "same": {"alone": True, "beside a thread": True, "beside the engine": True},
        "decided": 2000,
    }


#: run in an interpreter of its own (``sys.argv[1]``: the store): a program with its own SIGTERM handler stops an
#: evaluation before the other process (forked: a copy with that handler) took any clients
STOPPED_BESIDE_A_HANDLER = """
import signal, sys, time
from clientrules import ClientOnboarded, Event, Ledger
from clientrules.domain.events import Instant
from clientrules.parallel import iter_evaluate_parallel, start_method

def never_opens():
    time.sleep(600)

signal.signal(signal.SIGTERM, lambda *_: None)
with Ledger.open(sys.argv[1]) as ledger:
    ledger.append([Event.new(f"c{n:04d}", ClientOnboarded(name="C"), "2026-01-05") for n in range(2000)])
    moment = Instant.parse("2026-06-01")
    decisions = iter_evaluate_parallel(ledger, never_opens, ledger.decisions.clients_to_decide(None, moment),
                                       workers=2, moment=moment, version=ledger.rules.current())
    next(decisions)
    decisions.close()
print(start_method(), "stopped")
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="other processes are forked on Linux only")
def test_a_forked_process_ends_when_stopped_whatever_handler_the_program_set(db_url):
    done = subprocess.run([sys.executable, "-c", STOPPED_BESIDE_A_HANDLER, db_url], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout) == (0, "fork stopped\n"), done.stderr


#: run in an interpreter of its own (``sys.argv[1]``: the store, ``sys.argv[2]``: a file for the copy's report):
#: whether the program's objects are in the collector's reach in the forked copy and in the caller afterwards, for a
#: program that froze none of its own and for one that froze them
FROZEN_FOR_THE_COPY = """
import gc, json, os, sys
from clientrules import ClientOnboarded, Event, Ledger
from clientrules.domain.events import Instant
from clientrules.parallel import iter_evaluate_parallel, start_method

held = [[n] for n in range(1000)]  # the program's own objects

def in_reach():
    return any(tracked is held for tracked in gc.get_objects())

def opened_and_reported():
    with open(sys.argv[2], "w") as report:
        report.write(json.dumps(in_reach()))
    return Ledger.open(sys.argv[1])

def in_reach_in_copy_and_caller():
    if os.path.exists(sys.argv[2]):  # a copy that never reported fails the read below, rather than pass on an old one
        os.remove(sys.argv[2])
    decided = iter_evaluate_parallel(ledger, opened_and_reported, clients, workers=2, moment=moment,
                                     version=ledger.rules.current())
    assert len(list(decided)) == len(clients)
    with open(sys.argv[2]) as report:
        return {"copy": json.load(report), "caller": in_reach()}

with Ledger.open(sys.argv[1]) as ledger:
    ledger.append([Event.new(f"c{n:04d}", ClientOnboarded(name="C"), "2026-01-05") for n in range(4000)])
    moment = Instant.parse("2026-06-01")
    clients = ledger.decisions.clients_to_decide(None, moment)
    seen = {"start": start_method(), "none frozen": in_reach_in_copy_and_caller()}
    gc.freeze()
    seen["its own frozen"] = in_reach_in_copy_and_caller()
print(json.dumps(seen))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="other processes are forked on Linux only")
def test_a_forked_copy_finds_the_callers_objects_frozen_and_the_caller_is_left_as_it_was(db_url, tmp_path):
    done = subprocess.run([sys.executable, "-c", FROZEN_FOR_THE_COPY, db_url, str(tmp_path / "copy.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "start": "fork",
        "none frozen": {"copy": False, "caller": True},  # frozen for the copy, thawed again in the caller
        "its own frozen": {"copy": False, "caller": False},  # the program's freeze kept
    }
