"""Rule proposals from exit surveys: which fact, over which threshold, set apart the clients who left for a reason.

Pure: it reads a :class:`~clientrules.domain.learning.history.History` and returns
values. The method, deterministic from start to end:

1. **Reasons.** Every reason code cited, as the primary or a contributing
   reason, by at least ``min_clients`` departed clients who answered the exit
   survey. A reason cited less often gets no proposal ("too few clients").
2. **Departed clients citing it** (the positives): each one's facts as of
   ``lead_days`` before its ``RelationshipEnded``: a rule must warn us while
   there is still time to act.
3. **Retained clients** (the negatives: no ``RelationshipEnded``): each one's
   facts at the first day of every month of its life with us; a retained
   client counts against a rule if the rule would have fired for it **at any
   of those months** (the strict reading: the backtest counts false alarms
   the same way).
4. **Candidates.** For each fact of :data:`CANDIDATE_FACTS` and each
   threshold ``t`` among the positive values the positives had, the rule
   ``fact >= t`` flags the positives with a value ``>= t`` (true alarms) and
   the retained clients whose value reached ``t`` (false alarms).
   precision = true / (true + false), recall = true / positives, F1 their
   harmonic mean.
5. **Choice.** Among candidates with precision ``>= min_precision`` and at
   least ``min_support`` true alarms, the one with the highest F1; ties go to
   fewer false alarms, then the lower threshold (it warns earlier), then the
   fact name. No candidate passes: no proposal, and the reason says why (with
   the best candidate that failed, if any).

A proposal's id hashes the reason, fact, operator, threshold and the set of
clients citing the reason: the same evidence always gives the same id, so a
rejected proposal is not made again until new departures change its evidence.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Iterable

import attrs
import tomli_w

from clientrules.domain.facts import FACTS
from clientrules.domain.learning.history import ClientRecord, History, days_before
from clientrules.domain.learning.reasons import ADVICE, LABELS, rule_id_for
from clientrules.domain.rules.conditions import LARGEST_VALUE, SMALLEST_VALUE
from clientrules.domain.rules.model import Comparison, RuleSet

#: Facts a learned rule may use: numeric facts for which a higher value is a worse sign.
#: Our side of the relationship first (``docs/rules.md``), then the client's.
CANDIDATE_FACTS: tuple[str, ...] = (
    "deadlines_missed_90d",
    "reply_days_median_90d",
    "unanswered_messages",
    "late_invoices_12m",
    "overdue_amount",
    "unanswered_followups",
    "silent_days",
    "unbillable_share_90d",
    "unpaid_scope_changes_90d",
    "incidents_180d",
)
OPERATOR = ">="
VERDICT = "renegotiate"


@attrs.frozen
class Method:
    """The settings of the proposal method (see the module docstring)."""

    lead_days: int = 30
    min_clients: int = 2
    min_precision: float = 0.6
    min_support: int = 2
    facts: tuple[str, ...] = CANDIDATE_FACTS

    def to_json(self) -> dict:
        return {
            "lead_days": self.lead_days,
            "min_clients": self.min_clients,
            "min_precision": self.min_precision,
            "min_support": self.min_support,
            "facts": list(self.facts),
        }


@attrs.frozen
class Finding:
    """A fact and threshold that set apart the departed clients citing ``reason`` from retained clients."""

    reason: str
    fact: str
    threshold: int | float
    #: departed clients who cited the reason (answered the survey), sorted
    clients: tuple[str, ...]
    #: of those, the ones the rule flags ``lead_days`` before they left
    flagged: tuple[str, ...]
    #: retained clients the rule flags at some month
    false_alarms: tuple[str, ...]
    retained: int
    op: str = OPERATOR

    @property
    def condition(self) -> str:
        return f"{self.fact} {self.op} {self.threshold!r}"

    @property
    def precision(self) -> float:
        alarms = len(self.flagged) + len(self.false_alarms)
        return len(self.flagged) / alarms if alarms else 0.0

    @property
    def recall(self) -> float:
        return len(self.flagged) / len(self.clients) if self.clients else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def proposal_id(self) -> str:
        """Stable for the same reason, condition and evidence (the clients citing the reason)."""
        canonical = json.dumps([self.reason, self.fact, self.op, self.threshold, list(self.clients)])
        return "p-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def evidence(self) -> str:
        """The evidence in one line of text, as ``ProposalDecided`` keeps it."""
        return json.dumps({"reason": self.reason, "clients": list(self.clients)}, separators=(",", ":"))

    def to_json(self) -> dict:
        return {
            "reason": self.reason,
            "fact": self.fact,
            "op": self.op,
            "threshold": self.threshold,
            "condition": self.condition,
            "clients": list(self.clients),
            "flagged": list(self.flagged),
            "false_alarms": list(self.false_alarms),
            "retained": self.retained,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@attrs.frozen
class NoProposal:
    """A reason cited by departed clients for which the evidence is too thin to propose a rule."""

    reason: str
    clients: tuple[str, ...]
    why: str

    def to_json(self) -> dict:
        return {"reason": self.reason, "clients": list(self.clients), "why": self.why}


def learned_rule(finding: Finding, method: Method, *, rule_id: str | None = None) -> dict:
    """The rule a finding proposes, as a ``[[rules]]`` table of the rule-set format."""
    label = LABELS[finding.reason].lower()
    return {
        "id": rule_id or rule_id_for(finding.reason),
        "description": (
            f"Learned from {len(finding.clients)} exit surveys ({label}): {len(finding.flagged)} of them "
            f"had {finding.condition} {method.lead_days} days before they left"
        ),
        "verdict": VERDICT,
        "when": [finding.condition],
        "advice": ADVICE[finding.reason],
    }


def rule_toml(rule: dict) -> str:
    """A rule table as TOML text that can be appended to a rule-set file."""
    return tomli_w.dumps({"rules": [rule]})


def citing_clients(history: History) -> dict[str, tuple[str, ...]]:
    """Each reason cited by departed clients -> the clients citing it (sorted), most cited first."""
    cited: dict[str, list[str]] = {}
    for record in history.departed:
        for reason in record.departure.reasons:  # type: ignore[union-attr]
            cited.setdefault(reason, []).append(record.client)
    ordered = sorted(cited.items(), key=lambda item: (-len(item[1]), item[0]))
    return {reason: tuple(sorted(clients)) for reason, clients in ordered}


def find(
    history: History, method: Method = Method(), *, grace_days: int = 7, ruleset: RuleSet | None = None
) -> tuple[list[Finding], list[NoProposal]]:
    """The finding for every reason cited often enough, and why there is none for the others.

    A finding whose rule would add nothing is dropped with its reason: when a
    rule of ``ruleset`` (or the finding of a more often cited reason) gives a
    verdict on the same fact at the same or a lower threshold.
    """
    covering = _covering_rules(ruleset)
    retained = history.retained
    peaks = _retained_peaks(retained, history.monthly_moments(), method.facts, grace_days)
    findings: list[Finding] = []
    thin: list[NoProposal] = []
    for reason, clients in citing_clients(history).items():
        if len(clients) < method.min_clients:
            thin.append(
                NoProposal(reason, clients, f"too few clients: {len(clients)} cited it, {method.min_clients} needed")
            )
            continue
        leaving = [history.records[client] for client in clients]
        values = {
            fact: {r.client: r.facts(days_before(r.departure.at, method.lead_days), grace_days).get(fact) for r in leaving}  # type: ignore[union-attr]
            for fact in method.facts
        }
        candidates = [
            _candidate(reason, clients, fact, threshold, values[fact], peaks[fact], len(retained))
            for fact in method.facts
            for threshold in _thresholds(values[fact].values(), peaks[fact].values())
        ]
        passing = [c for c in candidates if c.precision >= method.min_precision and len(c.flagged) >= method.min_support]
        if not passing:
            thin.append(NoProposal(reason, clients, _why_none(candidates, method)))
            continue
        best = min(passing, key=_preference)
        cover = next((c for c in covering if c[1] == best.fact and c[2] <= best.threshold), None)
        if cover is not None:
            thin.append(
                NoProposal(reason, clients, f"already covered: {cover[0]} ({cover[1]} >= {cover[2]!r}) fires whenever {best.condition} holds")
            )
        else:
            findings.append(best)
            covering.append((f"the proposal for {reason}", best.fact, best.threshold))
    return findings, thin


def _covering_rules(ruleset: RuleSet | None) -> list[tuple[str, str, int | float]]:
    """(rule, fact, threshold) of each enabled rule with a verdict whose only condition is ``fact >= threshold``."""
    if ruleset is None:
        return []
    covering = []
    for rule in ruleset.enabled_rules:
        if rule.verdict and len(rule.when) == 1 and isinstance(rule.when[0], Comparison) and rule.when[0].op == OPERATOR:
            covering.append((f"rule {rule.id}", rule.when[0].fact, rule.when[0].value))
    return covering


def _retained_peaks(
    retained: Iterable[ClientRecord], moments: list, facts: tuple[str, ...], grace_days: int
) -> dict[str, dict[str, int | float]]:
    """For each fact, each retained client's highest value at the months of its life with us."""
    peaks: dict[str, dict[str, int | float]] = {fact: {} for fact in facts}
    for record in retained:
        for moment in record.active_moments(moments):
            values = record.facts(moment, grace_days).values
            for fact in facts:
                value, peak = values.get(fact), peaks[fact].get(record.client)
                if value is not None and (peak is None or value > peak):
                    peaks[fact][record.client] = value
    return peaks


def _thresholds(positives: Iterable[int | float | None], peaks: Iterable[int | float]) -> list[int | float]:
    """Each positive value above 0, lowered to the smallest whole number that flags the same clients.

    Flagged sets only change at observed values, so ``t`` can go down to just
    above the highest value observed below it (positives' values and retained
    peaks alike); the whole number above that value is used when it is not above ``t``.
    A threshold a rule file cannot state (below 0.0001 or above 10^15) is left out.
    """
    targets = {v for v in positives if v is not None and v > 0}
    observed = sorted(targets.union(peaks))
    thresholds = set()
    for index, value in enumerate(observed):
        if value not in targets:
            continue
        below = max(observed[index - 1], 0) if index else 0
        whole = math.floor(below) + 1
        thresholds.add(whole if whole <= value else value)
    return sorted(t for t in thresholds if SMALLEST_VALUE <= t <= LARGEST_VALUE)


def _candidate(
    reason: str,
    clients: tuple[str, ...],
    fact: str,
    threshold: int | float,
    values: dict[str, int | float | None],
    peaks: dict[str, int | float],
    retained: int,
) -> Finding:
    threshold = FACTS[fact].kind(threshold)
    return Finding(
        reason=reason,
        fact=fact,
        threshold=threshold,
        clients=clients,
        flagged=tuple(c for c in clients if values[c] is not None and values[c] >= threshold),  # type: ignore[operator]
        false_alarms=tuple(sorted(c for c, peak in peaks.items() if peak >= threshold)),
        retained=retained,
    )


def _preference(finding: Finding) -> tuple:
    """Best first: highest F1, then fewer false alarms, then the lower threshold, then the fact name."""
    return (-round(finding.f1, 9), len(finding.false_alarms), finding.threshold, finding.fact)


def _why_none(candidates: list[Finding], method: Method) -> str:
    if not candidates:
        return f"no separating fact: none of the candidate facts was at least 0.0001 for these clients {method.lead_days} days before they left"
    supported = [c for c in candidates if len(c.flagged) >= method.min_support]
    if not supported:
        return f"no separating fact: no condition holds for {method.min_support} of these clients {method.lead_days} days before they left"
    best = min(supported, key=lambda c: (-c.precision, *_preference(c)))
    return (
        f"no separating fact: the best, {best.condition}, flags {len(best.flagged)} of {len(best.clients)} "
        f"of them but also {len(best.false_alarms)} of {best.retained} retained clients "
        f"(precision {best.precision:.2f}, needs {method.min_precision:.2f})"
    )
