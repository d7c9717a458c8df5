"""The owner's learning page: the learning report (``ledger.learning``), its charts, and accepting or rejecting proposals.

The report is built once per state of the database (it replays the whole
history), in the background on a large one while the page says how far it has
come (the report before it shown meanwhile), and reused for its chart images
until another event is stored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from clientrules import ClientRulesError, Progress
from survey_app.forms import ActionForm
from survey_app.security import login_required
from survey_app.state import app_state

learning = Blueprint("learning", __name__, url_prefix="/owner/learning")


def _report() -> tuple[dict[str, Any] | None, Progress | None]:
    """The report's data (None while the first is built in the background) and, while one is built, its progress."""
    state = app_state()
    learning_service = state.ledger.learning
    return state.report_cache.get(
        state.ledger.head_position(), learning_service.report_tracker, lambda tracker: learning_service.report(tracker).to_json()
    )


def _reported() -> dict[str, Any]:
    """The report's data, for what needs one (a chart, a proposal's title); 404 while the first is built."""
    data, _ = _report()
    if data is None:
        abort(404)
    return data


#: the lists of the page shown 25 at a time; ``?<list>=<count>`` shows more of one
PAGED = ("told", "ours", "departed")
MAX_SHOWN = 100_000


def _shown() -> dict[str, int]:
    """How many items of each list the request asks for (a count that is not a whole number is ignored)."""
    shown = {}
    for name, value in request.args.items():
        if (name in PAGED or name.startswith("at-risk-")) and value.isdigit():
            shown[name] = min(int(value), MAX_SHOWN)
    return shown


def _more_url(name: str, count: int) -> str:
    return url_for(".report") + "?" + urlencode({**_shown(), name: count})


@learning.route("/")
@login_required
def report() -> ResponseReturnValue:
    data, progress = _report()
    if data is None:
        return render_template("owner/learning.html", body=None, progress=progress)
    actions = {
        proposal["id"]: Markup(render_template("owner/proposal_actions.html", proposal=proposal, form=ActionForm()))
        for proposal in data["proposals"]
    }
    # the library's template escapes every text of the data (answers included)
    body = Markup(
        app_state().ledger.reports.html(
            data,
            full_page=False,
            stylesheet_url=url_for(".report_stylesheet"),
            chart_url=lambda name: url_for(".chart", name=name),
            actions=actions,
            shown=_shown(),
            more_url=_more_url,
            date_format=app_state().settings.date_format,
        )
    )
    return render_template("owner/learning.html", body=body, progress=progress)


@learning.route("/report.css")
@login_required
def report_stylesheet() -> ResponseReturnValue:
    return Response(app_state().ledger.reports.stylesheet(), mimetype="text/css")


@learning.route("/charts/<name>.png")
@login_required
def chart(name: str) -> ResponseReturnValue:
    data = _reported()
    reports = app_state().ledger.reports
    if name not in reports.chart_names(data):
        abort(404)
    return Response(reports.chart_png(data, name), mimetype="image/png")


@learning.route("/proposals/<proposal_id>/<outcome>", methods=["POST"])
@login_required
def decide(proposal_id: str, outcome: str) -> ResponseReturnValue:
    if outcome not in ("accept", "reject"):
        abort(404)
    service = app_state().ledger.learning
    data, _ = _report()
    proposal = next((p for p in (data or {"proposals": []})["proposals"] if proposal_id in (p["id"], p["readable_id"])), None)
    what = f"“{proposal['words']['title']}”" if proposal else "The proposal"
    try:
        if outcome == "accept":
            version = service.accept(proposal_id)
            flash(f"{what} is now one of the rules (rules version {version.version} are now in use).", "success")
        else:
            service.reject(proposal_id)
            flash(f"{what} was left out: it is proposed again only if its evidence grows by half.", "success")
    except ClientRulesError as error:
        flash(str(error), "error")
    return redirect(url_for(".report"), code=303)
