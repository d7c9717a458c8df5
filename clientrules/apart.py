"""Long work on a ledger in a process of its own, at a lower priority, so that the process asking for it stays quick.

A server's background work (keeping the history for rule previews: seconds
of folding every client) run in one of its threads would hold the
interpreter lock its pages need, and slow every request while it lasts.
Run here, it shares the machine's cores with the pages instead, at a lower
priority, and a crash inside it (the rules engine is native code) ends that
process, not the server: the caller gets a :class:`ClientRulesError`.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any, Callable, Protocol, TypeVar

from clientrules.domain.errors import ClientRulesError

#: how much lower the work's priority is than the caller's (``nice``; where the system has it)
NICENESS = 10
#: how long a stopped caller waits for the work to reach a point where it can stop, before ending its process
STOP_SECONDS = 5.0
#: how often a waiting caller looks at its ``stop`` event
POLL_SECONDS = 0.1

T = TypeVar("T")


class ClosingLedger(Protocol):
    """What the work's process opens: a ledger it closes when the work is done."""

    def close(self) -> None: ...


L = TypeVar("L", bound=ClosingLedger)


def run_apart(
    open_ledger: Callable[[], L], work: Callable[[L, Callable[[], bool]], T], stop: threading.Event, *, name: str
) -> T:
    """``work(ledger, cancelled)`` in a new process (spawned: nothing inherited) on the ledger ``open_ledger``
    opens there; its result. Both must pickle (module-level functions, :func:`functools.partial`).

    ``cancelled`` turns true once ``stop`` is set; the work should then return soon. A process that is still
    busy :data:`STOP_SECONDS` after that is ended. Raises :class:`ClientRulesError` if the work raised (with its
    message) or its process died (with its exit code).
    """
    context = multiprocessing.get_context("spawn")
    cancelled = context.Event()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_work_in_this_process, args=(open_ledger, work, cancelled, sending), name=name)
    process.start()
    sending.close()  # the child holds its own end: a child that dies leaves the pipe at its end of file
    try:
        outcome = _awaited(receiving, process, cancelled, stop)
    finally:
        cancelled.set()
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join()
        receiving.close()
    if outcome is None:
        raise ClientRulesError(f"the process for {name} ended without finishing (exit code {process.exitcode})")
    done, value = outcome
    if not done:
        raise ClientRulesError(value)
    return value  # type: ignore[no-any-return]


def _awaited(
    receiving: Connection, process: BaseProcess, cancelled: ProcessEvent, stop: threading.Event
) -> tuple[bool, Any] | None:
    """What the work's process sent; None if it ended first, or did not answer within :data:`STOP_SECONDS` of
    ``stop`` (it is then ended)."""
    deadline = None
    while not receiving.poll(POLL_SECONDS):
        if deadline is None and stop.is_set():
            cancelled.set()
            deadline = time.monotonic() + STOP_SECONDS
        elif deadline is not None and time.monotonic() > deadline:
            process.terminate()
            return None
    try:
        return receiving.recv()  # type: ignore[no-any-return]
    except EOFError:
        return None


def _work_in_this_process(
    open_ledger: Callable[[], L],
    work: Callable[[L, Callable[[], bool]], T],
    cancelled: ProcessEvent,
    sending: Connection,
) -> None:
    """The work's process: ``(True, result)`` or ``(False, message)`` sent back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the caller, which stops this
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    outcome: tuple[bool, Any]
    try:
        ledger = open_ledger()
        try:
            outcome = (True, work(ledger, cancelled.is_set))
        finally:
            ledger.close()
    except Exception as error:  # the caller says what went wrong, in one line
        outcome = (False, str(error) or type(error).__name__)
    sending.send(outcome)
    sending.close()
