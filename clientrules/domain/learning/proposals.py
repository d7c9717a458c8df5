"""Rule proposals from exit surveys: which fact, past which threshold, set apart the clients who left for a reason.

Pure: it reads the :class:`~clientrules.domain.learning.evidence.Evidence`
gathered in one pass and returns values. The method, deterministic from start
to end (``docs/learning.md`` tells it in plain words):

1. **Reasons.** Every reason code cited, as the primary or a contributing
   reason, by at least ``min_clients`` departed clients who answered the exit
   survey. A reason cited less often gets no proposal ("too few clients").
2. **Hits.** A departed client citing the reason is caught by a rule on a
   fact when the fact's worst value at the checks between ``horizon_days``
   and ``lead_days`` before it left meets the threshold: the rule would have
   warned us while there was time to act.
3. **False alarms and pending clients** (the censoring rule): a retained
   client counts against the rule only if the rule would have fired for it
   at a check at least ``horizon_days`` before the end of the history, so
   that we know it stayed that long afterwards. A retained client for which
   the rule would first have fired later is **pending**: its outcome is not
   known yet; it counts neither way and is listed as at risk.
4. **Departures for other reasons** (and departures without an answer) are
   neither hits nor false alarms of a rule learned for this reason: the rule
   may rightly warn of them, but they are not what it was learned from. They
   are counted and shown apart.
5. **Thresholds.** For each watched fact (:data:`CANDIDATE_FACTS`, with the
   direction in which it is a worse sign), one candidate threshold per value
   a positive had: the middle of the gap between that value and the nearest
   value on the better side (another positive's, or a settled retained
   client's), rounded to a whole number where that stays in the gap. Any
   threshold in the gap flags the same clients on what we know; the middle
   does not hug either group (:meth:`Scorer.thresholds`).
6. **Honesty.** Precision (hits / (hits + false alarms)) and recall (hits /
   clients citing the reason) come with 95% Wilson score intervals. A
   threshold qualifies when at least ``min_support`` clients are hits and the
   low end of the precision interval reaches ``min_precision``: with 3 hits
   and no false alarm it does not (3 clients is little evidence), with 4 it does.
7. **Choice.** For each fact, the lowest qualifying threshold (the most
   clients caught, the earliest warning); among facts, the highest F1 (the
   harmonic mean of precision and recall), then fewer false alarms, then the
   order of :data:`CANDIDATE_FACTS`. Nothing qualifies: no proposal, and why.

A proposal is named by what it proposes (reason, fact, operator and
threshold): :attr:`Finding.proposal_id` and :attr:`Finding.readable_id` stay
the same while the evidence keeps pointing at the same rule, whatever else is
added to the ledger.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_left, bisect_right
from typing import Any, Iterable, Sequence

import attrs
import tomli_w

from clientrules.domain.decisions.words import FACT_WORDS, counted, number
from clientrules.domain.facts import FACTS
from clientrules.domain.learning.evidence import DepartedClient, Evidence, Watched, meets
from clientrules.domain.learning.reasons import ADVICE, LABELS, rule_id_for
from clientrules.domain.rules.conditions import LARGEST_VALUE, SMALLEST_VALUE
from clientrules.domain.rules.model import Comparison, RuleSet

#: Facts a learned rule may use, each with the operator under which it is a worse sign.
#: Our side of the relationship first (``docs/rules.md``), then the client's.
CANDIDATE_FACTS: tuple[Watched, ...] = (
    ("deadlines_missed_90d", ">="),
    ("reply_days_median_90d", ">="),
    ("unanswered_messages", ">="),
    ("late_invoices_12m", ">="),
    ("overdue_amount", ">="),
    ("unanswered_followups", ">="),
    ("silent_days", ">="),
    ("unbillable_share_90d", ">="),
    ("unpaid_scope_changes_90d", ">="),
    ("incidents_180d", ">="),
    ("hours_90d", "<="),
)
VERDICT = "renegotiate"
#: z of a two-sided 95% interval
Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / trials`` ((0, 1) without trials)."""
    if trials == 0:
        return (0.0, 1.0)
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    margin = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - margin), min(1.0, centre + margin))


@attrs.frozen
class Method:
    """The settings of the proposal method (see the module docstring)."""

    lead_days: int = 30
    #: H: how long after a rule first fires we wait to see whether the client leaves
    horizon_days: int = 180
    min_clients: int = 2
    #: the low end of the 95% precision interval must reach this
    min_precision: float = 0.5
    min_support: int = 2
    facts: tuple[Watched, ...] = CANDIDATE_FACTS

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_days": self.lead_days,
            "horizon_days": self.horizon_days,
            "min_clients": self.min_clients,
            "min_precision": self.min_precision,
            "min_support": self.min_support,
            "facts": [fact for fact, _ in self.facts],
            "operators": {fact: op for fact, op in self.facts},
            "confidence": 0.95,
        }


def condition_text(fact: str, op: str, threshold: int | float) -> str:
    return f"{fact} {op} {threshold!r}"


#: What a client "had" when a watched fact passed a threshold (``{n}``: the threshold, ``{more}``: "or more" / "or fewer").
THRESHOLD_WORDS: dict[str, str] = {
    "deadlines_missed_90d": "{n} {more} missed deadlines within 90 days",
    "reply_days_median_90d": "a median reply time of {n} days {more} (over 90 days)",
    "unanswered_messages": "{n} {more} unanswered messages",
    "late_invoices_12m": "{n} {more} late invoices within 12 months",
    "overdue_amount": "an overdue amount of {n} {more}",
    "unanswered_followups": "{n} {more} unanswered follow-ups",
    "silent_days": "{n} {more} days of silence",
    "unbillable_share_90d": "{percent} {more} of the hours unbillable (over 90 days)",
    "unpaid_scope_changes_90d": "{n} {more} unpaid scope changes within 90 days",
    "incidents_180d": "{n} {more} incidents within 180 days",
    "hours_90d": "{n} {more} hours of work within 90 days",
}


def condition_words(fact: str, op: str, threshold: int | float) -> str:
    """``2 or more missed deadlines within 90 days``: the condition as what a client had."""
    more = "or more" if op == ">=" else "or fewer"
    template = THRESHOLD_WORDS.get(fact)
    if template is None:
        count, _, rest = counted(threshold, FACT_WORDS.get(fact, fact.replace("_", " "))).partition(" ")
        return f"{count} {more} {rest}"
    return template.format(n=number(threshold), more=more, percent=f"{threshold:.0%}")


def _slug(text: str) -> str:
    return text.replace("_", "-").replace(" ", "-").lower()


@attrs.frozen
class Finding:
    """How well ``fact op threshold`` tells apart the departed clients citing ``reason`` (all departures
    when ``reason`` is None) from the clients who stayed, with censoring (see the module)."""

    reason: str | None
    fact: str
    threshold: int | float
    #: departed clients the rule is judged on (those citing the reason), sorted
    clients: tuple[str, ...]
    #: of those, the ones the rule would have warned of in time
    flagged: tuple[str, ...]
    #: retained clients the rule would have fired for at least ``horizon_days`` before the end
    false_alarms: tuple[str, ...]
    retained: int
    op: str = ">="
    #: retained clients for which it would first have fired in the last ``horizon_days``
    pending: tuple[str, ...] = ()
    #: retained clients it flags at the end of the history, worst first, with their values
    at_risk_now: tuple[tuple[str, int | float], ...] = ()
    #: departed clients outside ``clients`` it would have warned of (other reasons, or no answer)
    other_departures: tuple[str, ...] = ()
    horizon_days: int = 180
    lead_days: int = 30

    @property
    def condition(self) -> str:
        return condition_text(self.fact, self.op, self.threshold)

    @property
    def words(self) -> str:
        return condition_words(self.fact, self.op, self.threshold)

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
    def precision_interval(self) -> tuple[float, float]:
        return wilson(len(self.flagged), len(self.flagged) + len(self.false_alarms))

    @property
    def recall_interval(self) -> tuple[float, float]:
        return wilson(len(self.flagged), len(self.clients))

    @property
    def proposal_id(self) -> str:
        """Stable for the same reason and condition, whatever else the evidence holds."""
        canonical = json.dumps([self.reason, self.fact, self.op, self.threshold])
        return "p-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def readable_id(self) -> str:
        """``missed-deadlines-if-deadlines-missed-90d-at-least-2``: the same thing, for people."""
        bound = "at-least" if self.op == ">=" else "at-most"
        return f"{_slug(self.reason or 'any')}-if-{_slug(self.fact)}-{bound}-{number(self.threshold)}"

    @property
    def evidence(self) -> str:
        """The evidence in one line of text, as ``ProposalDecided`` keeps it (the rejection rule reads it)."""
        return json.dumps(
            {
                "reason": self.reason,
                "clients": list(self.clients),
                "flagged": list(self.flagged),
                "false_alarms": len(self.false_alarms),
                "pending": len(self.pending),
            },
            separators=(",", ":"),
        )

    def summary(self) -> str:
        """The finding in plain words, for the owner."""
        who = f"Clients who left saying “{LABELS[self.reason]}”" if self.reason else "Clients who left"
        caught = len(self.flagged)
        share = f"all {caught} of them" if caught == len(self.clients) else f"{caught} of {len(self.clients)}"
        before = f"{self.lead_days} to {self.horizon_days} days before they left"
        if self.false_alarms:
            stayed = (
                f"{len(self.false_alarms)} of the {self.retained} clients who stayed had it too "
                f"and were still with us {self.horizon_days} days later"
            )
        else:
            stayed = f"no client who stayed had it and was still with us {self.horizon_days} days later"
        today = len(self.at_risk_now)
        flag = "no client today" if not today else ("1 client today" if today == 1 else f"{today} clients today")
        return f"{who} ({share}) had {self.words}, {before}; {stayed}. This rule would flag {flag}."

    def to_json(self) -> dict[str, Any]:
        low, high = self.precision_interval
        recall_low, recall_high = self.recall_interval
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
            "precision_interval": [round(low, 4), round(high, 4)],
            "recall_interval": [round(recall_low, 4), round(recall_high, 4)],
            "pending": list(self.pending),
            "at_risk_now": [{"client": client, "value": value} for client, value in self.at_risk_now],
            "other_departures": list(self.other_departures),
            "horizon_days": self.horizon_days,
            "condition_words": self.words,
            "summary": self.summary(),
        }


@attrs.frozen
class NoProposal:
    """A reason cited by departed clients for which the evidence is too thin to propose a rule."""

    reason: str
    clients: tuple[str, ...]
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "clients": list(self.clients), "why": self.why}


def learned_rule(finding: Finding, method: Method, *, rule_id: str | None = None) -> dict[str, Any]:
    """The rule a finding proposes, as a ``[[rules]]`` table of the rule-set format."""
    assert finding.reason is not None
    label = LABELS[finding.reason].lower()
    return {
        "id": rule_id or rule_id_for(finding.reason),
        "description": (
            f"Learned from {len(finding.clients)} exit surveys ({label}): {len(finding.flagged)} of them "
            f"had {finding.words} {method.lead_days} to {method.horizon_days} days before they left"
        ),
        "verdict": VERDICT,
        "when": [finding.condition],
        "advice": ADVICE[finding.reason],
    }


def rule_toml(rule: dict[str, Any]) -> str:
    """A rule table as TOML text that can be appended to a rule-set file."""
    return tomli_w.dumps({"rules": [rule]})


def citing_clients(departed: Iterable[DepartedClient]) -> dict[str, tuple[str, ...]]:
    """Each reason cited by departed clients -> the clients citing it (sorted), most cited first."""
    cited: dict[str, list[str]] = {}
    for client in departed:
        for reason in client.reasons:
            cited.setdefault(reason, []).append(client.client)
    ordered = sorted(cited.items(), key=lambda item: (-len(item[1]), item[0]))
    return {reason: tuple(sorted(clients)) for reason, clients in ordered}


class Scorer:
    """Counts of hits and false alarms of any threshold on a watched fact, by bisection (no pass over clients)."""

    def __init__(self, evidence: Evidence, key: Watched) -> None:
        self.evidence = evidence
        self.key = key
        self.settled = sorted(v for v in evidence.values[key].settled if not math.isnan(v))

    def false_alarms(self, threshold: float) -> int:
        if self.key[1] == ">=":
            return len(self.settled) - bisect_left(self.settled, threshold)
        return bisect_right(self.settled, threshold)

    def thresholds(self, positives: Sequence[float]) -> list[int | float]:
        """For each positive value, the middle of the gap between it and the nearest value on the better side.

        The nearest value is another positive's or a settled retained client's
        (0 when there is none, for a higher-is-worse fact): any threshold in the
        gap flags the same clients on the evidence we have, and the middle
        leaves room on both sides for the clients we have not seen yet. The
        middle is rounded to the whole number on the positive's side where that
        stays in the gap. A threshold no rule file can state (beyond 10^15, or a
        magnitude below 0.0001) is left out.
        """
        fact, op = self.key
        kind = FACTS[fact].kind
        found: set[int | float] = set()
        values = sorted({v for v in positives if not math.isnan(v)})
        for index, value in enumerate(values):
            if op == ">=":
                if value <= 0:
                    continue
                below = max(values[index - 1] if index else 0.0, self._settled_below(value), 0.0)
                middle = (below + value) / 2
                whole = math.ceil(middle) if math.ceil(middle) > below else math.floor(below) + 1
                threshold: float = whole if whole <= value else middle
            else:
                if value < 0:
                    continue
                nexts = [v for v in (values[index + 1] if index + 1 < len(values) else None, self._settled_above(value)) if v is not None]
                if not nexts:
                    threshold = value
                else:
                    middle = (value + min(nexts)) / 2
                    whole = math.floor(middle) if math.floor(middle) < min(nexts) else math.ceil(min(nexts)) - 1
                    threshold = whole if whole >= value else middle
            if threshold == 0 or SMALLEST_VALUE <= abs(threshold) <= LARGEST_VALUE:
                found.add(kind(threshold))
        return sorted(found)

    def _settled_below(self, value: float) -> float:
        index = bisect_left(self.settled, value)
        return self.settled[index - 1] if index else 0.0

    def _settled_above(self, value: float) -> float | None:
        index = bisect_right(self.settled, value)
        return self.settled[index] if index < len(self.settled) else None


def assess(
    evidence: Evidence,
    key: Watched,
    threshold: int | float,
    clients: tuple[str, ...],
    *,
    reason: str | None,
) -> Finding:
    """The full finding of ``fact op threshold`` judged on departed ``clients``: every list filled."""
    fact, op = key
    judged = set(clients)
    flagged: list[str] = []
    others: list[str] = []
    for departed in evidence.departed:
        if meets(op, departed.worst[key], threshold):
            (flagged if departed.client in judged else others).append(departed.client)
    values = evidence.values[key]
    false_alarms: list[str] = []
    pending: list[str] = []
    now: list[tuple[str, int | float]] = []
    for index, client in enumerate(evidence.retained):
        if meets(op, values.settled[index], threshold):
            false_alarms.append(client)
        elif meets(op, values.recent[index], threshold):
            pending.append(client)
        if meets(op, values.now[index], threshold):
            now.append((client, FACTS[fact].kind(values.now[index])))
    now.sort(key=lambda item: (-item[1] if op == ">=" else item[1], item[0]))
    return Finding(
        reason=reason,
        fact=fact,
        threshold=threshold,
        clients=clients,
        flagged=tuple(sorted(flagged)),
        false_alarms=tuple(sorted(false_alarms)),
        retained=len(evidence.retained),
        op=op,
        pending=tuple(sorted(pending)),
        at_risk_now=tuple(now),
        other_departures=tuple(sorted(others)),
        horizon_days=evidence.horizon_days,
        lead_days=evidence.lead_days,
    )


@attrs.frozen
class Score:
    """The counts behind a candidate threshold, before any list of clients is built."""

    key: Watched
    threshold: int | float
    hits: int
    false_alarms: int
    positives: int

    @property
    def precision(self) -> float:
        return self.hits / (self.hits + self.false_alarms) if self.hits + self.false_alarms else 0.0

    @property
    def precision_low(self) -> float:
        return wilson(self.hits, self.hits + self.false_alarms)[0]

    @property
    def f1(self) -> float:
        recall = self.hits / self.positives if self.positives else 0.0
        total = self.precision + recall
        return 2 * self.precision * recall / total if total else 0.0

    @property
    def condition(self) -> str:
        return condition_text(self.key[0], self.key[1], self.threshold)

    def qualifies(self, method: Method) -> bool:
        return self.hits >= method.min_support and self.precision_low >= method.min_precision


def scores(evidence: Evidence, scorer: Scorer, positives: Sequence[DepartedClient]) -> list[Score]:
    """Every candidate threshold of the scorer's fact, judged on ``positives``."""
    key = scorer.key
    worst = [p.worst[key] for p in positives]
    return [
        Score(key, threshold, sum(meets(key[1], w, threshold) for w in worst), scorer.false_alarms(threshold), len(positives))
        for threshold in scorer.thresholds(worst)
    ]


def lowest_qualifying(candidates: list[Score], method: Method) -> Score | None:
    """The qualifying threshold that catches the most clients (the earliest warning), fewer false alarms first."""
    qualifying = [s for s in candidates if s.qualifies(method)]
    if not qualifying:
        return None
    op = qualifying[0].key[1]
    return min(qualifying, key=lambda s: (-s.hits, s.false_alarms, s.threshold if op == ">=" else -s.threshold))


def find(
    evidence: Evidence, method: Method = Method(), *, ruleset: RuleSet | None = None
) -> tuple[list[Finding], list[NoProposal]]:
    """The finding for every reason cited often enough, and why there is none for the others.

    A finding whose rule would add nothing is dropped with its reason: when a
    rule of ``ruleset`` (or the finding of a more often cited reason) gives a
    verdict on the same fact in the same direction at the same or a milder threshold.
    """
    covering = _covering_rules(ruleset)
    scorers = [Scorer(evidence, key) for key in method.facts]
    by_client = {d.client: d for d in evidence.departed}
    findings: list[Finding] = []
    thin: list[NoProposal] = []
    for reason, clients in citing_clients(evidence.departed).items():
        if len(clients) < method.min_clients:
            thin.append(
                NoProposal(reason, clients, f"too few clients: {len(clients)} cited it, {method.min_clients} needed")
            )
            continue
        positives = [by_client[client] for client in clients]
        candidates = {scorer.key: scores(evidence, scorer, positives) for scorer in scorers}
        best_per_fact = [s for s in (lowest_qualifying(found, method) for found in candidates.values()) if s]
        if not best_per_fact:
            thin.append(NoProposal(reason, clients, _why_none([s for found in candidates.values() for s in found], method)))
            continue
        order = {key: index for index, key in enumerate(method.facts)}
        best = min(best_per_fact, key=lambda s: (-round(s.f1, 9), s.false_alarms, order[s.key]))
        cover = next((c for c in covering if c[1] == best.key and _milder_or_equal(best.key[1], c[2], best.threshold)), None)
        if cover is not None:
            thin.append(
                NoProposal(
                    reason,
                    clients,
                    f"already covered: {cover[0]} ({condition_text(best.key[0], best.key[1], cover[2])}) "
                    f"fires whenever {best.condition} holds",
                )
            )
            continue
        findings.append(assess(evidence, best.key, best.threshold, clients, reason=reason))
        covering.append((f"the proposal for {reason}", best.key, best.threshold))
    return findings, thin


def _milder_or_equal(op: str, existing: float, proposed: float) -> bool:
    """Whether a rule ``fact op existing`` fires whenever ``fact op proposed`` holds."""
    return existing <= proposed if op == ">=" else existing >= proposed


def _covering_rules(ruleset: RuleSet | None) -> list[tuple[str, Watched, int | float]]:
    """(rule, (fact, op), threshold) of each enabled rule with a verdict whose only condition is one comparison."""
    if ruleset is None:
        return []
    covering = []
    for rule in ruleset.enabled_rules:
        if rule.verdict and len(rule.when) == 1 and isinstance(rule.when[0], Comparison) and rule.when[0].op in (">=", "<="):
            comparison = rule.when[0]
            if not isinstance(comparison.value, bool):
                covering.append((f"rule {rule.id}", (comparison.fact, comparison.op), comparison.value))
    return covering


def _why_none(candidates: list[Score], method: Method) -> str:
    lead = f"{method.lead_days} to {method.horizon_days} days before they left"
    if not candidates:
        return f"no separating fact: none of the watched facts had a warning value for these clients {lead}"
    supported = [c for c in candidates if c.hits >= method.min_support]
    if not supported:
        return f"no separating fact: no condition holds for {method.min_support} of these clients {lead}"
    best = min(supported, key=lambda c: (-c.precision_low, -c.f1, c.false_alarms))
    low = best.precision_low
    flags = f"{best.condition} flags {best.hits} of {best.positives} of them"
    stayed = (
        f"{best.false_alarms} clients who stayed at least {method.horizon_days} days after it fired"
        if best.false_alarms
        else "no client who stayed"
    )
    if best.precision < method.min_precision:
        return (
            f"no separating fact: the best, {flags} but also {stayed}: only {best.precision:.0%} of its warnings "
            f"would have been right, and at least {method.min_precision:.0%} are needed"
        )
    return (
        f"too little evidence: the best, {flags} and {stayed}, but so few clients only show that "
        f"at least {low:.0%} of its warnings would be right (95% confidence), and {method.min_precision:.0%} is needed"
    )
