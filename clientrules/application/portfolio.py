"""The owner's portfolio (``ledger.portfolio``): every client's standing, totals per verdict, search, filter, sort, pages.

Deciding for every client on every look would cost seconds at a few thousand
clients, so the standings are kept in memory, and in the store each time every
client was decided (so a start shows them at once, said to be as of when they
were decided), and brought up to date on each call: only the clients with an
event stored since the last call are decided again. Everything is decided again in the background when another rule-set
version is adopted (the standings of the previous one are shown meanwhile, said
to be refreshing) and once the standings are :data:`REFRESH_AFTER` old,
because facts such as days of silence or overdue amounts change with time alone.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any, Callable, Iterable, Literal

import attrs

from clientrules.domain.events import (
    ClientOnboarded,
    Clock,
    Event,
    Instant,
    SurveyAnswered,
    SurveyInvited,
)
from clientrules.domain.errors import StoreError, UnknownClient
from clientrules.domain.facts import ClientFold, Facts
from clientrules.domain.facts.schedule import next_change
from clientrules.domain.rules.model import SEVERITY, VERDICTS
from clientrules.domain.decisions.set_aside import UNDECIDABLE, decide_each_alone
from clientrules.application.decisions import Decisions, FactsOf
from clientrules.application.engines import Engines
from clientrules.application.progress import Progress, Tracker
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.ports import EventStore, StoredStandings

#: the longest the time-dependent facts of a client without new events may be old
REFRESH_AFTER = dt.timedelta(hours=1)
ACTIVE, LEAVING, LEFT, INVITED, ANSWERED = "active", "leaving", "left", "invited", "answered"
STAGES = (ACTIVE, LEAVING, LEFT, INVITED, ANSWERED)
#: the stages of a client who has left
DEPARTED = (LEFT, INVITED, ANSWERED)
Sort = Literal["attention", "name", "value", "overdue", "recent"]
SORTS: tuple[Sort, ...] = ("attention", "name", "value", "overdue", "recent")
DEFAULT_PAGE_SIZE = 50
#: moments decided for a client's verdict over time
MAX_POINTS = 250
#: clients decided per round trip to the engine (and per step of the progress a background refresh shows)
BATCH = 250
#: the most clients decided before answering; more are decided by a background refresh
AT_ONCE = 1_000
#: the format the standings are kept in the store in (others are decided again rather than read)
STANDINGS_FORMAT = "standings-1"


@attrs.frozen
class Standing:
    """Where one client stands now: who they are, what the rules advise, what is at stake.

    ``stage`` is ``active``, ``leaving`` (a notice runs), or for a client who
    left: ``left`` (not invited to the exit survey since), ``invited`` or
    ``answered`` (:func:`stage_of`: the status of
    ``clientrules/domain/facts/status.py``). A departed client's ``verdict`` is
    None: the owner has nothing left to decide.
    """

    client: str
    name: str | None
    segment: str | None
    monthly_value: float | None
    overdue_amount: float
    open_invoices: int
    verdict: str | None
    reasons: tuple[str, ...]
    advice: tuple[str, ...]
    stage: str
    last_at: Instant

    @property
    def departed(self) -> bool:
        return self.stage in DEPARTED

    def attention_key(self) -> tuple[int, int, int, str]:
        """Active clients first, the most severe verdict first, then the most recent activity."""
        severity = SEVERITY.get(self.verdict or "", 0)
        return (int(self.departed), -severity, -self.last_at.key, self.client)

    def matches(self, text: str) -> bool:
        needle = text.casefold()
        return needle in self.client.casefold() or needle in (self.name or "").casefold()


@attrs.frozen
class VerdictAt:
    """The verdict a client would have had at one moment (see :meth:`Portfolio.verdict_over_time`)."""

    at: Instant
    verdict: str


@attrs.frozen
class SetAside:
    """A client that cannot be decided (its facts or the engine fail for it), with why; the others are decided."""

    client: str
    reason: str


@attrs.frozen
class Total:
    """Active clients with one verdict: how many, their monthly value, their overdue amounts.

    ``monthly_value`` is None when none of them has one given (not set, which is not 0).
    """

    verdict: str
    clients: int
    monthly_value: float | None
    overdue_amount: float


@attrs.frozen
class PortfolioQuery:
    """What the owner asks to see: a search text, filters, an order and a page (from 1)."""

    search: str = ""
    verdict: str | None = None
    segment: str | None = None
    stage: str | None = None
    sort: Sort = "attention"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


@attrs.frozen
class PortfolioPage:
    """One page of standings matching a query, with the totals of the whole portfolio."""

    standings: tuple[Standing, ...]
    matching: int
    page: int
    pages: int
    totals: tuple[Total, ...]
    departed: dict[str, int]
    segments: tuple[str, ...]
    as_of: Instant
    #: the rule-set version the standings were decided with
    ruleset_version: int = 0
    #: whether they are being decided again in the background (with the rules just adopted, or as of now)
    refreshing: bool = False
    #: the clients that could not be decided, by id (``clientrules db check`` says how to repair them)
    set_aside: tuple[SetAside, ...] = ()
    #: whether any standing is known yet (False: every client is being decided for the first time)
    decided: bool = True
    #: how far the background refresh has come, None when none runs
    progress: Progress | None = None


class Portfolio:
    """Standings of every client of one store, kept up to date incrementally. Safe to share between threads."""

    def __init__(
        self,
        store: EventStore,
        rules: RuleVersions,
        engines: Engines,
        *,
        decisions: Decisions,
        clock: Clock,
    ) -> None:
        """``decisions``: how a client's facts are computed (:meth:`~clientrules.application.decisions.Decisions.facts_for`)."""
        self._store = store
        self._rules = rules
        self._engines = engines
        self._decisions = decisions
        self._clock = clock
        self._lock = threading.Lock()
        self._standings: dict[str, Standing] = {}
        self._set_aside: dict[str, SetAside] = {}
        self._position = 0
        self._ruleset = 0
        self._refreshed: Instant | None = None
        self._rebuilding: threading.Thread | None = None
        #: the background refresh's count of clients decided
        self._tracker: Tracker | None = None
        #: why the background refresh failed, raised to the next look
        self._failure: BaseException | None = None

    def standings(self) -> list[Standing]:
        """Every client's standing, brought up to date; in no particular order (waits for a first decision)."""
        while True:
            with self._lock:
                self._refresh(wait=True)
                first = self._rebuilding if self._refreshed is None else None
                if first is None:
                    return list(self._standings.values())
            first.join()

    def page(self, query: PortfolioQuery = PortfolioQuery()) -> PortfolioPage:
        """The standings that match ``query``, sorted, cut to its page (a page past the last gives the last).

        Answers at once: while every client is decided for the first time in
        the background, the page is empty with ``decided`` False and the
        work's ``progress``.
        """
        with self._lock:
            self._refresh(wait=False)
            everyone = list(self._standings.values())
            as_of = self._refreshed or self._clock()
            ruleset, refreshing = self._ruleset, self._rebuilding is not None
            set_aside = tuple(self._set_aside[client] for client in sorted(self._set_aside))
            decided = self._refreshed is not None
            progress = self._tracker.progress() if self._tracker is not None else None
        chosen = [s for s in everyone if _wanted(s, query)]
        chosen.sort(key=_SORT_KEYS[query.sort if query.sort in _SORT_KEYS else "attention"])
        size = max(1, query.page_size)
        pages = max(1, -(-len(chosen) // size))
        page = min(max(1, query.page), pages)
        return PortfolioPage(
            standings=tuple(chosen[(page - 1) * size:page * size]),
            matching=len(chosen),
            page=page,
            pages=pages,
            totals=_totals(everyone),
            departed={stage: sum(1 for s in everyone if s.stage == stage) for stage in DEPARTED},
            segments=tuple(sorted({s.segment for s in everyone if s.segment})),
            as_of=as_of,
            ruleset_version=ruleset,
            refreshing=refreshing,
            set_aside=set_aside,
            decided=decided,
            progress=progress,
        )

    def names(self, clients: Iterable[str]) -> dict[str, str]:
        """The name of each of ``clients`` that has one: the last it was onboarded with."""
        found: dict[str, str] = {}
        for client in set(clients):
            onboarded = [e.payload for e in self._store.read_client(client) if isinstance(e.payload, ClientOnboarded)]
            if onboarded and onboarded[-1].name:
                found[client] = onboarded[-1].name
        return found

    def verdict_over_time(self, client: str, *, points: int = MAX_POINTS) -> list[VerdictAt]:
        """The verdict the current rules give ``client`` from each moment it can change, and now.

        Those moments are each event and each moment a fact changes with time
        alone: an invoice turning late, a window forgetting an incident, a
        day count crossing a threshold a rule compares it with (the watcher's
        schedule, :func:`~clientrules.domain.facts.schedule.next_change`).
        Time travel: each moment is decided on the events up to it only. The
        latest ``points`` moments are decided; of each run of the same verdict
        only its first moment is returned, then now.
        """
        events = [e for e in self._store.read_client(client) if not e.payload.SYSTEM]
        if not events:
            raise UnknownClient(client)
        version = self._rules.current()
        fold = ClientFold()
        fold.apply_all(events)
        now = self._clock()
        grace_days = version.ruleset.parameters.grace_days
        ages = version.ruleset.age_thresholds()
        moments: list[Instant] = []
        moment: Instant | None = min(e.at for e in events)
        while moment is not None and moment < now:
            moments.append(moment)
            moment = next_change(fold, moment, grace_days=grace_days, ages=ages)
        moments = moments[-(points - 1):] + [now]
        facts_of = self._decisions.facts_for(version, moments)
        decisions = self._engines.decide_batch([(client, facts_of(fold, moment)) for moment in moments], version)
        verdicts = [VerdictAt(moment, decision.reached) for moment, decision in zip(moments, decisions)]
        return [v for n, v in enumerate(verdicts) if n in (0, len(verdicts) - 1) or verdicts[n - 1].verdict != v.verdict]

    def _refresh(self, *, wait: bool) -> None:
        """Bring the standings up to date (called with the lock held).

        The first call starts from the standings the store kept (as of the
        time and rule-set version they were decided at), else decides every
        client: before answering when ``wait`` or when they are no more than
        :data:`AT_ONCE`, else in the background. Standings decided with an
        earlier rule-set version, or older than :data:`REFRESH_AFTER`, are
        decided again in a background thread while the current ones are served
        (with their time and version, and ``refreshing``), so that no look
        after a start or an adoption waits for the whole portfolio; clients with
        new events are decided again at once (when there are more than
        :data:`AT_ONCE` of them, by the background refresh).
        """
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        if self._refreshed is None and self._rebuilding is None:
            self._load()
        if self._refreshed is None:
            if self._rebuilding is None:
                clients = self._store.client_ids()
                if wait or len(clients) <= AT_ONCE:
                    ruleset = self._rules.current().version  # adopts the default rules into an empty store
                    now, head = self._clock(), self._store.head_position()
                    self._standings, self._set_aside = self._decide(clients, now)
                    self._position, self._ruleset, self._refreshed = head, ruleset, now
                    self._store.write_standings(self._kept())
                else:
                    self._start_rebuild()
            return
        now = self._clock()
        stale = self._rules.current().version != self._ruleset or now.utc - self._refreshed.utc >= REFRESH_AFTER
        head = self._store.head_position()
        changed = [c for c in self._store.changed_clients(self._position) if not c.startswith("$")] \
            if head != self._position else []
        if (stale or len(changed) > AT_ONCE) and self._rebuilding is None:
            self._start_rebuild()
        if changed and len(changed) <= AT_ONCE:
            standings, set_aside = self._decide(changed, now)
            for client in changed:
                self._set_aside.pop(client, None)
                if client in set_aside:
                    self._standings.pop(client, None)
            self._standings.update(standings)
            self._set_aside.update(set_aside)
        if len(changed) <= AT_ONCE:
            self._position = head

    def _start_rebuild(self) -> None:
        self._rebuilding = threading.Thread(target=self._rebuild, name="portfolio refresh", daemon=True)
        self._rebuilding.start()

    def _rebuild(self) -> None:
        """Decide every client again as of now, then swap the result in (events stored meanwhile are applied
        after) and keep it in the store. A failure is raised to the next look."""
        try:
            started = self._clock()
            head = self._store.head_position()
            ruleset = self._rules.current().version
            clients = [client for client in self._store.client_ids() if not client.startswith("$")]
            self._tracker = Tracker(len(clients))
            fresh, set_aside = self._decide(clients, started, self._tracker)
            with self._lock:
                if ruleset != self._rules.current().version:  # another version came meanwhile: next look
                    return
                self._standings, self._set_aside = fresh, set_aside
                self._position, self._ruleset, self._refreshed = head, ruleset, started
                kept = self._kept()
            self._store.write_standings(kept)
        except Exception as failure:  # the thread has no one else to tell
            self._failure = failure
        finally:
            self._rebuilding = self._tracker = None

    def _load(self) -> None:
        """Start from the standings the store kept, if it kept some in this format."""
        stored = self._store.read_standings()
        if stored is None or stored.format != STANDINGS_FORMAT or stored.position > self._store.head_position():
            return
        data = json.loads(stored.data)
        self._standings = {item["client"]: _standing_from_json(item) for item in data["standings"]}
        self._set_aside = {item["client"]: SetAside(item["client"], item["reason"]) for item in data["set_aside"]}
        self._position, self._ruleset = stored.position, stored.ruleset_version
        self._refreshed = Instant.from_key(*data["as_of"])

    def _kept(self) -> StoredStandings:
        """The standings as the store keeps them (called with the lock held, just after every client was decided)."""
        assert self._refreshed is not None, "called once decided"
        data = {
            "as_of": [self._refreshed.key, self._refreshed.text],
            "standings": [_standing_to_json(standing) for standing in self._standings.values()],
            "set_aside": [attrs.asdict(aside) for aside in self._set_aside.values()],
        }
        return StoredStandings(self._position, self._ruleset, STANDINGS_FORMAT, json.dumps(data))

    def _decide(
        self, clients: Iterable[str], as_of: Instant, tracker: Tracker | None = None
    ) -> tuple[dict[str, Standing], dict[str, SetAside]]:
        """The standings of ``clients`` (those with events) as of ``as_of``, under the current rule set, and
        those that cannot be decided, set aside with why (the others are decided).

        The engine is asked for :data:`BATCH` clients at a time (one round trip each); ``tracker`` counts
        the clients done.
        """
        version = self._rules.current()
        facts_of = self._decisions.facts_for(version, [as_of])
        standings: dict[str, Standing] = {}
        set_aside: dict[str, SetAside] = {}
        ids = [client for client in clients if not client.startswith("$")]
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            try:
                decided = self._decide_batch(batch, as_of, version, facts_of)
            except StoreError:
                raise
            except UNDECIDABLE:
                decided = decide_each_alone(
                    batch,
                    lambda one: self._decide_batch(one, as_of, version, facts_of),
                    lambda client, reason: set_aside.__setitem__(client, SetAside(client, reason)),
                )
                if len(batch) > 1 and all(client in set_aside for client in batch):
                    raise  # not one client's history: the engine fails for everyone, as the page says
            standings.update((standing.client, standing) for standing in decided)
            if tracker is not None:
                tracker.advance(len(batch))
        return standings, set_aside

    def _decide_batch(
        self, clients: list[str], as_of: Instant, version: RuleSetVersion, facts_of: FactsOf
    ) -> list[Standing]:
        """The standings of those of ``clients`` with events, in one round trip to the engine."""
        pending: list[tuple[str, list[Event], Facts]] = []
        for client in clients:
            events = self._store.read_client(client)
            if events:
                fold = ClientFold()
                fold.apply_all(events)
                pending.append((client, events, facts_of(fold, as_of)))
        decisions = self._engines.decide_batch([(client, facts) for client, _, facts in pending], version)
        standings = []
        for (client, events, facts), decision in zip(pending, decisions):
            stage = stage_of(events, as_of)
            departed = stage in DEPARTED
            standings.append(_standing(client, events, facts.get("overdue_amount") or 0.0,
                                       facts.get("open_invoices") or 0, None if departed else decision.reached,
                                       () if departed else tuple(r.sentence for r in decision.reasons),
                                       () if departed else decision.advice, stage))
        return standings

def _standing(
    client: str,
    events: list[Event],
    overdue: float,
    open_invoices: int,
    verdict: str | None,
    reasons: tuple[str, ...],
    advice: tuple[str, ...],
    stage: str,
) -> Standing:
    onboarded = [e.payload for e in events if isinstance(e.payload, ClientOnboarded)]
    profile = onboarded[-1] if onboarded else None
    return Standing(
        client=client,
        name=profile.name if profile else None,
        segment=profile.segment if profile else None,
        monthly_value=profile.monthly_value if profile else None,
        overdue_amount=float(overdue),
        open_invoices=int(open_invoices),
        verdict=verdict,
        reasons=reasons,
        advice=advice,
        stage=stage,
        last_at=max(e.at for e in events),
    )


def _standing_to_json(standing: Standing) -> dict[str, Any]:
    data = attrs.asdict(standing)
    data["last_at"] = [standing.last_at.key, standing.last_at.text]
    return data


def _standing_from_json(data: dict[str, Any]) -> Standing:
    return Standing(**{
        **data,
        "reasons": tuple(data["reasons"]),
        "advice": tuple(data["advice"]),
        "last_at": Instant.from_key(*data["last_at"]),
    })


def stage_of(events: list[Event], as_of: Instant) -> str:
    """``active``, ``leaving``, or for a client who has left as of ``as_of``: ``left``, then ``invited`` /
    ``answered`` by the survey events since it left (the status is :meth:`ClientFold.status`'s)."""
    fold = ClientFold()
    fold.apply_all(events)
    status = fold.status(as_of)
    if not status.is_left:
        return LEAVING if status.is_leaving else ACTIVE
    stage = LEFT
    since = status.decided_on
    for event in sorted(events, key=lambda e: e.version or 0):
        if since is not None and event.at.date < since or event.at > as_of:
            continue
        if isinstance(event.payload, SurveyInvited) and stage == LEFT:
            stage = INVITED
        elif isinstance(event.payload, SurveyAnswered) and stage in (LEFT, INVITED):
            stage = ANSWERED
    return stage


def _wanted(standing: Standing, query: PortfolioQuery) -> bool:
    if query.search and not standing.matches(query.search):
        return False
    if query.stage and standing.stage != query.stage:
        return False
    if query.verdict and (standing.departed or standing.verdict != query.verdict):
        return False
    return not query.segment or standing.segment == query.segment


def _sum_given(values: Iterable[float | None]) -> float | None:
    """The sum of the values given, None when none is."""
    given = [value for value in values if value is not None]
    return sum(given) if given else None


def _totals(standings: list[Standing]) -> tuple[Total, ...]:
    active = [s for s in standings if not s.departed]
    return tuple(
        Total(
            verdict=verdict,
            clients=sum(1 for s in active if s.verdict == verdict),
            monthly_value=_sum_given(s.monthly_value for s in active if s.verdict == verdict),
            overdue_amount=sum(s.overdue_amount for s in active if s.verdict == verdict),
        )
        for verdict in VERDICTS
    )


_SORT_KEYS: dict[str, Callable[[Standing], tuple[Any, ...]]] = {
    "attention": Standing.attention_key,
    "name": lambda s: ((s.name or s.client).casefold(), s.client),
    "value": lambda s: (-(s.monthly_value or 0.0), s.client),
    "overdue": lambda s: (-s.overdue_amount, s.client),
    "recent": lambda s: (-s.last_at.key, s.client),
}
