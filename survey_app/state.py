"""What the views share, kept at ``app.extensions["clientrules"]``: the settings, the ledger, the login limiter, the report,
the rule previews, the blank questionnaire pages."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Deque

import attrs
from flask import current_app

from clientrules import Ledger, Progress, Settings, Tracker

#: the most client reads (every client, once per pass) of a learning report built before answering; more are
#: read in the background
READS_AT_ONCE = 2_000

#: the rule-change previews kept, the latest asked for
PREVIEWS_KEPT = 8

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
    """The latest learning report's data, keyed by the database's head position, built in the background.

    While a report is built for a newer position, the one before it (if any)
    is served with the build's progress; up to :data:`READS_AT_ONCE` it is built
    before answering.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = -1
        self._data: dict[str, Any] | None = None
        self._tracker: Tracker | None = None
        self._failure: Exception | None = None

    def get(
        self, position: int, new_tracker: Callable[[], Tracker], build: Callable[[Tracker], dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, Progress | None]:
        """The data at ``position`` (None while the first is built) and, while one is built, its progress."""
        with self._lock:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            if self._data is not None and position == self._position:
                return self._data, None
            if self._tracker is None:
                tracker = new_tracker()
                if tracker.progress().total <= READS_AT_ONCE:
                    self._data, self._position = build(tracker), position
                    return self._data, None
                self._tracker = tracker
                threading.Thread(target=self._build, args=(position, build, tracker), name="learning report",
                                 daemon=True).start()
            return self._data, self._tracker.progress()

    def _build(self, position: int, build: Callable[[Tracker], dict[str, Any]], tracker: Tracker) -> None:
        try:
            data = build(tracker)
            with self._lock:
                self._data, self._position = data, position
        except Exception as failure:  # the thread has no one else to tell: the next look raises it
            self._failure = failure
        finally:
            self._tracker = None


@attrs.define
class Previewed:
    """A rule-change preview asked for: the candidate rule file, how the page names it, and its build."""

    candidate: str
    title: str
    note: str
    build: ReportCache = attrs.field(factory=ReportCache)
    #: how many of today's decisions the change turns, once the build knows (before its replay of the past)
    turned_today: int | None = None


class PreviewCache:
    """The rule-change previews last asked for (at most :data:`PREVIEWS_KEPT`), each built like the learning
    report: before answering up to :data:`READS_AT_ONCE` clients, else in the background with its progress."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked: collections.OrderedDict[str, Previewed] = collections.OrderedDict()

    def ask(self, key: str, candidate: str, title: str, note: str) -> Previewed:
        """The preview under ``key`` (the candidate, the rules and the history it is made against), kept."""
        with self._lock:
            asked = self._asked.pop(key, None) or Previewed(candidate, title, note)
            self._asked[key] = asked
            while len(self._asked) > PREVIEWS_KEPT:
                self._asked.popitem(last=False)
            return asked

    def asked(self, key: str) -> Previewed | None:
        """The preview kept under ``key``, if it still is."""
        with self._lock:
            return self._asked.get(key)


@attrs.frozen
class AppState:
    """The app's share of the library; the ledger lives as long as the app."""

    settings: Settings
    ledger: Ledger
    limiter: LoginLimiter
    report_cache: ReportCache
    preview_cache: PreviewCache
    #: the questionnaire page as a GET shows it, by its wording (``about``), with stand-ins for what is the link's own
    blank_questionnaires: dict[str, str] = attrs.field(factory=dict)


def app_state() -> AppState:
    """The state of the app handling the current request."""
    state: AppState = current_app.extensions[EXTENSION]
    return state
