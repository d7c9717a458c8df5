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
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from typing import Any, Callable, Iterable, Iterator, Sequence

import attrs

from clientrules.domain.decisions.set_aside import UNDECIDABLE, one_line
from clientrules.domain.decisions.standing import Standings, position_of
from clientrules.domain.errors import StoreError
from clientrules.domain.events import Instant
from clientrules.domain.facts import Facts
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
from clientrules.domain.learning.evidence import check_moments
from clientrules.domain.learning.history import ClientRecord, Departure, Histories, Timeframe
from clientrules.domain.rules.model import FactValue, RuleSet

#: the index arrays' item: 2 bytes while a fact took fewer distinct values than that holds, else 4
_SMALL, _LARGE = "H", "I"
_SMALL_LIMIT = 2**16
#: adopted versions whose decisions at every client-moment are kept with the moments
VERSIONS_KEPT = 4


@attrs.frozen
class KeptClient:
    """One client of kept moments: what the counts read of it, its moments, and where they start in the columns."""

    client: str
    departure: Departure | None
    moments: tuple[Instant, ...]
    start: int


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


def serves(ruleset: RuleSet, grace_days: int) -> bool:
    """Kept moments of facts computed with ``grace_days`` can decide ``ruleset`` (see the module)."""
    return ruleset.facts_computed == (grace_days, False) and Standings.for_ruleset(ruleset).representable


#: client-moments whose values are gathered before they go into the columns (in one comprehension per column)
_ROWS_AT_ONCE = 20_000


class _Column:
    """A :class:`FactColumn` being built: its values' indexes by kind and value (1 and 1.0 and True stay apart)."""

    def __init__(self) -> None:
        self.index: dict[tuple[type, Any], int] = {}
        self.taken = array(_LARGE)

    def take(self, values: Sequence[FactValue | None]) -> None:
        index = self.index
        self.taken.extend([index.setdefault(key, len(index)) for key in zip(map(type, values), values)])

    def kept(self) -> FactColumn:
        taken = array(_SMALL, self.taken) if len(self.index) < _SMALL_LIMIT else self.taken
        return FactColumn(tuple(value for _, value in self.index), taken)


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
        self._size = 0

    def add(self, record: ClientRecord) -> None:
        """Ask ``record`` its facts at each moment a replay checks it at, and keep them."""
        checked = check_moments(record, self._moments, self._timeframe)
        try:
            values = [record.facts(moment, self._grace_days).values for moment in checked]
        except StoreError:
            raise
        except UNDECIDABLE as error:
            self._set_aside.append((record.client, one_line(error)))
            return
        self._rows.extend(tuple(map(found.get, FACTS)) for found in values)
        self._clients.append(KeptClient(record.client, record.departure, tuple(checked), self._size))
        self._size += len(checked)
        if len(self._rows) >= _ROWS_AT_ONCE:
            self._take_rows()

    def kept(self) -> KeptMoments:
        self._take_rows()
        facts = {
            name: column.kept() for name, column in self._columns.items() if any(v is not None for _, v in column.index)
        }
        return KeptMoments(
            self._timeframe, tuple(self._moments), self._grace_days, tuple(self._clients), facts, self._size,
            tuple(self._set_aside),
        )

    def _take_rows(self) -> None:
        for column, values in zip(self._columns.values(), zip(*self._rows)):
            column.take(values)
        self._rows.clear()


def keep_moments(
    histories: Histories, grace_days: int, *, cancelled: Callable[[], bool] = lambda: False
) -> KeptMoments | None:
    """Every client of ``histories`` folded once and its facts kept at each moment a replay checks it at;
    None when ``cancelled`` says so between two clients."""
    keeping = MomentsKeeping(histories.timeframe, grace_days)
    for record in histories:
        if cancelled():
            return None
        keeping.add(record)
    return keeping.kept()


class Teed:
    """Histories that hand each record to ``also`` as it is read: another pass's work done in the same pass."""

    def __init__(self, histories: Histories, also: Callable[[ClientRecord], None]) -> None:
        self._histories = histories
        self._also = also
        self.timeframe = histories.timeframe

    def __iter__(self) -> Iterator[ClientRecord]:
        for record in self._histories:
            self._also(record)
            yield record


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
    placed: list[Iterable[int]] = []
    for fact, constants, boolean in standings.thresholds:
        column = kept.facts.get(fact)
        if column is None:  # absent at every moment: it stands in the same place everywhere
            continue
        positions = [position_of(value, constants, boolean) for value in column.values]
        table = [position for position in positions if position is not None]
        if len(table) < len(positions):
            return None
        placed.append(map(table.__getitem__, column.taken))
    placings: list[tuple[int, ...]] = list(zip(*placed)) if placed else [()] * kept.size
    # each distinct placing -> its first client-moment (the later of equal keys is overwritten by the earlier)
    first_placed = dict(zip(reversed(placings), range(kept.size - 1, -1, -1)))
    standing_of = {placing: standings.of(kept.facts_at(index).values) for placing, index in first_placed.items()}
    at = list(map(standing_of.__getitem__, placings))
    first = dict(zip(reversed(at), range(kept.size - 1, -1, -1)))
    requests = [(kept.client_at(index), kept.facts_at(index)) for index in first.values()]
    try:
        answers = memo.decide(requests, version)
    except StoreError:
        raise
    except UNDECIDABLE:  # the histories' replay finds which client and sets it aside
        return None
    return list(map(dict(zip(first, answers)).__getitem__, at))
