"""Rules and their conditions in plain words, with the client's actual values (pure).

Used for the reasons of a decision (why a rule fired) and for near misses
(why a rule did not fire, and by how much). These readings explain; they
never decide: verdicts come from the engine.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from clientrules.domain.events.dates import plain_date
from clientrules.domain.facts.value import Incident
from clientrules.domain.rules.model import AnyOf, Comparison, Condition, FactValue, Rule, RuleSet, SignalCondition

#: Short noun phrases for the facts of the catalogue, as in "4 late invoices in the last 12 months".
FACT_WORDS: dict[str, str] = {
    "tenure_days": "days as a client",
    "late_invoices_12m": "late invoices in the last 12 months",
    "remedy_since_first_late": "a meeting, plan or new terms since the first late invoice",
    "late_after_latest_remedy": "late invoices due after the latest remedy",
    "unanswered_followups": "unanswered follow-ups",
    "silent_days": "days of silence",
    "clean_before_silence": "a clean record before the silence",
    "hours_90d": "hours worked in the last 90 days",
    "unbillable_hours_90d": "unbillable hours in the last 90 days",
    "unbillable_share_90d": "share of unbillable hours in the last 90 days",
    "unpaid_scope_changes_90d": "unpaid scope changes in the last 90 days",
    "plans_180d": "plans agreed in the last 180 days",
    "plan_age_days": "days since the latest plan",
    "hours_since_plan": "hours worked since the latest plan",
    "unbillable_hours_since_plan": "unbillable hours since the latest plan",
    "unbillable_share_since_plan": "share of unbillable hours since the latest plan",
    "unpaid_scope_changes_since_plan": "unpaid scope changes since the latest plan",
    "incidents_180d": "incidents in the last 180 days",
    "severe_staff_incidents_365d": "incidents of abuse, harassment or threats against staff in the last 365 days",
    "serious_incidents_365d": "serious incidents in the last 365 days",
    "monthly_value": "a month in value",
    "revenue_share": "share of the monthly revenue",
    "contract_breaches_365d": "contract breaches in the last 365 days",
    "needs_outgrown_365d": "times their needs outgrew us in the last 365 days",
    "deadlines_missed_90d": "deadlines we missed in the last 90 days",
    "reply_days_median_90d": "median days we took to reply in the last 90 days",
    "unanswered_messages": "messages of theirs we have not answered",
    "open_invoices": "open invoices",
    "overdue_amount": "overdue amount",
    "relationship_ended": "the relationship ended",
}

#: the first plural noun of a phrase, and its singular, for "1 late invoice", "1 day as a client"
_SINGULAR = {
    "invoices": "invoice",
    "follow-ups": "follow-up",
    "changes": "change",
    "plans": "plan",
    "incidents": "incident",
    "breaches": "breach",
    "times": "time",
    "deadlines": "deadline",
    "days": "day",
    "messages": "message",
    "hours": "hour",
}
_PLURAL_WORD = re.compile(r"\b(" + "|".join(map(re.escape, _SINGULAR)) + r")\b")

#: what each kind of incident was, and against whom, as an explanation names it
_INCIDENT_KINDS = {
    "rude": "rudeness",
    "unreasonable_demand": "an unreasonable demand",
    "abuse": "abuse",
    "harassment": "harassment",
    "threat": "a threat",
}
_INCIDENT_SEVERITY = {1: "", 2: " (serious)", 3: " (very serious)"}
_AGAINST = {"owner": "toward you", "staff": "toward your staff"}

_BOUND = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "exactly", "!=": "not"}


def counted(value: FactValue, words: str) -> str:
    """``4 late invoices``, ``1 late invoice``."""
    if value == 1:
        words = _PLURAL_WORD.sub(lambda match: _SINGULAR[match[1]], words, count=1)
    return f"{number(value)} {words}"


def number(value: FactValue) -> str:
    """``4``, ``0.25``, ``12.5``: floats without noise."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def describe_value(fact: str, value: FactValue | None) -> str:
    """The fact's value in words: '4 late invoices in the last 12 months', 'no ... (absent)'."""
    words = FACT_WORDS.get(fact, fact)
    if value is None:
        return f"{fact} is unknown (no event gives it a value)"
    if isinstance(value, bool):
        return f"{words}: {'yes' if value else 'no'}"
    return counted(value, words)


def describe_incident(incident: Incident) -> str:
    """``rudeness toward you on 5 May 2026``, ``a threat (serious) toward your staff on 2 March 2026``."""
    kind = _INCIDENT_KINDS.get(incident.kind, incident.kind.replace("_", " "))
    severity = _INCIDENT_SEVERITY.get(incident.severity, "")
    return f"{kind}{severity} {_AGAINST.get(incident.against, '')} on {plain_date(incident.on)}"


def describe_comparison(
    comparison: Comparison, values: Mapping[str, FactValue], named: Sequence[Incident] = ()
) -> str:
    """Why a comparison holds, e.g. '4 late invoices in the last 12 months (at least 3)'.

    ``named``: the incidents behind the fact, listed after it ('...: rudeness toward you on 5 May 2026').
    """
    actual = values.get(comparison.fact)
    if isinstance(comparison.value, bool) or actual is None:
        words = describe_value(comparison.fact, actual)
    else:
        words = f"{describe_value(comparison.fact, actual)} ({_BOUND[comparison.op]} {number(comparison.value)})"
    if named:
        words += ": " + ", ".join(map(describe_incident, named))
    return words


def describe_fired(
    rule: Rule,
    values: Mapping[str, FactValue],
    incidents: Sequence[Incident] = (),
    evidence: Mapping[str, tuple[str, ...]] | None = None,
) -> str:
    """The sentence of a reason: what the rule means and the conditions that made it fire.

    A condition on a fact whose ``evidence`` includes some of ``incidents`` names them.
    """

    def named(fact: str) -> list[Incident]:
        behind = set(evidence.get(fact, ())) if evidence and incidents else ()
        return [incident for incident in incidents if incident.event_id in behind]

    parts: list[str] = []
    for condition in rule.when:
        if isinstance(condition, SignalCondition):
            parts.append(
                f"{condition.name} did not fire" if condition.negated else f"{condition.name} fired"
            )
        elif isinstance(condition, AnyOf):
            held = condition.holding_options(values)
            parts.extend(describe_comparison(c, values, named(c.fact)) for option in held[:1] for c in option)
        else:
            parts.append(describe_comparison(condition, values, named(condition.fact)))
    head = rule.description or rule.id
    return f"{head}: {'; '.join(parts)}."


def describe_miss(condition: Condition, values: Mapping[str, FactValue], fired: frozenset[str]) -> str:
    """Why a condition does not hold, e.g. '2 late invoices in the last 12 months of the 3 needed'."""
    if isinstance(condition, SignalCondition):
        if condition.negated:
            return f"{condition.name} fired, which rules this out"
        return f"needs {condition.name}, which did not fire"
    if isinstance(condition, AnyOf):
        return " or ".join(
            "; ".join(describe_miss(c, values, fired) for c in option if not c.holds(values))
            for option in condition.options
        )
    actual = values.get(condition.fact)
    if actual is None or isinstance(condition.value, bool):
        return f"{describe_value(condition.fact, actual)} (needs {condition})"
    if condition.op in (">=", ">") and actual < condition.value:
        return f"{counted(actual, FACT_WORDS.get(condition.fact, condition.fact))} of the {number(condition.value)} needed"
    return f"{describe_value(condition.fact, actual)} (needs {_BOUND[condition.op]} {number(condition.value)})"


def _threshold(comparison: Comparison) -> str:
    """``at least 3 late invoices in the last 12 months``; ``a meeting, plan or new terms ...: yes``."""
    words = FACT_WORDS.get(comparison.fact, comparison.fact)
    if isinstance(comparison.value, bool):
        return f"{words}: {'yes' if comparison.value == (comparison.op == '==') else 'no'}"
    return f"{_BOUND[comparison.op]} {counted(comparison.value, words)}"


def describe_rule_changes(before: RuleSet, after: RuleSet) -> list[str]:
    """What adopting ``after`` instead of ``before`` changes, one sentence each, in ``after``'s order.

    "'They pay late again and again' now needs at least 2 late invoices in the
    last 12 months instead of 3"; "'Outgrown' turned off". Layout and
    comments are not changes; an empty list means the rules decide the same.
    """
    old = {rule.id: rule for rule in before.rules}
    sentences: list[str] = []
    if before.parameters.grace_days != after.parameters.grace_days:
        sentences.append(
            f"An invoice counts as late {counted(after.parameters.grace_days, 'days')} after it is due"
            f" instead of {number(before.parameters.grace_days)}."
        )
    for rule in after.rules:
        name = f"‘{rule.description or rule.id}’"
        previous = old.get(rule.id)
        if previous is None:
            conditions = " and ".join(_threshold(c) for c in rule.comparisons) or "its signals fire"
            outcome = f"the decision is {rule.verdict.replace('_', ' ')}" if rule.verdict else "it signals other rules"
            sentences.append(f"New rule {name}: with {conditions}, {outcome}.")
            continue
        if previous.enabled != rule.enabled:
            sentences.append(f"{name} turned {'back on' if rule.enabled else 'off'}.")
        changed = [(was, now) for was, now in zip(previous.comparisons, rule.comparisons) if was != now]
        for was, now in changed:
            same_measure = (was.fact, was.op) == (now.fact, now.op) and not isinstance(was.value, bool)
            shown = number(was.value) if same_measure else _threshold(was)
            sentences.append(f"{name} now needs {_threshold(now)} instead of {shown}.")
        if len(previous.comparisons) != len(rule.comparisons) or (not changed and previous.when != rule.when):
            sentences.append(f"{name} has other conditions.")
        if previous.verdict != rule.verdict and rule.verdict and previous.verdict:
            sentences.append(
                f"{name} now gives {rule.verdict.replace('_', ' ')} instead of {previous.verdict.replace('_', ' ')}."
            )
        if previous.description != rule.description:
            sentences.append(f"{name} was called ‘{previous.description or previous.id}’.")
        if previous.advice != rule.advice:
            sentences.append(f"{name} gives other advice: “{rule.advice}”." if rule.advice else f"{name} gives no advice any more.")
    kept = {rule.id for rule in after.rules}
    sentences += [f"‘{rule.description or rule.id}’ removed." for rule in before.rules if rule.id not in kept]
    return sentences
