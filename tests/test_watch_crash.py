"""A following watcher killed with SIGKILL at random moments (seeded), on both backends.

Between kills new events make changes: new clients breach their contract
(a change each), some earlier ones then outgrow us (a second change). After
every kill and at the end, each client's changes form one chain (each one
starts where the one before ended, none repeated), and a last run delivers
whatever the kills left: every change reaches the webhook at least once. The
seed is printed (``pytest -s``) and named in every failure;
``CLIENTRULES_CRASH_SEED=N`` replays it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import Iterator

import pytest
from test_crash import crash_seed
from webhook_receiver import SECRET, Receiver, running_receiver

from clientrules import ClientOnboarded, ContractBreached, Event, Ledger, NeedOutgrown
from clientrules.domain.alerts import Change

#: kills per run that must interrupt the watcher with work undone: each run draws new moments from its seed, so runs add up
KILLS_IN_FLIGHT = 6
#: at most this many kills per run to get there (on a loaded machine a kill lands between passes more often)
MAX_KILLS = 30
NEW_CLIENTS_PER_ROUND = 60
AS_OF = "2026-06-01"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running_receiver()


def new_work(round_number: int, rng: random.Random, earlier: list[str]) -> list[Event]:
    """Clients who join and breach their contract, and some earlier ones who outgrow us."""
    events = []
    for n in range(NEW_CLIENTS_PER_ROUND):
        client = f"r{round_number}-{n}"
        events.append(Event.new(client, ClientOnboarded(name=client), "2026-05-01"))
        events.append(Event.new(client, ContractBreached(clause="4.1"), "2026-05-02"))
    for client in rng.sample(earlier, min(len(earlier), NEW_CLIENTS_PER_ROUND // 3)):
        events.append(Event.new(client, NeedOutgrown(need="more than we do"), "2026-05-03"))
    return events


def wait_for_posts(receiver: Receiver, count: int, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while len(receiver.received) < count:
        assert time.monotonic() < deadline and child.poll() is None, "the watcher posted nothing"
        time.sleep(0.002)


def assert_chains(changes: list[Change], where: str) -> dict[str, Change]:
    """Each client's changes start where the one before ended and never repeat; the last of each client."""
    last: dict[str, Change] = {}
    for change in changes:
        before = last.get(change.client)
        if before is None:
            assert change.from_verdict is None and change.previous_fired == (), f"{change} {where}"
        else:
            assert (change.from_verdict, set(change.previous_fired)) == (before.to_verdict, set(before.fired)), where
            assert set(change.fired) != set(before.fired), f"change recorded twice for {change.client} {where}"
        last[change.client] = change
    return last


@pytest.mark.slow
def test_a_killed_watcher_records_each_change_once_and_delivers_each_at_least_once(store_url, receiver):
    seed = crash_seed()
    rng = random.Random(seed)
    environment = {
        **os.environ,
        "CLIENTRULES_WEBHOOK_URL": receiver.url,
        "CLIENTRULES_WEBHOOK_SECRET": SECRET,
        "CLIENTRULES_WEBHOOK_ALLOW_PRIVATE": "1",
    }
    watch = [sys.executable, "-m", "clientrules", "--db", store_url, "watch", "--as-of", AS_OF, "--interval", "0.2"]
    interrupted = kills = 0
    with Ledger.open(store_url) as ledger:
        ledger.record("first", ClientOnboarded(name="First"), "2026-01-01")
        ledger.alerts.once(as_of=AS_OF)  # the baseline
        earlier: list[str] = []
        while interrupted < KILLS_IN_FLIGHT and kills < MAX_KILLS:
            kill, kills = kills, kills + 1
            where = f"(seed {seed}, kill {kill + 1})"
            ledger.append(new_work(kill, rng, earlier))
            earlier += [f"r{kill}-{n}" for n in range(NEW_CLIENTS_PER_ROUND)]
            child = subprocess.Popen(watch, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment)
            assert child.stderr.readline().startswith("watching"), f"the watcher did not start {where}"
            if kill % 2:  # while it decides and records, or just after
                time.sleep(rng.uniform(0, 0.6))
            else:  # while it delivers: once the receiver has had some of this round's posts
                wait_for_posts(receiver, len(receiver.received) + rng.randint(1, NEW_CLIENTS_PER_ROUND // 2), child)
                time.sleep(rng.uniform(0, 0.02))
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL, f"the watcher ended by itself {where}: {child.stderr.read()}"
            child.stderr.close()
            changes = ledger.alerts.changes()
            assert_chains(changes, where)
            pending = [row for rows in ledger.alerts.deliveries(changes).values() for row in rows if not row.delivered_at]
            behind = ledger.store.touched_clients(ledger.alerts.checkpoint().position, ledger.store.head_position())
            interrupted += bool(pending or behind)

        completed = subprocess.run([*watch[:-2], "--once"], capture_output=True, text=True, env=environment, timeout=300)
        assert completed.returncode == 0, completed.stderr
        changes = ledger.alerts.changes()
        last = assert_chains(changes, f"(seed {seed}, at the end)")
        assert set(last) == set(earlier), f"clients without their change (seed {seed})"
        assert len(changes) > len(last), f"no client changed twice: the kills tested little (seed {seed})"
        final = {decision.client: decision for decision in ledger.decisions.evaluate(list(last), as_of=AS_OF)}
        for client, change in last.items():
            assert (change.to_verdict, set(change.fired)) == (final[client].verdict, set(final[client].fired)), seed
        logged = ledger.alerts.deliveries(changes)
        assert all(row.delivered_at for rows in logged.values() for row in rows), f"undelivered rows (seed {seed})"
        assert {change.id for change in changes} <= set(receiver.delivered()), f"changes never posted (seed {seed})"
        assert all(post.signed for post in receiver.received), f"a post not signed right (seed {seed})"
    print(f"{kills} kills, {interrupted} with work left undone; {len(changes)} changes, {len(receiver.received)} posts")
    assert interrupted >= KILLS_IN_FLIGHT, f"only {interrupted} of {kills} kills interrupted the watcher (seed {seed})"
