"""Every client's facts at every moment of a replay, kept: a change of rules is replayed without folding anyone again.

A replay (:mod:`~clientrules.domain.learning.backtest`) folds each client and
asks its facts at each of its monthly moments; that is most of its time.
:class:`KeptMoments` keeps what those moments gave, as columns: for each fact,
the distinct values it took and, for each client-moment, which of them (a
compact array). Replaying a rule set on them (:func:`replay_kept`) then
folds nothing: each client-moment's standing under the rule set
(:mod:`~clientrules.domain.decisions.standing`) is read off the columns, the
engines are asked once per distinct standing (with the facts of one
client-moment of it), and the counts are made as the full replay makes them,
so the results are the same.

Kept moments serve a rule set only where that holds exactly
(:func:`serves`): every condition one a standing represents, and the facts
computed as the replay would compute them (with the same grace days, and
without ``revenue_share``, which depends on every client at once). Any other
rule set is replayed from the histories, and so is every column of a replay
in which a kept value cannot be placed in a standing.

Kept moments outlive the process that kept them: a store keeps them as bytes
(:mod:`~clientrules.domain.learning.kept_format`), and :func:`kept_up_to_date`
takes from them every client whose stream has not changed since.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from itertools import repeat
from typing import Any, Callable, Iterable, Sequence

import attrs

from clientrules.domain.decisions.set_aside import UNDECIDABLE, one_line
from clientrules.domain.decisions.standing import ABSENT, Placing, Standing, Standings, position_of
from clientrules.domain.errors import StoreError
from clientrules.domain.events import Event, Instant
from clientrules.domain.facts import ClientFold, Facts
from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.learning.backtest import (
    HORIZON_DAYS,
    Column,
    Decided,
    DecisionMemo,
    FiredRules,
    Replayed,
    Tallies,
    settled_until,
)
from clientrules.domain.learning.evidence import check_moments, moments_checked
from clientrules.domain.learning.history import ClientRecord, Departure, Timeframe
from clientrules.domain.rules.model import FactValue, RuleSet

#: the index arrays' items, each with how many distinct values it can index: a column takes the smallest that
#: holds the values its fact took (most take a few), from its first client-moment on
_ITEMS = (("B", 2**8), ("H", 2**16), ("I", 2**32))
#: adopted versions whose decisions at every client-moment are kept with the moments
VERSIONS_KEPT = 4


@attrs.frozen
class KeptDeparture:
    """What the counts read of a departure (:class:`Departure`), without the survey answer (its words may be
    personal, and kept moments are kept with the database)."""

    at: Instant
    chosen_by_client: bool
    decided_days_before: int | None

    @classmethod
    def of(cls, departure: Departure | None) -> KeptDeparture | None:
        if departure is None:
            return None
        return cls(departure.at, departure.chosen_by_client, departure.decided_days_before)


@attrs.frozen
class KeptClient:
    """One client of kept moments: what the counts read of it, its moments, and where they start in the columns;
    its stream's version and first moment say whether a later history can take its values (:func:`kept_up_to_date`)."""

    client: str
    departure: KeptDeparture | None
    moments: tuple[Instant, ...]
    start: int
    version: int = 0
    first_at: Instant | None = None


@attrs.frozen
class FactColumn:
    """One fact at every client-moment: the distinct values it took (None: absent) and which of them, per moment."""

    values: tuple[FactValue | None, ...]
    taken: Sequence[int]


@attrs.frozen
class KeptMoments:
    """Every client's facts at every moment a replay checks it at (see the module)."""

    timeframe: Timeframe
    #: the monthly moments of the timeframe
    moments: tuple[Instant, ...]
    grace_days: int
    clients: tuple[KeptClient, ...]
    facts: dict[str, FactColumn]
    #: how many client-moments there are
    size: int
    #: (client, why) of each client whose facts could not be computed, left out
    set_aside: tuple[tuple[str, str], ...] = ()
    #: the stream version of each client set aside, in the same order
    set_aside_versions: tuple[int, ...] = ()
    #: where each client's moments start, in client order
    _starts: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)
    #: the decisions at every client-moment of the adopted versions replayed last, by version
    _decided: dict[tuple[int, str], list[Decided]] = attrs.field(init=False, repr=False, eq=False, factory=dict)
    _lock: threading.Lock = attrs.field(init=False, repr=False, eq=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(client.start for client in self.clients))

    def facts_at(self, index: int) -> Facts:
        """The facts of the ``index``-th client-moment (their values: all a rule set is decided on)."""
        client = self.clients[bisect_right(self._starts, index) - 1]
        values = {name: column.values[column.taken[index]] for name, column in self.facts.items()}
        return Facts(client.moments[index - client.start], {n: v for n, v in values.items() if v is not None}, {})

    def decisions_of(self, version: Any, decide: Callable[[], list[Decided] | None]) -> list[Decided] | None:
        """``version``'s decisions at every client-moment, as ``decide`` makes them; those of an adopted version are
        kept (the last :data:`VERSIONS_KEPT`: the current rules are replayed beside every change previewed)."""
        identity = (version.version, version.ruleset.source)
        with self._lock:
            found = self._decided.get(identity)
        if found is None:
            found = decide()
            if found is not None and version.version >= 1:
                with self._lock:
                    self._decided[identity] = found
                    while len(self._decided) > VERSIONS_KEPT:
                        del self._decided[next(iter(self._decided))]
        return found

    def client_at(self, index: int) -> str:
        return self.clients[bisect_right(self._starts, index) - 1].client

    def rows_of(self, client: KeptClient) -> list[tuple[FactValue | None, ...]]:
        """``client``'s values at each of its moments, in the order of ``FACTS``."""
        start, end = client.start, client.start + len(client.moments)
        absent = [None] * (end - start)
        per_fact = [
            absent if column is None else list(map(column.values.__getitem__, column.taken[start:end]))
            for column in map(self.facts.get, FACTS)
        ]
        return list(zip(*per_fact))

    def versions(self) -> list[tuple[str, int]]:
        """Each client's stream version as kept, set-aside clients last."""
        return [
            *((client.client, client.version) for client in self.clients),
            *((client, version) for (client, _), version in zip(self.set_aside, self.set_aside_versions)),
        ]


def serves(ruleset: RuleSet, grace_days: int) -> bool:
    """Kept moments of facts computed with ``grace_days`` can decide ``ruleset`` (see the module)."""
    return ruleset.facts_computed == (grace_days, False) and Standings.for_ruleset(ruleset).representable


#: client-moments whose values are gathered before they go into the columns (in one comprehension per column)
_ROWS_AT_ONCE = 20_000
#: client-moments placed in one call when every standing is decided (each call holds the interpreter lock)
_SLICE = 2_000


class _Column:
    """A :class:`FactColumn` being built: its values' indexes by kind and value (1 and 1.0 and True stay apart)."""

    def __init__(self) -> None:
        self.index: dict[tuple[type, Any], int] = {}
        self.taken = array(_ITEMS[0][0])

    def take(self, values: Sequence[FactValue | None]) -> None:
        index = self.index
        taken = [index.setdefault(key, len(index)) for key in zip(map(type, values), values)]
        if len(index) > dict(_ITEMS)[self.taken.typecode]:
            item = next(item for item, limit in _ITEMS if len(index) <= limit)
            self.taken = array(item, self.taken)
        self.taken.extend(taken)

    def kept(self) -> FactColumn:
        return FactColumn(tuple(value for _, value in self.index), self.taken)


class MomentsKeeping:
    """Kept moments being built, one client's record at a time (:meth:`add`), in client order."""

    def __init__(self, timeframe: Timeframe, grace_days: int) -> None:
        self._timeframe = timeframe
        self._moments = timeframe.monthly_moments()
        self._grace_days = grace_days
        self._columns = {name: _Column() for name in FACTS}
        #: the values of the client-moments not in the columns yet, each in the order of ``FACTS``
        self._rows: list[tuple[FactValue | None, ...]] = []
        self._clients: list[KeptClient] = []
        self._set_aside: list[tuple[str, str]] = []
        self._set_aside_versions: list[int] = []
        self._size = 0

    def add(self, record: ClientRecord) -> None:
        """Ask ``record`` its facts at each moment a replay checks it at, and keep them."""
        checked = check_moments(record, self._moments, self._timeframe)
        rows = self._values_at(checked, record.client, record.version, lambda moment: record.facts(moment, self._grace_days))
        if rows is not None:
            departure = KeptDeparture.of(record.departure)
            self._keep(KeptClient(record.client, departure, tuple(checked), self._size, record.version, record.first_at), rows)

    def checked(self, client: KeptClient) -> list[Instant]:
        """The moments ``client`` (its stream unchanged since it was kept) is checked at in this history."""
        departed_at = None if client.departure is None else client.departure.at
        return moments_checked(client.first_at, departed_at, self._moments, self._timeframe)

    def reuse(
        self, kept: KeptMoments, client: KeptClient, fold: ClientFold | None = None, checked: list[Instant] | None = None
    ) -> bool:
        """Keep ``client`` of ``kept`` (its stream unchanged since): as it was kept if it is checked at the same
        moments in this history, else with the moments new to it (a month or the end of the history came since)
        asked of ``fold``, its fold at the same version; False when it has new moments and no fold is given.
        ``checked``: :meth:`checked` of it, if known already."""
        if checked is None:
            checked = self.checked(client)
        if _keys(checked) == _keys(client.moments):
            rows = kept.rows_of(client)
        else:
            if fold is None:
                return False
            asked = self._values_at(
                checked, client.client, client.version,
                lambda moment: fold.facts(moment, grace_days=self._grace_days, explained=False),
                known=dict(zip(_keys(client.moments), kept.rows_of(client))),
            )
            if asked is None:
                return True
            rows = asked
        self._keep(attrs.evolve(client, moments=tuple(checked), start=self._size), rows)
        return True

    def set_aside(self, client: str, why: str, version: int) -> None:
        """Keep ``client`` set aside (its facts cannot be computed) as it was at ``version`` of its stream."""
        self._set_aside.append((client, why))
        self._set_aside_versions.append(version)

    def _values_at(
        self,
        checked: list[Instant],
        client: str,
        version: int,
        facts_at: Callable[[Instant], Facts],
        known: dict[int, tuple[FactValue | None, ...]] | None = None,
    ) -> list[tuple[FactValue | None, ...]] | None:
        """The values at each of ``checked``, in the order of ``FACTS``: those ``known`` by moment key, the others
        from ``facts_at``; None, and the client set aside, when its facts cannot be computed."""
        known = known or {}
        try:
            return [known.get(moment.key) or tuple(map(facts_at(moment).values.get, FACTS)) for moment in checked]
        except StoreError:
            raise
        except UNDECIDABLE as error:
            self.set_aside(client, one_line(error), version)
            return None

    def _keep(self, client: KeptClient, rows: list[tuple[FactValue | None, ...]]) -> None:
        self._rows.extend(rows)
        self._clients.append(client)
        self._size += len(rows)
        if len(self._rows) >= _ROWS_AT_ONCE:
            self._take_rows()

    def kept(self) -> KeptMoments:
        self._take_rows()
        facts = {
            name: column.kept() for name, column in self._columns.items() if any(v is not None for _, v in column.index)
        }
        return KeptMoments(
            self._timeframe, tuple(self._moments), self._grace_days, tuple(self._clients), facts, self._size,
            tuple(self._set_aside), tuple(self._set_aside_versions),
        )

    def _take_rows(self) -> None:
        for column, values in zip(self._columns.values(), zip(*self._rows)):
            column.take(values)
        self._rows.clear()


class MomentsUpdate:
    """Kept moments brought up to date from ``stored`` ones, one client at a time in client order (see the module).

    The facts of a client at a moment depend only on its own events up to then, so a client whose stream is at
    the version it was kept at keeps its values at every moment it was kept at, and only the moments new to it
    (a month passed, or the end of the history moved) are asked of its fold: :meth:`reuse` keeps it without
    reading its events (given its fold when it has new moments), and :meth:`add` tells its record those values
    first. A client whose stream changed, or that ``stored`` does not hold, is folded and asked anew. When
    ``stored`` holds every client of ``versions`` as it is now (:attr:`fresh`), it is the answer and nothing is
    kept again.
    """

    def __init__(
        self, stored: KeptMoments | None, timeframe: Timeframe, grace_days: int, versions: Sequence[tuple[str, int]]
    ) -> None:
        if stored is not None and stored.grace_days != grace_days:
            stored = None
        self._stored = stored
        self._grace_days = grace_days
        same_moments = stored is not None and _keys(stored.timeframe.checked_moments()) == _keys(timeframe.checked_moments())
        self.fresh = same_moments and stored is not None and _same_clients(stored, versions)
        self._keeping = MomentsKeeping(timeframe, grace_days)
        self._clients = {client.client: client for client in stored.clients} if stored is not None else {}
        #: the moments :meth:`needs_fold` found a client checked at, for :meth:`reuse` (not computed twice)
        self._checked: dict[str, list[Instant]] = {}
        self._set_aside = (
            {client: (why, version) for (client, why), version in zip(stored.set_aside, stored.set_aside_versions)}
            if stored is not None and same_moments
            else {}
        )

    def needs_fold(self, client: str, version: int) -> bool:
        """Whether ``client`` at ``version`` is kept at that version and has moments new to it: its fold at that
        version gives them (:meth:`reuse`), without reading its events."""
        kept = self._kept_at(client, version)
        if kept is None:
            return False
        _, found = kept
        checked = self._checked[client] = self._keeping.checked(found)
        return _keys(checked) != _keys(found.moments)

    def reuse(self, client: str, version: int, fold: ClientFold | None = None) -> bool:
        """Keep ``client`` at ``version`` of its stream as it was kept (its new moments, if any, asked of ``fold``,
        its fold at that version), without reading it, if it can be."""
        kept = self._kept_at(client, version)
        if kept is not None:
            return self._keeping.reuse(*kept, fold, self._checked.pop(client, None))
        why, at = self._set_aside.get(client, ("", None))
        if at == version:  # its facts failed at moments it is still checked at, and nothing new came
            self._keeping.set_aside(client, why, version)
            return True
        return False

    def tell(self, record: ClientRecord) -> None:
        """Tell ``record`` the values kept of it, if they were kept at its version."""
        kept = self._kept_at(record.client, record.version)
        if kept is not None:
            stored, found = kept
            for moment, row in zip(found.moments, stored.rows_of(found)):
                record.knows(moment, self._grace_days, {n: v for n, v in zip(FACTS, row) if v is not None})

    def known(
        self, client: str, version: int, onboardings: Iterable[Event], read: Callable[[], Iterable[Event]]
    ) -> ClientRecord | None:
        """``client``'s record built without reading its events (:meth:`ClientRecord.known`), when it was kept at
        ``version`` of its stream and had not left: told the values kept of it (:meth:`tell`), it answers a pass
        over the clients at the moments it was kept at without folding. None for any other client: read it."""
        kept = self._kept_at(client, version)
        if kept is None:
            return None
        _, found = kept
        if found.departure is not None or found.first_at is None:
            return None
        return ClientRecord.known(client, version=version, first_at=found.first_at, onboardings=onboardings, read=read)

    def _kept_at(self, client: str, version: int) -> tuple[KeptMoments, KeptClient] | None:
        """The stored moments and ``client`` in them, if it was kept at ``version`` of its stream."""
        found = self._clients.get(client)
        if self._stored is None or found is None or found.version != version:
            return None
        return self._stored, found

    def add(self, record: ClientRecord) -> None:
        """:meth:`tell` ``record``, then keep it (unless :attr:`fresh`)."""
        self.tell(record)
        if not self.fresh:
            self._keeping.add(record)

    def kept(self) -> KeptMoments:
        if self.fresh and self._stored is not None:
            return self._stored
        return self._keeping.kept()


def kept_up_to_date(
    stored: KeptMoments | None,
    timeframe: Timeframe,
    grace_days: int,
    versions: Sequence[tuple[str, int]],
    record_of: Callable[[str], ClientRecord],
    *,
    folds_of: Callable[[list[str]], Iterable[ClientFold]] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    advance: Callable[[], None] = lambda: None,
) -> KeptMoments | None:
    """The kept moments of a history whose clients are ``versions`` (each with its stream's version, in order),
    taken from ``stored`` where they still hold (:class:`MomentsUpdate`); the moments new to an unchanged client
    asked of its fold (``folds_of``: the latest folds of the clients given, in their order), the other clients
    read by ``record_of``. None when ``cancelled`` says so between two clients; ``advance`` is called once a client."""
    update = MomentsUpdate(stored, timeframe, grace_days, versions)
    if update.fresh:
        for _ in versions:
            advance()
        return update.kept()
    extended = [client for client, version in versions if update.needs_fold(client, version)]
    folds = iter(folds_of(extended) if folds_of is not None and extended else ())
    pending = next(folds, None)
    for client, version in versions:
        if cancelled():
            return None
        fold = None
        if pending is not None and pending.client == client:
            fold, pending = pending, next(folds, None)
        if not update.reuse(client, version, fold if fold is not None and fold.version == version else None):
            update.add(record_of(client))
        advance()
    return update.kept()


def _same_clients(stored: KeptMoments, versions: Sequence[tuple[str, int]]) -> bool:
    """Whether ``stored`` was kept of exactly the clients of ``versions``: in the same order, each at the same
    version."""
    kept = stored.versions()
    if len(kept) != len(versions) or dict(kept) != dict(versions):
        return False
    set_aside = {client for client, _ in stored.set_aside}
    return [client.client for client in stored.clients] == [client for client, _ in versions if client not in set_aside]


def _keys(moments: Iterable[Instant]) -> list[int]:
    return [moment.key for moment in moments]


def replay_kept(
    kept: KeptMoments, columns: Sequence[Column], fired: FiredRules, *, horizon_days: int = HORIZON_DAYS
) -> tuple[list[Instant], list[Replayed]] | None:
    """:func:`~clientrules.domain.learning.backtest.replay` of ``columns`` on ``kept``: the same moments and
    results; None when some column cannot be decided on kept moments (replay it from the histories)."""
    memo = DecisionMemo(fired)
    decided = []
    for column in columns:
        found = _decided(kept, column, memo)
        if found is None:
            return None
        decided.append(found)
    tallies = Tallies(columns, settled_until(kept.timeframe, horizon_days), horizon_days)
    for client in kept.clients:
        start, end = client.start, client.start + len(client.moments)
        tallies.add(client, [list(zip(client.moments, per_moment[start:end])) for per_moment in decided])
    return list(kept.moments), tallies.results(kept.set_aside)


def keep_decisions(kept: KeptMoments, version: Any, fired: FiredRules) -> bool:
    """Decide ``version`` (adopted) at every kept moment and keep its decisions with them, ready for the next
    replay beside it; False when it cannot be decided on kept moments."""
    return _decided(kept, Column.of("", version), DecisionMemo(fired)) is not None


def _decided(kept: KeptMoments, column: Column, memo: DecisionMemo) -> list[Decided] | None:
    """The column's decision at every client-moment, in order; None if it cannot be read off ``kept``."""
    in_force = {moment.key: column.version_at(moment) for moment in kept.timeframe.checked_moments()}
    versions = {(v.version, v.ruleset.source): v for v in in_force.values()}
    by_version: dict[tuple[int, str], list[Decided]] = {}
    for identity, version in versions.items():
        found = kept.decisions_of(version, lambda: _decide_each_standing(kept, version, memo))
        if found is None:
            return None
        by_version[identity] = found
    if len(by_version) == 1:
        (only,) = by_version.values()
        return only
    identity_at = {key: (v.version, v.ruleset.source) for key, v in in_force.items()}
    return [
        by_version[identity_at[moment.key]][client.start + offset]
        for client in kept.clients
        for offset, moment in enumerate(client.moments)
    ]


def _decide_each_standing(kept: KeptMoments, version: Any, memo: DecisionMemo) -> list[Decided] | None:
    """``version``'s decision at every client-moment: the engines asked once per distinct standing."""
    ruleset = version.ruleset
    if not serves(ruleset, kept.grace_days):
        return None
    standings = Standings.for_ruleset(ruleset)
    tables: list[tuple[Sequence[int], list[int]] | None] = []  # None: a fact absent at every moment
    for fact, constants, boolean in standings.thresholds:
        column = kept.facts.get(fact)
        if column is None:
            tables.append(None)
            continue
        positions = [position_of(value, constants, boolean) for value in column.values]
        table = [position for position in positions if position is not None]
        if len(table) < len(positions):
            return None
        tables.append((column.taken, table))
    number_of: dict[Placing, int] = {}  # each placing met -> the number of its standing
    numbers: dict[Standing, int] = {}  # each standing met -> its number, in the order met
    first: list[int] = []  # each standing's first client-moment, by number
    at: list[int] = []  # each client-moment's standing, by number
    # a slice at a time: each whole-column call below holds the interpreter lock while it runs, and a server's
    # requests wait for it (the history is kept in a thread of the server's)
    for start in range(0, kept.size, _SLICE):
        stop = min(start + _SLICE, kept.size)
        placings: list[Placing] = list(zip(*(
            repeat(ABSENT, stop - start) if table is None else map(table[1].__getitem__, table[0][start:stop])
            for table in tables
        ))) if tables else [()] * (stop - start)
        # each distinct placing -> its first client-moment (the later of equal keys is overwritten by the earlier)
        for placing, index in dict(zip(reversed(placings), range(stop - 1, start - 1, -1))).items():
            if placing not in number_of:
                number = number_of[placing] = numbers.setdefault(standings.of_placing(placing), len(numbers))
                if number == len(first):
                    first.append(index)
                first[number] = min(first[number], index)
        at.extend(map(number_of.__getitem__, placings))
    requests = [(kept.client_at(index), kept.facts_at(index)) for index in first]
    try:
        answers = memo.decide(requests, version)
    except StoreError:
        raise
    except UNDECIDABLE:  # the histories' replay finds which client and sets it aside
        return None
    decisions: list[Decided] = []
    for start in range(0, len(at), _SLICE):
        decisions.extend(map(answers.__getitem__, at[start : start + _SLICE]))
    return decisions
