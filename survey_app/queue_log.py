"""waitress's queue warnings in the server's log, summed up: one line a minute at most, in plain words.

waitress warns ``Task queue depth is N`` for every request that finds all its
threads busy: a burst of survey answers would write thousands of such lines a
minute into the log an owner reads. :class:`QueueSummary` lets the first through at
once, in words, then at most one every :data:`SUMMARY_SECONDS`, with the deepest queue and
the number of warnings since the last.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

#: the logger waitress warns on
QUEUE_LOGGER = "waitress.queue"
#: the fewest seconds between two lines about the queue
SUMMARY_SECONDS = 60.0


class QueueSummary(logging.Filter):
    """A filter for :data:`QUEUE_LOGGER`: see the module. ``clock``: seconds, monotonic."""

    def __init__(self, threads: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._threads = threads
        self._clock = clock
        self._lock = threading.Lock()
        self._last_said: float | None = None
        self._waits = 0
        self._deepest = 0

    def filter(self, record: logging.LogRecord) -> bool:
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        now = self._clock()
        with self._lock:
            self._waits += 1
            self._deepest = max(self._deepest, depth if isinstance(depth, int) else 0)
            if self._last_said is not None and now - self._last_said < SUMMARY_SECONDS:
                return False
            waits, deepest = self._waits, self._deepest
            first = self._last_said is None
            self._last_said, self._waits, self._deepest = now, 0, 0
        record.msg = _summary(waits, deepest, self._threads, first)
        record.args = ()
        return True


def _summary(waits: int, deepest: int, threads: int, first: bool) -> str:
    threads_text = "thread" if threads == 1 else "threads"
    if first:
        return (f"busy: a request waited for one of the server's {threads} {threads_text} "
                f"(said at most once a minute from now on)")
    requests = "request" if waits == 1 else "requests"
    return (f"busy: {waits:,} {requests} waited for one of the server's {threads} {threads_text} "
            f"since the last such line, up to {deepest:,} at once (--threads sets how many)")


def summarise_queue_warnings(threads: int) -> Callable[[], None]:
    """Filter waitress's queue warnings through a :class:`QueueSummary`; returns what removes the filter."""
    logger = logging.getLogger(QUEUE_LOGGER)
    summary = QueueSummary(threads)
    logger.addFilter(summary)
    return lambda: logger.removeFilter(summary)
