"""``clientrules worker``: re-evaluate the clients whose history changed, shared by workers through PostgreSQL.

Two tables (migration 2 of :mod:`clientrules.store.postgres_schema`):

* ``evaluation_queue(client PRIMARY KEY, position)``: clients with an event
  newer than their last recorded decision, and the newest such position;
* ``evaluation_checkpoint(position)``: how far the queue has been filled.

A worker repeats three steps:

1. **fill** (one worker at a time: the checkpoint row is taken with ``FOR
   UPDATE SKIP LOCKED``): every client with an event after the checkpoint,
   other than its own ``DecisionRecorded``, system streams excluded, is queued,
   and the checkpoint moves to the last position read. Positions are gap-free
   and commit-ordered (:mod:`clientrules.store.postgres`), so no event behind
   the checkpoint can still appear;
2. **claim** a small batch, oldest change first, with ``FOR UPDATE SKIP
   LOCKED``: two workers never claim the same client, and neither waits for
   the other;
3. **decide and record** in the claiming transaction: the ``DecisionRecorded``
   events are appended and the queue rows deleted, then commit. A worker
   killed before the commit leaves the rows queued and nothing recorded;
   another worker takes them. So each queued client is recorded exactly once.

A client that changes again while it is claimed is queued again by the next
fill, once the claim has ended, and evaluated again.
"""

from __future__ import annotations

import time
from typing import Callable

import attrs

from clientrules.decisions.service import _recorded_event
from clientrules.errors import StoreError
from clientrules.events import Instant
from clientrules.events.system import DecisionRecorded
from clientrules.ledger import Ledger
from clientrules.store.postgres import PostgresStore
from clientrules.workers import DEFAULT_BATCH

#: most events read by one fill, to keep its transaction short
FILL_LIMIT = 100_000
POLL_SECONDS = 1.0


@attrs.frozen
class WorkerReport:
    """What a worker run did."""

    evaluated: int
    batches: int


class EvaluationQueue:
    """The queue of clients to re-evaluate, in a PostgreSQL ledger."""

    def __init__(self, ledger: Ledger) -> None:
        if not isinstance(ledger.store, PostgresStore):
            raise StoreError("the evaluation queue needs a PostgreSQL database (--db postgresql://...)")
        self.ledger = ledger
        self.store: PostgresStore = ledger.store

    def fill(self) -> int:
        """Queue the clients changed since the checkpoint; return how many events were read (0: none new,
        or another worker is filling)."""
        with self.store.transaction() as connection:
            row = connection.execute(
                "SELECT position FROM evaluation_checkpoint FOR UPDATE SKIP LOCKED"
            ).fetchone()
            if row is None:
                return 0
            checkpoint = row[0]
            # a statement of its own: every position up to this one is committed and visible to the next
            head = connection.execute(
                "SELECT MAX(position) FROM (SELECT position FROM events WHERE position > %s"
                " ORDER BY position LIMIT %s) newer",
                (checkpoint, FILL_LIMIT),
            ).fetchone()[0]
            if head is None:
                return 0
            connection.execute(
                "INSERT INTO evaluation_queue (client, position)"
                " SELECT stream, MAX(position) FROM events"
                " WHERE position > %s AND position <= %s AND stream NOT LIKE '$%%' AND type <> %s"
                " GROUP BY stream"
                " ON CONFLICT (client) DO UPDATE"
                " SET position = GREATEST(evaluation_queue.position, EXCLUDED.position)",
                (checkpoint, head, DecisionRecorded.TYPE),
            )
            connection.execute("UPDATE evaluation_checkpoint SET position = %s", (head,))
            return head - checkpoint

    def process_batch(self, size: int = DEFAULT_BATCH) -> int:
        """Claim up to ``size`` queued clients, decide and record each, in one transaction; return how many."""
        with self.store.transaction() as connection:
            clients = [
                row[0]
                for row in connection.execute(
                    "SELECT client FROM evaluation_queue ORDER BY position LIMIT %s FOR UPDATE SKIP LOCKED",
                    (size,),
                )
            ]
            if not clients:
                return 0
            version = self.ledger.rules.current()
            decisions = self.ledger.decisions.evaluate(clients, as_of=Instant.now(), ruleset=version)
            self.store.append_in(connection, [_recorded_event(decision) for decision in decisions])
            connection.execute("DELETE FROM evaluation_queue WHERE client = ANY(%s)", (clients,))
            return len(clients)

    def pending(self) -> int:
        """How many clients are queued (claimed ones included)."""
        return self.store.read("SELECT COUNT(*) FROM evaluation_queue")[0][0]

    def checkpoint(self) -> int:
        return self.store.read("SELECT position FROM evaluation_checkpoint")[0][0]


def run_worker(
    ledger: Ledger,
    *,
    batch: int = DEFAULT_BATCH,
    once: bool = False,
    idle_exit: float | None = None,
    poll: float = POLL_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> WorkerReport:
    """Fill, claim and record until stopped: with ``once``, until the queue is empty; with
    ``idle_exit``, after that many seconds without work; else forever (polling every ``poll`` s)."""
    queue = EvaluationQueue(ledger)
    evaluated = batches = 0
    idle_since = time.monotonic()
    while True:
        queue.fill()
        done = queue.process_batch(batch)
        if done:
            evaluated += done
            batches += 1
            idle_since = time.monotonic()
            if progress is not None:
                progress(f"evaluated {evaluated} clients")
            continue
        if once or (idle_exit is not None and time.monotonic() - idle_since >= idle_exit):
            return WorkerReport(evaluated, batches)
        time.sleep(poll)

