"""``ledger.learning``: the learning report, rule proposals with their backtest, accepting and rejecting them.

The thin service over the pure parts. It reads the store one client at a
time (:class:`StoredHistories`: no pass holds more than one client's events),
gathers the evidence in one pass (:func:`~clientrules.domain.learning.evidence.gather`),
asks :mod:`~clientrules.domain.learning.proposals` what to add and
:mod:`~clientrules.domain.learning.tuning` what to change, replays every
proposal in a second pass (:mod:`~clientrules.domain.learning.backtest`, with
the same engines ``ledger.decisions`` uses), and records the owner's verdicts:

* accepting validates the current rule set with the proposed rule added (or
  its threshold changed) and adopts it as a new rule-set version
  (``ledger.rules.use``); decisions from then on cite the new rule;
* both outcomes are recorded as ``ProposalDecided`` in stream ``$learning``.
  A proposal's id names what it proposes, so it survives unrelated changes;
  an accepted one is not made again, a rejected one only once its evidence
  has grown materially (:func:`still_rejected`).
"""

from __future__ import annotations

import json
import math
import threading
import tomllib
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import attrs

from clientrules.application.collector import collector_held
from clientrules.application.progress import Tracker
from clientrules.application.engines import Engines
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import ClientOnboarded, Clock, Event, Instant
from clientrules.domain.events.system import LEARNING_STREAM, ProposalDecided
from clientrules.domain.facts import ClientFold
from clientrules.domain.learning.backtest import (
    Backtest,
    Column,
    PortfolioValues,
    Replay,
    Replayed,
    backtests,
    replay,
    set_aside_json,
    version_in_force,
)
from clientrules.domain.learning.evidence import Evidence, gather
from clientrules.domain.learning.history import ClientRecord, Histories, Onboardings, Timeframe
from clientrules.domain.learning.kept import (
    KeptMoments,
    MomentsUpdate,
    keep_decisions,
    kept_up_to_date,
    replay_kept,
    serves,
)
from clientrules.domain.learning.kept_format import kept_from_bytes, kept_to_bytes
from clientrules.domain.learning.proposals import Finding, Method, NoProposal, find, learned_rule, rule_toml
from clientrules.domain.learning.reasons import LABELS, rule_id_for
from clientrules.domain.learning.report import Report, build_report
from clientrules.domain.learning.tuning import Tuning, tune, watched
from clientrules.domain.rules import Comparison, parse_ruleset, ruleset_to_toml
from clientrules.ports import ClientQueries, EventLog, EventStreams, KeptMomentsStore


class UnknownProposal(ClientRulesError):
    """No pending proposal has that id (it was decided already, or the evidence changed)."""


class StoreForLearning(EventStreams, ClientQueries, EventLog, KeptMomentsStore, Protocol):
    """What learning reads and writes: each client's stream, which clients there are, the ``$learning`` stream,
    the head position (what kept moments were kept at), and the kept moments between runs."""


#: the most client-moments kept for replays (about 50 bytes each in memory, twice that while they are kept);
#: beyond, every replay folds the histories
KEPT_MOMENTS_MAX = 1_500_000


class StoredHistories:
    """Every client of a store, read and folded one at a time, each time it is iterated."""

    def __init__(self, store: StoreForLearning, tracker: Tracker | None = None) -> None:
        self._store = store
        self._tracker = tracker
        summaries = store.clients()
        self.timeframe = Timeframe(
            min((s.first_at for s in summaries), default=None), max((s.last_at for s in summaries), default=None)
        )
        self._versions = {summary.client: summary.events for summary in summaries}

    def __iter__(self) -> Iterator[ClientRecord]:
        for client in self._store.client_ids():
            yield self.record(client)
            self.advance()

    def versions(self) -> list[tuple[str, int]]:
        """Every client, in the order they are iterated, with its stream's version when the timeframe was read."""
        return [(client, self._versions.get(client, 0)) for client in self._store.client_ids()]

    def record(self, client: str) -> ClientRecord:
        """``client``'s record, read now."""
        return ClientRecord.from_events(client, self._store.read_client(client))

    def advance(self) -> None:
        """One more client read (for the tracker, if any)."""
        if self._tracker is not None:
            self._tracker.advance()

    def known_to(self, update: MomentsUpdate, also: Callable[[ClientRecord], None]) -> KnownHistories:
        """The same clients, each as ``update`` knows it where it can, handed to ``also`` as it is read."""
        return KnownHistories(self, update, self._store, also)


class KnownHistories:
    """Every client of ``histories``, in the same order, each as ``update`` knows it where it can
    (:meth:`~clientrules.domain.learning.kept.MomentsUpdate.known`: its values kept, its name from its
    onboardings, every client's read in one pass, of which at most two a client are kept), else read from the
    store; each record is handed to ``also`` (``update``'s ``tell`` or ``add``: told the values kept of it, and
    kept again) before it is given: another pass's work done in the same pass."""

    def __init__(
        self, histories: StoredHistories, update: MomentsUpdate, store: StoreForLearning, also: Callable[[ClientRecord], None]
    ) -> None:
        self._histories = histories
        self._update = update
        self._store = store
        self._also = also
        self.timeframe = histories.timeframe

    def __iter__(self) -> Iterator[ClientRecord]:
        onboardings = Onboardings()
        for event in self._store.iter_types([ClientOnboarded.TYPE]):
            onboardings.add(event)
        for client, version in self._histories.versions():
            record = self._update.known(client, version, onboardings.of(client), partial(self._store.read_client, client))
            if record is None:
                record = self._histories.record(client)
            self._also(record)
            yield record
            self._histories.advance()


@attrs.frozen
class Proposal:
    """A change the owner may accept: why (the finding), what (the rule and the rule-set text) and its backtest.

    ``kind`` is ``add`` (a new rule learned from exit surveys) or ``tune`` (a
    new threshold for a rule we have: ``tuning`` holds both thresholds' evidence).
    """

    id: str
    readable_id: str
    finding: Finding
    rule: dict[str, Any]
    ruleset_text: str
    backtest: Backtest | None = None
    tuning: Tuning | None = None

    @property
    def kind(self) -> str:
        return "add" if self.tuning is None else "tune"

    @property
    def subject(self) -> tuple[str, ...]:
        """The rule's id and conditions, as :attr:`Decided.subject`."""
        return (str(self.rule["id"]), *map(str, self.rule["when"]))

    @property
    def reason(self) -> str | None:
        return self.finding.reason

    @property
    def rule_toml(self) -> str:
        return rule_toml(self.rule)

    @property
    def evidence(self) -> str:
        """What ``ProposalDecided`` keeps: the finding's evidence, with the readable id."""
        return json.dumps({**json.loads(self.finding.evidence), "readable_id": self.readable_id}, separators=(",", ":"))

    def summary(self) -> str:
        return self.tuning.summary() if self.tuning is not None else self.finding.summary()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "readable_id": self.readable_id,
            "kind": self.kind,
            "summary": self.summary(),
            "reason": self.reason,
            "reason_label": LABELS[self.reason] if self.reason else None,
            "rule": dict(self.rule),
            "rule_toml": self.rule_toml,
            "evidence": self.finding.to_json(),
            "tuning": self.tuning.to_json() if self.tuning is not None else None,
            "backtest": self.backtest.to_json(changes_limit=50) if self.backtest else None,
        }


@attrs.frozen
class Decided:
    """A proposal the owner accepted or rejected (a ``ProposalDecided`` event of ``$learning``)."""

    id: str
    outcome: str
    at: Instant
    rule: dict[str, Any]
    ruleset_version: int | None
    evidence: str = ""

    @property
    def readable_id(self) -> str | None:
        try:
            found = json.loads(self.evidence).get("readable_id")
        except (ValueError, AttributeError):
            return None
        return found if isinstance(found, str) else None

    @property
    def subject(self) -> tuple[str, ...]:
        """What was decided on: the rule's id and conditions (matches decisions recorded before ids named them)."""
        return (str(self.rule.get("id", "")), *map(str, self.rule.get("when", ())))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "readable_id": self.readable_id,
            "outcome": self.outcome,
            "at": self.at.text,
            "rule": dict(self.rule),
            "ruleset_version": self.ruleset_version,
        }


def still_rejected(rejection: Decided, finding: Finding) -> bool:
    """Whether a rejection still holds: until the departures the rule warns of grow by half, and by at least 2."""
    try:
        then = json.loads(rejection.evidence)
        caught = len(then.get("flagged", then.get("clients", [])))
    except (ValueError, AttributeError):
        return True
    return len(finding.flagged) < caught + max(2, math.ceil(caught / 2))


@attrs.frozen
class Proposals:
    """What the learning loop proposes now, what it does not propose and why, and what was decided."""

    pending: tuple[Proposal, ...]
    not_proposed: tuple[NoProposal, ...]
    decided: tuple[Decided, ...]
    method: Method
    ruleset_version: int
    #: (client, why) of each client the backtests could not decide, left out of their counts
    set_aside: tuple[tuple[str, str], ...] = ()

    def get(self, proposal_id: str) -> Proposal:
        """The pending proposal with that id or readable id."""
        for proposal in self.pending:
            if proposal_id in (proposal.id, proposal.readable_id):
                return proposal
        for decision in reversed(self.decided):
            if proposal_id in (decision.id, decision.readable_id):
                raise UnknownProposal(f"proposal {proposal_id} was {decision.outcome} already")
        raise UnknownProposal(
            f"there is no pending proposal {proposal_id!r} (list them with: clientrules proposals)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleset_version": self.ruleset_version,
            "method": self.method.to_json(),
            "proposals": [p.to_json() for p in self.pending],
            "not_proposed": [n.to_json() for n in self.not_proposed],
            "decided": [d.to_json() for d in self.decided],
            "set_aside": set_aside_json(self.set_aside),
        }


class KeptHistory:
    """The kept moments of the history (:mod:`~clientrules.domain.learning.kept`) at the head position they were
    kept at: one set at a time, shared by the threads of one ledger, kept by one thread at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keeping = threading.Lock()
        self._kept: tuple[int, KeptMoments] | None = None

    def at(self, position: int, grace_days: int, keep: Callable[[], KeptMoments | None]) -> KeptMoments | None:
        """The moments kept at ``position`` with ``grace_days``; kept by ``keep`` first if they are not (after
        the keeping under way in another thread, which may have kept them)."""
        found = self._found(position, grace_days)
        if found is not None:
            return found
        with self._keeping:
            found = self._found(position, grace_days)
            if found is None:
                found = keep()
                if found is not None:
                    with self._lock:
                        self._kept = (position, found)
            return found

    def last(self, grace_days: int) -> KeptMoments | None:
        """The moments kept last with ``grace_days``, whatever position they were kept at."""
        with self._lock:
            if self._kept is None or self._kept[1].grace_days != grace_days:
                return None
            return self._kept[1]

    def _found(self, position: int, grace_days: int) -> KeptMoments | None:
        with self._lock:
            if self._kept is None or self._kept[0] != position or self._kept[1].grace_days != grace_days:
                return None
            return self._kept[1]


class Learning:
    """The learning loop of one ledger (``ledger.learning``)."""

    def __init__(
        self,
        store: StoreForLearning,
        rules: RuleVersions,
        engines: Engines,
        *,
        clock: Clock,
        method: Method = Method(),
        portfolio_values: PortfolioValues | None = None,
        latest_folds: Callable[[list[str]], Iterable[ClientFold]] | None = None,
        kept: KeptHistory | None = None,
    ) -> None:
        self._store = store
        self._rules = rules
        self._engines = engines
        self._clock = clock
        self.method = method
        #: what gives the backtests ``revenue_share`` (``ledger.decisions.portfolio_values``)
        self._portfolio_values = portfolio_values
        #: the latest folds of clients, in the order given (``ledger.folds.iter_latest``): what asks an unchanged
        #: client its facts at the moments new to it, without reading its events
        self._latest_folds = latest_folds
        self._kept = kept or KeptHistory()

    def with_horizon(self, horizon_days: int) -> Learning:
        """The same loop with another horizon H (see ``docs/learning.md``)."""
        method = attrs.evolve(self.method, horizon_days=horizon_days)
        return Learning(
            self._store, self._rules, self._engines, clock=self._clock, method=method,
            portfolio_values=self._portfolio_values, latest_folds=self._latest_folds, kept=self._kept,
        )

    # --- reading ------------------------------------------------------------------

    def histories(self) -> StoredHistories:
        """Every client's record, read from the store one at a time on each pass."""
        return StoredHistories(self._store)

    def evidence(self, histories: Histories | None = None) -> Evidence:
        """One pass over every client: what the proposals need (:mod:`clientrules.domain.learning.evidence`)."""
        current = self._rules.current()
        return gather(
            histories or self.histories(),
            [*self.method.facts, *watched(current.ruleset)],
            lead_days=self.method.lead_days,
            horizon_days=self.method.horizon_days,
            grace_days=current.ruleset.parameters.grace_days,
        )

    def decided(self) -> list[Decided]:
        """Every ``ProposalDecided`` of ``$learning``, oldest first."""
        return [
            Decided(
                e.payload.proposal_id, e.payload.outcome, e.at, dict(e.payload.rule), e.payload.ruleset_version, e.payload.evidence
            )
            for e in self._store.read_client(LEARNING_STREAM)
            if isinstance(e.payload, ProposalDecided)
        ]

    def proposals(self, *, with_backtest: bool = True) -> Proposals:
        """The pending proposals (each with its backtest), the reasons without one, and past decisions."""
        histories = self.histories()
        evidence, kept = self._evidence_and_kept(histories)
        proposals, _ = self._proposals(histories, evidence, kept, with_backtest=with_backtest)
        return proposals

    def _proposals(
        self,
        histories: StoredHistories,
        evidence: Evidence,
        kept: KeptMoments | None,
        *,
        with_backtest: bool,
        extra: Sequence[Column] = (),
    ) -> tuple[Proposals, list[Replayed]]:
        current = self._rules.current()
        findings, not_proposed = find(evidence, self.method, ruleset=current.ruleset)
        decided = self.decided()
        accepted = {key for d in decided if d.outcome == "accepted" for key in (d.id, d.subject)}
        rejected = {key: d for d in decided if d.outcome == "rejected" for key in (d.id, d.subject)}
        candidates = [self._addition(f, current) for f in findings] + [self._tuning(t, current) for t in tune(evidence, current.ruleset)]
        pending = [p for p in candidates if not self._decided_already(p, accepted, rejected)]
        others: list[Replayed] = []
        set_aside: tuple[tuple[str, str], ...] = ()
        if with_backtest and (pending or extra):
            versions = [
                (f"with {p.readable_id}", RuleSetVersion(current.version + 1, parse_ruleset(p.ruleset_text))) for p in pending
            ]
            results, others = backtests(
                self._replayed(histories, lambda: kept), current, versions, horizon_days=self.method.horizon_days,
                extra=extra,
            )
            pending = [attrs.evolve(p, backtest=result) for p, result in zip(pending, results)]
            set_aside = (results or others)[0].set_aside
        proposals = Proposals(tuple(pending), tuple(not_proposed), tuple(decided), self.method, current.version, set_aside)
        return proposals, others

    @staticmethod
    def _decided_already(
        proposal: Proposal, accepted: set[str | tuple[str, ...]], rejected: dict[str | tuple[str, ...], Decided]
    ) -> bool:
        """Accepted, or rejected and the rejection still holds (by id, or by rule for older decisions)."""
        if proposal.id in accepted or proposal.subject in accepted:
            return True
        rejection = rejected.get(proposal.id) or rejected.get(proposal.subject)
        return rejection is not None and still_rejected(rejection, proposal.finding)

    def _addition(self, finding: Finding, current: RuleSetVersion) -> Proposal:
        taken = {rule.id for rule in current.ruleset.rules}
        base = rule_id_for(finding.reason or "any")
        rule_id = base
        number = 1
        while rule_id in taken:
            number += 1
            rule_id = f"{base}-{number}"
        rule = learned_rule(finding, self.method, rule_id=rule_id)
        text = current.ruleset.source.rstrip("\n") + "\n\n" + rule_toml(rule)
        return Proposal(finding.proposal_id, finding.readable_id, finding, rule, text)

    def _tuning(self, tuning: Tuning, current: RuleSetVersion) -> Proposal:
        challenger = tuning.challenger
        changed = attrs.evolve(tuning.rule, when=(Comparison(challenger.fact, challenger.op, challenger.threshold),))
        ruleset = attrs.evolve(
            current.ruleset, rules=tuple(changed if r.id == changed.id else r for r in current.ruleset.rules)
        )
        text = ruleset_to_toml(ruleset)
        (rule,) = tomllib.loads(ruleset_to_toml(attrs.evolve(ruleset, rules=(changed,))))["rules"]
        return Proposal(tuning.proposal_id, tuning.readable_id, challenger, rule, text, tuning=tuning)

    # --- deciding -----------------------------------------------------------------

    def accept(self, proposal_id: str, *, note: str | None = None) -> RuleSetVersion:
        """Adopt the rule set with the proposal applied as a new version; record the acceptance.

        ``proposal_id`` is the proposal's id or its readable id.
        """
        head = self._store.client_version(LEARNING_STREAM)
        proposals = self.proposals(with_backtest=False)
        proposal = proposals.get(proposal_id)
        # the proposal extends the version it was computed from: fail rather than drop a newer one
        version = self._rules.use(
            proposal.ruleset_text,
            note=note or f"accepted proposal {proposal.readable_id}: {proposal.rule['id']} ({proposal.finding.condition})",
            expected_version=proposals.ruleset_version,
        )
        self._record(proposal, "accepted", head, version.version)
        return version

    def reject(self, proposal_id: str) -> Event:
        """Record that the owner rejected the proposal; it comes back only if its evidence grows materially."""
        head = self._store.client_version(LEARNING_STREAM)
        proposal = self.proposals(with_backtest=False).get(proposal_id)
        return self._record(proposal, "rejected", head, None)

    def _record(self, proposal: Proposal, outcome: str, head: int, ruleset_version: int | None) -> Event:
        payload = ProposalDecided(
            proposal_id=proposal.id,
            outcome=outcome,
            evidence=proposal.evidence,
            rule=dict(proposal.rule),
            ruleset_version=ruleset_version,
        )
        event = Event.new(LEARNING_STREAM, payload, self._clock())
        result = self._store.append([event], expected_version=head)
        return result.stored_event(event)

    # --- backtest and report ------------------------------------------------------

    def backtest(
        self, ruleset_text: str | None = None, *, label: str = "candidate", tracker: Tracker | None = None
    ) -> Backtest:
        """Replay the history under the current rule set and ``ruleset_text`` (default: the current one again);
        ``tracker`` counts the clients replayed (see :meth:`backtest_tracker`)."""
        current = self._rules.current()
        if ruleset_text is None:
            candidate, label = current, f"current (v{current.version})"
        else:
            candidate = RuleSetVersion(0, parse_ruleset(ruleset_text))
        grace_days = current.ruleset.parameters.grace_days
        histories = StoredHistories(self._store, tracker)

        def kept() -> KeptMoments | None:
            return self._kept_moments(grace_days, histories, lambda found: self._up_to_date(found, grace_days))

        (result,), _ = backtests(
            self._replayed(histories, kept), current, [(label, candidate)], horizon_days=self.method.horizon_days
        )
        return result

    def keep_history(self, *, cancelled: Callable[[], bool] = lambda: False, store: bool = True) -> bool:
        """Fold every client once and keep its facts at every monthly moment, with the current rules' decisions
        there, so that the next backtests (a rule change's preview) fold no one while nothing new is recorded;
        False when ``cancelled`` said so between two clients, or the history is too long to keep
        (:data:`KEPT_MOMENTS_MAX`: its backtests fold it each time). ``store``: write the moments to the store
        when they changed (False: another process has just kept them there, and writing them again would only
        spend this process's time: a third of a second at 20,000 clients)."""
        current = self._rules.current()
        kept = self._kept_now(current, cancelled, store=store)
        if kept is None:
            return False
        keep_decisions(kept, current, self._engines.fired_batch)
        return True

    def keep_moments(self, *, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """:meth:`keep_history` without deciding the current rules at the moments: what a process keeping them
        for another needs (they reach it through the store; decisions stay in the memory of the process that
        makes them)."""
        return self._kept_now(self._rules.current(), cancelled) is not None

    def _kept_now(
        self, current: RuleSetVersion, cancelled: Callable[[], bool], *, store: bool = True
    ) -> KeptMoments | None:
        """The history's moments kept at the head position, under ``current``'s grace days (see :meth:`keep_history`)."""
        grace_days = current.ruleset.parameters.grace_days
        return self._kept_moments(
            grace_days, self.histories(),
            lambda histories: self._up_to_date(histories, grace_days, cancelled, store=store),
        )

    def _replayed(self, histories: StoredHistories, kept: Callable[[], KeptMoments | None]) -> Replay:
        """Replays on the kept moments ``kept`` gives, where they serve every column; otherwise folding every
        client of ``histories``."""
        grace_days = self._rules.current().ruleset.parameters.grace_days
        moments = histories.timeframe.checked_moments()

        def replayed(columns: Sequence[Column]) -> tuple[list[Instant], list[Replayed]]:
            versions = {(v.version, v.ruleset.source): v for column in columns for v in map(column.version_at, moments)}
            if all(serves(version.ruleset, grace_days) for version in versions.values()):
                found = kept()
                if found is not None:
                    with collector_held():
                        done = replay_kept(found, columns, self._engines.fired_batch, horizon_days=self.method.horizon_days)
                    if done is not None:
                        return done
            return replay(
                histories, columns, self._engines.fired_batch,
                horizon_days=self.method.horizon_days, portfolio_values=self._portfolio_values,
            )

        return replayed

    def _kept_moments(
        self, grace_days: int, histories: StoredHistories, keep: Callable[[StoredHistories], KeptMoments | None]
    ) -> KeptMoments | None:
        """The history's kept moments; kept by ``keep`` from ``histories`` first if the head moved since they
        were; None beyond :data:`KEPT_MOMENTS_MAX` client-moments (or when ``keep`` gives none)."""

        return self._kept.at(
            self._store.head_position(), grace_days, lambda: keep(histories) if self._keepable(histories) else None
        )

    def _up_to_date(
        self, histories: StoredHistories, grace_days: int, cancelled: Callable[[], bool] = lambda: False,
        *, store: bool = True,
    ) -> KeptMoments | None:
        """The history's kept moments, taken from those the store keeps where they still hold and kept again
        there when anything changed (with ``store``; :func:`~clientrules.domain.learning.kept.kept_up_to_date`)."""
        base = self._last_kept(grace_days)
        kept = kept_up_to_date(
            base, histories.timeframe, grace_days, histories.versions(), histories.record,
            folds_of=self._latest_folds, cancelled=cancelled, advance=histories.advance,
        )
        if store and kept is not None and kept is not base:
            self._store.write_kept_moments(kept_to_bytes(kept))
        return kept

    def _last_kept(self, grace_days: int) -> KeptMoments | None:
        """The moments to bring up to date: those this process kept last (the store has them too), else those the
        store keeps (another process's, or an earlier run's)."""
        last = self._kept.last(grace_days)
        if last is not None:
            return last
        data = self._store.read_kept_moments()
        return None if data is None else kept_from_bytes(data)

    def _keepable(self, histories: StoredHistories) -> bool:
        """The history's client-moments are few enough to keep (:data:`KEPT_MOMENTS_MAX`)."""
        return len(self._store.client_ids()) * len(histories.timeframe.checked_moments()) <= KEPT_MOMENTS_MAX

    def _evidence_and_kept(self, histories: StoredHistories) -> tuple[Evidence, KeptMoments | None]:
        """The evidence, and the history's kept moments: brought up to date in the same pass over ``histories``
        when they are not kept at the head already (the two ask every record the same moments, computed once);
        each record is told the values kept of it, so that it folds only for the moments not kept, and a client
        kept at its stream's version that has not left is not even read (:class:`KnownHistories`)."""
        grace_days = self._rules.current().ruleset.parameters.grace_days
        gathered: list[Evidence] = []

        def keep(histories: StoredHistories) -> KeptMoments:
            base = self._last_kept(grace_days)
            update = MomentsUpdate(base, histories.timeframe, grace_days, histories.versions())
            gathered.append(self.evidence(histories.known_to(update, update.add)))
            kept = update.kept()
            if kept is not base:
                self._store.write_kept_moments(kept_to_bytes(kept))
            return kept

        kept = self._kept_moments(grace_days, histories, keep)
        if gathered:
            return gathered[0], kept
        if kept is None:
            return self.evidence(histories), kept
        told = MomentsUpdate(kept, histories.timeframe, grace_days, histories.versions())
        return self.evidence(histories.known_to(told, told.tell)), kept

    def backtest_tracker(self) -> Tracker:
        """A count for :meth:`backtest` to advance: every client, once."""
        return Tracker(len(self._store.client_ids()))

    def report_tracker(self) -> Tracker:
        """A count for :meth:`report` to advance: every client once (the evidence, with the history's moments
        kept in the same pass), twice when its replay has to fold every client again (a rule-set version that
        kept moments cannot decide, or a history too long to keep)."""
        clients = len(self._store.client_ids())
        grace_days = self._rules.current().ruleset.parameters.grace_days
        kept = self._keepable(self.histories()) and all(
            serves(version.ruleset, grace_days) for version in self._rules.versions()
        )
        return Tracker(clients if kept else 2 * clients)

    def report(self, tracker: Tracker | None = None) -> Report:
        """The learning report: why clients left, what their logs showed, and what to change.

        It reads every client once or twice (see :meth:`report_tracker`); ``tracker`` counts the clients read.
        """
        versions = self._rules.versions()
        histories = StoredHistories(self._store, tracker)
        evidence, kept = self._evidence_and_kept(histories)
        in_force = Column("in force", lambda moment: version_in_force(versions, moment))
        proposals, (replayed,) = self._proposals(histories, evidence, kept, with_backtest=True, extra=[in_force])
        rule_words = {rule.id: rule.description or rule.id for version in versions for rule in version.ruleset.rules}
        return build_report(evidence, replayed, proposals, rule_words=rule_words)
