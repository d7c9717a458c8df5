"""The public side: the questionnaire at a personal link (``/s/<token>``) and the thank-you page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from clientrules.domain.survey import InvalidAnswers
from survey_app.forms import SurveyForm

public = Blueprint("survey", __name__)


@public.route("/s/<token>", methods=["GET", "POST"])
def questionnaire(token: str):
    """GET shows the form and never uses the link up; POST stores the answers exactly once.

    The link is checked before the form's CSRF token (this blueprint is exempt
    from the app-wide check), so a used or expired link says so whatever was posted.
    """
    surveys = current_app.extensions["clientrules"].surveys
    link = surveys.open_link(token)
    if request.method == "POST":
        current_app.extensions["csrf"].protect()
    form = SurveyForm()
    if request.method == "POST" and form.validate():
        try:
            surveys.submit(link, form.answers())
        except InvalidAnswers as error:
            form.add_errors(error.errors)
        else:
            return redirect(url_for("survey.thanks"), code=303)
    status = 400 if form.errors else 200
    return render_template("survey/form.html", form=form, invitation=link.invitation), status


@public.route("/thanks")
def thanks():
    return render_template("survey/thanks.html")


@public.route("/")
def home():
    return redirect(url_for("owner.clients"))
