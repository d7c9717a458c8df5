"""How far long work done in the background has come, so that pages can say it instead of making the owner wait."""

from __future__ import annotations

import threading
import time
from typing import Callable

import attrs


@attrs.frozen
class Progress:
    """``done`` of ``total`` items (clients) after ``elapsed`` seconds."""

    done: int
    total: int
    elapsed: float

    @property
    def seconds_left(self) -> float | None:
        """The time the rest should take at the pace so far; None before the first item is done."""
        if not self.done:
            return None
        return self.elapsed * max(0, self.total - self.done) / self.done


class Tracker:
    """A count of items done that one thread advances and others read. Safe to share between threads."""

    def __init__(self, total: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._total = total
        self._clock = clock
        self._started = clock()
        self._done = 0
        self._lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self._done += count

    def progress(self) -> Progress:
        with self._lock:
            return Progress(min(self._done, self._total), self._total, self._clock() - self._started)
