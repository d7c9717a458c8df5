"""Backtest: replay every client's history month by month under rule sets and compare what they decide.

One pass, :data:`CLIENTS_PER_ASK` clients at a time (:func:`replay`): each client is folded once
and, at the first day of every month of its life with us, its facts are asked
from the fold (and, for a client who stayed, at the end of the history too)
and decided under every rule set compared (a :class:`Column`),
exactly as ``ledger.decisions`` would have decided then: the rules that
fire come from the ``fired`` function the caller passes (the application's
engines, which ask the real engine once per standing of the facts,
:mod:`clientrules.domain.decisions.standing`), asked once per rule set for
all the moments of those clients.
Nothing is kept per client but its counts, and the first
:data:`CHANGES_KEPT` changed decisions. What is counted:

* a **departure is flagged** when some decision in the ``horizon_days`` (H,
  180) before it (its notice, else its ``RelationshipEnded``) is not ``keep``;
  its **lead** is the days from the earliest such decision to the departure.
  It came **too late** when the client says it had decided earlier than that
  ("When did you first think of leaving?");
* a client **we ended with** is not a departure: its ending is a decision
  carried out, counted apart (``ended_by_us``), never flagged nor a false alarm;
* a **false alarm** is a retained client (no ``RelationshipEnded``) first
  flagged at least H days before the end of the history: it stayed at least
  H days after the warning. One first flagged later is **pending**: we cannot
  know yet whether it will leave (the censoring rule of the learning loop);
* a **changed decision** is a (client, month) whose verdict or fired rules
  differ between the first column (the current rule set) and another;
* a client that cannot be decided at some moment (its facts or the engine
  fail for it) is **set aside** with a one-line reason, out of every count,
  and every other client is replayed.

For a rule a candidate adds or changes, the same counts are made for "this
rule fired" instead of "the verdict is not keep".
"""

from __future__ import annotations

import statistics
from collections import Counter
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import attrs

from clientrules.domain.decisions.set_aside import UNDECIDABLE, decide_each_alone
from clientrules.domain.errors import StoreError
from clientrules.domain.events import Instant
from clientrules.domain.facts import Facts
from clientrules.domain.learning.evidence import check_moments
from clientrules.domain.learning.history import ClientRecord, Histories, Timeframe, days_before, days_between
from clientrules.domain.rules.model import RuleSet, most_severe

HORIZON_DAYS = 180
#: changed decisions kept to show (all of them are counted)
CHANGES_KEPT = 200


class Leaving(Protocol):
    """A departure as the counts read it (:class:`~clientrules.domain.learning.history.Departure` is one)."""

    @property
    def at(self) -> Instant: ...

    @property
    def chosen_by_client(self) -> bool: ...

    @property
    def decided_days_before(self) -> int | None: ...


class Departing(Protocol):
    """A client as the counts read it: its id, and its departure if it left."""

    @property
    def client(self) -> str: ...

    @property
    def departure(self) -> Leaving | None: ...


class RuleSetVersionLike(Protocol):
    """A rule-set version: its number and its rules."""

    @property
    def version(self) -> int: ...

    @property
    def ruleset(self) -> RuleSet: ...


#: The rules the real engine fires: ``fired(requests, version)``, for each ``(client, facts)`` of ``requests``
#: the ids in firing order (the application's shared engines, which ask the engine once per standing).
FiredRules = Callable[[Sequence[tuple[str, Facts]], Any], Sequence[Sequence[str]]]
#: clients whose moments are decided together: one request to the engines for all of them
CLIENTS_PER_ASK = 32
#: The portfolio's value (what ``revenue_share`` divides by) at each of the moments given, in their order.
PortfolioValues = Callable[[Sequence[Instant]], Sequence[Decimal]]


class Portfolio:
    """The portfolio's value at every moment of the replay, asked of ``values`` once, when a rule set first reads
    ``revenue_share`` (None at every moment without ``values``: the fact is then absent)."""

    def __init__(self, values: PortfolioValues | None, moments: Sequence[Instant]) -> None:
        self._values = values
        self._moments = moments
        self._at: dict[int, Decimal] | None = None

    def at(self, moment: Instant) -> Decimal | None:
        if self._values is None:
            return None
        if self._at is None:
            self._at = dict(zip((moment.key for moment in self._moments), self._values(self._moments)))
        return self._at[moment.key]


@attrs.frozen
class Decided:
    """What a rule set decided at one moment: all the backtest needs of a :class:`~clientrules.domain.decisions.Decision`."""

    verdict: str
    fired: tuple[str, ...]
    #: the rules that gave the verdict
    rules: tuple[str, ...]
    ruleset_version: int


class DecisionMemo:
    """What each set of fired rules decides, by rule-set version: built once for every moment that fires them."""

    def __init__(self, fired: FiredRules) -> None:
        self._fired = fired
        self._decided: dict[tuple[int, str, tuple[str, ...]], Decided] = {}

    def decide(self, requests: Sequence[tuple[str, Facts]], version: Any) -> list[Decided]:
        """What ``version`` decides for each ``(client, facts)``."""
        decided = []
        for rules_fired in self._fired(requests, version):
            fired = tuple(rules_fired)
            key = (version.version, version.ruleset.source, fired)
            found = self._decided.get(key)
            if found is None:
                verdicts = {rule.id: rule.verdict for rule in version.ruleset.rules}
                verdict = most_severe(verdicts[r] for r in fired if verdicts[r])
                rules = tuple(r for r in fired if verdicts[r] == verdict)
                found = self._decided[key] = Decided(verdict, fired, rules, version.version)
            decided.append(found)
        return decided


@attrs.frozen
class Flag:
    """A departed client flagged before it left: from when, how many days ahead, and by which rules."""

    client: str
    first_flagged: Instant
    lead_days: int
    verdict: str
    rules: tuple[str, ...]
    ruleset_version: int = 0
    #: how many days before leaving the client says it had decided, at least (None: not said)
    decided_days_before: int | None = None

    @property
    def too_late(self) -> bool:
        """Whether the warning came after the client had, by its own account, decided to leave."""
        return self.decided_days_before is not None and self.lead_days < self.decided_days_before

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "first_flagged": self.first_flagged.date.isoformat(),
            "lead_days": self.lead_days,
            "verdict": self.verdict,
            "rules": list(self.rules),
            "too_late": self.too_late,
        }


@attrs.frozen
class Outcome:
    """What one rule set (or one rule) flagged over the replayed history."""

    decisions: int
    departures: int
    flagged: tuple[Flag, ...]
    retained: int
    #: retained clients first flagged at least H days before the end of the history
    false_alarms: tuple[str, ...]
    verdicts: dict[str, int] = attrs.field(factory=dict)
    #: retained clients first flagged in the last H days: outcome not known yet
    pending: tuple[str, ...] = ()
    #: clients we ended with: neither departures nor retained
    ended_by_us: int = 0

    @property
    def median_lead_days(self) -> float | None:
        return statistics.median(f.lead_days for f in self.flagged) if self.flagged else None

    def to_json(self) -> dict[str, Any]:
        return {
            "decisions": self.decisions,
            "verdicts": dict(sorted(self.verdicts.items())),
            "departures": self.departures,
            "departures_flagged": len(self.flagged),
            "median_lead_days": self.median_lead_days,
            "flagged": [flag.to_json() for flag in self.flagged],
            "retained": self.retained,
            "false_alarms": len(self.false_alarms),
            "false_alarm_clients": list(self.false_alarms),
            "pending": len(self.pending),
            "pending_clients": list(self.pending),
            "departures_flagged_too_late": sum(flag.too_late for flag in self.flagged),
            "ended_by_us": self.ended_by_us,
        }


Moment = tuple[Instant, Decided]


class Tally:
    """Counts one column's flags client by client (``flags`` says whether a decision flags)."""

    def __init__(self, flags: Callable[[Decided], bool], settled_until: Instant | None, horizon_days: int) -> None:
        self._flags = flags
        self._settled_until = settled_until
        self._horizon_days = horizon_days
        self.decisions = 0
        self.departures = 0
        self.retained = 0
        self.verdicts: Counter[str] = Counter()
        self.flagged: list[Flag] = []
        self.false_alarms: list[str] = []
        self.pending: list[str] = []
        self.ended_by_us = 0

    def add(self, record: Departing, decided: Sequence[Moment]) -> Flag | None:
        """Count one client's decisions; the flag of a departed client flagged in time.

        A client we ended with gets its flag too (the rules that warned before
        we ended it) but is counted apart, never as a departure flagged.
        """
        self.decisions += len(decided)
        self.verdicts.update(d.verdict for _, d in decided)
        if record.departure is None:
            self.retained += 1
            first = next((moment for moment, d in decided if self._flags(d)), None)
            if first is not None:
                if self._settled_until is not None and first <= self._settled_until:
                    self.false_alarms.append(record.client)
                else:
                    self.pending.append(record.client)
            return None
        departure = record.departure
        chosen = departure.chosen_by_client
        if chosen:
            self.departures += 1
        else:
            self.ended_by_us += 1
        since = days_before(departure.at, self._horizon_days)
        for moment, d in decided:
            if moment >= since and self._flags(d):
                lead = days_between(moment, departure.at)
                flag = Flag(record.client, moment, lead, d.verdict, d.rules, d.ruleset_version, departure.decided_days_before)
                if chosen:
                    self.flagged.append(flag)
                return flag
        return None

    def outcome(self) -> Outcome:
        return Outcome(
            decisions=self.decisions,
            departures=self.departures,
            flagged=tuple(sorted(self.flagged, key=lambda f: (f.first_flagged, f.client))),
            retained=self.retained,
            false_alarms=tuple(sorted(self.false_alarms)),
            verdicts=dict(self.verdicts),
            pending=tuple(sorted(self.pending)),
            ended_by_us=self.ended_by_us,
        )


def not_keep(decided: Decided) -> bool:
    return decided.verdict != "keep"


def rule_fired(rule_id: str) -> Callable[[Decided], bool]:
    return lambda decided: rule_id in decided.fired


@attrs.frozen
class Change:
    """One (client, month) decided differently by the candidate."""

    client: str
    as_of: Instant
    before: str
    after: str
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "as_of": self.as_of.date.isoformat(),
            "before": self.before,
            "after": self.after,
            "rules_added": list(self.added),
            "rules_removed": list(self.removed),
        }


class ChangeTally:
    """Decisions a column changes against the first one: all counted, the first :data:`CHANGES_KEPT` kept."""

    def __init__(self) -> None:
        self.count = 0
        self.clients = 0
        self.transitions: Counter[str] = Counter()
        self.kept: list[Change] = []

    def add(self, client: str, current: Sequence[Moment], candidate: Sequence[Moment]) -> None:
        changed = False
        for (moment, before), (_, after) in zip(current, candidate):
            if before.verdict == after.verdict and before.fired == after.fired:
                continue
            changed = True
            self.count += 1
            self.transitions[f"{before.verdict} -> {after.verdict}"] += 1
            if len(self.kept) < CHANGES_KEPT:
                added = tuple(r for r in after.fired if r not in before.fired)
                removed = tuple(r for r in before.fired if r not in after.fired)
                self.kept.append(Change(client, moment, before.verdict, after.verdict, added, removed))
        self.clients += changed


@attrs.frozen
class Column:
    """A rule set to replay: the version in force at each moment, and the rules whose own firing is counted."""

    label: str
    version_at: Callable[[Instant], Any]
    rules: tuple[str, ...] = ()

    @classmethod
    def of(cls, label: str, version: Any, rules: Iterable[str] = ()) -> Column:
        """A column deciding every moment under one version."""
        return cls(label, lambda moment: version, tuple(rules))


@attrs.frozen
class Replayed:
    """One column replayed: its outcome, its rules' outcomes, and what it changed against the first column."""

    column: Column
    outcome: Outcome
    rules: dict[str, Outcome]
    changes: ChangeTally
    #: departed client -> its flag (None: not flagged in time) and its last decision before leaving
    departed: dict[str, tuple[Flag | None, Decided | None]]
    #: (client, why) of each client that could not be decided, in the order met
    set_aside: tuple[tuple[str, str], ...] = ()


class Tallies:
    """Every column's counts, made client by client (see the module), whichever way the decisions were reached."""

    def __init__(self, columns: Sequence[Column], settled_until: Instant | None, horizon_days: int) -> None:
        self._columns = columns
        self._tallies = [Tally(not_keep, settled_until, horizon_days) for _ in columns]
        self._rule_tallies = [{rule: Tally(rule_fired(rule), settled_until, horizon_days) for rule in c.rules} for c in columns]
        self._changes = [ChangeTally() for _ in columns]
        self._departed: list[dict[str, tuple[Flag | None, Decided | None]]] = [{} for _ in columns]

    def add(self, record: Departing, decided: Sequence[Sequence[Moment]]) -> None:
        """Count one client: ``decided`` holds its decision at each of its moments, per column."""
        for index, per_moment in enumerate(decided):
            flag = self._tallies[index].add(record, per_moment)
            for tally in self._rule_tallies[index].values():
                tally.add(record, per_moment)
            if index:
                self._changes[index].add(record.client, decided[0], per_moment)
            if record.departure is not None:
                self._departed[index][record.client] = (flag, per_moment[-1][1] if per_moment else None)

    def results(self, set_aside: Sequence[tuple[str, str]]) -> list[Replayed]:
        return [
            Replayed(
                column,
                self._tallies[index].outcome(),
                {rule: tally.outcome() for rule, tally in self._rule_tallies[index].items()},
                self._changes[index],
                self._departed[index],
                tuple(set_aside),
            )
            for index, column in enumerate(self._columns)
        ]


#: How a replay is made: the monthly moments and each column's result (:func:`replay`, or from kept moments).
Replay = Callable[[Sequence[Column]], tuple[list[Instant], list[Replayed]]]


def replay(
    histories: Histories,
    columns: Sequence[Column],
    fired: FiredRules,
    *,
    horizon_days: int = HORIZON_DAYS,
    portfolio_values: PortfolioValues | None = None,
) -> tuple[list[Instant], list[Replayed]]:
    """Replay every client once under every column (see the module); the monthly moments and each column's result.

    ``portfolio_values`` gives ``revenue_share`` to the rule sets that read it (without it the fact is absent).
    """
    timeframe = histories.timeframe
    moments = timeframe.monthly_moments()
    portfolio = Portfolio(portfolio_values, timeframe.checked_moments())
    memo = DecisionMemo(fired)
    tallies = Tallies(columns, settled_until(timeframe, horizon_days), horizon_days)
    set_aside: list[tuple[str, str]] = []
    for chunk in _chunks(histories, CLIENTS_PER_ASK):
        records = {record.client: record for record in chunk}

        def replay_clients(
            clients: list[str], records: dict[str, ClientRecord] = records
        ) -> list[tuple[ClientRecord, list[list[Moment]]]]:
            checked = [(records[client], check_moments(records[client], moments, timeframe)) for client in clients]
            return list(zip((record for record, _ in checked), _decide_clients(checked, columns, memo, portfolio)))

        try:
            replayed = replay_clients(list(records))
        except StoreError:
            raise
        except UNDECIDABLE:  # find which: each client alone, the others are replayed
            replayed = decide_each_alone(
                list(records), replay_clients, lambda *client_reason: set_aside.append(client_reason)
            )
        for record, decided in replayed:
            tallies.add(record, decided)
    return moments, tallies.results(set_aside)


def settled_until(timeframe: Timeframe, horizon_days: int) -> Instant | None:
    """The last moment whose outcome is known: ``horizon_days`` before the end of the history."""
    return None if timeframe.end is None else days_before(timeframe.end, horizon_days)


def _chunks(histories: Histories, size: int) -> Iterator[list[ClientRecord]]:
    chunk: list[ClientRecord] = []
    for record in histories:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _decide_clients(
    checked: Sequence[tuple[ClientRecord, list[Instant]]], columns: Sequence[Column], memo: DecisionMemo, portfolio: Portfolio
) -> list[list[list[Moment]]]:
    """For each client, for each column, its decision at each of its moments: facts asked once per moment,
    and the engines once per rule-set version for all of them."""
    # per version: the version, its requests, and for each request the (client, column, moment) it decides
    asked: dict[tuple[int, str], tuple[Any, list[tuple[str, Facts]], list[list[tuple[int, int, int]]]]] = {}
    # per version: the grace days its facts count with, and whether it reads revenue_share (found once, not per moment)
    kinds: dict[tuple[int, str], tuple[int, bool]] = {}
    for number, (record, moments) in enumerate(checked):
        for position, moment in enumerate(moments):
            facts_by_kind: dict[tuple[int, bool], Facts] = {}
            by_version: dict[tuple[int, str], list[tuple[int, int, int]]] = {}
            for index, column in enumerate(columns):
                version = column.version_at(moment)
                identity = (version.version, version.ruleset.source)
                places = by_version.get(identity)
                if places is None:
                    kind = kinds.get(identity)
                    if kind is None:
                        kind = kinds[identity] = version.ruleset.facts_computed
                    facts = facts_by_kind.get(kind)
                    if facts is None:
                        share = portfolio.at(moment) if kind[1] else None
                        facts = facts_by_kind[kind] = record.facts(moment, kind[0], share)
                    _, requests, wanted = asked.setdefault(identity, (version, [], []))
                    requests.append((record.client, facts))
                    places = by_version[identity] = []
                    wanted.append(places)
                places.append((number, index, position))
    found: dict[tuple[int, int, int], Decided] = {}
    for version, requests, wanted in asked.values():
        for places, decided in zip(wanted, memo.decide(requests, version)):
            found.update(dict.fromkeys(places, decided))
    return [
        [[(moment, found[number, index, position]) for position, moment in enumerate(moments)] for index in range(len(columns))]
        for number, (_, moments) in enumerate(checked)
    ]


def version_in_force(versions: Sequence[Any], moment: Instant) -> Any:
    """The newest version adopted at or before ``moment``; version 1 (the default playbook) before any."""
    in_force = versions[0]
    for version in versions:
        if version.adopted_at is not None and version.adopted_at <= moment:
            in_force = version
    return in_force


def changed_rules(current: RuleSet, candidate: RuleSet) -> list[str]:
    """Ids of the candidate's enabled rules that the current rule set lacks or defines differently."""
    known = {rule.id: rule for rule in current.enabled_rules}
    return [rule.id for rule in candidate.enabled_rules if known.get(rule.id) != rule]


@attrs.frozen
class Backtest:
    """The current rule set and a candidate, replayed side by side over the same months."""

    current_version: int
    candidate_label: str
    moments: tuple[Instant, ...]
    horizon_days: int
    current: Outcome
    candidate: Outcome
    #: the first :data:`CHANGES_KEPT` changed decisions
    changes: tuple[Change, ...]
    rules: dict[str, Outcome]
    changed_decisions: int = 0
    changed_clients: int = 0
    transitions: dict[str, int] = attrs.field(factory=dict)
    #: (client, why) of each client that could not be decided, left out of every count
    set_aside: tuple[tuple[str, str], ...] = ()

    def to_json(self, *, changes_limit: int = CHANGES_KEPT) -> dict[str, Any]:
        return {
            "current_version": self.current_version,
            "candidate": self.candidate_label,
            "moments": {
                "first": self.moments[0].date.isoformat() if self.moments else None,
                "last": self.moments[-1].date.isoformat() if self.moments else None,
                "count": len(self.moments),
                "every": "month",
            },
            "horizon_days": self.horizon_days,
            "current": self.current.to_json(),
            "candidate_outcome": self.candidate.to_json(),
            "changed_decisions": self.changed_decisions,
            "changed_clients": self.changed_clients,
            "transitions": dict(sorted(self.transitions.items())),
            "changes": [c.to_json() for c in self.changes[:changes_limit]],
            "rules": {rule: result.to_json() for rule, result in self.rules.items()},
            "set_aside": set_aside_json(self.set_aside),
        }


def candidate_column(label: str, current: RuleSetVersionLike, candidate: RuleSetVersionLike) -> Column:
    """The column of a candidate version, counting the rules it adds or changes."""
    return Column.of(label, candidate, changed_rules(current.ruleset, candidate.ruleset))


def backtests(
    replayed_by: Replay,
    current: RuleSetVersionLike,
    candidates: Sequence[tuple[str, RuleSetVersionLike]],
    *,
    horizon_days: int = HORIZON_DAYS,
    extra: Sequence[Column] = (),
) -> tuple[list[Backtest], list[Replayed]]:
    """Each candidate against ``current`` in one replay by ``replayed_by`` (plus the ``extra`` columns, whose
    results come back as they are)."""
    columns = [
        Column.of(f"current (v{current.version})", current),
        *(candidate_column(label, current, version) for label, version in candidates),
        *extra,
    ]
    moments, results = replayed_by(columns)
    base = results[0]
    compared = [
        Backtest(
            current_version=current.version,
            candidate_label=result.column.label,
            moments=tuple(moments),
            horizon_days=horizon_days,
            current=base.outcome,
            candidate=result.outcome,
            changes=tuple(result.changes.kept),
            rules=result.rules,
            changed_decisions=result.changes.count,
            changed_clients=result.changes.clients,
            transitions=dict(result.changes.transitions),
            set_aside=result.set_aside,
        )
        for result in results[1:1 + len(candidates)]
    ]
    return compared, results[1 + len(candidates):]


def set_aside_json(set_aside: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"client": client, "reason": reason} for client, reason in set_aside]


def set_aside_words(clients: Sequence[str]) -> str:
    """One plain sentence naming the clients that could not be decided, and where to look (empty for none)."""
    if not clients:
        return ""
    count = len(clients)
    named = ", ".join(clients[:-1]) + " and " + clients[-1] if count > 1 else clients[0]
    return (
        f"{count} client{'s' if count > 1 else ''} could not be decided ({named}) and {'are' if count > 1 else 'is'} "
        "left out of these figures; every other client is counted. "
        "Whoever looks after clientrules can find why with clientrules db check, which says how to put it right."
    )


def describe(result: Backtest) -> Iterable[str]:
    """The backtest as lines of plain text: the two rule sets side by side, then the rules that differ."""
    yield (
        f"Backtest over {len(result.moments)} monthly checks"
        + (f" ({result.moments[0].date} to {result.moments[-1].date})" if result.moments else "")
        + f": a departure counts as warned of when a decision in the {result.horizon_days} days before it was not keep;"
        f" a client who stayed counts as a false alarm only if it was still with us {result.horizon_days} days after"
        " the first warning (those warned more recently are still open)."
    )
    yield ""
    columns = [(f"current (v{result.current_version})", result.current)]
    if result.candidate_label != columns[0][0]:
        columns.append((result.candidate_label, result.candidate))
    width = max(18, *(len(label) + 2 for label, _ in columns))
    rows = (
        ("", lambda label, o: label),
        ("decisions", lambda label, o: o.decisions),
        ("departures warned of", lambda label, o: f"{len(o.flagged)} of {o.departures}"),
        ("  too late (client had decided)", lambda label, o: sum(f.too_late for f in o.flagged)),
        ("median warning (days ahead)", lambda label, o: _number(o.median_lead_days)),
        ("false alarms (stayed)", lambda label, o: f"{len(o.false_alarms)} of {o.retained}"),
        ("still open (warned recently)", lambda label, o: len(o.pending)),
        ("ended by us (counted apart)", lambda label, o: o.ended_by_us),
    )
    for name, cell in rows:
        yield f"{name:34}" + "".join(f"{cell(label, o)!s:>{width}}" for label, o in columns)
    yield ""
    yield (
        f"Decisions that change: {result.changed_decisions} (for {result.changed_clients} clients)"
        if result.changed_clients
        else "Decisions that change: none"
    )
    for transition, count in sorted(result.transitions.items()):
        yield f"  {transition}: {count}"
    for rule, rule_outcome in result.rules.items():
        yield ""
        yield (
            f"Rule {rule}: fired before {len(rule_outcome.flagged)} of {rule_outcome.departures} departures "
            f"(median {_number(rule_outcome.median_lead_days)} days ahead), "
            f"and for {len(rule_outcome.false_alarms)} of {rule_outcome.retained} retained clients who then stayed"
            f" ({len(rule_outcome.pending)} more too recently to tell)"
        )
    if result.set_aside:
        yield ""
        yield set_aside_words([client for client, _ in result.set_aside])
        for client, reason in result.set_aside:
            yield f"  {client}: {reason}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"
