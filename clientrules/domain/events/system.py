"""Events the library itself appends: decisions, survey invitations and answers, erasure, rule sets.

They live in the same streams as the owner's events (rule-set versions and the
learning loop's verdicts live in system streams whose names start with ``$``),
export and import like any other event, and rules may read them.
"""

from __future__ import annotations

import math
from typing import Any, Callable, cast

import attrs

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events.instant import Instant
from clientrules.domain.events.types import (
    Payload,
    _email_field,
    _flag,
    _one_of,
    _optional_text_field,
    _text_field,
)

RULES_STREAM = "$rules"
LEARNING_STREAM = "$learning"

#: The verdicts a decision can reach, most severe first.
VERDICTS: tuple[str, ...] = ("terminate", "refer_out", "renegotiate", "keep")

REASON_CODES = (
    "missed_deadlines",
    "poor_communication",
    "felt_neglected",
    "price_too_high",
    "found_cheaper",
    "quality",
    "needs_changed",
    "personal_fit",
    "project_finished",
    "other",
    # added with the second questionnaire: codes are appended, never reworded
    "budget_cut",
    "in_house",
    "contact_changed",
)
#: "When did you first think of leaving?" (second questionnaire), earliest last
FIRST_THOUGHT_LEAVING = ("under_a_month", "one_to_three_months", "over_three_months", "from_the_start")
#: what the questionnaire asked about: why the client left, or (a client we ended with, invited on purpose) how working with us was
SURVEY_ABOUT = ("leaving", "working_with_us")


def _list_of_text(_: object, attribute: attrs.Attribute[list[str]], value: object) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidEvent("must be a list of strings", field=attribute.name)


def _list_of_dicts(_: object, attribute: attrs.Attribute[list[dict[str, Any]]], value: object) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, dict) for v in value):
        raise InvalidEvent("must be a list of objects", field=attribute.name)


def _decision_reasons(_: object, attribute: attrs.Attribute[list[dict[str, Any]]], value: object) -> None:
    """Each reason as a decision writes it (:class:`~clientrules.domain.decisions.Reason`), so every reader can show it."""
    _list_of_dicts(_, attribute, value)
    for number, reason in enumerate(cast("list[dict[str, Any]]", value), start=1):
        problem = _reason_problem(reason)
        if problem:
            raise InvalidEvent(f"reason {number}: {problem}", field=attribute.name)


def _reason_problem(reason: dict[str, Any]) -> str | None:
    if not isinstance(reason.get("rule"), str):
        return "'rule' must be the id of a rule (a string)"
    if reason.get("verdict") is not None and reason["verdict"] not in VERDICTS:
        return f"'verdict' must be one of {', '.join(VERDICTS)} or null"
    for key in ("sentence", "advice"):
        if not isinstance(reason.get(key, ""), str):
            return f"{key!r} must be a string"
    evidence = reason.get("evidence", [])
    if not isinstance(evidence, list) or not all(isinstance(event_id, str) for event_id in evidence):
        return "'evidence' must be a list of event ids (strings)"
    facts = reason.get("facts", {})
    if not isinstance(facts, dict) or not all(_is_fact_value(fact) for fact in facts.values()):
        return "'facts' must map fact names to numbers, true, false or null"
    return None


def _is_fact_value(value: object) -> bool:
    return value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value))


def _verdict(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in VERDICTS:
        raise InvalidEvent(f"{str(value)[:40]!r} is not one of {', '.join(VERDICTS)}", field=attribute.name)


def _instant_text(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    """A moment kept as text, as the system writes it: ISO 8601, in the supported years."""
    Instant.parse(value, field=attribute.name)


def _proposed_rule(_: object, attribute: attrs.Attribute[dict[str, Any]], value: object) -> None:
    if not isinstance(value, dict):
        raise InvalidEvent("must be an object", field=attribute.name)
    if not isinstance(value.get("id"), str):
        raise InvalidEvent("'id' must be the rule's id (a string)", field=attribute.name)
    when = value.get("when", [])
    if not isinstance(when, list):
        raise InvalidEvent("'when' must be a list", field=attribute.name)


def _reason(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if value not in REASON_CODES:
        raise InvalidEvent(f"{value!r} is not a reason code", field=attribute.name)


def _reasons(_: object, attribute: attrs.Attribute[list[str]], value: object) -> None:
    _list_of_text(_, attribute, value)
    unknown = [v for v in cast("list[str]", value) if v not in REASON_CODES]
    if unknown:
        raise InvalidEvent(f"{unknown[0]!r} is not a reason code", field=attribute.name)


def _scale(low: int, high: int) -> Callable[[object, attrs.Attribute[int | None], object], None]:
    def check(_: object, attribute: attrs.Attribute[int | None], value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidEvent(f"must be a whole number from {low} to {high}", field=attribute.name)

    return check


def _version(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidEvent("must be a positive whole number", field=attribute.name)


def _optional_version(instance: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is not None:
        _version(instance, attribute, value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class DecisionRecorded(Payload):
    """The decision reached for the client as of ``as_of``, under rule-set ``ruleset_version``."""

    TYPE = "DecisionRecorded"
    SYSTEM = True
    verdict: str = attrs.field(validator=_verdict)
    fired: list[str] = attrs.field(factory=list, validator=_list_of_text)
    reasons: list[dict[str, Any]] = attrs.field(factory=list, validator=_decision_reasons)
    ruleset_version: int = attrs.field(validator=_version)
    as_of: str = attrs.field(validator=_instant_text)


def _optional_verdict(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _verdict(_, attribute, value)


@attrs.frozen(kw_only=True)
class DecisionChanged(Payload):
    """The watcher (``clientrules watch``) saw the client's decision change as of ``as_of``.

    ``from_verdict`` and ``previous_fired`` are the decision it had seen
    before (``from_verdict`` None: the client had none yet); ``to_verdict``,
    ``fired``, ``reasons`` and ``advice`` the new one. ``cause`` says what
    made the watcher look: ``event`` (new events), ``time`` (a fact can
    change with time alone), ``rules`` (a new rule-set version) or
    ``baseline`` (the first run, with ``--alert-baseline``).
    """

    TYPE = "DecisionChanged"
    SYSTEM = True
    from_verdict: str | None = attrs.field(default=None, validator=_optional_verdict)
    to_verdict: str = attrs.field(validator=_verdict)
    previous_fired: list[str] = attrs.field(factory=list, validator=_list_of_text)
    fired: list[str] = attrs.field(factory=list, validator=_list_of_text)
    reasons: list[dict[str, Any]] = attrs.field(factory=list, validator=_decision_reasons)
    advice: list[str] = attrs.field(factory=list, validator=_list_of_text)
    ruleset_version: int = attrs.field(validator=_version)
    as_of: str = attrs.field(validator=_instant_text)
    cause: str = attrs.field(validator=_one_of("event", "time", "rules", "baseline"))


def _optional_side(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None:
        _one_of("us", "client")(instance, attribute, value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class SurveyInvited(Payload):
    """An exit-survey link was issued; only the newest invitation of a client is usable.

    ``ended_by``: who ended the relationship (``"client"``, or ``"us"`` for a
    client invited on purpose, whom the questionnaire asks how working with us
    was rather than why they stopped); absent on invitations stored before it was kept.
    """

    TYPE = "SurveyInvited"
    SYSTEM = True
    invitation_id: str = _text_field()
    expires_at: str = attrs.field(validator=_instant_text)
    email: str | None = _email_field()
    ended_by: str | None = attrs.field(default=None, validator=_optional_side)


@attrs.frozen(kw_only=True)
class SurveyReminded(Payload):
    TYPE = "SurveyReminded"
    SYSTEM = True
    invitation_id: str = _text_field()


@attrs.frozen(kw_only=True)
class SurveyAnswered(Payload):
    """The departed client's answers (``docs/survey.md``)."""

    TYPE = "SurveyAnswered"
    SYSTEM = True
    invitation_id: str = _text_field()
    primary_reason: str = attrs.field(validator=_reason)
    other_reasons: list[str] = attrs.field(factory=list, validator=_reasons)
    #: "something else" in the client's own words
    other_reason: str | None = _optional_text_field(personal=True)
    rating_communication: int | None = attrs.field(default=None, validator=_scale(1, 5))
    rating_timeliness: int | None = attrs.field(default=None, validator=_scale(1, 5))
    rating_quality: int | None = attrs.field(default=None, validator=_scale(1, 5))
    rating_value: int | None = attrs.field(default=None, validator=_scale(1, 5))
    recommend: int | None = attrs.field(default=None, validator=_scale(0, 10))
    would_return: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_one_of("yes", "maybe", "no"))
    )
    what_to_change: str | None = _optional_text_field(personal=True)
    may_contact: bool = attrs.field(default=False, validator=_flag)
    #: the questionnaire's version: absent in answers to the first, 2 since the questions below were added
    questionnaire: int | None = attrs.field(default=None, validator=_optional_version)
    #: absent (first questionnaire) reads as ``leaving``
    about: str | None = attrs.field(default=None, validator=attrs.validators.optional(_one_of(*SURVEY_ABOUT)))
    #: who they work with now, and what that offered
    moved_to: str | None = _optional_text_field(personal=True)
    keep_doing: str | None = _optional_text_field(personal=True)
    first_thought_leaving: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_one_of(*FIRST_THOUGHT_LEAVING))
    )


@attrs.frozen(kw_only=True)
class PersonalDataErased(Payload):
    """The client's personal fields were made unreadable (their key was destroyed)."""

    TYPE = "PersonalDataErased"
    SYSTEM = True
    requested_by: str | None = _optional_text_field()


@attrs.frozen(kw_only=True)
class RuleSetAdopted(Payload):
    """A new rule-set version (stream ``$rules``): its full TOML text, made current."""

    TYPE = "RuleSetAdopted"
    SYSTEM = True
    version: int = attrs.field(validator=_version)
    source: str = _text_field()
    note: str | None = _optional_text_field()


@attrs.frozen(kw_only=True)
class ProposalDecided(Payload):
    """The owner accepted or rejected a proposed rule (stream ``$learning``)."""

    TYPE = "ProposalDecided"
    SYSTEM = True
    proposal_id: str = _text_field()
    outcome: str = attrs.field(validator=_one_of("accepted", "rejected"))
    evidence: str = _text_field()
    rule: dict[str, Any] = attrs.field(validator=_proposed_rule)
    ruleset_version: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_version)
    )


SYSTEM_TYPES: tuple[type[Payload], ...] = (
    DecisionRecorded,
    DecisionChanged,
    SurveyInvited,
    SurveyReminded,
    SurveyAnswered,
    PersonalDataErased,
    RuleSetAdopted,
    ProposalDecided,
)

__all__ = [
    "DecisionChanged",
    "DecisionRecorded",
    "FIRST_THOUGHT_LEAVING",
    "LEARNING_STREAM",
    "PersonalDataErased",
    "ProposalDecided",
    "REASON_CODES",
    "RULES_STREAM",
    "RuleSetAdopted",
    "SURVEY_ABOUT",
    "SurveyAnswered",
    "SurveyInvited",
    "SurveyReminded",
    "SYSTEM_TYPES",
    "VERDICTS",
]
