"""``clientrules facts CLIENT``: the facts of one client from a real SQLite ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules.cli.main import cli
from conftest import STORIES


def stories_file() -> Path:
    return STORIES


@pytest.fixture()
def db(tmp_path) -> str:
    path = str(tmp_path / "ledger.db")
    result = CliRunner().invoke(cli, ["--db", path, "import", str(stories_file())])
    assert result.exit_code == 0, result.output
    return path


def run(db: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db, "facts", *args])


def test_json_has_values_and_evidence(db):
    result = run(db, "acme-late", "--as-of", "2026-06-01", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["client"] == "acme-late"
    assert document["as_of"] == "2026-06-01"
    assert document["grace_days"] == 7
    assert document["values"]["late_invoices_12m"] == 3
    assert document["values"]["remedy_since_first_late"] is False
    assert len(document["evidence"]["late_invoices_12m"]) == 6  # three invoices and the payments that paid them


def test_grace_days_option_changes_lateness(db):
    result = run(db, "acme-late", "--as-of", "2026-06-01", "--json", "--grace-days", "30")
    assert json.loads(result.output)["values"]["late_invoices_12m"] == 0


def test_as_of_travels_back_in_time(db):
    result = run(db, "acme-late", "--as-of", "2026-02-01", "--json")
    values = json.loads(result.output)["values"]
    assert values["late_invoices_12m"] == 1  # INV-2, unpaid since its due_on 2026-01-14
    assert values["open_invoices"] == 2


def test_text_table_names_every_fact_and_the_events_behind_it(db):
    result = run(db, "hooli-quiet", "--as-of", "2026-06-01")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "facts of hooli-quiet as of 2026-06-01 (grace_days 7)"
    silent = next(line for line in lines if line.split()[0] == "silent_days")
    assert silent.split()[1] == "34"
    assert "[FollowUpSent 2026-04-28]" in silent
    plan_age = next(line for line in lines if line.split()[0] == "plan_age_days")
    assert plan_age.split()[1] == "-"


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["nobody"], 1, "error: no events are stored for client 'nobody'"),
        (["acme-late", "--as-of", "yesterday"], 1, "error: --as-of: 'yesterday' is not an ISO 8601 date"),
        (["acme-late", "--grace-days", "-1"], 2, "-1 is not in the range"),
    ],
)
def test_bad_input_is_one_clear_line(db, args, code, message):
    result = run(db, *args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output
