"""The situation behind a decision, in the client's terms: what a draft talks about, and which ending it uses (pure).

A rule's id and description are the owner's words ("A chronic late payer
nobody has talked to yet"); the client reads the drafts, so the drafts name
the situation instead ("payments: invoices paid after their due date"). The
situation is read from the events behind the rules that gave the verdict (the
rule's own evidence, its signals' included), then from the facts those rules
compared, so an owner's own rule over the same facts gets the same words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from clientrules.domain.events import Event

if TYPE_CHECKING:
    from clientrules.domain.decisions.model import Decision

#: the situations, most serious first: an ending speaks to the first one present
SITUATIONS = ("conduct", "breach", "late_payment", "unprofitable", "silence", "our_side", "outgrown")
#: the situation when nothing behind the decision names one: "we are not the right fit"
NOT_THE_RIGHT_FIT = "fit"

_BY_EVENT: Mapping[str, str] = {
    "IncidentReported": "conduct",
    "ContractBreached": "breach",
    "InvoiceIssued": "late_payment",
    "PaymentReceived": "late_payment",
    "WorkLogged": "unprofitable",
    "ScopeChangeRequested": "unprofitable",
    "FollowUpSent": "silence",
    "DeadlineMissed": "our_side",
    "ClientMessageReceived": "our_side",
    "ReplySent": "our_side",
    "NeedOutgrown": "outgrown",
}
_BY_FACT: Mapping[str, str] = {
    "incidents_180d": "conduct",
    "serious_incidents_365d": "conduct",
    "severe_staff_incidents_365d": "conduct",
    "contract_breaches_365d": "breach",
    "late_invoices_12m": "late_payment",
    "late_after_latest_remedy": "late_payment",
    "overdue_amount": "late_payment",
    "hours_90d": "unprofitable",
    "unbillable_hours_90d": "unprofitable",
    "unbillable_share_90d": "unprofitable",
    "unpaid_scope_changes_90d": "unprofitable",
    "hours_since_plan": "unprofitable",
    "unbillable_hours_since_plan": "unprofitable",
    "unbillable_share_since_plan": "unprofitable",
    "unpaid_scope_changes_since_plan": "unprofitable",
    "unanswered_followups": "silence",
    "silent_days": "silence",
    "deadlines_missed_90d": "our_side",
    "reply_days_median_90d": "our_side",
    "unanswered_messages": "our_side",
    "needs_outgrown_365d": "outgrown",
}


def situations_of(decision: Decision, events: Mapping[str, Event]) -> tuple[str, ...]:
    """The situations behind ``decision``'s verdict, most serious first (empty when nothing names one).

    ``events`` maps event ids to the client's events (those the reasons cite are looked up there).
    """
    found: set[str] = set()
    for reason in decision.reasons:
        if reason.verdict != decision.verdict:
            continue
        found.update(_BY_EVENT[events[i].type] for i in reason.evidence if i in events and events[i].type in _BY_EVENT)
        found.update(_BY_FACT[name] for name in reason.facts if name in _BY_FACT)
    return tuple(situation for situation in SITUATIONS if situation in found)


def ending_situation(situations: tuple[str, ...]) -> str:
    """The situation an ending speaks to: the most serious one, else "not the right fit"."""
    return next((s for s in situations if s not in ("our_side", "outgrown")), NOT_THE_RIGHT_FIT)
