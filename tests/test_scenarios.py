"""The shared stories evaluated as of 2026-06-01 give exactly the expected verdicts and fired rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules.cli.main import cli
from clientrules.ledger import Ledger
from conftest import DATA, STORIES


EXPECTED = json.loads((DATA / "stories.expected.v1.json").read_text())


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("stories") / "stories.db")
    with Ledger.open(path) as ledger:
        ledger.import_jsonl(str(STORIES))
    return path


def test_stories_through_the_api(db):
    with Ledger.open(db) as ledger:
        decisions = ledger.decisions.evaluate(as_of=EXPECTED["as_of"])
    got = {d.client: {"verdict": d.verdict, "fired": list(d.fired)} for d in decisions}
    assert got == EXPECTED["clients"]


def test_stories_through_the_cli_json(db):
    result = CliRunner().invoke(cli, ["--db", db, "evaluate", "--as-of", EXPECTED["as_of"], "--json"])
    assert result.exit_code == 0, result.output
    decisions = json.loads(result.stdout)
    assert {d["client"]: {"verdict": d["verdict"], "fired": d["fired"]} for d in decisions} == EXPECTED["clients"]
    for decision in decisions:
        assert {"client", "verdict", "fired", "reasons", "advice", "ruleset_version", "as_of"} <= set(decision)
        assert decision["as_of"] == EXPECTED["as_of"] and decision["ruleset_version"] == 1
        assert [reason["rule"] for reason in decision["reasons"]] == decision["fired"]
        for reason in decision["reasons"]:
            assert {"rule", "verdict", "sentence", "facts", "evidence"} <= set(reason)
            assert reason["sentence"] and reason["evidence"]


def test_named_clients_only(db):
    result = CliRunner().invoke(
        cli, ["--db", db, "evaluate", "acme-late", "globex-outgrown", "--as-of", "2026-06-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert [d["client"] for d in json.loads(result.stdout)] == ["acme-late", "globex-outgrown"]


@pytest.mark.postgres
def test_stories_on_postgresql_with_versions_and_records(pg_url):
    with Ledger.open(pg_url) as ledger:
        ledger.import_jsonl(str(STORIES))
        decisions = ledger.decisions.evaluate(as_of=EXPECTED["as_of"], record=True)
        assert {d.client: {"verdict": d.verdict, "fired": list(d.fired)} for d in decisions} == EXPECTED["clients"]
        (recorded,) = ledger.decisions.recorded("acme-late")
        patient = ledger.rules.current().ruleset.source.replace('"late_invoices_12m >= 3"', '"late_invoices_12m >= 9"')
        assert ledger.rules.use(patient, note="patient", expected_version=1).version == 2
        (now,) = ledger.decisions.evaluate(["acme-late"], as_of=EXPECTED["as_of"])
        assert (now.verdict, now.ruleset_version) == ("keep", 2)
        again = ledger.decisions.explain("acme-late", decision=recorded.id)
        assert (again.decision.verdict, again.decision.ruleset_version, again.agrees_with_record) == ("renegotiate", 1, True)
