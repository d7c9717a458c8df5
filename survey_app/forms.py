"""The app's forms (Flask-WTF: every one carries a CSRF token).

The questionnaire's fields only read what was sent (no choice checks here):
the survey library validates the answers, so its rules and messages are the
same for the web, the API and the CLI.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, EmailField, Field, IntegerField, PasswordField, RadioField, SelectMultipleField, TextAreaField
# SelectChoice is WTForms 3.2's; typeshed's stubs of WTForms predate it
from wtforms.fields.choices import SelectChoice as SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from clientrules import (
    FIRST_THOUGHT_LABELS,
    RATING_SCALE,
    RATINGS,
    REASON_LABELS,
    REASON_ORDER,
    RECOMMEND_SCALE,
    SURVEY_FIELDS,
    WOULD_RETURN,
    is_email_address,
)


def email_address(form: Any, field: Field) -> None:
    """Refuse, where it is typed, what is not one e-mail address (an empty optional field stops before this)."""
    if field.data and not is_email_address(str(field.data).strip()):
        raise ValidationError("Enter an e-mail address like name@example.com, or leave it empty.")


class ChoiceInputs:
    """A widget: a choice field's options as native radio buttons or checkboxes, each with its own label.

    Built from the field's choices: WTForms' own list widget makes a subfield
    for each option, and the questionnaire has about sixty. Option ids are
    WTForms' (``<field id>-0``, ``-1``, ...); the template puts them in a fieldset with a legend.
    """

    def __init__(self, input_type: str) -> None:
        self.input_type = input_type

    def __call__(self, field: Any, **options: Any) -> Markup:
        """The inputs; ``required=True`` marks each one required."""
        field_id, name = escape(field.id), escape(field.name)
        flags = " required" if options.get("required") else ""
        return Markup(
            "".join(
                f'<div class="option">\n'
                f'  <input type="{self.input_type}" id="{field_id}-{n}" name="{name}" value="{escape(choice.value)}"'
                f'{" checked" if choice.selected else ""}{flags}>\n'
                f'  <label for="{field_id}-{n}">{escape(choice.label)}</label>\n'
                f"</div>\n"
                for n, choice in enumerate(field.iter_choices())
            )
        )


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _number(value: str | int | None) -> str | int | None:
    """A whole number if ``value`` (a choice's, or the text sent) reads as one; else ``value``, for the library to refuse."""
    if value is None:
        return value
    try:
        return int(value)
    except ValueError:
        return value


def _scale(label: str, scale: range) -> RadioField:
    return RadioField(
        label, choices=[SelectChoice(n, str(n)) for n in scale], coerce=_number, validate_choice=False, widget=RADIOS
    )


REASONS = _choices({code: REASON_LABELS[code] for code in REASON_ORDER})
RADIOS = ChoiceInputs("radio")


class SurveyForm(FlaskForm):
    """The questionnaire; its field names are those of ``docs/survey.md``.

    For a client we ended with (invited on purpose) the page asks how working
    with us was: :meth:`ask_about` changes the questions' wording, not their fields.
    """

    primary_reason = RadioField(
        "What was the main reason you stopped working with us?", choices=REASONS, validate_choice=False, widget=RADIOS
    )
    other_reason = TextAreaField("Something else? Tell us in your own words")
    other_reasons = SelectMultipleField(
        "Did anything else play a part?", choices=REASONS, validate_choice=False, widget=ChoiceInputs("checkbox")
    )
    rating_communication = _scale(RATINGS["rating_communication"], RATING_SCALE)
    rating_timeliness = _scale(RATINGS["rating_timeliness"], RATING_SCALE)
    rating_quality = _scale(RATINGS["rating_quality"], RATING_SCALE)
    rating_value = _scale(RATINGS["rating_value"], RATING_SCALE)
    recommend = _scale("How likely are you to recommend us to a friend or colleague?", RECOMMEND_SCALE)
    would_return = RadioField(
        "Would you work with us again?", choices=_choices(WOULD_RETURN), validate_choice=False, widget=RADIOS
    )
    what_to_change = TextAreaField("What could we have done differently?")
    keep_doing = TextAreaField("What should we keep doing?")
    moved_to = TextAreaField("Who do you work with now, and what did they offer?")
    first_thought_leaving = RadioField(
        "When did you first think of leaving?",
        choices=_choices(FIRST_THOUGHT_LABELS),
        validate_choice=False,
        widget=RADIOS,
    )
    may_contact = BooleanField("You may contact me to talk about my answers")

    class Meta:
        # the view checks the CSRF token itself, after the link (see ``survey_app.public``): no second check here
        csrf = False

    def ask_about(self, about: str) -> None:
        """Word the questions for ``about`` (``leaving`` or ``working_with_us``)."""
        if about == "working_with_us":
            self.primary_reason.label.text = "Looking back, what describes working with us best?"
            self.other_reasons.label.text = "Anything else that stood out?"
            self.what_to_change.label.text = "What could we have done better?"

    def answers(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in SURVEY_FIELDS}

    def add_errors(self, errors: dict[str, str]) -> None:
        """Show the survey library's verdict on each field next to it."""
        for name, message in errors.items():
            if name in SURVEY_FIELDS:
                getattr(self, name).errors = [message]


class LoginForm(FlaskForm):
    password = PasswordField("Password", validators=[InputRequired(message="Please enter the password.")])


class InviteForm(FlaskForm):
    email = EmailField("E-mail address (optional)", validators=[Optional(), email_address])
    on_purpose = BooleanField("Invite them on purpose")


class RemindForm(FlaskForm):
    after_days = IntegerField(
        "Remind those not contacted for (days)",
        default=7,
        validators=[InputRequired(message="Please give a number of days."), NumberRange(min=0, message="Use 0 or more days.")],
    )


class ActionForm(FlaskForm):
    """A form that is only a button (log out): its CSRF token is the point."""
