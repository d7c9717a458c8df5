"""The client page's next steps: the steps with their drafts (``owner/_next_steps.html``), and marking one done.

The partial reads ``steps`` from the page when the view passes it, and
otherwise asks ``next_steps_of(client)``, so any page that knows ``client``
can include it. Marking a step done records the event it asks for
(``ledger.steps.record_done``), from a small form with a CSRF token.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import attrs
from flask import Blueprint, abort, flash, g, make_response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import DateField, Field, RadioField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from clientrules import ClientRulesError, InvalidEvent, MissingAnswers, NextSteps, check_client_id
from survey_app.event_forms import _sentence
from survey_app.forms import SelectChoice
from survey_app.owner import client as client_page
from survey_app.security import login_required
from survey_app.state import app_state
from survey_app.words import long_date

next_steps = Blueprint("next_steps", __name__, url_prefix="/owner")
TEXT_LIMIT = 2_000


class StepDoneForm(FlaskForm):
    """What the event that marks a step done needs; each step's form shows only its own fields.

    The fields are named as the event's (``ledger.steps.answers(step)`` says which a step asks for).
    """

    topic = StringField("What was it about?", validators=[Optional(), Length(max=TEXT_LIMIT)])
    outcome = RadioField(
        "How did it go?",
        choices=[SelectChoice("resolved", "We found a way forward"), SelectChoice("unresolved", "No resolution")],
        validators=[Optional()],
    )
    summary = TextAreaField("What did you agree?", validators=[Optional(), Length(max=TEXT_LIMIT)])
    review_on = DateField("Review it on (optional)", validators=[Optional()])
    change = StringField("What changed in the terms?", validators=[Optional(), Length(max=TEXT_LIMIT)])
    partner = StringField("Which company did you refer them to?", validators=[Optional(), Length(max=TEXT_LIMIT)])
    reason = TextAreaField("Why it ended, for your records (optional)", validators=[Optional(), Length(max=TEXT_LIMIT)])

    def answer(self, name: str) -> str | None:
        """The answer given in field ``name`` (a date as ISO text), or None when the form has no such field or it is blank."""
        field: Field | None = self._fields.get(name)
        if field is None or not field.data:
            return None
        data = field.data
        return data.isoformat() if isinstance(data, dt.date) else str(data).strip() or None


@next_steps.app_context_processor
def helpers() -> dict[str, Callable[..., Any]]:
    """For the partial: the steps of a client now, and the form whose CSRF token its buttons carry."""
    return {"next_steps_of": _steps_of, "step_done_form": StepDoneForm}


def _steps_of(client: str) -> NextSteps:
    return app_state().ledger.steps.for_client(client)


@next_steps.route("/clients/<client>/steps/<step_id>/done", methods=["POST"])
@login_required
def mark_done(client: str, step_id: str) -> ResponseReturnValue:
    """Record the event that marks ``step_id`` done, then show the client page again."""
    ledger = app_state().ledger
    try:
        check_client_id(client)
    except InvalidEvent:
        abort(404)
    if not ledger.version(client):
        abort(404)
    form = StepDoneForm()
    back = redirect(url_for("owner.client", client=client) + "#next-steps-title", code=303)
    valid = form.validate()
    try:
        step = ledger.steps.for_client(client).step(step_id)
    except KeyError:
        abort(404)
    if not valid:
        return _refused(client, step_id, {name: list(errors) for name, errors in form.errors.items()})
    asked = ledger.steps.answers(step)
    answers = {name: answer for name in (*asked.required, *asked.optional) if (answer := form.answer(name)) is not None}
    try:
        event = ledger.steps.record_done(client, step_id, answers)
    except MissingAnswers as missing:
        return _refused(client, step_id, {name: ["Please answer this."] for name in missing.missing})
    except InvalidEvent as error:
        if error.field is not None and error.field in form._fields:
            return _refused(client, step_id, {error.field: [_sentence(str(error).split(": ", 1)[-1])]})
        flash(f"Nothing was recorded: {error}", "error")
    except ClientRulesError as error:
        flash(f"Nothing was recorded: {error}", "error")
    else:
        flash(f"Done: recorded on {long_date(event.at)}.", "success")
    return back


@attrs.frozen
class RefusedStep:
    """A step whose "done" form was refused: its id, each field's problems, and what was typed (shown again)."""

    step_id: str
    problems: dict[str, list[str]]
    typed: dict[str, str]


def _refused(client: str, step_id: str, problems: dict[str, list[str]]) -> ResponseReturnValue:
    """The client page again, nothing recorded, each problem beside its field in the step's form."""
    g.refused_step = RefusedStep(step_id, problems, {name: request.form.get(name, "") for name in request.form})
    flash("Nothing was recorded: see the step below, each problem is beside its answer.", "error")
    page = make_response(client_page(client))
    page.status_code = 400
    return page
