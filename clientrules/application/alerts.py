"""The watcher (``clientrules watch``, ``ledger.alerts``): a catch-up subscription that records decision changes.

A **pass** decides again the clients that need it, as of a moment T:

* those with an event stored since the checkpoint (cause ``event``);
* those whose schedule is due at T (cause ``time``): when a client is decided,
  :func:`~clientrules.domain.facts.schedule.next_change` gives the moment at
  which its facts can next change with no new event, and that moment is kept
  with what the watcher saw, so a daily pass over idle clients decides only
  the few that are due;
* every client when the current rule-set version is not the one of the
  checkpoint (cause ``rules``).

Each client whose verdict or set of fired rules differs from what the watcher
saw last gets a ``DecisionChanged`` event in its stream, and one outbox row per
delivery channel, written in the same transaction as its new state and (with
the last batch) the checkpoint (:meth:`~clientrules.ports.WatchStore.commit_watch`).
A crash before the commit leaves nothing, and the next pass decides the same
clients again; a crash between batches leaves whole batches, whose clients
then compare equal to what was stored. So each change is recorded exactly once.

The first pass sets the baseline: it decides every client and records no
change unless ``alert_baseline``.

**DeliveryRow** (:meth:`Watcher.deliver`) then hands the outbox rows that are due to
their channels (a webhook, the owner's digest, a handler of the embedding
program). Each row is marked delivered as soon as its channel says it was
(one post, one call, one mail), not after the batch: a crash in between
delivers that one row again, so delivery is at least once, never exactly
once; receivers de-duplicate by the change's ``id``. A failure is retried
later, with a backoff that doubles from :data:`FIRST_RETRY_SECONDS` up to
:data:`LONGEST_RETRY_SECONDS`.

While following (:meth:`Watcher.follow`), deliveries run in a thread of
their own, so a slow receiver never holds the passes; a stop request ends
the follower within :data:`STOP_SECONDS` even mid-delivery (a post cut
short is not marked, and is posted again by the next run).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import attrs

from clientrules.domain.alerts import Change, decision_change
from clientrules.domain.alerts.change import UNSEEN
from clientrules.domain.decisions.model import Decision
from clientrules.domain.errors import ClientRulesError, StoreError, UnknownClient
from clientrules.domain.events import Clock, Event, Instant, Moment, as_instant, moment_or_now
from clientrules.domain.facts import Facts
from clientrules.domain.facts.fold import REVENUE_SHARE
from clientrules.domain.facts.schedule import next_change
from clientrules.application.decisions import Decisions
from clientrules.domain.decisions.set_aside import UNDECIDABLE, decide_each_alone
from clientrules.application.engines import Engines
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.ports import (
    ClientQueries,
    DeliveryRow,
    DeliveryStore,
    EventLog,
    NewDelivery,
    WatchCheckpoint,
    Watched,
    WatcherBusy,
    WatchStore,
)

#: how long a client that could not be decided waits before the watcher tries it again (microseconds: an hour)
RETRY_SET_ASIDE_US = 3_600 * 1_000_000
#: clients decided and committed per transaction
PASS_BATCH = 1_000
#: outbox rows read per delivery batch
DELIVERY_BATCH = 1_000
FIRST_RETRY_SECONDS = 30.0
LONGEST_RETRY_SECONDS = 6 * 3600.0
#: the longest a follower waits for events before it looks at the clock again (stop requests are seen sooner)
WAKE_SECONDS = 1.0
#: the longest a follower waits for a delivery under way once asked to stop
STOP_SECONDS = 2.0


class Channel(Protocol):
    """Where changes are delivered: a webhook, the owner's digest, an embedding program's handler.

    ``name`` is stored with each outbox row, so it must stay the same from one
    run to the next for failed deliveries to reach the channel again.
    """

    @property
    def name(self) -> str: ...

    def first_attempt(self, now: float) -> float:
        """When to first deliver a change recorded at ``now`` (seconds since the epoch): ``now``, or later
        to gather changes (a daily digest)."""

    def deliver(self, changes: Sequence[Change]) -> Iterable[str | None]:
        """Deliver ``changes`` in order; for each one attempted, None (delivered) or why it failed.

        A channel may stop at a failure and give fewer outcomes than
        changes: those left are tried again on the next delivery. Given one
        at a time (a generator), each outcome is recorded as it comes.
        """


@attrs.frozen
class Handler:
    """A channel that calls ``function(change)`` for each change: an embedding program's own delivery.

    An exception counts as a failure (retried later with backoff); the call
    may come again for a change it has seen (at least once), so ``function``
    should de-duplicate by ``change.id``.
    """

    name: str
    function: Callable[[Change], object]

    def first_attempt(self, now: float) -> float:
        return now

    def deliver(self, changes: Sequence[Change]) -> Iterator[str | None]:
        for change in changes:
            try:
                self.function(change)
            except Exception as error:  # the handler's failure is recorded and retried, never raised
                yield f"{type(error).__name__}: {error}"[:500]
                return
            yield None


@attrs.frozen
class PassReport:
    """What one pass did: the checkpoint it reached (stored with its last batch: not when stopped before), the clients
    it decided, and the changes it recorded."""

    checkpoint: WatchCheckpoint
    decided: int
    changes: tuple[Change, ...]
    baseline: bool
    #: the clients that could not be decided, each with its one-line reason: tried again an hour later
    set_aside: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class DeliveryReport:
    """What one delivery round did: rows delivered, failed (to be retried later), and left due (a channel stopped)."""

    delivered: int
    failed: int
    waiting: int


class StoreForWatching(EventLog, ClientQueries, WatchStore, DeliveryStore, Protocol):
    """What the watcher reads and writes: the global log, which clients there are, and its own tables."""


class Watcher:
    """Follows the global log of one store and records the decision changes it sees (see the module)."""

    def __init__(
        self,
        store: StoreForWatching,
        decisions: Decisions,
        rules: RuleVersions,
        engines: Engines,
        *,
        clock: Clock,
    ) -> None:
        self._store = store
        self._decisions = decisions
        self._rules = rules
        self._engines = engines
        self._clock = clock
        #: the portfolio's value at the last whole pass, when the rules read revenue_share (None: not known)
        self._portfolio_seen: Decimal | None = None

    # --- running --------------------------------------------------------------------

    def once(
        self,
        *,
        channels: Sequence[Channel] = (),
        as_of: Moment | None = None,
        alert_baseline: bool = False,
    ) -> tuple[PassReport, DeliveryReport]:
        """One pass, then one delivery round, holding the watch lease (:class:`WatcherBusy` if another has it)."""
        lease = self._store.watch_lease()
        try:
            report = self.run_pass(as_of=as_of, alert_baseline=alert_baseline, channels=channels)
            return report, self.deliver(channels)
        finally:
            lease.release()

    def follow(
        self,
        stop: threading.Event,
        *,
        channels: Sequence[Channel] = (),
        as_of: Moment | None = None,
        alert_baseline: bool = False,
        interval: float = 60.0,
        on_pass: Callable[[PassReport, DeliveryReport], object] | None = None,
    ) -> None:
        """Pass and deliver, then wait for new events (or ``interval`` seconds, for the clock), until ``stop`` is set.

        While another process holds the lease, waits for it (checking every
        ``interval`` seconds), so a second follower is a hot standby.
        Deliveries run in a thread of their own (see the module), so
        ``on_pass`` gets each pass's report with what was delivered since the
        pass before. Returns at most :data:`STOP_SECONDS` after ``stop`` is
        set (which it also sets when a pass or a delivery fails, and raises).
        """
        lease = None
        while lease is None:
            try:
                lease = self._store.watch_lease()
            except WatcherBusy:
                if stop.wait(interval):
                    return
        deliveries = _Deliveries(self, channels, stop, interval)
        deliveries.start()
        try:
            while not stop.is_set():
                deliveries.raise_failure()
                report = self.run_pass(as_of=as_of, alert_baseline=alert_baseline, channels=channels, stop=stop)
                deliveries.wake()
                if on_pass is not None:
                    on_pass(report, deliveries.since_last())
                deadline = time.monotonic() + interval
                while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                    if lease.wait_for_events(report.checkpoint.position, min(WAKE_SECONDS, left)):
                        break
        finally:
            stop.set()
            deliveries.join(STOP_SECONDS)
            lease.release()

    # --- one pass -------------------------------------------------------------------

    def run_pass(
        self,
        *,
        as_of: Moment | None = None,
        alert_baseline: bool = False,
        channels: Sequence[Channel] = (),
        stop: threading.Event | None = None,
    ) -> PassReport:
        """Decide the clients that need it as of ``as_of`` (default: now) and record what changed.

        Call it with the lease held (:meth:`once`, :meth:`follow`); a
        concurrent pass fails with :class:`WatcherBusy` rather than record twice.
        With ``stop`` set, the pass ends after the batch under way, as a crash
        between batches would: the next pass decides the clients left.
        """
        moment = moment_or_now(as_of, self._clock)
        version = self._rules.current()
        expected = self._store.watch_checkpoint()
        checkpoint = WatchCheckpoint(self._store.head_position(), version.version)
        causes = self._causes(expected, checkpoint, moment)
        portfolio = self._portfolio_if_read(version, moment) if causes else None
        if portfolio is not None and portfolio != self._portfolio_seen:
            # every client's revenue_share moved with it: each is decided again, because of the events that moved it
            causes = {**dict.fromkeys(self._store.client_ids(), "event"), **causes}
        baseline = expected is None
        record = alert_baseline or not baseline
        grace_days = version.ruleset.parameters.grace_days
        ages = version.ruleset.age_thresholds()
        clients = list(causes)
        now = self._seconds()
        first_attempts = {channel.name: int(channel.first_attempt(now) * 1_000_000) for channel in channels}
        if len(first_attempts) < len(channels):
            raise ClientRulesError("two delivery channels have the same name: give each its own")
        changes: list[Change] = []
        set_aside: list[tuple[str, str]] = []
        if not clients and checkpoint == expected:
            return PassReport(checkpoint, 0, (), baseline)
        if clients:
            self._engines.prepare(version)  # an engine's process starts up while the first clients are read
        facts_of = self._decisions.facts_for(version, [moment])
        decided = 0
        for start in range(0, len(clients), PASS_BATCH) or [0]:
            if start and stop is not None and stop.is_set():
                break
            batch = clients[start : start + PASS_BATCH]
            previous = self._store.watched(batch)
            watched: dict[str, Watched] = {}
            events: list[Event] = []

            def set_aside_now(client: str, reason: str) -> None:
                """Tried again an hour later; what the watcher saw stays."""
                set_aside.append((client, reason))
                seen = previous.get(client)
                verdict, fired = UNSEEN if seen is None else (seen.verdict, seen.fired)
                watched[client] = Watched(verdict, fired, moment.key + RETRY_SET_ASIDE_US)

            def decide(clients: list[str]) -> list[tuple[str, Decision | None, Instant | None]]:
                """Each of ``clients`` with its decision (None: it has left) and when its facts next change."""
                left: list[str] = []
                pending: list[tuple[str, Facts]] = []
                due: dict[str, Instant | None] = {}
                for client, fold in self._decisions.iter_folds(clients):  # read in batches
                    if fold.status(moment).is_left:
                        left.append(client)
                        continue
                    pending.append((client, facts_of(fold, moment)))
                    due[client] = next_change(fold, moment, grace_days=grace_days, ages=ages)
                missing = set(clients) - set(left) - set(due)
                if missing:
                    raise UnknownClient(min(missing))
                decided = self._engines.decide_batch(pending, version)
                return [(client, None, None) for client in left] + [(d.client, d, due[d.client]) for d in decided]

            try:
                outcomes = decide(batch)
            except StoreError:
                raise
            except UNDECIDABLE:  # find which: each client alone, the others are decided
                outcomes = decide_each_alone(batch, decide, set_aside_now)
            for client, decision, when in outcomes:
                seen = previous.get(client)
                if decision is None:  # it has left: nothing to act on, no alert, and the last decision is kept
                    watched[client] = Watched(seen.verdict if seen else "keep", tuple(seen.fired) if seen else (), None)
                    continue
                watched[client] = Watched(decision.reached, decision.fired, None if when is None else when.key)
                event = decision_change(decision, None if seen is None else (seen.verdict, seen.fired), causes[client])
                if record and event is not None:
                    events.append(event)
            batch_changes = [Change.from_event(event) for event in events]
            last = start + PASS_BATCH >= len(clients)
            self._store.commit_watch(
                expected=expected,
                checkpoint=checkpoint if last else None,
                watched=watched,
                changes=events,
                deliveries=[
                    NewDelivery(
                        change.id, channel.name, change.client, json.dumps(change.to_json()), first_attempts[channel.name]
                    )
                    for change in batch_changes
                    for channel in channels
                ],
            )
            changes += batch_changes
            decided += len(batch)
        if decided == len(clients):
            self._portfolio_seen = portfolio
        return PassReport(checkpoint, decided, tuple(changes), baseline, tuple(set_aside))

    def _portfolio_if_read(self, version: RuleSetVersion, moment: Instant) -> Decimal | None:
        """The portfolio's value as of ``moment`` when a rule of ``version`` reads ``revenue_share`` (else None)."""
        return self._decisions.portfolio_value(moment) if REVENUE_SHARE in version.ruleset.facts_used else None

    def _causes(self, expected: WatchCheckpoint | None, checkpoint: WatchCheckpoint, moment: Instant) -> dict[str, str]:
        """The clients to decide, each with why, the strongest cause last written."""
        if expected is None:
            return dict.fromkeys(self._store.client_ids(), "baseline")
        if expected.ruleset_version != checkpoint.ruleset_version:
            causes = dict.fromkeys(self._store.client_ids(), "rules")
        else:
            causes = dict.fromkeys(self._store.due_clients(moment.key), "time")
        causes.update(dict.fromkeys(self._store.touched_clients(expected.position, checkpoint.position), "event"))
        return causes

    # --- delivery -------------------------------------------------------------------

    def deliver(self, channels: Sequence[Channel], *, stop: threading.Event | None = None) -> DeliveryReport:
        """Hand the due outbox rows of ``channels`` to them, :data:`DELIVERY_BATCH` at a time, until none is
        due, a batch delivers nothing or ``stop`` is set; record each outcome as it comes (see the module)."""
        now = self._seconds()
        by_channel = {channel.name: channel for channel in channels}
        delivered = failed = waiting = 0
        while by_channel:
            due = self._store.due_deliveries(int(now * 1_000_000), list(by_channel), limit=DELIVERY_BATCH)
            outcomes: list[str | None] = []
            for name, rows in _grouped(due):
                if stop is not None and stop.is_set():
                    break
                tried = by_channel[name].deliver([Change.from_json(json.loads(row.body)) for row in rows])
                for row, error in zip(rows, tried):
                    self._settle(row, error, now)
                    outcomes.append(error)
                    if stop is not None and stop.is_set():
                        break
            progress = outcomes.count(None)
            delivered, failed = delivered + progress, failed + len(outcomes) - progress
            waiting = len(due) - len(outcomes)
            if not progress or len(due) < DELIVERY_BATCH or (stop is not None and stop.is_set()):
                break
        return DeliveryReport(delivered, failed, waiting)

    def _seconds(self) -> float:
        """The clock's now in seconds since the epoch (when channels deliver and retry)."""
        return self._clock().key / 1_000_000

    def _settle(self, row: DeliveryRow, error: str | None, now: float) -> None:
        if error is None:
            delivered_at = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat()
            self._store.settle_delivery(row.id, delivered_at=delivered_at, error=None, next_attempt_key=int(now * 1e6))
        else:
            wait = min(FIRST_RETRY_SECONDS * 2**row.attempts, LONGEST_RETRY_SECONDS)
            self._store.settle_delivery(row.id, delivered_at=None, error=error, next_attempt_key=int((now + wait) * 1e6))

    # --- reading --------------------------------------------------------------------

    def changes(self, *, since: Moment | None = None, client: str | None = None) -> list[Change]:
        """The recorded changes, oldest first; only those at or after ``since``, only ``client``'s."""
        since_key = None if since is None else as_instant(since, field="since").key
        return [Change.from_event(e) for e in self._store.decision_changes(since_key=since_key, client=client)]

    def recent(self, *, days: int) -> list[Change]:
        """The changes recorded in the last ``days`` days (by the clock), oldest first."""
        since = Instant.from_datetime(self._clock().utc - dt.timedelta(days=days))
        return self.changes(since=since)

    def deliveries(self, changes: Sequence[Change]) -> dict[str, list[DeliveryRow]]:
        """The delivery rows of each of ``changes``, by change id (the delivery log)."""
        found: dict[str, list[DeliveryRow]] = {change.id: [] for change in changes}
        for row in self._store.deliveries_of(list(found)):
            found[row.change_id].append(row)
        return found

    def checkpoint(self) -> WatchCheckpoint | None:
        return self._store.watch_checkpoint()


class _Deliveries(threading.Thread):
    """A follower's deliveries, in a thread of their own: a round after each pass (and each ``interval``, for
    retries), the outcomes added up until the follower reports them."""

    def __init__(self, watcher: Watcher, channels: Sequence[Channel], stop: threading.Event, interval: float) -> None:
        super().__init__(name="deliveries", daemon=True)  # daemon: a post cut short by the process ending is retried
        self._watcher = watcher
        self._channels = channels
        self._stopping = stop
        self._interval = interval
        self._woken = threading.Event()
        self._lock = threading.Lock()
        self._counts = (0, 0, 0)
        self._failure: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                report = self._watcher.deliver(self._channels, stop=self._stopping)
                with self._lock:
                    delivered, failed, _ = self._counts
                    self._counts = (delivered + report.delivered, failed + report.failed, report.waiting)
                self._woken.wait(self._interval)
                self._woken.clear()
        except BaseException as error:  # handed to the follower, which raises it
            self._failure = error
            self._stopping.set()

    def wake(self) -> None:
        self._woken.set()

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def since_last(self) -> DeliveryReport:
        """What was delivered since the last call."""
        with self._lock:
            counts, self._counts = self._counts, (0, 0, 0)
        return DeliveryReport(*counts)


def _grouped(rows: Sequence[DeliveryRow]) -> Iterator[tuple[str, list[DeliveryRow]]]:
    """``rows`` by channel, each channel's in outbox order."""
    groups: dict[str, list[DeliveryRow]] = {}
    for row in rows:
        groups.setdefault(row.channel, []).append(row)
    yield from groups.items()


__all__ = [
    "Channel",
    "DeliveryRow",
    "DeliveryReport",
    "Handler",
    "PassReport",
    "StoreForWatching",
    "Watcher",
]
