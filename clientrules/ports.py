"""The ports: what the application needs from the world, as typing Protocols.

The adapters (:mod:`clientrules.adapters`) implement them with real
technology, and the services (:mod:`clientrules.application`) receive them:

* the event store, split by capability as ``eventsourcing`` splits its
  recorders: :class:`EventStreams` (each client's stream), :class:`EventLog`
  (every event in global order), :class:`ClientQueries` (which clients
  there are), :class:`KeyStore` (personal-data keys and erasure),
  :class:`StoredSettings` (values kept with the database), :class:`FoldStore`
  (each client's fold beside its stream), :class:`FactsStore` (each
  client's latest computed facts), :class:`StandingsStore` (the
  owner's portfolio kept between runs), :class:`KeptMomentsStore` (the
  learning loop's kept moments), :class:`WatchStore` (the watcher's
  checkpoint and state) and :class:`DeliveryStore` (the outbox of decision
  changes); :class:`EventStore` is all of them, as every backend provides;
* :class:`DecisionEngine`, a compiled rule set that tells which rules fire
  on a client's facts, and :class:`EngineFactory`, which compiles one;
* :class:`~clientrules.domain.events.Clock`, the time now (declared beside
  :class:`~clientrules.domain.events.Instant`, as the domain's survey links need it too).

Guarantees every store backend gives, enforced by the database itself:

* append-only: an ``UPDATE`` or ``DELETE`` of a stored event fails;
* a per-client ``version`` (1, 2, ... in append order) with optimistic
  concurrency: ``append(..., expected_version=n)`` raises
  :class:`~clientrules.domain.errors.ConcurrencyError` unless the client is at ``n``;
* a global ``position`` (1, 2, ...) that a reader following all events in
  order never skips, even with concurrent writers;
* idempotent appends by event id: an event whose id is stored already is
  skipped and counted as ``already_present``;
* a batch is one transaction: all of it is stored, or none;
* personal fields are encrypted with their client's key before they are
  written, and read as erased once :meth:`KeyStore.erase` destroyed it
  (:mod:`clientrules.domain.privacy`).
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Collection, Iterable, Iterator, Mapping, Protocol, Sequence

import attrs

from clientrules.domain.decisions.reasons import FactsLike
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Event, Instant
from clientrules.domain.privacy import ClientKey, Erasure
from clientrules.domain.rules.model import RuleSet
from clientrules.domain.survey import Invitation


@attrs.frozen
class AppendResult:
    """What an append did: how many events were stored, how many were there already."""

    stored: int
    already_present: int
    #: the client's version after the append (single-client appends), else None
    version: int | None = None
    #: the global position of the last event stored by this append, else None
    last_position: int | None = None

    def stored_event(self, event: Event) -> Event:
        """``event``, the one event this append stored, with the version and position it was given."""
        assert self.version is not None and self.last_position is not None, "a one-event append stored it"
        return event.stored(self.version, self.last_position)


@attrs.frozen
class ClientSummary:
    client: str
    events: int
    first_at: Instant
    last_at: Instant


class EventStreams(Protocol):
    """Each client's append-only stream of events."""

    def append(self, events: Iterable[Event], *, expected_version: int | None = None) -> AppendResult:
        """Store ``events`` (any iterable, a generator too: read in batches) in one transaction.

        With ``expected_version`` every event must belong to one client, which
        must be at exactly that version (0: no event yet), else
        :class:`~clientrules.domain.errors.ConcurrencyError` and nothing is
        stored. Events whose id is already stored are skipped (idempotent retry).
        """

    def read_client(
        self, client: str, *, until: Instant | None = None, after_version: int = 0
    ) -> list[Event]:
        """The client's events in time order (``at``, then append order); only ``at <= until``."""

    def client_version(self, client: str) -> int:
        """The client's current version (0 when it has no event)."""

    def client_versions(self, clients: Collection[str]) -> dict[str, int]:
        """:meth:`client_version` of each of ``clients``, in one read."""


class EventLog(Protocol):
    """Every stored event, of every stream, in global position order."""

    def read_all(self, *, after_position: int = 0, limit: int | None = None) -> list[Event]:
        """Events of every stream in global position order, after ``after_position``."""

    def iter_all(self, *, after_position: int = 0, batch: int = 10_000) -> Iterator[Event]:
        """Every event after ``after_position`` in position order, read in batches."""

    def iter_types(self, types: Collection[str], *, batch: int = 10_000) -> Iterator[Event]:
        """Every event whose type is one of ``types``, of every stream, in global position order, read in batches."""

    def head_position(self) -> int:
        """The position of the last stored event (0 when empty)."""

    def changed_clients(self, after_position: int) -> list[str]:
        """Client ids with an event after ``after_position``."""


class ClientQueries(Protocol):
    """Which clients there are."""

    def clients(self) -> list[ClientSummary]:
        """Every client stream (system streams, whose names start with ``$``, excluded)."""

    def client_ids(self, *, started_by: Instant | None = None) -> list[str]:
        """The ids of :meth:`clients`, in the same order; only those with an event at or before ``started_by``.

        For going through every client: no summaries are built, so memory is a
        few dozen bytes per client.
        """


class KeyStore(Protocol):
    """The per-client keys that seal personal fields, and their destruction."""

    def client_keys(self, clients: Collection[str]) -> Mapping[str, ClientKey]:
        """The data keys of those of ``clients`` that have one."""

    def erase(self, erasure: Event) -> Erasure:
        """Destroy the data key of ``erasure``'s client and append ``erasure`` (a ``PersonalDataErased``), in one transaction.

        From then on the client's personal fields read as erased. With no key
        to destroy and an earlier ``PersonalDataErased`` stored, nothing is
        written and :class:`~clientrules.domain.privacy.Erasure` names the earlier one.
        """


class StoredSettings(Protocol):
    """Values kept with the database, which can be added but never changed."""

    def get_meta(self, key: str) -> str | None:
        """A setting kept with the database (e.g. the survey signing secret)."""

    def put_meta_if_absent(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless one is there; return the value in force."""


class DecisionEngine(Protocol):
    """One rule set, compiled: which of its rules fire on a client's facts."""

    def fired(self, facts: FactsLike, *, client: str = "") -> list[str]:
        """The ids of the rules that fire for ``facts``, in firing order."""

    def fired_batch(self, requests: Sequence[tuple[str, FactsLike]]) -> list[list[str]]:
        """:meth:`fired` for many ``(client, facts)``, in order (an engine in another process: one round trip)."""

    def close(self) -> None:
        """Free what the compiled rule set holds."""


class EngineFactory(Protocol):
    """Compiles a rule-set version (anything with ``version`` and ``ruleset``) into a :class:`DecisionEngine`."""

    def __call__(self, version: VersionedRuleSet, /) -> DecisionEngine: ...


class VersionedRuleSet(Protocol):
    """A rule set with the version number it was adopted as (0: a draft)."""

    @property
    def version(self) -> int: ...

    @property
    def ruleset(self) -> RuleSet: ...


@attrs.frozen
class StoredFold:
    """One client's fold as a store keeps it: a cache of its facts' inputs, never a source of truth.

    ``data`` is opaque to the store (:mod:`clientrules.domain.facts.stored`
    writes and checks it); ``version`` is the stream version the fold has
    seen, ``format`` the fold format it was written in.
    """

    client: str
    version: int
    format: str
    data: str


@attrs.frozen
class StreamTail:
    """A client's stored fold (None: none stored) and its events stored after the fold's version.

    When the stored fold is in another format than the one asked for, ``events`` is the whole stream.
    """

    client: str
    fold: StoredFold | None
    events: list[Event]


class FoldStore(Protocol):
    """A store that keeps each client's fold beside its stream (a snapshot, in event-store words)."""

    def read_folds(self, clients: Sequence[str], *, format: str) -> Iterator[StreamTail]:
        """Each of ``clients`` (in any order) with a stream: its stored fold and the events after it.

        A few queries for the whole sequence, whatever its length; events in
        any order (a fold orders them).
        """

    def write_folds(self, folds: Iterable[StoredFold]) -> int:
        """Store ``folds`` in one transaction of their own; return how many were written.

        A fold replaces the client's stored one unless that one is in the same
        format and has seen a newer version (a slower writer never goes back).
        """


@attrs.frozen
class StoredFacts:
    """One client's facts at a moment as a store keeps them: a cache, never a source of truth.

    ``data`` is opaque to the store; ``version`` is the stream version they
    were computed at, ``format`` the format they were written in.
    """

    client: str
    version: int
    format: str
    data: str


class FactsStore(Protocol):
    """A store that keeps each client's latest computed facts beside its stream."""

    def read_stored_facts(self, clients: Sequence[str], *, format: str) -> dict[str, StoredFacts]:
        """The stored facts of those of ``clients`` that are in ``format`` and of their stream's current version.

        Facts of an earlier version, or in another format, are left out. A few
        statements for the whole sequence, whatever its length (chunked like
        :meth:`FoldStore.read_folds`).
        """

    def write_stored_facts(self, facts: Iterable[StoredFacts]) -> int:
        """Store ``facts`` in one transaction of their own, each replacing its client's; return how many."""


class EngineAnswersStore(Protocol):
    """A store that keeps the rules engine's answers by standing, per compiled rule set (a cache, never a source of
    truth): a later process asks the engine only about standings it was never asked about.

    Names and texts are opaque to the store (:mod:`clientrules.application.kept_answers` writes and checks them);
    they hold no personal field.
    """

    def read_engine_answers(self, rules: str) -> dict[str, str]:
        """Every answer kept for the compiled rule set named ``rules``: standing -> answer."""

    def write_engine_answers(self, rules: str, answers: Mapping[str, str]) -> int:
        """Keep ``answers`` (standing -> answer) for ``rules`` in one transaction of their own; a standing kept
        already keeps the answer it has. Return how many were new."""


@attrs.frozen
class StoredStandings:
    """Every client's standing as the owner's portfolio last decided them: a cache, never a source of truth.

    ``data`` is opaque to the store (:mod:`clientrules.application.portfolio`
    writes and checks it); ``position`` is the head position and
    ``ruleset_version`` the rule-set version they were decided at, ``format``
    the format they were written in.
    """

    position: int
    ruleset_version: int
    format: str
    data: str


class StandingsStore(Protocol):
    """A store that keeps the portfolio's standings between runs, so a start can show them at once.

    Standings hold personal fields (names): an erasure deletes them in its transaction.
    """

    def read_standings(self) -> StoredStandings | None:
        """The standings last written, None when none are (or an erasure removed them)."""

    def write_standings(self, standings: StoredStandings) -> bool:
        """Replace the stored standings unless those are of a later position (a slower writer never goes
        back); whether they were written."""


class KeptMomentsStore(Protocol):
    """A store that keeps the learning loop's kept moments between runs (a cache, never a source of truth).

    ``data`` is opaque to the store (:mod:`clientrules.domain.learning.kept_format` writes and reads it); it
    holds no personal field.
    """

    def read_kept_moments(self) -> bytes | None:
        """The kept moments last written, None when none are."""

    def write_kept_moments(self, data: bytes) -> None:
        """Replace the kept moments (the last writer's stay: each says which version of every stream it kept)."""


@attrs.frozen
class WatchCheckpoint:
    """How far the watcher has read the global log, and under which rule-set version it decided."""

    position: int
    ruleset_version: int


@attrs.frozen
class Watched:
    """What the watcher last saw of one client, and when its facts can next change with time alone."""

    verdict: str
    fired: tuple[str, ...]
    #: the moment (microseconds since the epoch) to re-decide the client at, None: only when an event comes
    due_key: int | None


@attrs.frozen
class NewDelivery:
    """A change to deliver through one channel (``webhook``, ``digest``, a handler's name)."""

    change_id: str
    channel: str
    client: str
    #: the change as JSON text (what a webhook posts)
    body: str
    #: when to make the first attempt (microseconds since the epoch)
    due_key: int


@attrs.frozen
class DeliveryRow:
    """A change's delivery through one channel, from the outbox: pending until ``delivered_at`` is set."""

    id: int
    change_id: str
    channel: str
    client: str
    body: str
    attempts: int
    created_at: str
    next_attempt_key: int
    delivered_at: str | None
    last_error: str | None


class WatcherBusy(ClientRulesError):
    """Another watcher holds the database's watch lease, or moved the checkpoint under this one."""

    @classmethod
    def unless_at(cls, expected: WatchCheckpoint | None, current: WatchCheckpoint | None) -> None:
        """Raise unless the checkpoint ``current`` (read in the committing transaction) is ``expected``."""
        if current != expected:
            where = f"position {current.position}" if current else "no checkpoint"
            raise cls(f"another watcher moved the checkpoint (now at {where}): nothing was stored; run again")


class WatchLease(Protocol):
    """The right to watch a database, held until released (or the process ends)."""

    def wait_for_events(self, after_position: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an event after ``after_position``; whether one is there."""

    def release(self) -> None: ...


class WatchStore(Protocol):
    """The watcher's state (``clientrules watch``): its checkpoint, what it saw of each client, its schedule.

    :meth:`commit_watch` writes the decision changes (``DecisionChanged``
    events), their outbox rows, the clients' new state and the checkpoint in
    one transaction, so a crash leaves all of them or none.
    """

    def watch_lease(self) -> WatchLease:
        """Take the lease; :class:`WatcherBusy` if another process holds it."""

    def watch_checkpoint(self) -> WatchCheckpoint | None:
        """The checkpoint, None before the first (baseline) pass."""

    def touched_clients(self, after_position: int, until_position: int) -> list[str]:
        """Clients with an event at a position in ``(after, until]`` other than a ``DecisionChanged``."""

    def due_clients(self, moment_key: int) -> list[str]:
        """Clients whose schedule is due at ``moment_key`` (microseconds since the epoch)."""

    def watched(self, clients: Collection[str]) -> dict[str, Watched]:
        """What the watcher last saw of those of ``clients`` it has seen."""

    def commit_watch(
        self,
        *,
        expected: WatchCheckpoint | None,
        checkpoint: WatchCheckpoint | None,
        watched: Mapping[str, Watched],
        changes: Sequence[Event],
        deliveries: Sequence[NewDelivery],
    ) -> None:
        """In one transaction: check the checkpoint is still ``expected`` (else
        :class:`~clientrules.domain.errors.ConcurrencyError`), append ``changes``, store ``watched`` and
        ``deliveries``, and move the checkpoint to ``checkpoint`` (None: leave it)."""

    def decision_changes(self, *, since_key: int | None = None, client: str | None = None) -> list[Event]:
        """The ``DecisionChanged`` events (``at >= since_key``; of ``client``), oldest first."""


class DeliveryStore(Protocol):
    """The outbox of decision changes to deliver, and the log of their delivery."""

    def due_deliveries(self, now_key: int, channels: Collection[str], *, limit: int = 1_000) -> list[DeliveryRow]:
        """Undelivered rows of ``channels`` whose next attempt is at or before ``now_key``, oldest first."""

    def deliveries_of(self, change_ids: Collection[str]) -> list[DeliveryRow]:
        """Every delivery row of those changes (delivered or not)."""

    def settle_delivery(
        self, delivery_id: int, *, delivered_at: str | None, error: str | None, next_attempt_key: int
    ) -> None:
        """Record one attempt: delivered (``delivered_at``), or failed with ``error`` until ``next_attempt_key``.

        The last error is kept after a delivery, for the delivery log."""


class EventStore(
    EventStreams,
    EventLog,
    ClientQueries,
    KeyStore,
    StoredSettings,
    FoldStore,
    FactsStore,
    EngineAnswersStore,
    StandingsStore,
    KeptMomentsStore,
    WatchStore,
    DeliveryStore,
    Protocol,
):
    """A durable, append-only store of client event streams: every capability of one database.

    Every backend (SQLite, PostgreSQL, in memory) provides all of them, so a
    service is given the store and declares, by the protocols it takes, the
    capabilities it uses.
    """

    url: str

    def close(self) -> None:
        """Release the connections."""


@attrs.frozen
class Delivery:
    """Where a message went: ``smtp`` (to ``to``), ``outbox`` (a file at ``path``) or ``none`` (no address known)."""

    how: str
    to: str | None = None
    path: Path | None = None

    def describe(self) -> str:
        if self.how == "smtp":
            return f"mailed to {self.to}"
        if self.how == "outbox":
            return f"no mail server is configured: the message to {self.to} was written to {self.path}"
        return "no e-mail address is known for this client: send the link yourself"


class InvitationSender(Protocol):
    """Mails an exit-survey invitation's link (a reminder if it was reminded already)."""

    def send(self, invitation: Invitation, base_url: str) -> Delivery:
        """Send it; ``Delivery("none")`` when no address is known. Raises a ClientRulesError on failure."""


class Mailer(Protocol):
    """Sends one e-mail message (built with :class:`email.message.EmailMessage`)."""

    def send(self, message: EmailMessage, *, reference: str) -> Delivery:
        """Send ``message``; ``reference`` names it uniquely (the outbox's file name). Raises on failure."""
