"""The evaluation queue's tables in PostgreSQL: which clients to re-evaluate, claimed by workers with ``SKIP LOCKED``.

The :class:`~clientrules.application.evaluation_queue.WorkQueue` port over two
tables (migration 2 of :mod:`clientrules.adapters.store.postgres_schema`):
``evaluation_queue(client PRIMARY KEY, position, error)`` and
``evaluation_checkpoint(position)``. How workers use them is told in
:mod:`clientrules.application.evaluation_queue`.
"""

from __future__ import annotations

from typing import Callable

from clientrules.adapters.store.postgres import PostgresStore, one_row
from clientrules.domain.events import Event
from clientrules.domain.events.system import DecisionRecorded

#: most events read by one fill, to keep its transaction short
FILL_LIMIT = 100_000


class PostgresWorkQueue:
    """The queue of clients to re-evaluate, in the schema of a :class:`PostgresStore`."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

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
            head = one_row(
                connection.execute(
                    "SELECT MAX(position) FROM (SELECT position FROM events WHERE position > %s"
                    " ORDER BY position LIMIT %s) newer",
                    (checkpoint, FILL_LIMIT),
                )
            )[0]
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
            return int(head - checkpoint)

    def claim(
        self, size: int, decide: Callable[[list[str]], tuple[list[Event], list[tuple[str, str]]]]
    ) -> tuple[int, list[tuple[str, str]]]:
        """Claim up to ``size`` queued clients and, in the same transaction, append what ``decide`` makes of them.

        ``decide`` returns the events to record (one per decided client, none
        for a client that has left) and the clients it could not decide, with
        their error: those are set aside; every other claimed client leaves the
        queue. Returns how many were decided, and those set aside.
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
                return 0, []
            recorded, failed = decide(clients)
            self.store.append_in(connection, recorded)
            set_aside = {client for client, _ in failed}
            decided = [client for client in clients if client not in set_aside]
            connection.execute("DELETE FROM evaluation_queue WHERE client = ANY(%s)", (decided,))
            for client, error in failed:
                connection.execute("UPDATE evaluation_queue SET error = %s WHERE client = %s", (error, client))
            return len(decided), failed

    def failed(self) -> list[tuple[str, str]]:
        """The clients set aside, with the error of their last evaluation."""
        return [(row[0], row[1]) for row in self.store.read(
            "SELECT client, error FROM evaluation_queue WHERE error IS NOT NULL ORDER BY position"
        )]

    def pending(self) -> int:
        """How many clients wait for evaluation (claimed ones included, those set aside not)."""
        return int(self.store.read("SELECT COUNT(*) FROM evaluation_queue WHERE error IS NULL")[0][0])

    def checkpoint(self) -> int:
        """The position up to which the queue has been filled."""
        return int(self.store.read("SELECT position FROM evaluation_checkpoint")[0][0])
