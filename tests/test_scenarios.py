"""The shared stories evaluated as of 2026-06-01 give exactly the expected verdicts and fired rules:
version 2 of the default playbook for a new store, version 1 for a store that keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules.cli.main import cli
from clientrules.ledger import Ledger
from conftest import DATA, STORE_BACKENDS, STORIES


EXPECTED = json.loads((DATA / "stories.expected.v2.json").read_text())
EXPECTED_V1 = json.loads((DATA / "stories.expected.v1.json").read_text())


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("stories") / "stories.db")
    with Ledger.open(path) as ledger:
        ledger.import_jsonl(str(STORIES))
    return path


def decided(ledger: Ledger, as_of: str) -> dict[str, dict[str, object]]:
    return {d.client: {"verdict": d.verdict, "fired": list(d.fired)} for d in ledger.decisions.evaluate(as_of=as_of)}


def test_stories_through_the_api(db):
    with Ledger.open(db) as ledger:
        assert decided(ledger, EXPECTED["as_of"]) == EXPECTED["clients"]
        assert ledger.rules.current().ruleset.description.endswith("version 2")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_store_that_keeps_version_1_decides_as_before(backend, request, tmp_path):
    url = STORE_BACKENDS[backend](request, tmp_path)
    with Ledger.open(url) as ledger:
        ledger.import_jsonl(str(DATA / "playbook_v1.jsonl"))
        ledger.import_jsonl(str(STORIES))
        assert decided(ledger, EXPECTED_V1["as_of"]) == EXPECTED_V1["clients"]
        # before any incident of the hostile story, neither version sees one
        assert decided(ledger, "2026-03-01")["northwind-abuse"] == {"verdict": "keep", "fired": []}
        assert ledger.rules.current().version == 1


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
