"""The default playbook written as plain Python if/else: the floor an evaluation cannot beat.

It knows one rule set only (``clientrules/domain/rules/default_playbook.toml``), gives
no reasons and no evidence; the evaluation benchmark checks that it reaches
the engine's verdict for every client.
"""

from __future__ import annotations

from typing import Mapping

FactValues = Mapping[str, object]


def _at_least(values: FactValues, name: str, threshold: float) -> bool:
    value = values.get(name)
    return value is not None and value >= threshold  # type: ignore[operator]


def plain_verdict(values: FactValues) -> str:
    """The most severe verdict of the default playbook for these fact values."""
    terminate = renegotiate = refer_out = False
    if _at_least(values, "serious_incidents_365d", 1) or _at_least(values, "incidents_180d", 2):
        terminate = True
    if _at_least(values, "incidents_180d", 1):
        renegotiate = True
    if _at_least(values, "deadlines_missed_90d", 2) or _at_least(values, "reply_days_median_90d", 5):
        renegotiate = True
    if _at_least(values, "contract_breaches_365d", 1):
        terminate = True
    if _at_least(values, "late_invoices_12m", 3):
        remedy = values.get("remedy_since_first_late")
        if remedy is False:
            renegotiate = True
        elif remedy is True and _at_least(values, "late_after_latest_remedy", 1):
            terminate = True
    if _at_least(values, "unanswered_followups", 3) and _at_least(values, "silent_days", 14):
        if _at_least(values, "tenure_days", 365) and values.get("clean_before_silence") is True:
            renegotiate = True
        else:
            terminate = True
    unprofitable = (
        _at_least(values, "hours_90d", 10) and _at_least(values, "unbillable_share_90d", 0.25)
    ) or _at_least(values, "unpaid_scope_changes_90d", 3)
    if unprofitable and values.get("plans_180d") == 0:
        renegotiate = True
    if _at_least(values, "plan_age_days", 30) and (
        (_at_least(values, "hours_since_plan", 10) and _at_least(values, "unbillable_share_since_plan", 0.25))
        or _at_least(values, "unpaid_scope_changes_since_plan", 3)
    ):
        terminate = True
    if _at_least(values, "needs_outgrown_365d", 1):
        refer_out = True
    if terminate:
        return "terminate"
    if refer_out:
        return "refer_out"
    return "renegotiate" if renegotiate else "keep"
