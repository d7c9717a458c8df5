"""``evaluate --workers N``: the clients cut into chunks, decided by the calling process and a pool of N - 1 more.

The calling process takes chunks from the front, and the pool, from the
back, two chunks per pool process at a time (one deciding, the next waiting)
from when that process is up, until they meet: the caller decides from the
start while the pool's processes start (each is spawned, imports the
library, opens the store and starts its engine: about half a second), and
the pool takes as many chunks as it can decide in the time the caller needs
for the rest. Each pool process opens its own ledger on the same database
(``open_ledger``, which the ledger gives: it must pickle) and keeps one engine
(durable-rules is one-thread-per-process bound). The caller fixes the moment
and the rule-set version before anything starts, so the decisions are the
ones a single process would reach, in the same order.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from decimal import Decimal
from typing import Callable, Iterator, Protocol, Sequence

from clientrules.application.decisions import Decisions
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.domain.decisions import Decision
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Instant

#: most clients sent to a process at once (and recorded in one transaction)
MAX_CHUNK = 1_000

#: what deciding a chunk gives: its decisions, and the (client, reason) of each client set aside
Decided = tuple[list[Decision], list[tuple[str, str]]]
#: what each chunk is decided with: the moment, the rule-set version's number, whether to record, and the portfolio's
#: value at the moment when the rules read ``revenue_share`` (computed once for every chunk: it reads every client)
Task = tuple[Instant, int, bool, Decimal | None]


class DecidingLedger(Protocol):
    """What a deciding process needs of its ledger."""

    @property
    def rules(self) -> RuleVersions: ...

    @property
    def decisions(self) -> Decisions: ...


#: the ledger of this pool process, opened by :func:`_open`
_process_ledger: DecidingLedger | None = None


def iter_evaluate_parallel(
    here: DecidingLedger,
    open_ledger: Callable[[], DecidingLedger],
    clients: Sequence[str],
    *,
    workers: int,
    moment: Instant,
    version: RuleSetVersion,
    record: bool = False,
    set_aside: Callable[[str, str], None] | None = None,
) -> Iterator[Decision]:
    """The decisions of ``clients`` (checked already) as of ``moment`` under ``version``, over ``workers`` processes:
    this one (deciding with ``here``) and a pool of ``workers - 1`` more.

    Decisions come in the order a single process gives them. Each process
    records its own chunks (one transaction per chunk). A client that cannot
    be decided goes to ``set_aside`` as in one process (without it, its error is raised).
    """
    if not clients:
        return
    size = min(MAX_CHUNK, math.ceil(len(clients) / (workers * 4)))
    chunks = [list(clients[start:start + size]) for start in range(0, len(clients), size)]
    reads_share = version.ruleset.facts_computed[1]
    task: Task = (moment, version.version, record, here.decisions.portfolio_value(moment) if reads_share else None)
    if len(chunks) == 1:
        yield from _reported(_decide_with(here, chunks[0], task), set_aside)
        return
    processes = min(workers - 1, len(chunks) - 1)
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),  # no inherited pool sockets or engine threads
        initializer=_open,
        initargs=(open_ledger,),
    )
    shares = _Shares(chunks, pool, task)
    try:
        shares.start(processes)
        while (index := shares.take_front()) is not None:
            yield from _reported(_decide_with(here, chunks[index], task), set_aside)
        for future in shares.taken_by_pool():
            yield from _reported(future.result(), set_aside)
    finally:
        shares.stop()
        pool.shutdown(wait=True, cancel_futures=True)


class _Shares:
    """Which chunks the caller decides (from the front) and which the pool does (from the back, one more each time a
    pool process finishes one), until the two meet. The pool's chunks are handed out by the pool's own thread, as
    each one is done."""

    def __init__(self, chunks: list[list[str]], pool: ProcessPoolExecutor, task: Task) -> None:
        self._chunks = chunks
        self._pool = pool
        self._task = task
        self._lock = threading.Lock()
        self._front = 0
        self._back = len(chunks)  # the pool has taken every chunk from here on
        self._futures: dict[int, Future[Decided]] = {}
        self._stopped = False

    def start(self, processes: int) -> None:
        """Give each of the pool's ``processes`` two chunks once it is up (so that a run the caller finishes before
        then waits for no chunk of the pool's): one to decide, and the next, so that it never waits for the caller
        (busy deciding its own) to hand it one. A pool that cannot start leaves every chunk to the caller."""
        for _ in range(processes):
            self._pool.submit(_ready).add_done_callback(self._up)

    def _up(self, ready: Future[None]) -> None:
        if not ready.cancelled() and ready.exception() is None:
            self._give_pool_one()
            self._give_pool_one()

    def take_front(self) -> int | None:
        """The next chunk for the caller; None once every chunk is taken."""
        with self._lock:
            if self._front >= self._back:
                return None
            self._front += 1
            return self._front - 1

    def taken_by_pool(self) -> list[Future[Decided]]:
        """The pool's chunks, in order (once the caller took its last one, the pool takes no more)."""
        with self._lock:
            return [self._futures[index] for index in range(self._back, len(self._chunks))]

    def stop(self) -> None:
        with self._lock:
            self._stopped = True

    def _give_pool_one(self) -> None:
        with self._lock:
            if self._stopped or self._back <= self._front:
                return
            index = self._back - 1
            try:
                future = self._pool.submit(_decide, self._chunks[index], self._task)
            except BrokenExecutor:  # a pool process died: the caller decides the rest, then raises at its chunk
                return
            self._back, self._futures[index] = index, future
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[Decided]) -> None:
        if not future.cancelled() and future.exception() is None:  # after a failure the caller decides the rest
            self._give_pool_one()


def _reported(decided: Decided, set_aside: Callable[[str, str], None] | None) -> Iterator[Decision]:
    decisions, failed = decided
    for client, reason in failed:
        if set_aside is None:
            raise ClientRulesError(reason)
        set_aside(client, reason)
    yield from decisions


def _open(open_ledger: Callable[[], DecidingLedger]) -> None:
    global _process_ledger
    _process_ledger = open_ledger()


def _ready() -> None:
    """Nothing: it returns once the pool process that runs it has opened its ledger."""


def _decide(clients: list[str], task: Task) -> Decided:
    assert _process_ledger is not None, "the pool's initializer opened the process's ledger"
    return _decide_with(_process_ledger, clients, task)


def _decide_with(ledger: DecidingLedger, clients: list[str], task: Task) -> Decided:
    moment, version, record, portfolio_value = task
    failed: list[tuple[str, str]] = []
    try:
        ruleset = ledger.rules.get(version)
        decisions = ledger.decisions.iter_evaluate(
            clients, as_of=moment, record=record, ruleset=ruleset, portfolio_value=portfolio_value,
            set_aside=lambda *client_reason: failed.append(client_reason),
        )
        return list(decisions), failed
    except ClientRulesError as error:  # subclasses with extra arguments do not survive pickling
        raise ClientRulesError(str(error)) from None
