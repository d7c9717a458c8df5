"""``evaluate --workers N``: the clients cut into chunks, decided by the calling process and N - 1 more.

The calling process takes chunks from the front of the clients, and the
other processes, from the back, until they meet: the caller decides from the
start while the others start (see :func:`start_method`: forked, each is up
at once; spawned, each imports what deciding needs first, a fifth of a second
or more), and they take as many chunks as they can decide in the time the
caller needs for the rest. Which clients are left is kept in shared memory,
so each process takes its next chunk itself the moment it is done with one:
no thread of the busy caller has to hand it out.
A chunk is a quarter of a process's share of the clients left (at most
:data:`MAX_CHUNK`), so the last ones are small and neither side waits long for
the other's last chunk.

Each other process opens its own ledger on the same database (``open_ledger``,
which the ledger gives: it must pickle, for a spawned process), keeps one
engine (durable-rules is one-thread-per-process bound), sends its decisions
back once the clients are all taken (each chunk's pickled as soon as it is
decided), and ends. The caller fixes the moment and the rule-set version
before anything starts, so the decisions are the ones a single process would
reach, in the same order.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from decimal import Decimal
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from typing import Callable, Iterator, Protocol, Sequence

from clientrules.adapters.durable_compile import NATIVE_MODULE
from clientrules.application.collector import caller_frozen_while_forking, collector_held
from clientrules.application.decisions import Decisions
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.domain.decisions import Decision
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Instant

#: most clients sent to a process at once (and recorded in one transaction)
MAX_CHUNK = 1_000
#: fewest clients sent at once as the two ends meet (unless the first chunks were smaller still): small enough
#: that neither side waits long for the other's last chunk, large enough that a chunk is decided as a pass over
#: many clients (from their kept facts: see :data:`~clientrules.application.decisions.KEPT_FROM_ONE_CALL`)
MIN_CHUNK = 250

#: what deciding a chunk gives: its decisions, and the (client, reason) of each client set aside
Decided = tuple[list[Decision], list[tuple[str, str]]]
#: what each chunk is decided with: the moment, the rule-set version's number, whether to record, and the portfolio's
#: value at the moment when the rules read ``revenue_share`` (computed once for every chunk: it reads every client)
Task = tuple[Instant, int, bool, Decimal | None]
#: what another process sends back for each chunk it took: where the chunk starts and ends among the clients, and
#: its :data:`Decided`, pickled, or the one-line error that stopped it
Sent = tuple[int, int, bytes | str]
#: bytes in shared memory (what ``context.RawArray("c", ...)`` makes)
SharedBytes = ctypes.Array[ctypes.c_char]


class DecidingLedger(Protocol):
    """What a deciding process needs of its ledger."""

    @property
    def rules(self) -> RuleVersions: ...

    @property
    def decisions(self) -> Decisions: ...

    def close(self) -> None: ...


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
    this one (deciding with ``here``) and ``workers - 1`` more.

    Decisions come in the order a single process gives them. Each process
    records its own chunks (one transaction per chunk). A client that cannot
    be decided goes to ``set_aside`` as in one process (without it, its error is raised).
    A process that cannot open the ledger leaves its share to the others; one
    that dies after taking clients is a :class:`ClientRulesError`, once the decisions before its clients are given.
    """
    if not clients:
        return
    reads_share = version.ruleset.facts_computed[1]
    task: Task = (moment, version.version, record, here.decisions.portfolio_value(moment) if reads_share else None)
    first = _quarter_share(len(clients), workers)
    if first >= len(clients):
        yield from _reported(_decide_with(here, list(clients), task), set_aside)
        return
    context = _context()
    split = _Split(context, len(clients), workers=workers, smallest=min(MIN_CHUNK, first))
    count = min(workers - 1, math.ceil(len(clients) / first) - 1)
    pickled = pickle.dumps(list(clients), protocol=pickle.HIGHEST_PROTOCOL)
    # in shared memory, not among the process's arguments: a spawned process reads those from a pipe only once it
    # has imported the library, and the caller would wait on that pipe instead of deciding
    shared = context.RawArray("c", len(pickled))
    shared.raw = pickled  # at once (given as the initializer, each byte would be one argument)
    with caller_frozen_while_forking() if isinstance(context, ForkContext) else contextlib.nullcontext():
        others = [_Other(context, open_ledger, split, shared, task) for _ in range(count)]
    try:
        while (chunk := split.take_front()) is not None:
            yield from _reported(_decide_with(here, list(clients[chunk[0]:chunk[1]]), task), set_aside)
    finally:
        taken = split.stop()
        sent = sorted((chunk for other in others for chunk in other.ended(at_once=not taken)), key=_start)
    for _, _, decided in sent:
        if isinstance(decided, str):
            raise ClientRulesError(decided)
        with collector_held():  # thousands of decisions in no cycle: no reason for the collector to walk the process
            unpickled: Decided = pickle.loads(decided)
        yield from _reported(unpickled, set_aside)
    if missing := taken - sum(end - start for start, end, _ in sent):
        codes = ", ".join(str(other.exit_code) for other in others)
        raise ClientRulesError(
            f"a process deciding clients ended without finishing (exit code {codes}): {missing:,} clients undecided"
        )


def start_method() -> str:
    """How the other processes start: ``"fork"`` where this process can be copied safely, else ``"spawn"``.

    A forked process is up at once, the library imported; a spawned one starts a new interpreter and imports the
    library first (a fifth of a second or more, while the second core idles). A fork copies the whole process, so
    it is used only where nothing copied can be caught half-done: on Linux, in a process running no other thread
    (none can hold a lock at the moment of the copy) and without durable-rules' native code loaded (its rulesets
    are that process's own state). Either way the other process opens a ledger of its own and never touches the
    caller's database connections.
    """
    if sys.platform == "linux" and threading.active_count() == 1 and NATIVE_MODULE not in sys.modules:
        return "fork"
    return "spawn"


def _context() -> ForkContext | SpawnContext:
    if start_method() == "fork":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _start(chunk: Sent) -> int:
    return chunk[0]


def _quarter_share(left: int, workers: int) -> int:
    """A quarter of one process's share of ``left`` clients, at most :data:`MAX_CHUNK`: the size of a chunk."""
    return min(MAX_CHUNK, math.ceil(left / (workers * 4)))


class _Split:
    """The clients not taken yet: from ``front`` up to ``back``. The caller takes chunks from the front and the
    other processes from the back, in shared memory (a spawned process gets it pickled; a forked one, copied)."""

    def __init__(self, context: ForkContext | SpawnContext, count: int, *, workers: int, smallest: int) -> None:
        self._ends = context.Array("q", [0, count, 0])  # front, back, and 1 once stopped
        self._count = count
        self._workers = workers
        self._smallest = smallest

    def take_front(self) -> tuple[int, int] | None:
        """The caller's next chunk (where it starts and ends); None once every client is taken."""
        with self._ends.get_lock():
            front, back, _ = self._ends[:]
            if front >= back:
                return None
            self._ends[0] = min(front + self._size(front, back), back)
            return front, self._ends[0]

    def take_back(self) -> tuple[int, int] | None:
        """Another process's next chunk; None once every client is taken, or the caller stopped."""
        with self._ends.get_lock():
            front, back, stopped = self._ends[:]
            if stopped or front >= back:
                return None
            self._ends[1] = max(back - self._size(front, back), front)
            return self._ends[1], back

    def stop(self) -> int:
        """The other processes take no more; how many clients they took."""
        with self._ends.get_lock():
            self._ends[2] = 1
            return self._count - int(self._ends[1])

    def _size(self, front: int, back: int) -> int:
        return max(self._smallest, _quarter_share(back - front, self._workers))


class _Other:
    """One of the other processes, deciding chunks from the back until the clients are all taken."""

    def __init__(
        self,
        context: ForkContext | SpawnContext,
        open_ledger: Callable[[], DecidingLedger],
        split: _Split,
        clients: SharedBytes,
        task: Task,
    ) -> None:
        self._receiving, sending = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_decide_from_back, args=(open_ledger, split, clients, task, sending), daemon=True
        )
        self._process.start()
        sending.close()  # the process holds its own end: one that dies leaves the pipe at its end of file

    def ended(self, *, at_once: bool) -> list[Sent]:
        """What the process sends back once the clients are all taken or the caller stopped (it takes no more
        then, and ends); nothing if it died first. ``at_once``: end it now instead (once stopped, a process that
        has taken no clients has nothing to send and will take none)."""
        try:
            if at_once:
                self._process.terminate()
                return []
            return self._receiving.recv()  # type: ignore[no-any-return]
        except EOFError:
            return []
        finally:
            self._receiving.close()
            self._process.join()

    @property
    def exit_code(self) -> int | None:
        return self._process.exitcode


def _decide_from_back(
    open_ledger: Callable[[], DecidingLedger], split: _Split, shared: SharedBytes, task: Task, sending: Connection
) -> None:
    """Another process: chunks from the back, each decided and pickled, until there are none; then all sent back.
    A ledger it cannot open leaves its share to the others; a chunk that fails stops it (the caller raises there)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the caller, which stops this
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked copy keeps the caller's handler: the caller's stop must end it
    sent: list[Sent] = []
    try:
        ledger = open_ledger()
    except Exception:  # the caller decides its share, and says why if it cannot either
        ledger = None
    if ledger is not None:
        clients: list[str] = pickle.loads(shared.raw)
        try:
            while (chunk := split.take_back()) is not None:
                start, end = chunk
                try:
                    decided = _decide_with(ledger, clients[start:end], task)
                except Exception as error:  # the caller raises it in one line, at the chunk's place
                    sent.append((start, end, str(error) or type(error).__name__))
                    break
                sent.append((start, end, pickle.dumps(decided, protocol=pickle.HIGHEST_PROTOCOL)))
        finally:
            ledger.close()
    try:
        sending.send(sent)
    except OSError:  # the caller is gone (stopped by Ctrl-C while it waited): there is no one to send them to
        pass
    sending.close()
    # ended here rather than by tearing the interpreter down, which takes tens of milliseconds the caller would
    # wait for: the ledger is closed and the decisions sent, and nothing else of this process is kept
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _reported(decided: Decided, set_aside: Callable[[str, str], None] | None) -> Iterator[Decision]:
    decisions, failed = decided
    for client, reason in failed:
        if set_aside is None:
            raise ClientRulesError(reason)
        set_aside(client, reason)
    yield from decisions


def _decide_with(ledger: DecidingLedger, clients: list[str], task: Task) -> Decided:
    moment, version, record, portfolio_value = task
    failed: list[tuple[str, str]] = []
    ruleset = ledger.rules.get(version)
    decisions = ledger.decisions.iter_evaluate(
        clients, as_of=moment, record=record, ruleset=ruleset, portfolio_value=portfolio_value,
        set_aside=lambda *client_reason: failed.append(client_reason), listed=True,
    )
    return list(decisions), failed
