"""Backtest: replay every client's history month by month under two rule sets and compare what they decide.

Each client is folded once (:class:`~clientrules.domain.learning.history.History`);
at the first day of every month of its life with us its facts are asked from
the fold and decided by the real engine
(:class:`~clientrules.adapters.isolated.IsolatedEngine`, in a process of its own), exactly as ``ledger.decisions``
would have decided then. The same code serves ``clientrules backtest`` and the
backtest of every proposal. What is counted:

* a **departure is flagged** when some decision in the ``horizon_days`` (180)
  before its ``RelationshipEnded`` is not ``keep``; its **lead** is the days
  from the earliest such decision to the departure;
* a **false alarm** is a retained client (no ``RelationshipEnded``) with a
  decision other than ``keep`` at some month;
* a **changed decision** is a (client, month) whose verdict or fired rules
  differ between the two rule sets.

For a rule the candidate adds or changes, the same counts are made for "this
rule fired" instead of "the verdict is not keep".
"""

from __future__ import annotations

import statistics
import itertools
from collections import Counter
from typing import Any, Callable, Iterable

import attrs

from clientrules.domain.decisions.model import Decision
from clientrules.domain.decisions.reasons import build_decision
from clientrules.adapters.isolated import IsolatedEngine
from clientrules.domain.events import Instant
from clientrules.domain.learning.history import History, days_before, days_between
from clientrules.domain.rules.model import RuleSet
from clientrules.application.rule_versions import RuleSetVersion

HORIZON_DAYS = 180
#: (client, month) decisions sent to the engine's process per round trip
REPLAY_BATCH = 1_000
Replay = dict[str, list[Decision]]


class Replayer:
    """Decides every client at every month under any rule set, remembering engines and decisions."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.moments = history.monthly_moments()
        self._engines: dict[tuple[int, str], IsolatedEngine] = {}
        self._replays: dict[tuple[int, str], Replay] = {}

    def engine(self, version: Any) -> IsolatedEngine:
        """The engine of a rule-set version (anything with ``version`` and ``ruleset``), in a child process."""
        key = (version.version, version.ruleset.source)
        if key not in self._engines:
            self._engines[key] = IsolatedEngine(version)
        return self._engines[key]

    def replay(self, version: Any) -> Replay:
        """Each client's decisions under ``version`` at the months it was a client, in time order."""
        key = (version.version, version.ruleset.source)
        if key not in self._replays:
            engine = self.engine(version)
            grace_days = version.ruleset.parameters.grace_days
            requests = (
                (client, record.facts(moment, grace_days))
                for client, record in self.history.records.items()
                for moment in record.active_moments(self.moments)
            )
            replay: Replay = {client: [] for client in self.history.records}
            while batch := list(itertools.islice(requests, REPLAY_BATCH)):
                for (client, facts), fired in zip(batch, engine.fired_batch(batch)):
                    replay[client].append(build_decision(client, version.ruleset, version.version, facts, fired))
            self._replays[key] = replay
        return self._replays[key]

    def replay_in_force(self, version_at: Callable[[Instant], Any]) -> Replay:
        """Each client's decisions at every month under the version in force at that month."""
        result: Replay = {}
        for client in self.history.records:
            decisions = []
            for moment in self.history.records[client].active_moments(self.moments):
                decisions.append(self._decision_at(client, moment, version_at(moment)))
            result[client] = decisions
        return result

    def _decision_at(self, client: str, moment: Instant, version: Any) -> Decision:
        for decision in self.replay(version)[client]:
            if decision.as_of.key == moment.key:
                return decision
        raise LookupError(f"no decision for {client!r} at {moment.text}")

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()


def version_in_force(versions: list[RuleSetVersion], moment: Instant) -> RuleSetVersion:
    """The newest version adopted at or before ``moment``; version 1 (the default playbook) before any."""
    in_force = versions[0]
    for version in versions:
        if version.adopted_at is not None and version.adopted_at <= moment:
            in_force = version
    return in_force


@attrs.frozen
class Flag:
    """A departed client flagged before it left: from when, how many days ahead, and by which rules."""

    client: str
    first_flagged: Instant
    lead_days: int
    verdict: str
    rules: tuple[str, ...]

    def to_json(self) -> dict:
        return {
            "client": self.client,
            "first_flagged": self.first_flagged.date.isoformat(),
            "lead_days": self.lead_days,
            "verdict": self.verdict,
            "rules": list(self.rules),
        }


@attrs.frozen
class Outcome:
    """What one rule set (or one rule) flagged over the replayed history."""

    decisions: int
    departures: int
    flagged: tuple[Flag, ...]
    retained: int
    false_alarms: tuple[str, ...]
    verdicts: dict[str, int] = attrs.field(factory=dict)

    @property
    def median_lead_days(self) -> float | None:
        return statistics.median(f.lead_days for f in self.flagged) if self.flagged else None

    def to_json(self) -> dict:
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
        }


def outcome(history: History, replay: Replay, flags: Callable[[Decision], bool], *, horizon_days: int = HORIZON_DAYS) -> Outcome:
    """Departures flagged (with lead) and retained clients flagged, where ``flags`` says a decision flags."""
    flagged: list[Flag] = []
    false_alarms: list[str] = []
    for client, record in history.records.items():
        decisions = replay.get(client, [])
        if record.departure is None:
            if any(flags(d) for d in decisions):
                false_alarms.append(client)
            continue
        since = days_before(record.departure.at, horizon_days)
        first = next((d for d in decisions if d.as_of >= since and flags(d)), None)
        if first is not None:
            rules = tuple(r.rule for r in first.reasons if r.verdict == first.verdict)
            flagged.append(Flag(client, first.as_of, days_between(first.as_of, record.departure.at), first.verdict, rules))
    verdicts = Counter(d.verdict for decisions in replay.values() for d in decisions)
    return Outcome(
        decisions=sum(verdicts.values()),
        departures=len(history.departed),
        flagged=tuple(flagged),
        retained=len(history.retained),
        false_alarms=tuple(false_alarms),
        verdicts=dict(verdicts),
    )


def not_keep(decision: Decision) -> bool:
    return decision.verdict != "keep"


def rule_fired(rule_id: str) -> Callable[[Decision], bool]:
    return lambda decision: rule_id in decision.fired


@attrs.frozen
class Change:
    """One (client, month) decided differently by the candidate."""

    client: str
    as_of: Instant
    before: str
    after: str
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def to_json(self) -> dict:
        return {
            "client": self.client,
            "as_of": self.as_of.date.isoformat(),
            "before": self.before,
            "after": self.after,
            "rules_added": list(self.added),
            "rules_removed": list(self.removed),
        }


def changes(current: Replay, candidate: Replay) -> list[Change]:
    found = []
    for client, decisions in current.items():
        for before, after in zip(decisions, candidate.get(client, [])):
            if before.verdict != after.verdict or before.fired != after.fired:
                found.append(
                    Change(
                        client,
                        before.as_of,
                        before.verdict,
                        after.verdict,
                        tuple(r for r in after.fired if r not in before.fired),
                        tuple(r for r in before.fired if r not in after.fired),
                    )
                )
    return found


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
    changes: tuple[Change, ...]
    rules: dict[str, Outcome]

    def to_json(self, *, changes_limit: int = 200) -> dict:
        transitions = Counter(f"{c.before} -> {c.after}" for c in self.changes)
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
            "changed_decisions": len(self.changes),
            "changed_clients": len({c.client for c in self.changes}),
            "transitions": dict(sorted(transitions.items())),
            "changes": [c.to_json() for c in self.changes[:changes_limit]],
            "rules": {rule: result.to_json() for rule, result in self.rules.items()},
        }


def backtest(
    replayer: Replayer,
    current: Any,
    candidate: Any,
    *,
    candidate_label: str,
    horizon_days: int = HORIZON_DAYS,
) -> Backtest:
    """Replay ``current`` and ``candidate`` (rule-set versions) over the history and compare them."""
    history = replayer.history
    before, after = replayer.replay(current), replayer.replay(candidate)
    return Backtest(
        current_version=current.version,
        candidate_label=candidate_label,
        moments=tuple(replayer.moments),
        horizon_days=horizon_days,
        current=outcome(history, before, not_keep, horizon_days=horizon_days),
        candidate=outcome(history, after, not_keep, horizon_days=horizon_days),
        changes=tuple(changes(before, after)),
        rules={
            rule: outcome(history, after, rule_fired(rule), horizon_days=horizon_days)
            for rule in changed_rules(current.ruleset, candidate.ruleset)
        },
    )


def describe(result: Backtest) -> Iterable[str]:
    """The backtest as lines of plain text: the two rule sets side by side, then the rules that differ."""
    yield (
        f"Backtest over {len(result.moments)} monthly moments"
        + (f" ({result.moments[0].date} to {result.moments[-1].date})" if result.moments else "")
        + f"; a departure counts as flagged when a decision in the {result.horizon_days} days before it was not keep."
    )
    yield ""
    columns = [(f"current (v{result.current_version})", result.current)]
    if result.candidate_label != columns[0][0]:
        columns.append((result.candidate_label, result.candidate))
    width = max(18, *(len(label) + 2 for label, _ in columns))
    rows = (
        ("", lambda label, o: label),
        ("decisions", lambda label, o: o.decisions),
        ("departures flagged", lambda label, o: f"{len(o.flagged)} of {o.departures}"),
        ("median lead (days)", lambda label, o: _number(o.median_lead_days)),
        ("false alarms (retained flagged)", lambda label, o: f"{len(o.false_alarms)} of {o.retained}"),
    )
    for name, cell in rows:
        yield f"{name:34}" + "".join(f"{cell(label, o)!s:>{width}}" for label, o in columns)
    yield ""
    clients = len({c.client for c in result.changes})
    yield f"Decisions that change: {len(result.changes)} (for {clients} clients)" if clients else "Decisions that change: none"
    for transition, count in sorted(Counter(f"{c.before} -> {c.after}" for c in result.changes).items()):
        yield f"  {transition}: {count}"
    for rule, rule_outcome in result.rules.items():
        yield ""
        yield (
            f"Rule {rule}: fired before {len(rule_outcome.flagged)} of {rule_outcome.departures} departures "
            f"(median {_number(rule_outcome.median_lead_days)} days ahead), "
            f"and for {len(rule_outcome.false_alarms)} of {rule_outcome.retained} retained clients"
        )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"
