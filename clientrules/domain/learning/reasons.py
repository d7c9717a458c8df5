"""What the learning loop says about each exit-survey reason code (``docs/survey.md``)."""

from __future__ import annotations

from clientrules.domain.survey.questionnaire import REASON_LABELS as LABELS

#: The advice a learned rule gives, drawn from what departed clients told us.
ADVICE: dict[str, str] = {
    "missed_deadlines": (
        "Clients who left us cited missed deadlines: call them now, own the delays, "
        "and agree realistic dates in writing before they look elsewhere."
    ),
    "poor_communication": (
        "Clients who left us cited slow or unclear communication: name one contact person, "
        "answer within two working days, and set a regular check-in."
    ),
    "felt_neglected": (
        "Clients who left us felt neglected: meet them, show them who works on their account "
        "and when, and keep that promise."
    ),
    "price_too_high": "Clients who left us found the rates too high: review the scope and the price with them.",
    "found_cheaper": "Clients who left us found a cheaper alternative: show them the value and discuss terms.",
    "quality": "Clients who left us were unhappy with the quality: review the last deliveries with them.",
    "needs_changed": "Clients who left us had outgrown us: ask what they will need next year.",
    "personal_fit": "Clients who left us did not fit our way of working: talk openly about how you work together.",
    "project_finished": "Clients whose work was done left us: propose the next piece of work.",
    "other": "Clients who left us had other reasons: ask them how it is going.",
    "budget_cut": "Clients who left us had their budget cut: offer a smaller scope or a pause before they stop.",
    "in_house": "Clients who left us brought the work in-house: offer to support their team, or take the overflow.",
    "contact_changed": (
        "Clients who left us lost the person who worked with us: meet the new person early and show what we do for them."
    ),
}

def rule_id_for(reason: str) -> str:
    """The id a rule learned from ``reason`` gets: ``missed_deadlines`` -> ``learned-missed-deadlines``."""
    return "learned-" + reason.replace("_", "-")

__all__ = ["ADVICE", "LABELS", "rule_id_for"]
