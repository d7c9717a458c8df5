"""The owner's Import page (login required): upload a CSV export, check it (a dry run), then import it.

The first step reads the file and shows the preset it was recognised as (or
the one chosen), the first events as they will be recorded and the dry run's
summary; each problem is shown beside the row it concerns, and nothing is
stored. The second step imports the same text, all or nothing, as
``clientrules import`` does.
"""

from __future__ import annotations

import csv
import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField

from clientrules import PRESETS, ClientRulesError, ImportRefused
from survey_app.forms import SelectChoice
from survey_app.security import login_required
from survey_app.state import app_state

imports = Blueprint("imports", __name__, url_prefix="/owner/import")

#: the rows of the file shown under the form
PREVIEW_ROWS = 10
PRESET_NAMES = {
    "stripe": "Stripe", "quickbooks": "QuickBooks Online", "xero": "Xero", "freshbooks": "FreshBooks",
    "harvest": "Harvest", "toggl": "Toggl Track", "clockify": "Clockify", "wave": "Wave", "zoho": "Zoho Invoice",
    "invoiceninja": "Invoice Ninja",
}
_ROW = re.compile(r"row (\d+)\b")


class ImportForm(FlaskForm):
    upload = FileField("The CSV file your tool exported")
    preset = SelectField(
        "Which tool made it?",
        choices=[SelectChoice("", "Recognise it from its first line")]
        + [SelectChoice(name, PRESET_NAMES[name]) for name in PRESETS],
        validate_choice=True,
    )
    #: the file's text, carried from the check to the import
    text = HiddenField()


@imports.route("/", methods=["GET", "POST"])
@login_required
def page() -> ResponseReturnValue:
    form = ImportForm()
    checked = None
    problems: list[str] = []
    rows: list[tuple[int, list[str], list[str]]] = []
    header: list[str] = []
    status = 200
    if request.method == "POST" and form.validate():
        upload = form.upload.data
        text = form.text.data or ""
        if upload:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                form.upload.errors = ["This file is not UTF-8 text: export it again as CSV (UTF-8)."]
        if not text and not form.upload.errors:
            form.upload.errors = ["Choose the file to import."]
        if form.upload.errors:
            return render_template("owner/import.html", form=form), 400
        form.text.data = text
        importing = request.form.get("action") == "import"
        ledger = app_state().ledger
        try:
            checked = ledger.import_csv(text.encode("utf-8"), preset=form.preset.data or None, dry_run=not importing)
        except ImportRefused as refusal:
            problems = refusal.problems
            status = 400
        except ClientRulesError as error:
            problems = [str(error)]
            status = 400
        else:
            if importing:
                stored = checked.appended.stored if checked.appended is not None else 0
                flash(f"Imported from {PRESET_NAMES.get(checked.mapping.name, checked.mapping.name)}: {stored} events stored. "
                      + " ".join(checked.plan.summary()[:1]), "success")
                return redirect(url_for("owner.clients"), code=303)
            form.preset.data = checked.mapping.name
        header, rows = _preview(text, problems)
    elif request.method == "POST":
        status = 400
    return render_template(
        "owner/import.html", form=form, checked=checked, problems=problems, header=header, rows=rows,
        preset_names=PRESET_NAMES, currency=app_state().ledger.settings.currency,
    ), status


def _preview(text: str, problems: list[str]) -> tuple[list[str], list[tuple[int, list[str], list[str]]]]:
    """The file's first line and its first rows, each with the problems found on it (rows with problems always shown)."""
    lines = text.removeprefix("\ufeff").splitlines()
    delimiter = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
    table = list(csv.reader(lines, delimiter=delimiter))
    by_row: dict[int, list[str]] = {}
    for problem in problems:
        found = _ROW.search(problem)
        if found:
            by_row.setdefault(int(found[1]), []).append(problem)
    shown = [
        (number, cells, by_row.get(number, []))
        for number, cells in enumerate(table[1:], start=2)
        if number <= PREVIEW_ROWS + 1 or number in by_row
    ]
    return (table[0] if table else []), shown
