"""The app's forms (Flask-WTF: every one carries a CSRF token).

The questionnaire's fields only read what was sent (no choice checks here):
the survey library validates the answers, so its rules and messages are the
same for the web, the API and the CLI.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, RadioField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from clientrules.survey import FIELDS, RATING_SCALE, RATINGS, REASON_LABELS, RECOMMEND_SCALE, WOULD_RETURN



def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _number(value: object) -> object:
    """A whole number if ``value`` reads as one; else ``value`` as sent, for the library to refuse."""
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value


def _scale(label: str, scale: range) -> RadioField:
    return RadioField(label, choices=[SelectChoice(n, str(n)) for n in scale], coerce=_number, validate_choice=False)


REASONS = _choices(REASON_LABELS)


class SurveyForm(FlaskForm):
    """The questionnaire; its field names are those of ``spec/exit-survey.md``."""

    primary_reason = RadioField(
        "What was the main reason you stopped working with us?", choices=REASONS, validate_choice=False
    )
    other_reasons = SelectMultipleField("Did anything else play a part?", choices=REASONS, validate_choice=False)
    rating_communication = _scale(RATINGS["rating_communication"], RATING_SCALE)
    rating_timeliness = _scale(RATINGS["rating_timeliness"], RATING_SCALE)
    rating_quality = _scale(RATINGS["rating_quality"], RATING_SCALE)
    rating_value = _scale(RATINGS["rating_value"], RATING_SCALE)
    recommend = _scale("How likely are you to recommend us to a friend or colleague?", RECOMMEND_SCALE)
    would_return = RadioField("Would you work with us again?", choices=_choices(WOULD_RETURN), validate_choice=False)
    what_to_change = TextAreaField("What could we have done differently?")
    may_contact = BooleanField("You may contact me to talk about my answers")

    def answers(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in FIELDS}

    def add_errors(self, errors: dict[str, str]) -> None:
        """Show the survey library's verdict on each field next to it."""
        for name, message in errors.items():
            if name in FIELDS:
                getattr(self, name).errors = [message]


class LoginForm(FlaskForm):
    password = PasswordField("Password", validators=[InputRequired(message="Please enter the password.")])


class InviteForm(FlaskForm):
    email = EmailField("E-mail address (optional)", validators=[Optional()])


class RemindForm(FlaskForm):
    after_days = IntegerField(
        "Remind those not contacted for (days)",
        default=7,
        validators=[InputRequired(message="Please give a number of days."), NumberRange(min=0, message="Use 0 or more days.")],
    )


class ActionForm(FlaskForm):
    """A form that is only a button (log out): its CSRF token is the point."""
