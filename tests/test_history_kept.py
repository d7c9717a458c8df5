"""``clientrules serve`` keeps the history for rule previews in a thread of its own: at the start, and again
after something new is recorded; stopping the server stops it."""

from __future__ import annotations

import threading
import time

from test_serve_watch import DAY, Served, environment, shop  # noqa: F401  (the database fixture)

from clientrules import IncidentReported, Ledger
from survey_app.keeping import KEPT, HistoryKeeper

DEADLINE_SECONDS = 60


def test_serve_keeps_the_history_at_its_start_and_stops_cleanly(shop):  # noqa: F811
    served = Served(shop, "--no-watch", env=environment())
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while KEPT not in served.stderr():
            assert served.process.poll() is None, served.stderr()
            assert time.monotonic() < deadline, served.stderr()
            time.sleep(0.1)
    finally:
        said = served.stop()
    assert served.process.returncode == 0, said
    assert "Traceback" not in said


def test_the_history_is_kept_again_after_something_new_is_recorded(shop):  # noqa: F811
    said: list[str] = []
    kept_twice = threading.Event()

    def tell(line: str) -> None:
        said.append(line)
        if sum(KEPT in line for line in said) == 2:
            kept_twice.set()

    with Ledger.open(shop) as ledger:
        keeper = HistoryKeeper(ledger, 0.1, tell)
        keeper.start()
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while not said:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            ledger.record("acme", IncidentReported(kind="rude", against="staff", severity=2), DAY[5])
            assert kept_twice.wait(DEADLINE_SECONDS), said
        finally:
            keeper.stop()
        assert all(KEPT in line for line in said), said
        assert ledger.learning.keep_history()  # kept at the head: nothing to do
