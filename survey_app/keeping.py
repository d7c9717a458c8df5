"""The history kept for rule previews: ``clientrules serve`` folds every client once in a process of its own.

A rule change's preview replays the whole history under both rule sets;
with every client's facts at every monthly moment kept (``ledger.learning.
keep_history``) it folds no one and takes a second or two instead of a fold
of every client. A thread has them kept shortly after the start and again, at
most once an interval, after something new was recorded, each time by a
process of its own at a lower priority (``ledger.keep_history_apart``): the
folding does not hold the interpreter lock the pages need, and a crash in it
does not take the server down; the server then reads what was kept. A
preview asked before that keeps them itself (with its progress shown).
"""

from __future__ import annotations

import time
from typing import Callable

from clientrules import Ledger
from survey_app.background import BackgroundThread

#: what the server's log says each time the history was kept anew
KEPT = "kept the history for rule previews"
#: how long after the start the history is first kept: keeping shares the machine's cores with the pages' requests,
#: so an owner who opens the dashboard as the server starts is answered first
FIRST_KEPT_AFTER_SECONDS = 2.0


class HistoryKeeper(BackgroundThread):
    """The thread that has the history for previews kept, every ``interval`` seconds if it moved."""

    def __init__(self, ledger: Ledger, interval: float, say: Callable[[str], object]) -> None:
        super().__init__("clientrules-keep-history")
        self._ledger = ledger
        self._interval = interval
        self._say = say

    def _run(self) -> None:
        kept_at = -1
        self._stop.wait(FIRST_KEPT_AFTER_SECONDS)
        while not self._stop.is_set():
            try:
                position, started = self._ledger.head_position(), time.monotonic()
                if position != kept_at:
                    if self._ledger.keep_history_apart(self._stop):
                        self._say(f"{KEPT} in {time.monotonic() - started:.1f} s")
                    kept_at = position  # a history too long to keep is not looked at again until it moves
            except Exception as error:  # previews then fold the history themselves; the next attempt comes later
                self._say(f"keeping the history for rule previews: {str(error) or type(error).__name__}")
            self._stop.wait(self._interval)
