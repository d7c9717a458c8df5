"""Every fact a rule may name: its value type and what it means (``docs/rules.md`` lists them).

A fact is absent (``None``) where it has no meaning yet, e.g. ``plan_age_days``
before any ``PlanAgreed``; a condition on an absent fact is false. Day counts
are whole days, rounded down: ``silent_days >= 14`` means at least 14 × 24 h.
"In the last N days" means ``T - N days < at <= T``. Amounts and hours are
summed exactly, as the decimals they were written as. Invoices, payments and
lateness: ``clientrules/domain/facts/invoices.py``.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class FactSpec:
    name: str
    kind: type  # int, float or bool
    meaning: str


FACTS: dict[str, FactSpec] = {
    spec.name: spec
    for spec in (
        FactSpec(
            "tenure_days",
            int,
            "days since the first ClientOnboarded (else since the client's first event; "
            "events the library appends do not count)",
        ),
        FactSpec("late_invoices_12m", int, "late invoices (not void as of T) whose due_on is in the last 365 days"),
        FactSpec(
            "remedy_since_first_late",
            bool,
            "a remedy (MeetingHeld, PlanAgreed, TermsRenegotiated) on or after the due_on "
            "(00:00 UTC) of the earliest invoice counted in late_invoices_12m "
            "(absent when late_invoices_12m is 0)",
        ),
        FactSpec(
            "late_after_latest_remedy",
            int,
            "late invoices whose due_on is after the UTC date of the latest remedy "
            "(0 when there is no remedy)",
        ),
        FactSpec(
            "unanswered_followups",
            int,
            "FollowUpSent after the client's last ClientReplied (all of them if it never replied)",
        ),
        FactSpec("silent_days", int, "days from the first unanswered follow-up to T (absent when none)"),
        FactSpec(
            "clean_before_silence",
            bool,
            "before the first unanswered follow-up there was no late invoice and no incident: "
            "no IncidentReported before it, and no invoice late as of its moment "
            "(absent when there is no unanswered follow-up)",
        ),
        FactSpec("hours_90d", float, "WorkLogged hours in the last 90 days"),
        FactSpec("unbillable_hours_90d", float, "WorkLogged hours with billable: false in the last 90 days"),
        FactSpec("unbillable_share_90d", float, "unbillable_hours_90d / hours_90d (0 when no hours)"),
        FactSpec("unpaid_scope_changes_90d", int, "ScopeChangeRequested with paid: false in the last 90 days"),
        FactSpec("plans_180d", int, "PlanAgreed events in the last 180 days"),
        FactSpec("plan_age_days", int, "days since the latest PlanAgreed (absent when none)"),
        FactSpec("hours_since_plan", float, "WorkLogged hours after the latest PlanAgreed (absent when none)"),
        FactSpec(
            "unbillable_hours_since_plan",
            float,
            "unbillable WorkLogged hours after the latest PlanAgreed (absent when none)",
        ),
        FactSpec(
            "unbillable_share_since_plan",
            float,
            "unbillable_hours_since_plan / hours_since_plan (0 when no hours; absent when no plan)",
        ),
        FactSpec(
            "unpaid_scope_changes_since_plan",
            int,
            "unpaid ScopeChangeRequested after the latest PlanAgreed (absent when none)",
        ),
        FactSpec("incidents_180d", int, "IncidentReported events in the last 180 days, against staff or the owner"),
        FactSpec(
            "severe_staff_incidents_365d",
            int,
            "IncidentReported against staff of kind abuse, harassment or threat in the last 365 days, "
            "whatever the severity (version 1 of the default playbook)",
        ),
        FactSpec(
            "serious_incidents_365d",
            int,
            "IncidentReported in the last 365 days, against staff or the owner, that are serious: "
            "abuse, harassment or a threat of severity 2 or more, or any kind of severity 3",
        ),
        FactSpec("contract_breaches_365d", int, "ContractBreached events in the last 365 days"),
        FactSpec("needs_outgrown_365d", int, "NeedOutgrown events in the last 365 days"),
        FactSpec("deadlines_missed_90d", int, "DeadlineMissed events (our side) in the last 90 days"),
        FactSpec(
            "reply_days_median_90d",
            float,
            "median days from the oldest unanswered ClientMessageReceived to our ReplySent, "
            "over replies in the last 90 days (absent when none); a ReplySent answers every "
            "message since the previous ReplySent, one with none pending has no reply time",
        ),
        FactSpec("unanswered_messages", int, "ClientMessageReceived not yet followed by a ReplySent"),
        FactSpec("open_invoices", int, "invoices issued, not fully paid and not void as of T"),
        FactSpec(
            "overdue_amount",
            float,
            "unpaid amount of the open invoices whose due_on is more than grace_days days "
            "before the UTC date of T",
        ),
        FactSpec("relationship_ended", bool, "a RelationshipEnded event exists"),
        FactSpec(
            "monthly_value",
            float,
            "the latest monthly_value given by ClientOnboarded or TermsRenegotiated (0 when never given)",
        ),
        FactSpec(
            "revenue_share",
            float,
            "monthly_value divided by the sum of monthly_value of every client not left at T "
            "(0 when that sum is 0); the one fact that depends on other clients: computed once "
            "per moment for the whole portfolio and handed to each client's decision",
        ),
    )
}
