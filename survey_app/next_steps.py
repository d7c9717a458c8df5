"""The client page's next steps: the steps with their drafts (``owner/_next_steps.html``), and marking one done.

The partial reads ``steps`` from the page when the view passes it, and
otherwise asks ``next_steps_of(client)``, so any page that knows ``client``
can include it. Marking a step done records the event it asks for
(``ledger.steps.record_done``), from a small form with a CSRF token.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from clientrules.domain.errors import ClientRulesError, InvalidEvent
from clientrules.domain.events import check_client_id
from clientrules.domain.next_steps import NextSteps
from clientrules.domain.drafts.fields import plain_date
from survey_app.security import login_required

next_steps = Blueprint("next_steps", __name__, url_prefix="/owner")
TEXT_LIMIT = 2_000


class StepDoneForm(FlaskForm):
    """What the event that marks a step done needs; each step's form shows only its own fields."""

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


#: per event type: the form fields it needs (required ones first) and the event data they make
_REQUIRED: dict[str, tuple[str, ...]] = {
    "MeetingHeld": ("topic", "outcome"),
    "PlanAgreed": ("summary",),
    "TermsRenegotiated": ("change",),
    "ClientReferredOut": ("partner",),
    "RelationshipEnded": (),
}


@next_steps.app_context_processor
def helpers() -> dict[str, Callable[..., Any]]:
    """For the partial: the steps of a client now, and the form whose CSRF token its buttons carry."""
    return {"next_steps_of": _steps_of, "step_done_form": StepDoneForm}


@next_steps.app_template_filter("plain_date")
def plain_date_filter(day: dt.date) -> str:
    return plain_date(day)


def _steps_of(client: str) -> NextSteps:
    return current_app.extensions["clientrules"].ledger.steps.for_client(client)


@next_steps.route("/clients/<client>/steps/<step_id>/done", methods=["POST"])
@login_required
def mark_done(client: str, step_id: str):
    """Record the event that marks ``step_id`` done, then show the client page again."""
    ledger = current_app.extensions["clientrules"].ledger
    try:
        check_client_id(client)
    except InvalidEvent:
        abort(404)
    if not ledger.version(client):
        abort(404)
    form = StepDoneForm()
    back = redirect(url_for("owner.client", client=client) + "#next-steps-title", code=303)
    if not form.validate():
        flash("Nothing was recorded: " + "; ".join(e for errors in form.errors.values() for e in errors), "error")
        return back
    try:
        event_type = ledger.steps.for_client(client).step(step_id).event_type
    except KeyError:
        abort(404)
    fields = [getattr(form, name) for name in _REQUIRED.get(event_type or "", ())]
    missing = [field.label.text for field in fields if not field.data]
    if missing:
        flash("Nothing was recorded: please answer " + " and ".join(f"“{label}”" for label in missing), "error")
        return back
    try:
        event = ledger.steps.record_done(client, step_id, _event_data(event_type or "", form))
    except ClientRulesError as error:
        flash(f"Nothing was recorded: {error}", "error")
    else:
        flash(f"Done: recorded on {plain_date(event.at.date)}.", "success")
    return back


def _event_data(event_type: str, form: StepDoneForm) -> dict[str, Any]:
    if event_type == "MeetingHeld":
        return {"topic": form.topic.data.strip(), "outcome": form.outcome.data}
    if event_type == "PlanAgreed":
        data: dict[str, Any] = {"summary": form.summary.data.strip()}
        if form.review_on.data:
            data["review_on"] = form.review_on.data.isoformat()
        return data
    if event_type == "TermsRenegotiated":
        return {"change": form.change.data.strip()}
    if event_type == "ClientReferredOut":
        return {"partner": form.partner.data.strip()}
    reason = (form.reason.data or "").strip()
    return {"initiated_by": "us", **({"reason": reason} if reason else {})}
