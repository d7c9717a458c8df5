"""``clientrules worker``: re-evaluate the clients whose history changed, shared by workers through a queue.

The queue is a port (:class:`WorkQueue`); PostgreSQL implements it
(:mod:`clientrules.adapters.store.postgres_queue`) with two tables:

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
   events are appended and the queue rows deleted, then commit (a client that
   has left is decided with nothing to record: its row goes too). A worker
   killed before the commit leaves the rows queued and nothing recorded;
   another worker takes them. So each queued client is recorded exactly once.

A client that changes again while it is claimed is queued again by the next
fill, once the claim has ended, and evaluated again. A client whose evaluation
fails is set aside with its error (``db status`` lists it) instead of stopping
the batch, until a newer event queues it again.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

import attrs

from clientrules.application.decisions import Decisions
from clientrules.application.rule_versions import RuleVersions
from clientrules.domain.decisions import Decision
from clientrules.domain.errors import ClientRulesError, StoreError
from clientrules.domain.events import Clock, Event

#: clients claimed, decided and recorded per worker transaction
DEFAULT_BATCH = 50
POLL_SECONDS = 1.0


class WorkQueue(Protocol):
    """Clients waiting to be re-evaluated, claimed by one worker at a time."""

    def fill(self) -> int:
        """Queue the clients changed since the last fill; return how many events were read."""

    def claim(
        self, size: int, decide: Callable[[list[str]], tuple[list[Event], list[tuple[str, str]]]]
    ) -> tuple[int, list[tuple[str, str]]]:
        """Claim up to ``size`` clients and record what ``decide`` makes of them, in one transaction; return how
        many were decided (recorded, or found to have left) and those set aside, with their error."""

    def failed(self) -> list[tuple[str, str]]:
        """The clients set aside, with their error."""

    def pending(self) -> int:
        """How many clients wait."""

    def checkpoint(self) -> int:
        """The global position up to which the queue has been filled."""


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
    """Re-evaluation of the queued clients: claim a batch, decide it under the current rule set, record it."""

    def __init__(self, queue: WorkQueue, decisions: Decisions, rules: RuleVersions, *, clock: Clock) -> None:
        self.queue = queue
        self._decisions = decisions
        self._rules = rules
        self._clock = clock

    def fill(self) -> int:
        """Queue the clients changed since the checkpoint; return how many events were read (0: none new,
        or another worker is filling)."""
        return self.queue.fill()

    def process_batch(self, size: int = DEFAULT_BATCH) -> Batch:
        """Claim up to ``size`` queued clients, decide and record each, in one transaction.

        A client whose evaluation fails (a :class:`ClientRulesError` other than a
        store error) is set aside with its error, so that it does not stop the
        others; a newer event of that client queues it again.
        """
        evaluated, failed = self.queue.claim(size, self._record)
        return Batch(evaluated, tuple(failed))

    def _record(self, clients: list[str]) -> tuple[list[Event], list[tuple[str, str]]]:
        decisions, failed = self._decide(clients)
        return [decision.recorded_event(self._clock()) for decision in decisions if decision.verdict is not None], failed

    def _decide(self, clients: list[str]) -> tuple[list[Decision], list[tuple[str, str]]]:
        """The decisions of ``clients``, and (client, error) for those that cannot be decided."""
        version = self._rules.current()
        moment = self._clock()
        evaluate = self._decisions.evaluate
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
        return self.queue.failed()

    def pending(self) -> int:
        """How many clients wait for evaluation (claimed ones included, those set aside not)."""
        return self.queue.pending()

    def checkpoint(self) -> int:
        """The global position up to which the queue has been filled."""
        return self.queue.checkpoint()


def run_worker(
    queue: EvaluationQueue,
    *,
    batch: int = DEFAULT_BATCH,
    once: bool = False,
    idle_exit: float | None = None,
    poll: float = POLL_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> WorkerReport:
    """Fill, claim and record until stopped: with ``once``, until the queue is empty; with
    ``idle_exit``, after that many seconds without work; else forever (polling every ``poll`` s)."""
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
