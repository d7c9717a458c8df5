"""``clientrules worker``: re-evaluate the clients whose history changed, shared by workers through PostgreSQL.

Two tables (migration 2 of :mod:`clientrules.adapters.store.postgres_schema`):

* ``evaluation_queue(client PRIMARY KEY, position)``: clients with an event
  newer than their last recorded decision, and the newest such position;
* ``evaluation_checkpoint(position)``: how far the queue has been filled.

A worker repeats three steps:

1. **fill** (one worker at a time: the checkpoint row is taken with ``FOR
   UPDATE SKIP LOCKED``): every client with an event after the checkpoint,
   other than its own ``DecisionRecorded``, system streams excluded, is queued,
   and the checkpoint moves to the last position read. Positions are gap-free
   and commit-ordered (:mod:`clientrules.adapters.store.postgres`), so no event behind
   the checkpoint can still appear;
2. **claim** a small batch, oldest change first, with ``FOR UPDATE SKIP
   LOCKED``: two workers never claim the same client, and neither waits for
   the other;
3. **decide and record** in the claiming transaction: the ``DecisionRecorded``
   events are appended and the queue rows deleted, then commit. A worker
   killed before the commit leaves the rows queued and nothing recorded;
   another worker takes them. So each queued client is recorded exactly once.

A client that changes again while it is claimed is queued again by the next
fill, once the claim has ended, and evaluated again. A client whose evaluation
fails is set aside with its error (``db status`` lists it) instead of stopping
the batch, until a newer event queues it again.
"""

from __future__ import annotations

import time
from typing import Callable

import attrs

from clientrules.domain.decisions import Decision
from clientrules.domain.errors import ClientRulesError, StoreError
from clientrules.domain.events import Instant
from clientrules.domain.events.system import DecisionRecorded
from clientrules.ledger import Ledger
from clientrules.adapters.store.postgres import PostgresStore
from clientrules.application.workers import DEFAULT_BATCH

#: most events read by one fill, to keep its transaction short
FILL_LIMIT = 100_000
POLL_SECONDS = 1.0


@attrs.frozen
class Batch:
    """What one claimed batch gave: how many clients were recorded, and those set aside with their error."""

    evaluated: int
    failed: tuple[tuple[str, str], ...]


@attrs.frozen
class WorkerReport:
    """What a worker run did."""

    evaluated: int
    batches: int
    failed: int = 0


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
                " SET position = GREATEST(evaluation_queue.position, EXCLUDED.position), error = NULL",
                (checkpoint, head, DecisionRecorded.TYPE),
            )
            connection.execute("UPDATE evaluation_checkpoint SET position = %s", (head,))
            return head - checkpoint

    def process_batch(self, size: int = DEFAULT_BATCH) -> Batch:
        """Claim up to ``size`` queued clients, decide and record each, in one transaction.

        A client whose evaluation fails (a :class:`ClientRulesError` other than a
        store error) is set aside with its error, so that it does not stop the
        others; a newer event of that client queues it again.
        """
        with self.store.transaction() as connection:
            clients = [
                row[0]
                for row in connection.execute(
                    "SELECT client FROM evaluation_queue WHERE error IS NULL"
                    " ORDER BY position LIMIT %s FOR UPDATE SKIP LOCKED",
                    (size,),
                )
            ]
            if not clients:
                return Batch(0, ())
            decisions, failed = self._decide(clients)
            self.store.append_in(connection, [decision.recorded_event(Instant.now()) for decision in decisions])
            connection.execute(
                "DELETE FROM evaluation_queue WHERE client = ANY(%s)", ([d.client for d in decisions],)
            )
            for client, error in failed:
                connection.execute("UPDATE evaluation_queue SET error = %s WHERE client = %s", (error, client))
            return Batch(len(decisions), tuple(failed))

    def _decide(self, clients: list[str]) -> tuple[list[Decision], list[tuple[str, str]]]:
        """The decisions of ``clients``, and (client, error) for those that cannot be decided."""
        version = self.ledger.rules.current()
        moment = Instant.now()
        evaluate = self.ledger.decisions.evaluate
        try:
            return evaluate(clients, as_of=moment, ruleset=version), []
        except StoreError:
            raise
        except ClientRulesError:
            pass  # find which: one at a time
        decisions, failed = [], []
        for client in clients:
            try:
                decisions.extend(evaluate([client], as_of=moment, ruleset=version))
            except StoreError:
                raise
            except ClientRulesError as error:
                failed.append((client, str(error)))
        return decisions, failed

    def failed(self) -> list[tuple[str, str]]:
        """The clients set aside, with the error of their last evaluation."""
        return [tuple(row) for row in self.store.read(  # type: ignore[misc]
            "SELECT client, error FROM evaluation_queue WHERE error IS NOT NULL ORDER BY position"
        )]

    def pending(self) -> int:
        """How many clients wait for evaluation (claimed ones included, those set aside not)."""
        return self.store.read("SELECT COUNT(*) FROM evaluation_queue WHERE error IS NULL")[0][0]

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
    evaluated = batches = failed = 0
    idle_since = time.monotonic()
    while True:
        queue.fill()
        done = queue.process_batch(batch)
        if done.evaluated or done.failed:
            evaluated += done.evaluated
            failed += len(done.failed)
            batches += 1
            idle_since = time.monotonic()
            if progress is not None:
                for client, error in done.failed:
                    progress(f"client {client!r} set aside: {error}")
                progress(f"evaluated {evaluated} clients")
            continue
        if once or (idle_exit is not None and time.monotonic() - idle_since >= idle_exit):
            return WorkerReport(evaluated, batches, failed)
        time.sleep(poll)
