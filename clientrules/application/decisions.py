"""The decisions service (``ledger.decisions``): evaluate clients from the store, record, explain.

Facts come from each client's :class:`~clientrules.domain.facts.ClientFold`
at its latest version (:class:`~clientrules.application.folds.Folds`: the
fold stored for the client plus the events after it, shared by every
process). A long-lived process also keeps the folds it used last in an LRU
cache and brings them up to date by reading only the events stored after
``fold.version``. Engines come from the shared
:class:`~clientrules.application.engines.Engines`, per rule-set version, so a
newly adopted version takes effect on the next call, without a restart. The
facts of up to :data:`RECORD_BATCH` clients go to the engine at once (one
round trip when the engine runs in a process of its own, the default). A call
about more clients than it keeps folds of decides each client whose facts
were kept by an earlier one and still hold (:class:`~clientrules.application.kept_facts.KeptFacts`)
from those, and keeps the facts of the others.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from decimal import Decimal
from typing import Callable, Iterable, Iterator, Protocol, Sequence, cast

from clientrules.application.collector import collector_held
from clientrules.application.engines import Engines
from clientrules.application.folds import Folds
from clientrules.application.kept_facts import KeptFacts
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.domain.decisions.explanation import Explanation, Recorded, explain_decision
from clientrules.domain.decisions.model import Decision
from clientrules.domain.decisions.set_aside import UNDECIDABLE, decide_each_alone
from clientrules.domain.errors import ClientRulesError, StoreError, UnknownClient
from clientrules.domain.events import Clock, DecisionRecorded, Event, Instant, Moment, check_client_id, moment_or_now
from clientrules.domain.facts import ClientFold, Facts
from clientrules.domain.facts.memo import FactsMemo, memo_of
from clientrules.domain.facts.portfolio import PortfolioValue, ValueSteps
from clientrules.domain.facts.status import ClientStatus
from clientrules.ports import ClientQueries, DecisionEngine, EventLog, EventStreams

#: clients whose fold is kept between calls (about 15 KB each for a short history)
FOLD_CACHE_SIZE = 1_000
#: a call about at most this many clients keeps their folds for the next one: the pages about one client
#: ask again, a pass over many clients does not, and keeping a fold costs about as much as restoring it
#: (the garbage collector walks each kept fold's hundred-odd objects as they age)
KEPT_FROM_ONE_CALL = 100
#: decisions stored per transaction when recording
RECORD_BATCH = 1_000
#: a client's facts from its fold (or its kept facts) at a moment, as one rule-set version sees them
#: (:meth:`Decisions.facts_for`)
FactsOf = Callable[[ClientFold | FactsMemo, Instant], Facts]


class UnknownDecision(ClientRulesError):
    """No recorded decision has that event id for that client."""


class StoreForDecisions(EventStreams, EventLog, ClientQueries, Protocol):
    """What deciding reads and writes: the clients' streams, which clients there are and which changed."""


class Decisions:
    """Decisions for the clients of one store, under its rule-set versions. Safe to share between threads."""

    def __init__(
        self,
        store: StoreForDecisions,
        rules: RuleVersions,
        engines: Engines,
        *,
        folds: Folds,
        clock: Clock,
        fold_cache_size: int = FOLD_CACHE_SIZE,
        kept_facts: KeptFacts | None = None,
    ) -> None:
        """``folds``: where clients' folds come from (the store's, :class:`~clientrules.application.folds.Folds`);
        ``kept_facts``: where a call about many clients keeps their facts and finds them again (None: nowhere)."""
        self._store = store
        self._rules = rules
        self._engines = engines
        self._latest = folds
        self._kept_facts = kept_facts
        self._clock = clock
        self._fold_cache_size = fold_cache_size
        #: client -> its fold and the version of the fold stored for it, least recently used first
        self._folds: OrderedDict[str, tuple[ClientFold, int]] = OrderedDict()
        self._lock = threading.Lock()
        #: every client's value steps, and the store's head position they are as of (:meth:`portfolio_values`)
        self._portfolio: tuple[PortfolioValue, int] | None = None
        self._portfolio_lock = threading.Lock()

    def evaluate(
        self,
        clients: Iterable[str] | None = None,
        *,
        as_of: Moment | None = None,
        record: bool = False,
        ruleset: RuleSetVersion | None = None,
    ) -> list[Decision]:
        """Decide for ``clients`` (default: every client with an event by ``as_of``) as of ``as_of`` (default: now).

        ``ruleset`` defaults to the current version. With ``record`` each
        decision is appended to its client's stream as a ``DecisionRecorded``
        event. See :meth:`iter_evaluate` to go through many clients in constant memory.
        """
        return list(self.iter_evaluate(clients, as_of=as_of, record=record, ruleset=ruleset))

    def iter_evaluate(
        self,
        clients: Iterable[str] | None = None,
        *,
        as_of: Moment | None = None,
        record: bool = False,
        ruleset: RuleSetVersion | None = None,
        set_aside: Callable[[str, str], None] | None = None,
        portfolio_value: Decimal | None = None,
        listed: bool = False,
    ) -> Iterator[Decision]:
        """:meth:`evaluate`, one decision at a time; recorded decisions are stored
        in transactions of :data:`RECORD_BATCH` before they are yielded.

        With ``set_aside``, a client that cannot be decided (its facts or the
        engine fail for it) is passed to it with a one-line reason and the
        others are decided; without, its error is raised. ``portfolio_value``:
        :meth:`portfolio_value` as of ``as_of``, when the caller has it already
        (calls that share one moment, such as the chunks of ``evaluate --workers``,
        then read every client's fold for it once, not once a call); without it,
        it is computed when the rules read ``revenue_share``. ``listed``: ``clients`` are
        some of what :meth:`clients_to_decide` gave, each checked already (a chunk of
        ``evaluate --workers``), and are not checked again.
        """
        moment = moment_or_now(as_of, self._clock)
        version = ruleset or self._rules.current()
        if record and version.version < 1:
            raise ClientRulesError("only decisions of an adopted rule-set version can be recorded")
        self._engines.prepare(version)  # its process starts up while the clients are listed and read
        ids = list(clients) if listed and clients is not None else self.clients_to_decide(clients, moment)
        for decisions in self._iter_decide([version], ids, moment, set_aside, portfolio_value, record=record):
            yield from (decision for (decision,) in decisions)

    def iter_compare(
        self,
        versions: Sequence[RuleSetVersion],
        *,
        as_of: Moment | None = None,
        set_aside: Callable[[str, str], None] | None = None,
    ) -> Iterator[tuple[Decision, ...]]:
        """Every client with an event by ``as_of`` (default: now) decided under each of ``versions`` at once:
        its fold read once, its facts computed once for the versions that compute them alike (see
        :meth:`facts_for`). ``set_aside`` as in :meth:`iter_evaluate`."""
        moment = moment_or_now(as_of, self._clock)
        for decisions in self._iter_decide(versions, self.clients_to_decide(None, moment), moment, set_aside):
            yield from decisions

    def _iter_decide(
        self,
        versions: Sequence[RuleSetVersion],
        ids: list[str],
        moment: Instant,
        set_aside: Callable[[str, str], None] | None,
        portfolio_value: Decimal | None = None,
        *,
        record: bool = False,
    ) -> Iterator[list[tuple[Decision, ...]]]:
        """The decisions of ``ids`` under each of ``versions``, :data:`RECORD_BATCH` clients at a time (with
        ``record``, each batch's decisions of the one version stored before it is yielded)."""
        ways: dict[tuple[int, bool], FactsOf] = {}
        for version in versions:
            self._engines.prepare(version)  # an engine's process starts up while the first clients are folded
            if version.ruleset.facts_computed not in ways:
                ways[version.ruleset.facts_computed] = self.facts_for(
                    version, [moment], portfolio_values=None if portfolio_value is None else [portfolio_value]
                )
        cached = len(ids) <= KEPT_FROM_ONE_CALL
        for start in range(0, len(ids), RECORD_BATCH):
            batch = ids[start:start + RECORD_BATCH]
            to_keep: list[FactsMemo] = []
            try:
                with collector_held():
                    decisions, to_keep = self._decide(batch, moment, versions, ways, cached=cached, recording=record)
            except StoreError:
                raise
            except UNDECIDABLE:
                if set_aside is None:
                    raise
                decisions = decide_each_alone(
                    batch, lambda one: self._decide(one, moment, versions, ways, cached=cached)[0], set_aside
                )
            if record:
                recorded = [decision.recorded_event(self._clock()) for (decision,) in decisions if decision.verdict is not None]
                self._store.append(recorded)
                to_keep = self._past_recorded(to_keep, {event.client for event in recorded})
            if self._kept_facts is not None:
                self._kept_facts.keep(to_keep)
            yield decisions

    @staticmethod
    def _past_recorded(memos: list[FactsMemo], recorded: set[str]) -> list[FactsMemo]:
        """``memos``, those of the clients in ``recorded`` moved past the one decision just recorded for each.

        Had another event been appended to such a client in between, the
        memo's version is not its stream's, and will never be: it is not used.
        """
        return [memo.past_system_events(memo.version + 1) if memo.client in recorded else memo for memo in memos]

    def _decide(
        self,
        clients: list[str],
        moment: Instant,
        versions: Sequence[RuleSetVersion],
        ways: dict[tuple[int, bool], FactsOf],
        *,
        cached: bool,
        recording: bool = False,
    ) -> tuple[list[tuple[Decision, ...]], list[FactsMemo]]:
        """The decisions of ``clients``, and the facts to keep: those computed from folds (in a call about many
        clients), and with ``recording`` those found kept too (a recorded decision moves them to a new version)."""
        facts: dict[tuple[int, bool], list[tuple[str, Facts]]] = {way: [] for way in ways}
        statuses: dict[str, ClientStatus] = {}
        kept: dict[str, tuple[ClientFold, int]] = {}
        graces = {grace for grace, _ in ways}
        kept_facts = self._kept_facts if not cached and len(graces) == 1 else None  # a memo is of one grace
        holding = kept_facts.holding(clients, moment, *graces) if kept_facts is not None else {}
        computed: list[FactsMemo] = []
        folds = self._up_to_date([client for client in clients if client not in holding])
        upcoming = next(folds, None)
        for client in clients:
            source: ClientFold | FactsMemo
            if client in holding:
                source = holding[client]
                if recording:
                    computed.append(source)
            elif upcoming is not None and upcoming[0] == client:
                _, source, stored = upcoming
                upcoming = next(folds, None)  # after the last one: the folds to write are written
                if cached:
                    kept[client] = (source, stored)
            else:
                continue
            statuses[client] = source.status(moment)
            if not statuses[client].is_left:
                for way, facts_of in ways.items():
                    facts[way].append((client, facts_of(source, moment)))
            if kept_facts is not None and isinstance(source, ClientFold):
                (grace,) = graces
                if statuses[client].is_left:  # no facts were needed to decide
                    found = source.facts(moment, grace_days=grace)
                else:
                    found = facts[next(iter(ways))][-1][1]
                computed.append(memo_of(source, found, grace_days=grace))
        self._keep(kept)
        decided = [iter(self._engines.decide_batch(facts[version.ruleset.facts_computed], version)) for version in versions]
        decisions = [
            tuple(
                Decision.for_left(client, status, version.version, moment) if status.is_left else next(each).with_status(status)
                for version, each in zip(versions, decided)
            )
            for client, status in statuses.items()
        ]
        return decisions, computed

    def facts_for(
        self,
        version: RuleSetVersion,
        moments: Sequence[Instant],
        *,
        every_fact: bool = False,
        portfolio_values: Sequence[Decimal] | None = None,
    ) -> FactsOf:
        """The facts the rules of ``version`` decide a client on, from its fold, at any of ``moments``: the one
        way every decision (evaluate, the watcher, the decision over time, explain) computes them.

        ``revenue_share`` is there when an enabled rule reads it, or with
        ``every_fact`` (an explanation lists every fact): the portfolio's value
        it divides by is then computed once per moment, unless given as ``portfolio_values`` (one per moment).
        """
        grace_days, reads_share = version.ruleset.facts_computed
        portfolios: dict[int, Decimal] = {}
        if every_fact or reads_share:
            values = self.portfolio_values(moments) if portfolio_values is None else portfolio_values
            portfolios = dict(zip((moment.key for moment in moments), values))

        def facts_of(fold: ClientFold | FactsMemo, moment: Instant) -> Facts:
            return fold.facts(moment, grace_days=grace_days, portfolio_value=portfolios.get(moment.key))

        return facts_of

    def portfolio_value(self, as_of: Moment | None = None) -> Decimal:
        """The sum of the ``monthly_value`` of every client not left as of ``as_of`` (default: now): what each
        client's ``revenue_share`` divides by (the one fact that depends on other clients, computed once per moment)."""
        (total,) = self.portfolio_values([moment_or_now(as_of, self._clock)])
        return total

    def portfolio_values(self, moments: Sequence[Instant]) -> list[Decimal]:
        """:meth:`portfolio_value` at each of ``moments``, in their order.

        Every client's value steps (:meth:`ClientFold.value_steps`) are kept
        from one call to the next, as of the store's head position: a call
        reads the folds of the clients with an event since the last one only
        (the first call reads every client's).
        """
        with self._portfolio_lock:
            head, kept = self._store.head_position(), self._portfolio
            if kept is None or head < kept[1]:
                portfolio, clients = PortfolioValue(), self._store.client_ids()
            else:
                portfolio, clients = kept[0], self._store.changed_clients(kept[1]) if head > kept[1] else []
            portfolio.replace(self._value_steps(clients))
            self._portfolio = (portfolio, head)
            return portfolio.at(moments)

    def _value_steps(self, clients: list[str]) -> dict[str, ValueSteps]:
        kept: dict[str, tuple[ClientFold, int]] = {}
        cached = len(clients) <= KEPT_FROM_ONE_CALL
        steps = {}
        for client, fold, stored in self._up_to_date(clients):
            steps[client] = fold.value_steps()
            if cached:
                kept[client] = (fold, stored)
        self._keep(kept)
        return steps

    def status(self, client: str, as_of: Moment | None = None) -> ClientStatus:
        """Where ``client`` stands as of ``as_of`` (default: now): active, leaving or left."""
        return self.fold(check_client_id(client)).status(moment_or_now(as_of, self._clock))

    def clients_to_decide(self, clients: Iterable[str] | None, moment: Instant) -> list[str]:
        """``clients``, each checked to have a stream (else :class:`UnknownClient`), before anything is
        decided; None: every client with an event by ``moment``."""
        if clients is None:
            return self._store.client_ids(started_by=moment)
        ids = [check_client_id(client) for client in clients]
        versions = self._store.client_versions(ids)
        for client in ids:
            if versions[client] == 0:
                raise UnknownClient(client)
        return ids

    def explain(
        self, client: str, *, as_of: Moment | None = None, decision: str | None = None
    ) -> Explanation:
        """The full chain for ``client`` and the rules that came close.

        With ``decision`` (the event id of a ``DecisionRecorded``), that recorded
        decision is re-explained with its own rule-set version and moment.
        """
        check_client_id(client)
        recorded = None
        if decision is not None:
            event = self._recorded(client, decision)
            payload = cast(DecisionRecorded, event.payload)  # _recorded finds only DecisionRecorded events
            version = self._rules.get(payload.ruleset_version)
            moment = Instant.parse(payload.as_of, field="as_of")
            recorded = Recorded(event_id=event.id, verdict=payload.verdict, fired=tuple(payload.fired))
        else:
            version = self._rules.current()
            moment = moment_or_now(as_of, self._clock)
        facts = self.facts_for(version, [moment], every_fact=True)(self.fold(check_client_id(client)), moment)
        reached = self._engines.decide(client, facts, version)
        return explain_decision(version.ruleset, reached, facts, recorded=recorded)

    def recorded(self, client: str) -> list[Event]:
        """The client's ``DecisionRecorded`` events, oldest first."""
        return [e for e in self._store.read_client(check_client_id(client)) if isinstance(e.payload, DecisionRecorded)]

    def facts(
        self, client: str, as_of: Instant, *, grace_days: int = 7, portfolio_value: Decimal | None = None
    ) -> Facts:
        """The client's facts as of ``as_of`` from its fold at its latest version.

        ``portfolio_value`` (:meth:`portfolio_value`) gives ``revenue_share``; without it that fact is absent.
        """
        return self.fold(client).facts(as_of, grace_days=grace_days, portfolio_value=portfolio_value)

    def fold(self, client: str) -> ClientFold:
        """The client's fold at its latest version (cached; the caller must not share it between threads)."""
        for _, fold in list(self.iter_folds([client])):  # to the end: a fold to write is written
            return fold
        raise UnknownClient(client)

    def iter_folds(self, clients: list[str]) -> Iterator[tuple[str, ClientFold]]:
        """Each of ``clients`` with an event, in order, with its fold at its latest version (:meth:`fold`,
        read in batches; kept for the next call if they are at most :data:`KEPT_FROM_ONE_CALL`)."""
        cached = len(clients) <= KEPT_FROM_ONE_CALL
        for client, fold, stored in self._up_to_date(clients):
            if cached:
                self._keep({client: (fold, stored)})
            yield client, fold

    def _up_to_date(self, clients: list[str]) -> Iterator[tuple[str, ClientFold, int]]:
        """Each of ``clients`` with an event, in order, with its latest fold and the version stored for it.

        Folds in the cache are taken out of it (no other thread uses them
        meanwhile) and caught up; the others come from :class:`Folds`, one at
        a time: a long list of clients never has all its folds in memory.
        """
        with self._lock:
            cached = {client: self._folds.pop(client) for client in clients if client in self._folds}
        read = self._latest.iter_latest_with_stored(list(dict.fromkeys(c for c in clients if c not in cached)))
        upcoming = next(read, None)
        repeated = {client for client, count in Counter(clients).items() if count > 1}
        seen: dict[str, tuple[ClientFold, int]] = {}  # a client named twice is decided twice, from one fold
        for client in clients:
            if client in seen:
                found = seen[client]
            elif client in cached:
                fold, stored = cached.pop(client)
                found = (fold, self._latest.catch_up(fold, stored))
            elif upcoming is not None and upcoming[0].client == client:
                found = upcoming
                upcoming = next(read, None)  # after the last one: the folds to write are written
            else:
                continue
            if client in repeated:
                seen[client] = found
            yield client, *found

    def _keep(self, folds: dict[str, tuple[ClientFold, int]]) -> None:
        """Put ``folds`` back in the cache, freeing the least recently used beyond its size."""
        with self._lock:
            self._folds.update(folds)
            while len(self._folds) > self._fold_cache_size:
                self._folds.popitem(last=False)

    def engine(self, version: RuleSetVersion) -> DecisionEngine:
        """The compiled engine of a rule-set version (from the shared cache)."""
        return self._engines.engine(version)

    def close(self) -> None:
        """Forget the cached folds and close the engines."""
        with self._lock:
            self._folds.clear()
        with self._portfolio_lock:
            self._portfolio = None
        self._engines.close()

    def _recorded(self, client: str, event_id: str) -> Event:
        for event in self.recorded(client):
            if event.id == event_id:
                return event
        raise UnknownDecision(f"client {client!r} has no recorded decision with id {event_id!r}")

