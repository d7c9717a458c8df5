"""Plain words for the owner's pages: event types, their fields and choices, verdicts, dates and amounts.

Every name has a fallback built from the code's own name (``NeedOutgrown`` reads
"Need outgrown", ``due_on`` reads "Due on"), so a new event type or field reads
sensibly before it is given words of its own here.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from clientrules import Instant, Progress, format_money, plain_date
from survey_app.numbers import written
from survey_app.state import app_state

EVENT_NAMES: dict[str, str] = {
    "ClientOnboarded": "New client",
    "ContractSigned": "Contract signed",
    "RelationshipEnded": "Client left",
    "ClientReferredOut": "Referred to a partner",
    "InvoiceIssued": "Invoice issued",
    "PaymentReceived": "Invoice paid",
    "DepositRequested": "Deposit requested",
    "DepositReceived": "Deposit received",
    "WorkLogged": "Work logged",
    "ScopeChangeRequested": "Change of scope asked for",
    "DeadlineMissed": "We missed a deadline",
    "FollowUpSent": "Follow-up sent",
    "ClientReplied": "Client replied",
    "ClientMessageReceived": "Message from the client",
    "ReplySent": "We replied",
    "MeetingHeld": "Meeting held",
    "PlanAgreed": "Plan agreed",
    "TermsRenegotiated": "Terms renegotiated",
    "IncidentReported": "Incident",
    "ContractBreached": "Contract breached",
    "NeedOutgrown": "Their needs outgrew us",
    "DecisionRecorded": "Decision kept on record",
    "SurveyInvited": "Invited to the exit survey",
    "SurveyReminded": "Reminded about the exit survey",
    "SurveyAnswered": "Answered the exit survey",
    "PersonalDataErased": "Personal data erased",
    "RuleSetAdopted": "Rules changed",
    "ProposalDecided": "Proposal decided",
}

FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "email": "E-mail address",
    "segment": "Segment",
    "monthly_value": "Monthly value",
    "contract_id": "Contract reference",
    "ends_on": "Ends on",
    "value": "Value",
    "initiated_by": "Who ended it?",
    "reason": "Why did it end?",
    "partner": "Partner referred to",
    "invoice_id": "Invoice number",
    "amount": "Amount",
    "due_on": "Due on",
    "for_": "What it is for",
    "hours": "Hours",
    "billable": "Billable?",
    "description": "What was asked for",
    "paid": "Will it be paid?",
    "deliverable": "Which deliverable?",
    "topic": "Topic",
    "outcome": "Outcome",
    "summary": "What was agreed",
    "review_on": "Review on",
    "change": "What changed",
    "kind": "What happened?",
    "against": "Against whom?",
    "severity": "How serious?",
    "note": "Note",
    "clause": "Which clause?",
    "need": "Which need?",
}

#: choice values in words; keyed by (field, value) where one value reads differently in two fields
CHOICE_LABELS: dict[tuple[str, Any], str] = {
    ("initiated_by", "us"): "We ended it",
    ("initiated_by", "client"): "The client ended it",
    ("outcome", "resolved"): "Resolved",
    ("outcome", "unresolved"): "Not resolved",
    ("kind", "abuse"): "Abuse",
    ("kind", "harassment"): "Harassment",
    ("kind", "threat"): "A threat",
    ("kind", "rude"): "Rudeness",
    ("kind", "unreasonable_demand"): "An unreasonable demand",
    ("against", "staff"): "Our staff",
    ("against", "owner"): "Me, the owner",
    ("severity", 1): "Minor",
    ("severity", 2): "Serious",
    ("severity", 3): "Severe",
    ("billable", True): "Yes",
    ("billable", False): "No",
    ("paid", True): "Yes, it will be paid",
    ("paid", False): "No, it is unpaid",
}

VERDICT_WORDS: dict[str, str] = {
    "keep": "Keep",
    "renegotiate": "Renegotiate",
    "refer_out": "Refer out",
    "terminate": "Terminate",
}

STAGE_WORDS: dict[str, str] = {
    "active": "Active",
    "leaving": "Leaving (notice given)",
    "left": "Left, not invited",
    "invited": "Left, invited to the survey",
    "answered": "Left, answered the survey",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def event_name(type_name: str) -> str:
    """``"MeetingHeld"`` -> ``"Meeting held"``."""
    return EVENT_NAMES.get(type_name) or _CAMEL.sub(" ", type_name).capitalize()


def field_label(name: str) -> str:
    """``"due_on"`` -> ``"Due on"``."""
    return FIELD_LABELS.get(name) or name.strip("_").replace("_", " ").capitalize()


def choice_label(field: str, value: Any) -> str:
    """A field's value in words: ``("initiated_by", "us")`` -> ``"We ended it"``."""
    label = CHOICE_LABELS.get((field, value))
    if label is not None:
        return label
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value).replace("_", " ").capitalize()


def verdict_word(verdict: str) -> str:
    return VERDICT_WORDS.get(verdict) or verdict.replace("_", " ").capitalize()


def _date_words(text: str) -> str:
    """An ISO date or instant in words; any other text as it is."""
    try:
        return long_date(dt.date.fromisoformat(text)) if len(text) == 10 else long_date(dt.datetime.fromisoformat(text))
    except ValueError:
        return text


def clock_time(value: Instant) -> str:
    """``"14:05 UTC"``."""
    return f"{value.utc:%H:%M} UTC"


def progress_words(progress: Progress | None, items: str = "clients") -> str:
    """``"1,000 of 5,000 clients done, about 20 seconds left"``; ``"just started, 0 of 5,000 clients done"``
    before any is done."""
    if progress is None:
        return "just started"
    if not progress.done:
        return f"just started, 0 of {progress.total:,} {items} done"
    left = progress.seconds_left or 0.0
    if left < 90:
        time_left = f"about {max(5, round(left / 5) * 5)} seconds left"
    else:
        time_left = f"about {round(left / 60)} minutes left"
    return f"{progress.done:,} of {progress.total:,} {items} done, {time_left}"


def stage_word(stage: str) -> str:
    return STAGE_WORDS.get(stage) or stage.capitalize()


def long_date(value: Instant | dt.date | dt.datetime | None) -> str:
    """A date as the business writes dates (``CLIENTRULES_DATE_FORMAT``): ``"5 March 2026"`` unless it chose
    another way (an instant's date is its UTC date, as the rules count days); None -> ``""``."""
    return "" if value is None else plain_date(value, app_state().settings.date_format)


def amount(value: float | int | None) -> str:
    """A number as the business writes amounts (``CLIENTRULES_NUMBER_FORMAT``): ``4700.0`` -> ``"4,700"``,
    ``1250.5`` -> ``"1,250.50"`` (or ``"1.250,50"``...); None -> ``""``."""
    return "" if value is None else written(value, app_state().settings.number_format)


def money_words(value: Decimal | float | int, currency: str) -> str:
    """A sum of money as the business writes amounts, with its currency: ``1,250.50 EUR`` (or ``1.250,50 EUR``...)."""
    return format_money(value, currency, app_state().settings.number_format)


#: ``data`` keys the timeline leaves out: machinery, or shown elsewhere on the client's page
HIDDEN_DETAILS = frozenset({"fired", "reasons", "invitation_id", "ruleset_version", "as_of", "source"})


#: ``data`` keys that hold a sum of money: shown with their currency
MONEY_FIELDS = frozenset({"amount", "monthly_value", "value"})


def event_details(data: dict[str, Any], type_name: str, currency: str) -> list[tuple[str, str]]:
    """An event's ``data`` as (label, value) pairs in words, for the timeline (answers are shown in full elsewhere).

    Sums of money carry the event's own ``currency``, else ``currency`` (the client's, else the business's).
    """
    if type_name == "SurveyAnswered":
        return []
    return [
        (
            field_label(key),
            money_words(value, data.get("currency") or currency)
            if key in MONEY_FIELDS and isinstance(value, (int, float)) and not isinstance(value, bool)
            else value_words(key, value),
        )
        for key, value in data.items()
        if key not in HIDDEN_DETAILS and value not in (None, "", []) and not isinstance(value, dict)
    ]


def value_words(field: str, value: Any) -> str:
    """A stored field's value as the owner reads it: amounts with separators, dates in words, choices in words."""
    if isinstance(value, (list, tuple)):  # any shape a stored value may have: lists and objects, nested
        return ", ".join(value_words(field, item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{field_label(key)}: {value_words(key, item)}" for key, item in value.items())
    if isinstance(value, bool) or (field, value) in CHOICE_LABELS:
        return choice_label(field, value)
    if field in ("verdict", "from_verdict", "to_verdict") and isinstance(value, str):
        return verdict_word(value)
    if isinstance(value, (int, float)):
        return amount(value)
    if isinstance(value, str):
        return _date_words(value)
    return str(value)
