"""``ledger.learning``: the learning report, rule proposals with their backtest, accepting and rejecting them.

The thin service over the pure parts: it reads the history from the ledger,
asks :mod:`~clientrules.domain.learning.proposals` what to propose,
:mod:`~clientrules.domain.learning.backtest` what each proposal would have done, and
records the owner's verdicts:

* accepting validates the current rule set with the proposed rule appended
  and adopts it as a new rule-set version (``ledger.rules.use``); decisions
  from then on cite the new rule;
* both outcomes are recorded as ``ProposalDecided`` in stream ``$learning``;
  a decided proposal is not made again for the same evidence (its id hashes
  the evidence, see :mod:`~clientrules.domain.learning.proposals`).
"""

from __future__ import annotations

from typing import Protocol

import attrs

from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Event, Instant
from clientrules.domain.events.system import LEARNING_STREAM, ProposalDecided
from clientrules.domain.learning.backtest import Backtest, Replayer, backtest
from clientrules.domain.learning.history import History
from clientrules.domain.learning.proposals import Finding, Method, NoProposal, find, learned_rule, rule_toml
from clientrules.domain.learning.reasons import LABELS, rule_id_for
from clientrules.domain.learning.report import Report, build_report
from clientrules.domain.rules import parse_ruleset
from clientrules.application.engines import Engines
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.ports import EventLog, EventStreams


class UnknownProposal(ClientRulesError):
    """No pending proposal has that id (it was decided already, or the evidence changed)."""


@attrs.frozen
class Proposal:
    """A rule the owner may accept: why (the finding), what (the rule and the rule-set text) and its backtest."""

    id: str
    finding: Finding
    rule: dict
    ruleset_text: str
    backtest: Backtest | None = None

    @property
    def reason(self) -> str:
        return self.finding.reason

    @property
    def rule_toml(self) -> str:
        return rule_toml(self.rule)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "reason": self.reason,
            "reason_label": LABELS[self.reason],
            "rule": dict(self.rule),
            "rule_toml": self.rule_toml,
            "evidence": self.finding.to_json(),
            "backtest": self.backtest.to_json(changes_limit=50) if self.backtest else None,
        }


@attrs.frozen
class Decided:
    """A proposal the owner accepted or rejected (a ``ProposalDecided`` event of ``$learning``)."""

    id: str
    outcome: str
    at: Instant
    rule: dict
    ruleset_version: int | None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "outcome": self.outcome,
            "at": self.at.text,
            "rule": dict(self.rule),
            "ruleset_version": self.ruleset_version,
        }


@attrs.frozen
class Proposals:
    """What the learning loop proposes now, what it does not propose and why, and what was decided."""

    pending: tuple[Proposal, ...]
    not_proposed: tuple[NoProposal, ...]
    decided: tuple[Decided, ...]
    method: Method
    ruleset_version: int

    def get(self, proposal_id: str) -> Proposal:
        for proposal in self.pending:
            if proposal.id == proposal_id:
                return proposal
        for decision in self.decided:
            if decision.id == proposal_id:
                raise UnknownProposal(f"proposal {proposal_id} was {decision.outcome} already")
        raise UnknownProposal(
            f"there is no pending proposal {proposal_id!r} (list them with: clientrules proposals)"
        )

    def to_json(self) -> dict:
        return {
            "ruleset_version": self.ruleset_version,
            "method": self.method.to_json(),
            "proposals": [p.to_json() for p in self.pending],
            "not_proposed": [n.to_json() for n in self.not_proposed],
            "decided": [d.to_json() for d in self.decided],
        }


class StoreForLearning(EventStreams, EventLog, Protocol):
    """What learning reads and writes: every event in order, and the ``$learning`` stream."""


class Learning:
    """The learning loop of one ledger (``ledger.learning``)."""

    def __init__(
        self, store: StoreForLearning, rules: RuleVersions, engines: Engines, *, method: Method = Method()
    ) -> None:
        self._store = store
        self._rules = rules
        self._engines = engines
        self.method = method

    # --- reading ------------------------------------------------------------------

    def history(self) -> History:
        """Every client's events, folded once."""
        return History.from_events(self._store.iter_all())

    def decided(self) -> list[Decided]:
        """Every ``ProposalDecided`` of ``$learning``, oldest first."""
        return [
            Decided(e.payload.proposal_id, e.payload.outcome, e.at, dict(e.payload.rule), e.payload.ruleset_version)
            for e in self._store.read_client(LEARNING_STREAM)
            if isinstance(e.payload, ProposalDecided)
        ]

    def proposals(self, *, with_backtest: bool = True, history: History | None = None, replayer: Replayer | None = None) -> Proposals:
        """The pending proposals (each with its backtest), the reasons without one, and past decisions."""
        history = history or self.history()
        current = self._rules.current()
        findings, not_proposed = find(
            history, self.method, grace_days=current.ruleset.parameters.grace_days, ruleset=current.ruleset
        )
        decided = self.decided()
        decided_ids = {d.id for d in decided}
        own_replayer = replayer is None and with_backtest
        replayer = replayer or (Replayer(history) if with_backtest else None)
        try:
            pending = []
            for finding in findings:
                if finding.proposal_id in decided_ids:
                    continue
                proposal = self._proposal(finding, current)
                if replayer is not None:
                    candidate = RuleSetVersion(current.version + 1, parse_ruleset(proposal.ruleset_text))
                    result = backtest(replayer, current, candidate, candidate_label=f"with {proposal.rule['id']}")
                    proposal = attrs.evolve(proposal, backtest=result)
                pending.append(proposal)
        finally:
            if own_replayer and replayer is not None:
                replayer.close()
        return Proposals(tuple(pending), tuple(not_proposed), tuple(decided), self.method, current.version)

    def _proposal(self, finding: Finding, current: RuleSetVersion) -> Proposal:
        taken = {rule.id for rule in current.ruleset.rules}
        base = rule_id_for(finding.reason)
        rule_id = base
        number = 1
        while rule_id in taken:
            number += 1
            rule_id = f"{base}-{number}"
        rule = learned_rule(finding, self.method, rule_id=rule_id)
        text = current.ruleset.source.rstrip("\n") + "\n\n" + rule_toml(rule)
        return Proposal(finding.proposal_id, finding, rule, text)

    # --- deciding -----------------------------------------------------------------

    def accept(self, proposal_id: str, *, note: str | None = None) -> RuleSetVersion:
        """Adopt the rule set with the proposed rule appended as a new version; record the acceptance."""
        head = self._store.client_version(LEARNING_STREAM)
        proposals = self.proposals(with_backtest=False)
        proposal = proposals.get(proposal_id)
        # the proposal extends the version it was computed from: fail rather than drop a newer one
        version = self._rules.use(
            proposal.ruleset_text,
            note=note or f"accepted proposal {proposal.id}: {proposal.rule['id']} ({proposal.finding.condition})",
            expected_version=proposals.ruleset_version,
        )
        self._record(proposal, "accepted", head, version.version)
        return version

    def reject(self, proposal_id: str) -> Event:
        """Record that the owner rejected the proposal; it is not made again for the same evidence."""
        head = self._store.client_version(LEARNING_STREAM)
        proposal = self.proposals(with_backtest=False).get(proposal_id)
        return self._record(proposal, "rejected", head, None)

    def _record(self, proposal: Proposal, outcome: str, head: int, ruleset_version: int | None) -> Event:
        payload = ProposalDecided(
            proposal_id=proposal.id,
            outcome=outcome,
            evidence=proposal.finding.evidence,
            rule=dict(proposal.rule),
            ruleset_version=ruleset_version,
        )
        event = Event.new(LEARNING_STREAM, payload, Instant.now())
        result = self._store.append([event], expected_version=head)
        return event.stored(result.version, result.last_position)  # type: ignore[arg-type]

    # --- backtest and report ------------------------------------------------------

    def backtest(self, ruleset_text: str | None = None, *, label: str = "candidate") -> Backtest:
        """Replay the history under the current rule set and ``ruleset_text`` (default: the current one again)."""
        current = self._rules.current()
        if ruleset_text is None:
            candidate, label = current, f"current (v{current.version})"
        else:
            candidate = RuleSetVersion(0, parse_ruleset(ruleset_text))
        replayer = Replayer(self.history())
        try:
            return backtest(replayer, current, candidate, candidate_label=label)
        finally:
            replayer.close()

    def report(self) -> Report:
        """The learning report: why clients left, what their logs showed, and what to change."""
        history = self.history()
        replayer = Replayer(history)
        try:
            proposals = self.proposals(history=history, replayer=replayer)
            return build_report(history, replayer, self._rules.versions(), proposals)
        finally:
            replayer.close()

