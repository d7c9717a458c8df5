"""The owner's pages (login required): clients and their decisions, one client's history, invitations, rules."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from clientrules import (
    FIRST_THOUGHT_LABELS,
    RATINGS,
    REASON_LABELS,
    STAGES,
    SORTS,
    SURVEY_FIELDS,
    VERDICTS,
    WOULD_RETURN,
    ClientOnboarded,
    ClientRulesError,
    ConcurrencyError,
    Event,
    InvalidEvent,
    PortfolioQuery,
    MoneyRefused,
    check_client_id,
    client_currency,
    open_invoices,
    stage_of,
)
from clientrules.types import Sort
from survey_app.charts import verdict_chart
from survey_app.event_forms import NAMES_AN_OPEN_INVOICE, QUICK_ACTIONS, RECORDABLE, NewClientForm, event_form
from survey_app.forms import ActionForm, InviteForm, LoginForm, RemindForm
from survey_app.words import clock_time, event_details, event_name, long_date, money_words, progress_words
from survey_app.words import stage_word, verdict_word
from survey_app.security import log_in, log_out, login_required, owner_logged_in, safe_next
from survey_app.state import AppState, app_state

owner = Blueprint("owner", __name__, url_prefix="/owner")
for _filter in (clock_time, event_details, event_name, long_date, progress_words, stage_word, verdict_word):
    owner.add_app_template_filter(_filter)


@owner.app_template_filter("money")
def money(value: float | int | None) -> str:
    """A sum in the business's currency (``CLIENTRULES_CURRENCY``): ``4,700.00 EUR``; None reads as nothing."""
    return money_words(value or 0, _state().ledger.settings.currency)


def _state() -> AppState:
    return app_state()


@owner.app_template_filter()
def name_of(client: str) -> str:
    """The client's name (its id when it has none), looked up once per request: owners know names, not ids."""
    names: dict[str, str] = g.setdefault("client_names", {})
    if client not in names:
        names[client] = _state().ledger.portfolio.names([client]).get(client, client)
    return names[client]


@owner.app_context_processor
def navigation() -> dict[str, Any]:
    """For the owner pages' header (functions: public pages never pay for them)."""
    return {"logged_in": owner_logged_in, "logout_form": ActionForm}


@owner.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
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
            version = state.ledger.surveys.owner.check(form.password.data or "")
            if version:
                state.limiter.succeeded(address)
                log_in(version)
                return redirect(safe_next(request.args.get("next"), url_for("owner.clients")), code=303)
            form.password.errors = ["That password is not right."]
        status = 400
    password_set = state.ledger.surveys.owner.version() > 0
    return render_template("owner/login.html", form=form, password_set=password_set), status


@owner.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    log_out(everywhere=request.form.get("everywhere") == "1")
    return redirect(url_for("owner.login"), code=303)


@owner.route("/")
@login_required
def clients() -> ResponseReturnValue:
    query = _portfolio_query()
    return render_template(
        "owner/clients.html",
        portfolio=_state().ledger.portfolio.page(query),
        current_rules=_state().ledger.rules.current().version,
        query=query,
        verdicts=VERDICTS,
        stages=STAGES,
        sorts=SORT_WORDS,
    )


@owner.route("/clients/new", methods=["GET", "POST"])
@login_required
def new_client() -> ResponseReturnValue:
    ledger = _state().ledger
    form = NewClientForm()
    if request.method == "POST" and form.validate():
        payload = form.payload()
        client = form.client_id()
        if payload is not None and client is not None:
            try:
                ledger.record(client, payload, form.moment, id=form.event_id, expected_version=0)
            except ConcurrencyError:
                if not any(e.id == form.event_id for e in ledger.events(client)):
                    form.client.errors = [f"There is already a client {client}: choose another short name."]
            except InvalidEvent as error:
                form.refuse(error)
            if not form.errors:
                flash(f"{payload.name} was added.", "success")
                return redirect(url_for("owner.client", client=client), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("owner/new_client.html", form=form), status


@owner.route("/clients/<client>")
@login_required
def client(client: str) -> ResponseReturnValue:
    state = _state()
    ledger = state.ledger
    events = ledger.events(_known_client(client))
    set_aside: list[tuple[str, str]] = []
    decision = next(iter(ledger.iter_evaluate([client], set_aside=lambda *failed: set_aside.append(failed))), None)
    if decision is None:  # this client cannot be decided: the rest of its page still shows, with where to look
        current_app.logger.error("client %s set aside: %s", client, set_aside[0][1])
    as_of = ledger.clock() if decision is None else decision.as_of
    invitations = ledger.surveys.invitations(client)
    page = render_template(
        "owner/client.html",
        client=client,
        name=client_name(events),
        currency=client_currency(events, ledger.settings.currency),
        events=events,
        by_id={event.id: event for event in events},
        decision=decision,
        stage=stage_of(events, as_of),
        ended_by=ledger.decisions.status(client, as_of).ended_by,
        history=None if decision is None else verdict_chart(ledger.portfolio.verdict_over_time(client)),
        invitations=invitations,
        answers=ledger.surveys.answers(client),
        form=InviteForm(),
        quick_actions=QUICK_ACTIONS,
        recordable=sorted(RECORDABLE, key=event_name),
        **_labels(),
    )
    return page, 503 if decision is None else 200


@owner.route("/clients/<client>/record")
@login_required
def choose_event(client: str) -> ResponseReturnValue:
    """The "record something else" chooser: a GET form naming the event type."""
    return redirect(url_for("owner.record", client=_known_client(client), type_name=request.args.get("type", "")))


@owner.route("/clients/<client>/record/<type_name>", methods=["GET", "POST"])
@login_required
def record(client: str, type_name: str) -> ResponseReturnValue:
    ledger = _state().ledger
    _known_client(client)
    if type_name not in RECORDABLE:
        abort(404)
    form = event_form(type_name)()
    if type_name in NAMES_AN_OPEN_INVOICE:
        form.offer_invoices(open_invoices(ledger.events(client), ledger.settings.currency), long_date)
    if request.method == "POST" and form.validate():
        payload = form.payload()
        if payload is not None:
            try:
                ledger.record(client, payload, form.moment, id=form.event_id)
            except MoneyRefused as refusal:  # the books' refusal, beside the field it concerns
                form.refused(refusal)
            except InvalidEvent as error:  # what the door refuses beyond the form's checks: beside its field, nothing stored
                form.refuse(error)
            else:
                message = f"Recorded: {form.title.lower()}, {long_date(form.at.data)}."
                if type_name == "RelationshipEnded":
                    message += " You can invite them to the exit survey below."
                flash(message, "success")
                anchor = "survey" if type_name == "RelationshipEnded" else None
                return redirect(url_for("owner.client", client=client, _anchor=anchor), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("owner/record.html", client=client, form=form), status


@owner.route("/clients/<client>/invite", methods=["POST"])
@login_required
def invite(client: str) -> ResponseReturnValue:
    state = _state()
    _known_client(client)
    form = InviteForm()
    if not form.validate():
        flash("The invitation was not sent: " + "; ".join(e for errors in form.errors.values() for e in errors), "error")
    else:
        try:
            sent = state.ledger.survey_mail.invite(
                client, email=form.email.data or None, base_url=_base_url(), on_purpose=bool(form.on_purpose.data)
            )
        except ClientRulesError as error:
            flash(str(error), "error")
        else:
            if sent.problem is not None:
                flash(sent.problem, "error")
            else:
                link = sent.invitation.url(_base_url())
                flash(f"{name_of(client)}: invitation stored; {sent.describe()}. Link: {link}", "success")
    if request.form.get("back") == "invitations":
        return redirect(url_for("owner.invitations"), code=303)
    return redirect(url_for("owner.client", client=client), code=303)


@owner.route("/invitations")
@login_required
def invitations() -> ResponseReturnValue:
    state = _state()
    return render_template(
        "owner/invitations.html",
        invitations=state.ledger.surveys.invitations(),
        uninvited=state.ledger.surveys.uninvited(),
        form=InviteForm(),
        remind_form=RemindForm(),
    )


@owner.route("/invitations/remind", methods=["POST"])
@login_required
def remind() -> ResponseReturnValue:
    state = _state()
    form = RemindForm()
    if not form.validate():
        flash("No reminder was sent: " + "; ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("owner.invitations"), code=303)
    try:
        reminded = state.ledger.survey_mail.remind(form.after_days.data or 0, base_url=_base_url())
    except ClientRulesError as error:
        flash(str(error), "error")
    else:
        deliveries = " ".join(f"{name_of(sent.invitation.client)}: {sent.describe()}." for sent in reminded)
        unsent = any(sent.problem is not None for sent in reminded)
        flash(f"Reminded {len(reminded)} client(s). {deliveries}".strip(), "error" if unsent else "success")
    return redirect(url_for("owner.invitations"), code=303)


@owner.route("/rules")
@login_required
def rules() -> ResponseReturnValue:
    ledger = _state().ledger
    return render_template("owner/rules.html", current=ledger.rules.current(), versions=ledger.rules.versions(),
                           on_defaults=ledger.rule_changes.on_defaults())


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


SORT_WORDS = {
    "attention": "Needs attention first",
    "name": "Name",
    "value": "Monthly value, highest first",
    "overdue": "Overdue amount, highest first",
    "recent": "Latest activity first",
}


def _portfolio_query() -> PortfolioQuery:
    """The dashboard's search, filters, order and page from the query string (anything unknown is ignored)."""
    args = request.args
    sort = args.get("sort", "attention")
    page = args.get("page", "1")
    return PortfolioQuery(
        search=args.get("q", "").strip()[:100],
        verdict=args.get("verdict") if args.get("verdict") in VERDICTS else None,
        segment=args.get("segment") or None,
        stage=args.get("stage") if args.get("stage") in STAGES else None,
        sort=_sort(sort),
        page=int(page) if page.isdigit() and len(page) < 7 else 1,
    )


def _sort(text: str) -> Sort:
    for known in SORTS:
        if known == text:
            return known
    return "attention"


def client_name(events: list[Event]) -> str | None:
    """The name the client was last onboarded with."""
    names = [e.payload.name for e in events if isinstance(e.payload, ClientOnboarded)]
    return names[-1] if names else None


def _labels() -> dict[str, Any]:
    return {
        "fields": SURVEY_FIELDS,
        "reason_labels": REASON_LABELS,
        "ratings": RATINGS,
        "would_return": WOULD_RETURN,
        "first_thought": FIRST_THOUGHT_LABELS,
    }
