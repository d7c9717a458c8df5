"""The owner's pages (login required): clients and their decisions, one client's history, invitations, rules."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from clientrules.domain.errors import ClientRulesError, InvalidEvent
from clientrules.domain.events import check_client_id
from clientrules.domain.survey import FIELDS, RATINGS, REASON_LABELS, WOULD_RETURN
from survey_app.forms import ActionForm, InviteForm, LoginForm, RemindForm
from survey_app.mail import send_link
from survey_app.security import log_in, log_out, login_required, owner_logged_in, safe_next

owner = Blueprint("owner", __name__, url_prefix="/owner")


def _state():
    return current_app.extensions["clientrules"]


@owner.app_context_processor
def navigation() -> dict:
    """For the owner pages' header (functions: public pages never pay for them)."""
    return {"logged_in": owner_logged_in, "logout_form": ActionForm}


@owner.route("/login", methods=["GET", "POST"])
def login():
    state = _state()
    form = LoginForm()
    address = request.remote_addr or "unknown"
    status = 200
    if request.method == "POST":
        if form.validate():
            wait = state.limiter.attempt(address)
            if wait:
                form.password.errors = [f"Too many failed attempts. Try again in {max(1, wait // 60)} minute(s)."]
                page = render_template("owner/login.html", form=form, password_set=True)
                return page, 429, {"Retry-After": str(wait)}
            version = state.surveys.owner.check(form.password.data)
            if version:
                state.limiter.succeeded(address)
                log_in(version)
                return redirect(safe_next(request.args.get("next"), url_for("owner.clients")), code=303)
            form.password.errors = ["That password is not right."]
        status = 400
    password_set = state.surveys.owner.version() > 0
    return render_template("owner/login.html", form=form, password_set=password_set), status


@owner.route("/logout", methods=["POST"])
def logout():
    log_out(everywhere=request.form.get("everywhere") == "1")
    return redirect(url_for("owner.login"), code=303)


@owner.route("/")
@login_required
def clients():
    state = _state()
    decisions = {d.client: d for d in state.ledger.decisions.evaluate()}
    latest = {i.client: i for i in state.surveys.invitations()}
    return render_template(
        "owner/clients.html",
        clients=state.ledger.clients(),
        decisions=decisions,
        invitations=latest,
        uninvited=set(state.surveys.uninvited()),
    )


@owner.route("/clients/<client>")
@login_required
def client(client: str):
    state = _state()
    events = state.ledger.events(_known_client(client))
    (decision,) = state.ledger.decisions.evaluate([client])
    return render_template(
        "owner/client.html",
        client=client,
        events=events,
        decision=decision,
        invitations=state.surveys.invitations(client),
        answers=state.surveys.answers(client),
        form=InviteForm(),
        **_labels(),
    )


@owner.route("/clients/<client>/invite", methods=["POST"])
@login_required
def invite(client: str):
    state = _state()
    _known_client(client)
    form = InviteForm()
    if not form.validate():
        flash("The invitation was not sent: " + "; ".join(e for errors in form.errors.values() for e in errors), "error")
    else:
        try:
            invitation = state.surveys.invite(client, email=form.email.data or None)
            delivery = send_link(invitation, _base_url())
        except ClientRulesError as error:
            flash(str(error), "error")
        else:
            flash(f"{client}: invitation stored; {delivery.describe()}. Link: {invitation.url(_base_url())}", "success")
    if request.form.get("back") == "invitations":
        return redirect(url_for("owner.invitations"), code=303)
    return redirect(url_for("owner.client", client=client), code=303)


@owner.route("/invitations")
@login_required
def invitations():
    state = _state()
    return render_template(
        "owner/invitations.html",
        invitations=state.surveys.invitations(),
        uninvited=state.surveys.uninvited(),
        form=InviteForm(),
        remind_form=RemindForm(),
    )


@owner.route("/invitations/remind", methods=["POST"])
@login_required
def remind():
    state = _state()
    form = RemindForm()
    if not form.validate():
        flash("No reminder was sent: " + "; ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("owner.invitations"), code=303)
    try:
        reminded = state.surveys.remind(form.after_days.data)
        deliveries = [f"{i.client}: {send_link(i, _base_url()).describe()}" for i in reminded]
    except ClientRulesError as error:
        flash(str(error), "error")
    else:
        flash(f"Reminded {len(reminded)} client(s). " + " ".join(deliveries), "success")
    return redirect(url_for("owner.invitations"), code=303)


@owner.route("/rules")
@login_required
def rules():
    return render_template("owner/rules.html", current=_state().ledger.rules.current())


def _known_client(client: str) -> str:
    try:
        check_client_id(client)
    except InvalidEvent:
        abort(404)
    if not _state().ledger.version(client):
        abort(404)
    return client


def _base_url() -> str:
    return _state().settings.base_url or request.url_root


def _labels() -> dict:
    return {"fields": FIELDS, "reason_labels": REASON_LABELS, "ratings": RATINGS, "would_return": WOULD_RETURN}
