"""The watcher inside the web app: ``clientrules serve`` runs the catch-up of ``clientrules watch`` in a thread.

So What changed, the owner's digest and the webhooks work with the app alone.
The thread takes the same watch lease as ``clientrules watch``: while another
watcher holds it (a separate ``clientrules watch``, a second ``serve``) this
one waits as a hot standby, so two never process at once. If a pass fails, the
app keeps serving, the problem is shown on What changed, and the watcher tries
again after one interval. ``clientrules serve --no-watch`` leaves watching to
a watcher run apart.
"""

from __future__ import annotations

import time
from typing import Callable

from flask import Flask, current_app

from clientrules import DeliveryReport, Ledger, PassReport
from survey_app.background import BackgroundThread

EXTENSION = "clientrules_watch"


class KeptWatch(BackgroundThread):
    """The watcher's thread and what the owner pages say about it: when it last looked, what went wrong."""

    def __init__(self, ledger: Ledger, interval: float, say: Callable[[str], object]) -> None:
        super().__init__("clientrules-watch")
        self._ledger = ledger
        self._channels = ledger.alert_channels()  # a setting in error stops the start, not the thread later
        self.interval = interval
        self._say = say
        #: when the last pass ended (seconds since the epoch); None until the first one has
        self.last_pass: float | None = None
        #: why the last attempt failed, None once a pass succeeds again
        self.problem: str | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._ledger.alerts.follow(
                    self._stop, channels=self._channels, interval=self.interval, on_pass=self._passed
                )
            except Exception as error:  # the app keeps serving; the next attempt comes one interval later
                self.problem = str(error) or type(error).__name__
                self._say(f"watcher: {self.problem}; trying again in {self.interval:g} s")
                self._stop.wait(self.interval)

    def _passed(self, report: PassReport, delivered: DeliveryReport) -> None:
        self.last_pass, self.problem = time.time(), None
        if report.changes or delivered.failed:
            self._say(
                f"watcher: {len(report.changes)} changed of {report.decided} decided;"
                f" delivered {delivered.delivered}, failed {delivered.failed}"
            )


def keep_watch(app: Flask, ledger: Ledger, interval: float, say: Callable[[str], object]) -> KeptWatch:
    """Start watching ``ledger`` every ``interval`` seconds (new events wake it at once) beside ``app``."""
    watch = KeptWatch(ledger, interval, say)
    app.extensions[EXTENSION] = watch
    watch.start()
    return watch


def kept_watch() -> KeptWatch | None:
    """The watcher of the app handling the current request, None when it runs apart (or not at all)."""
    watch: KeptWatch | None = current_app.extensions.get(EXTENSION)
    return watch
