"""The public side: the questionnaire at a personal link (``/s/<token>``) and the thank-you page."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, send_file, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from clientrules import LOGO_TYPES, InvalidAnswers, Settings
from survey_app.forms import SurveyForm
from survey_app.state import app_state
from survey_app.words import long_date

public = Blueprint("survey", __name__)
#: what differs between two links' blank questionnaires of one wording: filled into the page rendered once
STAND_INS = {name: f"{{{{link {name}}}}}" for name in ("action", "csrf_token_value", "expires_on")}


@public.app_context_processor
def branding() -> dict[str, Settings]:
    """Who the pages speak for: ``brand.business_name``, ``brand.business_logo``, ``brand.accent_colour``."""
    return {"brand": app_state().settings}


@public.route("/brand/logo")
def logo() -> Response:
    path = app_state().settings.business_logo
    if not path or not Path(path).is_file():
        abort(404)
    return send_file(path, mimetype=LOGO_TYPES[Path(path).suffix.lower()], max_age=3600)


@public.route("/brand.css")
def brand_stylesheet() -> Response:
    """The accent colour as a CSS variable (the pages allow no inline style)."""
    colour = app_state().settings.accent_colour or "#1d6f42"
    return Response(f":root {{ --accent: {colour}; }}\n", mimetype="text/css", headers={"Cache-Control": "max-age=300"})


@public.route("/s/<token>", methods=["GET", "POST"])
def questionnaire(token: str) -> ResponseReturnValue:
    """GET shows the form and never uses the link up; POST stores the answers exactly once.

    The link is checked before the form's CSRF token (this blueprint is exempt
    from the app-wide check), so a used or expired link says so whatever was posted.
    """
    surveys = app_state().ledger.surveys
    link = surveys.open_link(token)
    if request.method == "GET" and "_flashes" not in session:
        return blank_questionnaire(link.about, long_date(link.invitation.expires_at))
    if request.method == "POST":
        current_app.extensions["csrf"].protect()
    form = SurveyForm()
    form.ask_about(link.about)
    if request.method == "POST" and form.validate():
        try:
            surveys.submit(link, form.answers())
        except InvalidAnswers as error:
            form.add_errors(error.errors)
        else:
            return redirect(url_for("survey.thanks"), code=303)
    status = 400 if form.errors else 200
    return render_questionnaire(form, link.about, action=request.path, csrf_token_value=None,
                                expires_on=long_date(link.invitation.expires_at)), status


def blank_questionnaire(about: str, expires_on: str) -> str:
    """The questionnaire as a GET shows it: the page of its wording (``about``), rendered once, with this link's
    own filled in."""
    pages = app_state().blank_questionnaires
    page = pages.get(about)
    if page is None:
        form = SurveyForm()
        form.ask_about(about)
        page = pages[about] = render_questionnaire(form, about, **STAND_INS)
    own = {"action": request.path, "csrf_token_value": generate_csrf(), "expires_on": expires_on}
    for name, stand_in in STAND_INS.items():
        page = page.replace(stand_in, escape(own[name]))
    return page


def render_questionnaire(form: SurveyForm, about: str, **own: str | None) -> str:
    """The questionnaire page; ``own`` is what is the link's own: the form's ``action``, its ``csrf_token_value``
    (None: this request's) and the link's ``expires_on``."""
    return render_template("survey/form.html", form=form, about=about, **own)


@public.route("/thanks")
def thanks() -> ResponseReturnValue:
    return render_template("survey/thanks.html")


@public.route("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("owner.clients"))
