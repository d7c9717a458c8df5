"""The rules engine in a process of its own: when durable-rules dies, only that process dies.

durable-rules is C code with fixed-size tables; validation keeps rule sets
well below them (:mod:`clientrules.domain.rules.limits`), but a native crash
(a heap corruption aborts the process, a bad pointer segfaults it) cannot be
caught. So :class:`IsolatedEngine` sends the rule set, compiled to plain data
(:mod:`clientrules.adapters.durable_compile`), to a child process that runs it
(:class:`~clientrules.adapters.durable_run.DurableRun`), then the facts of many
clients per round trip.
If the child dies, the call raises :class:`EngineError` naming the rule-set
version, and the next call starts a new child: the web server, a worker or a
pool process goes on (survey links, other pages, other batches).

The child is a new interpreter (``python -m clientrules.adapters.engine_process``),
never a fork of the caller, whose threads and open connections a fork would
copy, started in the folder this ``clientrules`` was imported from, so that it
runs the same code whatever folder the caller runs in; it talks over its
standard input and output (pickled batches). What it
writes to standard error (the C library's ``free(): invalid size`` when the
heap is corrupt) is kept in a file, and its last line is named in the error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, Sequence

from clientrules.adapters.durable_compile import answers_name, compile_rules
from clientrules.domain.errors import EngineError
from clientrules.domain.decisions.reasons import FactsLike
from clientrules.domain.rules.model import RuleSet

#: the longest one round trip may take before the child is stopped
ROUND_TRIP_SECONDS = 120.0
#: the most clients sent in one round trip: a longer batch (a replay's every standing) takes several, and the
#: other threads' requests (a server's pages) get the engine between two instead of waiting for the whole batch
#: (at 64, evaluate's many small round trips cost it about 30% against the engine in its own process)
ROUND_TRIP_CLIENTS = 256
#: the child: a new interpreter running :mod:`clientrules.adapters.engine_process`
CHILD_COMMAND = (sys.executable, "-m", "clientrules.adapters.engine_process")
#: where the child runs: the folder this very ``clientrules`` was imported from, which ``-m`` puts first on the
#: child's module path (run in the caller's folder, a ``clientrules`` there would be imported instead)
CHILD_FOLDER = Path(__file__).resolve().parents[2]


def _ending(exit_code: int | None, said: str) -> str:
    """How a child process ended, in words, with the last line it wrote to standard error."""
    if exit_code is None:
        how = "it stopped answering"
    elif exit_code < 0:
        try:
            how = f"it was killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            how = f"it was killed by signal {-exit_code}"
    else:
        how = f"it exited with status {exit_code}"
    return f"{how}: {said}" if said else how


class IsolatedEngine:
    """Decides like :class:`~clientrules.adapters.durable.DurableEngine`, in a child process that may die.

    ``ruleset_version`` is a rule-set version (anything with ``version`` and
    ``ruleset``) or a bare :class:`RuleSet` (a draft: version 0). ``command``
    starts the child (a test passes one that crashes on purpose). Safe to
    share between threads (one round trip at a time).
    """

    #: the name its answers are kept under: those of durable-rules in this process
    answers_name = staticmethod(answers_name)

    def __init__(
        self,
        ruleset_version: Any,
        *,
        round_trip_seconds: float = ROUND_TRIP_SECONDS,
        command: Sequence[str] = CHILD_COMMAND,
    ) -> None:
        if isinstance(ruleset_version, RuleSet):
            self.ruleset, self.version = ruleset_version, 0
        else:
            self.ruleset, self.version = ruleset_version.ruleset, ruleset_version.version
        self._round_trip_seconds = round_trip_seconds
        self._command = list(command)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._to_child: Connection | None = None
        self._from_child: Connection | None = None
        with self._lock:
            self._started()  # the child starts up while the caller reads and folds the facts

    @property
    def pid(self) -> int | None:
        """The child's process id, or None before the first decision and after a crash."""
        return self._process.pid if self._process is not None else None

    def fired(self, facts: FactsLike, *, client: str = "") -> list[str]:
        """Only the ids of the rules that fire for ``facts``, in firing order."""
        return self.fired_batch([(client, facts)])[0]

    def fired_batch(self, requests: Sequence[tuple[str, FactsLike]]) -> list[list[str]]:
        """The rules fired for each ``(client, facts)``; :class:`EngineError` if the engine fails or dies.

        At most :data:`ROUND_TRIP_CLIENTS` clients a round trip."""
        fired: list[list[str]] = []
        for start in range(0, len(requests), ROUND_TRIP_CLIENTS):
            fired.extend(self._round_trip(requests[start : start + ROUND_TRIP_CLIENTS]))
        return fired

    def _round_trip(self, requests: Sequence[tuple[str, FactsLike]]) -> list[list[str]]:
        batch = [(client, dict(facts.values)) for client, facts in requests]
        with self._lock:
            to_child, from_child = self._started()
            try:
                to_child.send(batch)
                if not from_child.poll(self._round_trip_seconds):
                    raise TimeoutError
                outcome, answer = from_child.recv()
            except TimeoutError:
                self._stop()
                raise EngineError(
                    f"the rules engine took more than {self._round_trip_seconds:g} s for {len(batch)} clients "
                    f"under rule-set version {self.version} and was stopped"
                ) from None
            except (EOFError, OSError):
                said = self._last_said()
                ending = _ending(self._stop(), said)
                raise EngineError(
                    f"the rules engine failed under rule-set version {self.version} ({ending}); "
                    "nothing was decided, and the next evaluation starts it again"
                ) from None
        if outcome == "error":
            raise EngineError(answer)
        fired: list[list[str]] = answer
        return fired

    def _last_said(self) -> str:
        """The last line the child wrote to standard error (at most 200 characters), or nothing."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
        return lines[-1].strip()[:200] if lines else ""

    def _started(self) -> tuple[Connection, Connection]:
        if self._process is None:
            self._stderr = tempfile.TemporaryFile()
            process = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                close_fds=True,
                cwd=CHILD_FOLDER,
            )
            assert process.stdin is not None and process.stdout is not None
            self._to_child = Connection(os.dup(process.stdin.fileno()), readable=False)
            self._from_child = Connection(os.dup(process.stdout.fileno()), writable=False)
            process.stdin.close()
            process.stdout.close()
            self._process = process
            self._to_child.send(compile_rules(self.ruleset, self.version))
        assert self._to_child is not None and self._from_child is not None
        return self._to_child, self._from_child

    def _stop(self) -> int | None:
        """Stop the child (if it still runs) and forget it; its exit code."""
        process, connections, stderr = self._process, (self._to_child, self._from_child), self._stderr
        self._process = self._to_child = self._from_child = self._stderr = None
        for connection in connections:
            if connection is not None:
                connection.close()
        if stderr is not None:
            stderr.close()
        if process is None:
            return None
        try:
            return process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def close(self) -> None:
        """End the child process (a new one starts if the engine is used again)."""
        with self._lock:
            if self._to_child is not None:
                try:
                    self._to_child.send(None)
                except OSError:
                    pass
            self._stop()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self) -> IsolatedEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
