"""The exit questionnaire of ``docs/survey.md``: its questions, choices and the rules an answer must meet.

Pure: :func:`answered` turns a mapping of answers (field name -> value) into
a validated :class:`~clientrules.domain.events.SurveyAnswered` payload, or raises
:class:`~clientrules.domain.survey.errors.InvalidAnswers` naming every bad field.
"""

from __future__ import annotations

from typing import Any, Mapping

from clientrules.domain.events import SurveyAnswered
from clientrules.domain.survey.errors import InvalidAnswers

#: reason code -> the label shown to the client (codes are stable; retire and add, never reword)
REASON_LABELS: dict[str, str] = {
    "missed_deadlines": "Deadlines were missed",
    "poor_communication": "Communication was slow or unclear",
    "felt_neglected": "You seemed too busy with other clients",
    "price_too_high": "The rates were too high",
    "found_cheaper": "I found a cheaper alternative",
    "quality": "The quality of the work was not what I expected",
    "needs_changed": "My needs changed / I outgrew your services",
    "personal_fit": "Our working styles did not fit",
    "project_finished": "The work was done; nothing went wrong",
    "other": "Something else (tell us below)",
    # the second questionnaire's
    "budget_cut": "Our budget was cut, or the business closed",
    "in_house": "We brought the work in-house",
    "contact_changed": "The person who worked with you left or changed roles",
}
#: the order the reasons are offered in: "something else" last
REASON_ORDER: tuple[str, ...] = (*(code for code in REASON_LABELS if code != "other"), "other")

#: "When did you first think of leaving?": each choice and how it reads
FIRST_THOUGHT_LABELS: dict[str, str] = {
    "under_a_month": "Less than a month before we parted",
    "one_to_three_months": "One to three months before",
    "over_three_months": "More than three months before",
    "from_the_start": "Almost from the start",
}
#: the questionnaire's current version (answers to version 1 carry no ``questionnaire`` field)
QUESTIONNAIRE_VERSION = 2
MAX_MOVED_TO = 500

#: rating field -> what is rated, each from 1 (poor) to 5 (excellent)
RATINGS: dict[str, str] = {
    "rating_communication": "Communication",
    "rating_timeliness": "Meeting deadlines",
    "rating_quality": "Quality of the work",
    "rating_value": "Value for money",
}
RATING_SCALE = range(1, 6)
RECOMMEND_SCALE = range(0, 11)
WOULD_RETURN: dict[str, str] = {"yes": "Yes", "maybe": "Maybe", "no": "No"}
MAX_TEXT = 5_000

FIELDS: tuple[str, ...] = (
    "primary_reason",
    "other_reasons",
    *RATINGS,
    "recommend",
    "would_return",
    "what_to_change",
    "may_contact",
    "other_reason",  # after the first version's: exports keep their earlier columns where they were
    "moved_to",
    "keep_doing",
    "first_thought_leaving",
)


def answered(invitation_id: str, answers: Mapping[str, Any], *, about: str = "leaving") -> SurveyAnswered:
    """The validated ``SurveyAnswered`` payload for ``answers`` (absent or ``None`` means not answered).

    ``about`` is what the page asked: ``leaving`` (why the client left) or
    ``working_with_us`` (a client we ended with, invited on purpose).
    A blank free text (``other_reason``, ``what_to_change``, ``moved_to``, ``keep_doing``) counts as not answered;
    its line breaks are normalised to ``\\n`` (browsers send ``\\r\\n``) before its length is checked.
    """
    errors: dict[str, str] = {}
    for name in answers:
        if name not in FIELDS:
            errors[str(name)[:40]] = "is not a question of this survey"
    values: dict[str, Any] = {}

    primary = answers.get("primary_reason")
    if primary in (None, ""):
        errors["primary_reason"] = "Please choose the main reason."
    elif primary not in REASON_LABELS:
        errors["primary_reason"] = "Please choose one of the reasons listed."
    else:
        values["primary_reason"] = primary

    others = answers.get("other_reasons") or []
    if not isinstance(others, (list, tuple)) or any(code not in REASON_LABELS for code in others):
        errors["other_reasons"] = "Please choose only reasons from the list."
    elif len(set(others)) != len(others):
        errors["other_reasons"] = "Each reason can be chosen once."
    else:
        values["other_reasons"] = list(others)

    for name in RATINGS:
        _whole_number(answers, name, RATING_SCALE, values, errors)
    _whole_number(answers, "recommend", RECOMMEND_SCALE, values, errors)

    would_return = answers.get("would_return")
    if would_return not in (None, "", *WOULD_RETURN):
        errors["would_return"] = "Please choose yes, maybe or no."
    elif would_return:
        values["would_return"] = would_return

    for name in ("other_reason", "what_to_change", "keep_doing"):
        _free_text(answers, name, values, errors)
    _free_text(answers, "moved_to", values, errors, limit=MAX_MOVED_TO)

    first_thought = answers.get("first_thought_leaving")
    if first_thought not in (None, "", *FIRST_THOUGHT_LABELS):
        errors["first_thought_leaving"] = "Please choose one of the times listed."
    elif first_thought:
        values["first_thought_leaving"] = first_thought

    may_contact = answers.get("may_contact", False)
    if not isinstance(may_contact, bool):
        errors["may_contact"] = "Please answer yes or no."
    else:
        values["may_contact"] = may_contact

    if errors:
        raise InvalidAnswers(errors)
    return SurveyAnswered(invitation_id=invitation_id, questionnaire=QUESTIONNAIRE_VERSION, about=about, **values)


def _free_text(
    answers: Mapping[str, Any], name: str, values: dict[str, Any], errors: dict[str, str], *, limit: int = MAX_TEXT
) -> None:
    """A free-text answer: blank is not answered; line breaks normalised to ``\\n``; at most ``limit`` characters."""
    text = answers.get(name)
    if text is not None and not isinstance(text, str):
        errors[name] = "Please write your answer as text."
    elif text and text.strip():
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if len(text) > limit:
            errors[name] = f"Please keep this under {limit:,} characters (it has {len(text):,})."
        else:
            values[name] = text


def _whole_number(
    answers: Mapping[str, Any], name: str, scale: range, values: dict[str, Any], errors: dict[str, str]
) -> None:
    value = answers.get(name)
    if value is None or value == "":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value not in scale:
        errors[name] = f"Please choose a number from {scale.start} to {scale.stop - 1}."
    else:
        values[name] = value
