"""What the views share, kept at ``app.extensions["clientrules"]``: the settings, the ledger, the login limiter, the report."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Deque

import attrs
from flask import current_app

from clientrules import Ledger, Settings

EXTENSION = "clientrules"


class LoginLimiter:
    """At most ``max_failures`` failed logins per address within ``window`` seconds (kept in memory).

    Thread-safe, and exact under concurrent requests: an attempt is counted
    as failed before the password is checked (:meth:`attempt`), so parallel
    guesses cannot slip past the limit while the slow hash runs. The count
    lives in this process: ``clientrules serve`` is one process (waitress
    threads), so the limit is exact there; several processes or servers each
    keep their own count.
    """

    def __init__(self, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, Deque[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, address: str) -> int:
        """Reserve one attempt for ``address``: 0 if it may try now (counted as failed until :meth:`succeeded`),
        else the seconds until it may."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) >= self.max_failures:
                return max(1, int(failures[0] + self.window - self._clock()) + 1)
            failures.append(self._clock())
            self._failures[address] = failures
            return 0

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> Deque[float]:
        """``address``'s failures within the window; an address with none is forgotten (memory stays bounded)."""
        failures = self._failures.pop(address, collections.deque())
        while failures and failures[0] <= self._clock() - self.window:
            failures.popleft()
        if failures:
            self._failures[address] = failures
        return failures


class ReportCache:
    """The latest report data, keyed by the database's head position."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = -1
        self._data: dict[str, Any] | None = None

    def get(self, position: int, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            if self._data is None or position != self._position:
                self._data, self._position = build(), position
            return self._data




@attrs.frozen
class AppState:
    """The app's share of the library; the ledger lives as long as the app."""

    settings: Settings
    ledger: Ledger
    limiter: LoginLimiter
    report_cache: ReportCache


def app_state() -> AppState:
    """The state of the app handling the current request."""
    state: AppState = current_app.extensions[EXTENSION]
    return state
