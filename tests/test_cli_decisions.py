"""The decision commands: evaluate, explain, rules show|check|use|versions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules.cli.main import cli
from clientrules.domain.events import ClientOnboarded, InvoiceIssued, NeedOutgrown, PaymentReceived
from clientrules.ledger import Ledger
from clientrules.domain.rules import default_ruleset_text


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "clients.db")
    with Ledger.open(path) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme"), "2025-01-01")
        for number, (due, paid) in enumerate(
            [("2026-01-10", "2026-02-01"), ("2026-02-10", "2026-03-01"), ("2026-03-10", "2026-04-01")]
        ):
            ledger.record("acme", InvoiceIssued(invoice_id=f"A-{number}", amount=50.0, due_on=due), "2025-12-01")
            ledger.record("acme", PaymentReceived(invoice_id=f"A-{number}", amount=50.0), paid)
        ledger.record("globex", NeedOutgrown(need="a bigger team"), "2026-03-01")
    return path


def run(db: str, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--db", db, *args], input=input)


def test_evaluate_prints_a_table(db):
    result = run(db, "evaluate", "--as-of", "2026-05-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["client", "verdict", "fired"]
    assert lines[1].split() == ["acme", "renegotiate", "chronic-late-payer,", "late-payer-first-talk"]
    assert lines[2].strip() == "- They pay late again and again: 3 late invoices in the last 12 months (at least 3)."
    assert lines[3].strip().startswith("- A chronic late payer nobody has talked to yet: ")
    assert lines[4].split() == ["globex", "refer_out", "outgrown"]
    assert lines[5].strip() == "- Their needs outgrew what we can do: 1 time their needs outgrew us in the last 365 days (at least 1)."
    assert len(lines) == 6
    assert "2 clients as of 2026-05-01, rule-set version 1" in result.stderr


def test_evaluate_json_and_record(db):
    result = run(db, "evaluate", "acme", "--as-of", "2026-05-01T12:00:00+02:00", "--json", "--record")
    assert result.exit_code == 0, result.output
    (decision,) = json.loads(result.stdout)
    assert decision["verdict"] == "renegotiate"
    assert decision["as_of"] == "2026-05-01T12:00:00+02:00"
    with Ledger.open(db) as ledger:
        (recorded,) = ledger.decisions.recorded("acme")
    assert recorded.payload.verdict == "renegotiate"
    explained = run(db, "explain", "acme", "--decision", recorded.id)
    assert explained.exit_code == 0, explained.output
    assert f"re-explaining decision {recorded.id}, recorded as renegotiate" in explained.stdout


def test_explain_in_plain_words(db):
    result = run(db, "explain", "acme", "--as-of", "2026-03-15")
    assert result.exit_code == 0, result.output
    assert "acme as of 2026-03-15, rule-set version 1: KEEP" in result.stdout
    assert "2 late invoices in the last 12 months of the 3 needed" in result.stdout
    as_json = json.loads(run(db, "explain", "acme", "--as-of", "2026-05-01", "--json").stdout)
    assert as_json["fired"] == ["chronic-late-payer", "late-payer-first-talk"]
    assert as_json["facts"]["late_invoices_12m"] == 3


def test_bad_input_is_one_line(db):
    unknown = run(db, "explain", "nobody")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: no events are stored for client 'nobody'\n"
    bad_date = run(db, "evaluate", "--as-of", "2026-02-30")
    assert bad_date.exit_code == 2
    assert "Invalid value for '--as-of'" in bad_date.stderr
    both = run(db, "explain", "acme", "--decision", "x", "--as-of", "2026-01-01")
    assert both.exit_code == 2
    no_such = run(db, "explain", "acme", "--decision", "nope")
    assert no_such.exit_code == 1 and "no recorded decision with id 'nope'" in no_such.stderr


def test_rules_show_check_use_versions(db, tmp_path):
    shown = run(db, "rules", "show")
    assert shown.exit_code == 0 and shown.stdout == default_ruleset_text()

    good = tmp_path / "patient.toml"
    good.write_text(default_ruleset_text().replace('"late_invoices_12m >= 3"', '"late_invoices_12m >= 4"'))
    checked = run(db, "rules", "check", str(good))
    assert (checked.exit_code, checked.stdout) == (0, "ok: 15 rules (15 enabled)\n")

    bad = tmp_path / "bad.toml"
    bad.write_text(default_ruleset_text().replace("late_invoices_12m >= 3", "late_invoice_12m => 3"))
    refused = run(db, "rules", "check", str(bad))
    assert refused.exit_code == 1
    assert refused.stderr == "error: rule 'chronic-late-payer': bad operator '=>' in 'late_invoice_12m => 3' (use one of < <= > >= == !=)\n"
    assert run(db, "rules", "use", str(bad)).exit_code == 1

    adopted = run(db, "rules", "use", str(good), "--note", "more patience", "--expected-version", "1")
    assert (adopted.exit_code, adopted.stdout) == (0, "rule-set version 2 is now current (15 rules)\n")
    conflict = run(db, "rules", "use", str(good), "--expected-version", "1")
    assert conflict.exit_code == 1 and "not the expected 1" in conflict.stderr

    versions = run(db, "rules", "versions").stdout.splitlines()
    assert versions[0].split() == ["version", "adopted", "at", "rules", "note"]
    assert versions[1].split()[0] == "1" and versions[1].endswith("default playbook")
    assert versions[2].split()[0] == "2*" and versions[2].endswith("more patience")

    assert run(db, "rules", "show", "--version", "2").stdout == good.read_text()
    assert run(db, "rules", "show", "--version", "7").exit_code == 1
    after = json.loads(run(db, "evaluate", "acme", "--as-of", "2026-05-01", "--json").stdout)
    assert (after[0]["verdict"], after[0]["ruleset_version"]) == ("keep", 2)


def test_rules_check_reads_standard_input(db):
    result = run(db, "rules", "check", "-", input=default_ruleset_text())
    assert result.exit_code == 0 and result.stdout.startswith("ok: 15 rules")


def test_the_installed_command_runs_end_to_end(db):
    exe = Path(sys.executable).with_name("clientrules")
    completed = subprocess.run(
        [str(exe), "--db", db, "evaluate", "--as-of", "2026-05-01", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert [d["verdict"] for d in json.loads(completed.stdout)] == ["renegotiate", "refer_out"]


def test_explain_why_not_a_rule(db):
    result = run(db, "explain", "acme", "--as-of", "2026-05-01", "--why-not", "late-payer-after-remedy",
                 "--why-not", "contract-breach", "--why-not", "chronic-late-payer")
    assert result.exit_code == 0, result.output
    why_not = result.stdout.split("Why not:\n")[1].splitlines()
    assert why_not == [
        "  - late-payer-after-remedy did not fire: a meeting, plan or new terms since the first late invoice: no "
        "(needs remedy_since_first_late == true); 0 late invoices due after the latest remedy of the 1 needed.",
        "  - contract-breach did not fire: 0 contract breaches in the last 365 days of the 1 needed.",
        "  - chronic-late-payer fired.",
    ]
    as_json = json.loads(run(db, "explain", "acme", "--as-of", "2026-05-01", "--why-not", "outgrown", "--json").stdout)
    assert as_json["why_not"] == {"outgrown": "outgrown did not fire: 0 times their needs outgrew us in the last 365 days of the 1 needed."}
    unknown = run(db, "explain", "acme", "--why-not", "no-such-rule")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: rule-set version 1 has no rule 'no-such-rule'\n"
