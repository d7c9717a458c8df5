"""System streams are the system's: what an import or a raw append may put in them, and what a store must hold.

The library writes its own streams (names starting with ``$``): ``$rules``
holds one ``RuleSetAdopted`` per rule-set version, version ``n`` being its
``n``-th event, and ``$learning`` holds ``ProposalDecided`` events. An import
(or :meth:`~clientrules.ledger.Ledger.append`) may carry such events, e.g. an
export of the same store or of a store it was copied from, but only as the
API would write them:

* only those types, and only in their own stream;
* every rule set validates (:func:`~clientrules.domain.rules.format.parse_ruleset`,
  the engine's limits included);
* the versions continue the store's own: a ``RuleSetAdopted`` already stored
  (same id) keeps its version, and each new one is the store's next version.

An export of a store with a rule history of its own therefore cannot be
imported into another store with its own: it is refused whole, with one line
saying so, and nothing is stored. :func:`check_store` verifies the same
invariants on a database as it is (``clientrules db check``).
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events import Event, Payload
from clientrules.domain.events.system import (
    LEARNING_STREAM,
    RULES_STREAM,
    DecisionRecorded,
    ProposalDecided,
    RuleSetAdopted,
)
from clientrules.domain.rules.format import parse_ruleset
from clientrules.domain.rules.validation import RuleSetProblems
from clientrules.ports import EventStore

#: each system stream and the one event type it holds
SYSTEM_STREAM_TYPES: Mapping[str, type[Payload]] = {RULES_STREAM: RuleSetAdopted, LEARNING_STREAM: ProposalDecided}
REPAIR = (
    "to repair: adopt a valid rule set with 'clientrules rules use FILE' (it becomes the current version "
    "and decisions work again), or export the clients and import them into a new database"
)


def stream_problem(event: Event) -> str | None:
    """Why ``event`` may not be in its stream (a system type elsewhere, another type in a system stream), or None."""
    expected = SYSTEM_STREAM_TYPES.get(event.client)
    if event.client.startswith("$") and expected is None:
        return f"{event.client!r} is not a system stream (there are {', '.join(SYSTEM_STREAM_TYPES)})"
    if expected is not None and not isinstance(event.payload, expected):
        return f"stream {event.client} holds only {expected.TYPE} events, not {event.payload.TYPE}"
    for stream, kind in SYSTEM_STREAM_TYPES.items():
        if isinstance(event.payload, kind) and event.client != stream:
            return f"{kind.TYPE} events belong in stream {stream}, not in {event.client!r}"
    return None


def ruleset_problem(payload: RuleSetAdopted) -> str | None:
    """The first problem of the rule set a ``RuleSetAdopted`` holds, or None when it validates."""
    try:
        parse_ruleset(payload.source)
    except RuleSetProblems as problems:
        return f"rule-set version {payload.version} does not validate: {problems.problems[0]}"
    return None


class SystemEventGuard:
    """Checks the events bound for one store, one at a time, as the API would have written them.

    Call it on each event (it raises :class:`InvalidEvent`), and wrap the
    events in :meth:`checked` so that the versions they refer to are checked
    once all of them are seen. Both happen inside the store's transaction:
    a problem stores nothing.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._adopted_here: dict[str, int | None] | None = None  # read when first needed
        self._referring: tuple[str, int] | None = None  # the event naming the highest version, and that version

    @property
    def _adopted(self) -> dict[str, int | None]:
        """The rule-set versions by event id: the store's, then those checked so far."""
        if self._adopted_here is None:
            self._adopted_here = {event.id: event.version for event in self._store.read_client(RULES_STREAM)}
        return self._adopted_here

    def __call__(self, event: Event) -> None:
        problem = stream_problem(event)
        if problem:
            raise InvalidEvent(problem)
        payload = event.payload
        if isinstance(payload, RuleSetAdopted):
            self._check_adoption(event.id, payload)
        elif isinstance(payload, (DecisionRecorded, ProposalDecided)) and payload.ruleset_version is not None:
            if self._referring is None or payload.ruleset_version > self._referring[1]:
                self._referring = (event.id, payload.ruleset_version)

    def _check_adoption(self, event_id: str, payload: RuleSetAdopted) -> None:
        stored = self._adopted.get(event_id)
        if stored is not None:
            if stored != payload.version:
                raise InvalidEvent(
                    f"rule-set version {payload.version} is stored here as version {stored}", field="version"
                )
            return
        expected = len(self._adopted) + 1
        if payload.version != expected:
            raise InvalidEvent(
                f"rule-set version {payload.version} does not follow this store's rule-set versions (its next "
                f"is {expected}): the two stores have rule histories of their own; import into a new database, "
                "or export and import the clients one by one (export --client)",
                field="version",
            )
        problem = ruleset_problem(payload)
        if problem:
            raise InvalidEvent(problem, field="source")
        self._adopted[event_id] = expected

    def checked(self, events: Iterable[Event], *, each: bool = True) -> Iterator[Event]:
        """``events``, checked one by one (unless the reader checks them: ``each=False``), then as a whole."""
        for event in events:
            if each:
                self(event)
            yield event
        self._check_references()

    def check_alone(self, event: Event) -> None:
        """Check one event that is appended on its own."""
        self(event)
        self._check_references()

    def _check_references(self) -> None:
        if self._referring is not None and self._referring[1] > len(self._adopted):
            event_id, version = self._referring
            raise InvalidEvent(
                f"event {event_id!r} refers to rule-set version {version}, but the store would have "
                f"{len(self._adopted)} (nothing was stored)"
            )


def check_store(store: EventStore) -> list[str]:
    """Every broken invariant of the system streams of ``store``, one line each (empty: all is well)."""
    problems: list[str] = []
    head = 0
    for event in store.read_client(RULES_STREAM):
        head += 1
        where = f"{RULES_STREAM} event {event.version} (id {event.id!r})"
        if not isinstance(event.payload, RuleSetAdopted):
            problems.append(f"{where}: is a {event.payload.TYPE}, not a RuleSetAdopted")
            continue
        if event.payload.version != event.version:
            problems.append(f"{where}: says it is rule-set version {event.payload.version}")
        problem = ruleset_problem(event.payload)
        if problem:
            problems.append(f"{where}: {problem}")
    highest = 0
    for event in store.iter_all():
        if event.client == RULES_STREAM:
            continue
        problem = stream_problem(event)
        if problem:
            problems.append(f"event {event.id!r} of {event.client!r}: {problem}")
        payload = event.payload
        if isinstance(payload, (DecisionRecorded, ProposalDecided)) and payload.ruleset_version:
            highest = max(highest, payload.ruleset_version)
    if highest > head:
        problems.append(f"decisions refer to rule-set version {highest}, but {RULES_STREAM} has {head} versions")
    return problems
