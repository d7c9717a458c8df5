"""waitress's ``Task queue depth`` warnings, summed up in the server's log: one line a minute at most, in words."""

from __future__ import annotations

import logging
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_serve_watch import DEADLINE_SECONDS, Served, environment

from clientrules import ClientOnboarded, Ledger
from survey_app.queue_log import QUEUE_LOGGER, SUMMARY_SECONDS, QueueSummary


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def said() -> list[str]:
    """The lines waitress's queue logger lets through, each as formatted."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(QUEUE_LOGGER)
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def warn(depth: int) -> None:
    logging.getLogger(QUEUE_LOGGER).warning("Task queue depth is %d", depth)  # as waitress words it


def test_the_first_wait_is_said_at_once_then_a_summary_at_most_once_a_minute(said):
    clock = Clock()
    summary = QueueSummary(4, clock)
    logging.getLogger(QUEUE_LOGGER).addFilter(summary)
    try:
        warn(1)
        for depth in [2, 7, 3] * 100:
            clock.now += 0.1
            warn(depth)
        assert said == ["busy: a request waited for one of the server's 4 threads (said at most once a minute from now on)"]
        clock.now += SUMMARY_SECONDS
        warn(1)
        assert said[1:] == [
            "busy: 301 requests waited for one of the server's 4 threads since the last such line, up to 7 at once "
            "(--threads sets how many)"
        ]
        clock.now += SUMMARY_SECONDS - 1
        warn(2)
        assert len(said) == 2
    finally:
        logging.getLogger(QUEUE_LOGGER).removeFilter(summary)
    warn(5)
    assert said[2:] == ["Task queue depth is 5"]  # the filter is gone


def test_a_busy_server_says_so_in_one_line_not_one_per_request(db_url):
    with Ledger.open(db_url) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme Trading"), "2026-01-05")
    served = Served(db_url, "--threads", "1", "--no-watch", env=environment())

    def health(_: int) -> int:
        with urllib.request.urlopen(served.url("/healthz"), timeout=DEADLINE_SECONDS) as response:
            return response.status

    try:
        with ThreadPoolExecutor(16) as requests:
            assert set(requests.map(health, range(800))) == {200}
    finally:
        log = served.stop()
    assert "Task queue depth" not in log
    assert [line for line in log.splitlines() if line.startswith("busy:")] == [
        "busy: a request waited for one of the server's 1 thread (said at most once a minute from now on)"
    ]
