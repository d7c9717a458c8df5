"""Editing the rules in the browser: change a rule, add one from the fact catalogue, go back to an earlier version.

Every change is first shown as a preview (what changes in the rule file, which
of today's decisions change, and the backtest over the stored history:
departures caught and false alarms, before and after); only then is it adopted
as a new rule-set version, with the owner's note. A change the rule set cannot
take is refused with every problem, as ``clientrules rules check`` lists them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Sequence

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import FieldList, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from clientrules import (
    FACT_WORDS,
    FACTS,
    VERDICTS,
    ClientRulesError,
    ConcurrencyError,
    Ledger,
    Progress,
    Tracker,
    RulePreview,
    RuleSetProblems,
)
from clientrules.types import FactValue
from survey_app.forms import RADIOS, SelectChoice
from survey_app.security import login_required
from survey_app.state import Previewed, app_state
from survey_app.words import verdict_word

rule_editing = Blueprint("rule_editing", __name__, url_prefix="/owner/rules")
#: comparisons in words, for the forms
OPERATOR_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "exactly", "!=": "not"}
#: a number with thousands commas: 1,000 or 12,500.50
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
#: how many of today's changed decisions the preview lists
CHANGES_SHOWN = 20


class RuleForm(FlaskForm):
    enabled = RadioField("Is the rule in use?", choices=[SelectChoice("yes", "Yes, it is in use"), SelectChoice("no", "No, turn it off")],
                         validate_choice=True, widget=RADIOS)
    description = StringField("What it means", validators=[Length(max=300)])
    advice = TextAreaField("Advice shown with the decision", validators=[Length(max=1000)])
    thresholds = FieldList(StringField("Threshold"), min_entries=0)


class NewRuleForm(FlaskForm):
    fact = SelectField("When", choices=[SelectChoice(name, FACT_WORDS.get(name, name)) for name in FACTS])
    op = SelectField("is", choices=[SelectChoice(op, words) for op, words in OPERATOR_WORDS.items()])
    value = StringField("this value", validators=[InputRequired(message="Give the value to compare with.")])
    verdict = SelectField(
        "the decision is",
        choices=[SelectChoice("", "Choose the decision"), *(SelectChoice(v, verdict_word(v)) for v in VERDICTS)],
        default="",
        validators=[InputRequired(message="Choose the decision this rule gives.")],
    )
    description = StringField("What it means, in a sentence",
                              validators=[InputRequired(message="Say what the rule means."), Length(max=300)])
    advice = TextAreaField("Advice shown with the decision", validators=[Length(max=1000)])


class AdoptForm(FlaskForm):
    candidate = HiddenField()
    expected_version = IntegerField()
    note = StringField("Why this change? (kept with the version)",
                       validators=[InputRequired(message="Say why: the note is kept with the version."), Length(max=500)])


def _ledger() -> Ledger:
    return app_state().ledger


@rule_editing.route("/<rule_id>/edit", methods=["GET", "POST"])
@login_required
def edit(rule_id: str) -> ResponseReturnValue:
    current = _ledger().rules.current()
    try:
        rule = current.ruleset.rule(rule_id)
    except KeyError:
        abort(404)
    form = RuleForm()
    if request.method == "GET":
        form.enabled.data = "yes" if rule.enabled else "no"
        form.description.data, form.advice.data = rule.description, rule.advice
        for comparison in rule.comparisons:
            form.thresholds.append_entry(str(comparison.value).lower())
    elif (  # all three run, in this order (a missing box gets its message after the typed ones are read)
        form.validate()
        & _thresholds_read(form, [isinstance(c.value, bool) for c in rule.comparisons])
        & _has_every_threshold(form, len(rule.comparisons))
    ):
        try:
            values = [_value(entry.data) for entry in form.thresholds]
            candidate = _ledger().rule_changes.edited(
                rule_id, thresholds=values, enabled=form.enabled.data == "yes",
                advice=form.advice.data or "", description=form.description.data or "",
            )
        except RuleSetProblems as problems:
            form.form_errors.extend(problems.problems)
        else:
            return _previewed(candidate, f"Change the rule “{rule.description or rule.id}”")
    return render_template("owner/rule_edit.html", form=form, rule=rule, operators=OPERATOR_WORDS,
                           fact_words=FACT_WORDS), 400 if request.method == "POST" else 200


def _thresholds_read(form: RuleForm, yes_or_no: Sequence[bool]) -> bool:
    """Whether every threshold typed can be read (``yes_or_no``: which are answers, not numbers); those that
    cannot get their error beside them. Called after the form's own checks (which reset each field's errors)."""
    for entry, answer in zip(form.thresholds, yes_or_no):
        error = _threshold_error(entry.data, answer)
        entry.errors = [error] if error else []
    return not any(entry.errors for entry in form.thresholds)


def _new_value_read(form: NewRuleForm) -> bool:
    """Whether the value of a new rule can be read (a number, or yes / no); if not, its error is beside it.
    Called after the form's own checks (an empty value has its error from them already)."""
    typed = (form.value.data or "").strip()
    error = None if not typed or typed.lower() in ("yes", "no", "true", "false") else _threshold_error(typed, False)
    if error:
        form.value.errors = [error]
    return error is None


def _has_every_threshold(form: RuleForm, count: int) -> bool:
    """Whether the post holds a threshold per comparison; a missing one gets its message beside its box."""
    complete = len(form.thresholds) >= count
    while len(form.thresholds) < count:
        form.thresholds.append_entry("")
        form.thresholds[-1].errors = ["Enter a threshold: a number, or yes or no."]
    if not complete:
        form.form_errors.append("A threshold is missing: fill in every box under “When it applies”.")
    return complete


@rule_editing.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    form = NewRuleForm()
    if request.method == "POST" and form.validate() & _new_value_read(form):
        description = form.description.data or ""
        try:
            candidate = _ledger().rule_changes.added(
                fact=form.fact.data or "", op=form.op.data or "", value=_value(form.value.data),
                verdict=form.verdict.data or "", description=description, advice=form.advice.data or "",
            )
        except RuleSetProblems as problems:
            form.form_errors.extend(problems.problems)
        else:
            return _previewed(candidate, f"Add the rule “{description.strip()}”")
    return render_template("owner/rule_new.html", form=form), 400 if request.method == "POST" else 200


@rule_editing.route("/versions/<int:number>")
@login_required
def version(number: int) -> ResponseReturnValue:
    """Going back to version ``number``: the preview of adopting its rules again."""
    try:
        candidate = _ledger().rules.get(number).ruleset.source
    except ClientRulesError:
        abort(404)
    return _previewed(candidate, f"Go back to the rules of version {number}", note=f"back to version {number}")


@rule_editing.route("/defaults")
@login_required
def defaults() -> ResponseReturnValue:
    """Moving to the default playbook of this release: the preview of adopting it."""
    return _previewed(_ledger().rule_changes.defaults_text(), "Move to the new default rules", note="the new default rules")


@rule_editing.route("/previews/<key>")
@login_required
def preview(key: str) -> ResponseReturnValue:
    """A preview asked for on a large portfolio: how far it has come while it is made, then the preview."""
    asked = app_state().preview_cache.asked(key)
    if asked is None:
        flash("That preview is no longer kept (the server was started again): make the change again.", "error")
        return redirect(url_for("owner.rules"), code=303)
    return _show(key, asked)


def _previewed(candidate: str, title: str, *, note: str = "") -> ResponseReturnValue:
    """The preview of adopting ``candidate``: at once on a small portfolio; on a large one it is made in the
    background, and the owner is sent to its page, which says how far it has come."""
    ledger = _ledger()
    made_against = f"{ledger.rules.current().version}\0{ledger.head_position()}\0{candidate}"
    key = hashlib.sha256(made_against.encode("utf-8")).hexdigest()[:24]
    asked = app_state().preview_cache.ask(key, candidate, title, note)
    data, _ = _build(asked)
    if data is None:
        return redirect(url_for(".preview", key=key), code=303)
    return _show(key, asked)


def _build(asked: Previewed) -> tuple[dict[str, Any] | None, Progress | None]:
    rule_changes = _ledger().rule_changes

    def build(tracker: Tracker) -> dict[str, Any]:
        return {"preview": rule_changes.preview(asked.candidate, tracker,
                                                turned_today=lambda count: setattr(asked, "turned_today", count))}

    return asked.build.get(0, rule_changes.preview_tracker, build)


def _show(key: str, asked: Previewed) -> ResponseReturnValue:
    data, progress = _build(asked)
    if data is None:
        return render_template("owner/rule_preview.html", title=asked.title, progress=progress,
                               sentences=_ledger().rule_changes.sentences(asked.candidate), key=key,
                               today_count=asked.turned_today)
    preview: RulePreview = data["preview"]
    return _preview(preview, asked.title, note=asked.note)


@rule_editing.route("/adopt", methods=["POST"])
@login_required
def adopt() -> ResponseReturnValue:
    form = AdoptForm()
    if not form.validate():
        try:
            preview = _ledger().rule_changes.preview(form.candidate.data or "")
        except RuleSetProblems:
            abort(400)
        return _preview(preview, "Adopt these rules", form=form)
    try:
        adopted = _ledger().rule_changes.adopt(form.candidate.data or "", note=(form.note.data or "").strip(),
                                               expected_version=form.expected_version.data)
    except ConcurrencyError:
        flash("The rules were changed meanwhile (another version was adopted): nothing was adopted. "
              "Look at the rules in use and make your change again.", "error")
    except RuleSetProblems as problems:
        flash("Nothing was adopted: " + "; ".join(problems.problems), "error")
    else:
        flash(f"Version {adopted.version} of the rules is now in use.", "success")
    return redirect(url_for("owner.rules"), code=303)


def _preview(preview: RulePreview, title: str, *, note: str = "", form: AdoptForm | None = None) -> ResponseReturnValue:
    if form is None:
        form = AdoptForm(formdata=None, candidate=preview.text, expected_version=preview.current.version, note=note)
    return render_template(
        "owner/rule_preview.html",
        title=title,
        form=form,
        current=preview.current,
        diff=preview.diff,
        sentences=preview.sentences,
        today=[(change.client, change.before, change.after) for change in preview.changed[:CHANGES_SHOWN]],
        today_count=len(preview.changed),
        backtest=preview.backtest,
        set_aside=[client for client, _ in preview.set_aside],
        progress=None,
    )


def _value(text: str | None) -> FactValue:
    """A threshold as typed: ``3``, ``0.25``, ``1,000``, ``yes``/``true`` or ``no``/``false``; anything else is left
    for the check to refuse (the forms read each threshold with :func:`_threshold_error` first)."""
    cleaned = (text or "").strip().replace(",", "").lower()
    if cleaned in ("true", "yes"):
        return True
    if cleaned in ("false", "no"):
        return False
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        return float(cleaned)
    except ValueError:
        return cleaned  # type: ignore[return-value]


def _threshold_error(text: str | None, yes_or_no: bool) -> str | None:
    """Why a threshold typed for a fact cannot be read, in the owner's words; None when it can."""
    typed = (text or "").strip()
    if yes_or_no:
        return None if typed.lower() in ("yes", "no", "true", "false") else "Answer yes or no."
    if not typed:
        return "Enter a number."
    if "," in typed and not _GROUPED.fullmatch(typed):
        swapped = typed.replace(".", "\0").replace(",", ".").replace("\0", ",")  # the European reading, our way
        return f"{typed}: did you mean {swapped}? Use a point for decimals (0.25)."
    value = _value(typed)
    if isinstance(value, str) or isinstance(value, bool):
        return "Enter a number, such as 3 or 0.25."
    if value < 0:
        return "Enter a number of 0 or more: a count or an amount is never negative."
    return None
