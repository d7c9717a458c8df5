"""Importing CSV exports: presets, recognised headers, mapping files, re-runs, refusals, and the decisions that follow.

The files in tests/data/imports are of our own making, in the shape each tool's
export has (headers, dates and numbers as the tool writes them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

from clientrules import PRESETS, ImportRefused, Instant, Ledger, client_id_from_name
from clientrules.cli.main import cli
from clientrules.domain.importing import preset

DATA = Path(__file__).parent / "data" / "imports"
TODAY = Instant.parse("2026-04-20T12:00:00+00:00")


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path):
    from conftest import STORE_BACKENDS

    with Ledger.open(STORE_BACKENDS[request.param](request, tmp_path), clock=lambda: TODAY) as opened:
        yield opened


def refusal(ledger: Ledger, text: str, **how) -> list[str]:
    before = ledger.head_position()
    with pytest.raises(ImportRefused) as caught:
        ledger.import_csv(text.encode(), **how)
    assert ledger.head_position() == before
    assert all("\n" not in problem for problem in caught.value.problems)
    return caught.value.problems


def test_ids_from_names_drop_accents_and_gaps():
    assert client_id_from_name("Orchard Café Ltd") == "orchard-cafe-ltd"
    assert client_id_from_name("Gamma GmbH") == "gamma-gmbh"
    assert client_id_from_name("  Bäckerei & Söhne, KG ") == "backerei-sohne-kg"


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_reads_its_own_export_and_is_recognised_by_its_header(name, tmp_path):
    path = DATA / f"{name}.csv"
    with Ledger.open(tmp_path / "p.db", clock=lambda: TODAY) as ledger:
        recognised = ledger.import_csv(path, dry_run=True)
        assert recognised.mapping.name == name
        assert ledger.head_position() == 0
        result = ledger.import_csv(path, preset=name)
        assert result.appended is not None and result.appended.stored == len(result.plan.events) > 0
        again = ledger.import_csv(path, preset=name)
        assert again.appended is not None and again.appended.stored == 0 and again.plan.events == []
        for event in ledger.store.read_all():
            assert event.data.get("source", "").startswith(f"{name}:"), event


def test_stripe_then_toggl_then_a_european_file_meet_in_the_same_clients(ledger):
    stripe = ledger.import_csv(DATA / "stripe.csv")
    assert stripe.plan.new_clients == ["orchard-cafe-ltd", "gamma-gmbh"]
    assert stripe.plan.counts() == {"ClientOnboarded": 2, "InvoiceIssued": 6, "PaymentReceived": 5, "InvoiceVoided": 1}
    toggl = ledger.import_csv(DATA / "toggl.csv")  # starts with a byte-order mark
    assert (toggl.plan.new_clients, toggl.plan.matched_clients) == ([], ["orchard-cafe-ltd", "gamma-gmbh"])
    hours = [(e.payload.hours, e.payload.billable) for e in ledger.events("orchard-cafe-ltd") if e.type == "WorkLogged"]
    assert hours == [(2.5, True), (1.25, False)]
    european = ledger.import_csv(DATA / "european.csv", mapping=DATA / "european.toml")
    assert (european.plan.new_clients, european.plan.matched_clients) == (["backerei-sonne"], ["gamma-gmbh"])
    gamma = {e.payload.invoice_id: e.payload for e in ledger.events("gamma-gmbh") if e.type == "InvoiceIssued"}
    assert gamma["RE-2026-01"].amount == 1250.5 and gamma["RE-2026-01"].due_on.isoformat() == "2026-02-14"
    assert "GAM-0003" not in gamma  # a draft is not an invoice
    onboarded = [e.payload for e in ledger.events("orchard-cafe-ltd") if e.type == "ClientOnboarded"]
    assert [(p.name, p.email, p.currency) for p in onboarded] == [("Orchard Café Ltd", "accounts@orchard.example", "EUR")]
    (orchard, gamma_decision, _) = ledger.decisions.evaluate(as_of="2026-04-20")
    assert orchard.client == "orchard-cafe-ltd" and orchard.verdict == "renegotiate"
    assert "chronic-late-payer" in orchard.fired  # paid late three times in the export
    facts = ledger.decisions.facts("gamma-gmbh", Instant.parse("2026-04-20"))
    assert facts.values["open_invoices"] == 1  # RE-2026-02 part paid; the voided proforma is not open


def test_an_updated_export_adds_only_what_changed(ledger):
    ledger.import_csv(DATA / "stripe.csv")
    updated = (DATA / "stripe.csv").read_text("utf-8").replace(
        "in_1PaA04,ORC-0004,cus_Q1,Orchard Café Ltd,accounts@orchard.example,1200.00,400.00,800.00,eur,open,2026-04-05 09:12,2026-04-19 00:00,",
        "in_1PaA04,ORC-0004,cus_Q1,Orchard Café Ltd,accounts@orchard.example,1200.00,1200.00,0.00,eur,paid,2026-04-05 09:12,2026-04-19 00:00,2026-04-25 10:00",
    )
    result = ledger.import_csv(updated.encode())
    assert result.plan.counts() == {"PaymentReceived": 1}
    paid = [e.payload.amount for e in ledger.events("orchard-cafe-ltd") if e.type == "PaymentReceived"
            and e.payload.invoice_id == "ORC-0004"]
    assert paid == [400.0, 800.0]
    assert ledger.import_csv(updated.encode()).plan.events == []


def test_a_dry_run_stores_nothing_and_says_what_it_would(ledger):
    result = ledger.import_csv(DATA / "harvest.csv", dry_run=True)
    assert result.appended is None and ledger.head_position() == 0
    summary = result.plan.summary()
    assert summary[0] == "clients: 1 new (gamma-gmbh), 0 matched (none)"
    assert summary[1] == "events: 1 ClientOnboarded, 1 InvoiceIssued, 1 PaymentReceived"
    assert any("no due date in this export: due 30 days after issue" in line for line in summary)


HEADER = "id,Number,Customer Name,Customer Email,Amount Due,Amount Paid,Currency,Status,Date (UTC),Due Date (UTC),Paid At (UTC)\n"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("in_9,N-9,Acme,,12x,0,eur,open,2026-03-01,2026-03-31,", "row 2, column 'Amount Due': '12x' is not a number"),
        ("in_9,N-9,Acme,,-5,0,eur,open,2026-03-01,2026-03-31,", "row 2, column 'Amount Due': '-5' is not an amount of 0 or more"),
        ("in_9,N-9,Acme,,5,0,eur,pending-ish,2026-03-01,2026-03-31,", "row 2, column 'Status': unknown status 'pending-ish'"),
        ("in_9,N-9,Acme,,5,0,eur,open,03/04/2026,2026-03-31,",
         "row 2, column 'Date (UTC)': '03/04/2026' reads as 03 April 2026 or 04 March 2026"),
        ("in_9,N-9,Acme,,5,0,eur,open,2026-02-30,2026-03-31,", "row 2, column 'Date (UTC)': '2026-02-30' is not a calendar date"),
        ("in_9,N-9,Acme,,5,9,eur,paid,2026-03-01,2026-03-31,2026-03-02", "row 2: N-9 asks 5.00 and shows 9.00 paid"),
        ("in_9,N-9,Acme,,5,0,eur,open,2026-03-01,2026-02-01,", "row 2: N-9 is due on 2026-02-01, before its issue date 2026-03-01"),
    ],
)
def test_bad_rows_are_refused_with_row_and_column_and_nothing_is_stored(ledger, row, problem):
    good = "in_1,N-1,Acme,,5,0,eur,open,2026-03-01,2026-03-31,\n"
    problems = refusal(ledger, HEADER + row + "\n" + good, preset="stripe")
    assert any(problem in line for line in problems), problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (HEADER + "in_9,N-9,Acme,,5,0,eur,open,0001-01-01,0001-01-02,\n", "row 2: "),
        (HEADER + "in_9,N-9,Acme,,5,0,eur,open,2026-03-01,2026-03-31," + "x" * 200_000 + "\n", "row 2: not readable as CSV"),
        ("\xff\x00" * 3, "the file's header fits no preset"),
    ],
)
def test_hostile_files_get_one_line_errors(ledger, text, problem):
    problems = refusal(ledger, text, **({"preset": "stripe"} if text.startswith("id,") else {}))
    assert any(line.startswith(problem) for line in problems), problems


def test_a_currency_other_than_the_clients_is_refused(ledger):
    ledger.import_csv(DATA / "stripe.csv")
    row = "in_9,N-9,Gamma GmbH,billing@gamma.example,5,0,usd,open,2026-03-01,2026-03-31,\n"
    assert refusal(ledger, HEADER + row, preset="stripe") == [
        "row 2, column 'Currency': USD, but gamma-gmbh is invoiced in EUR"
    ]


def test_a_missing_column_is_named_with_the_headers_found(ledger):
    (problem,) = refusal(ledger, "Customer Name,Amount Due\nAcme,5\n", preset="stripe")
    assert problem.startswith("stripe: no column for invoice_id ('Number' or 'Invoice Number')")
    assert problem.endswith("the file's headers: 'Customer Name', 'Amount Due'")


def test_a_header_no_preset_fits_asks_for_one(ledger):
    assert refusal(ledger, "a,b\n1,2\n") == [
        "the file's header fits no preset: name one with --from, or describe it with --map MAPPING.toml"
    ]


def test_pins_send_a_name_to_a_known_client(ledger, tmp_path):
    ledger.import_csv(DATA / "stripe.csv")
    mapping = (DATA / "european.toml").read_text("utf-8") + '\n[pins]\n"Bäckerei Sonne" = "orchard-cafe-ltd"\n'
    (tmp_path / "pinned.toml").write_text(mapping, "utf-8")
    result = ledger.import_csv(DATA / "european.csv", mapping=tmp_path / "pinned.toml")
    assert result.plan.new_clients == [] and "orchard-cafe-ltd" in result.plan.matched_clients


def test_presets_are_mapping_files_an_owner_can_copy():
    for name in PRESETS:
        assert preset(name).name == name


def test_the_command_line_import_prints_the_summary_and_lists_every_bad_row(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "cli.db")
    result = runner.invoke(cli, ["--db", db, "import", str(DATA / "stripe.csv"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("dry run with stripe: nothing stored; 14 events would be stored\n")
    assert "invoices late today:" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "in_9,N-9,Acme,,12x,0,eur,open,2026-03-01,2026-03-31,\nin_8,N-8,Acme,,5,0,eur,what,2026-03-01,2026-03-31,\n")
    result = runner.invoke(cli, ["--db", db, "import", str(bad), "--from", "stripe"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [re.sub(r":.*", "", line) for line in lines] == ["error"] * 3
    assert lines[-1] == f"error: nothing of {bad} was stored: fix the file and run the import again"


CELLS = st.one_of(
    st.sampled_from(["", "2026-03-01", "03/04/2026", "31.01.2026", "1,250.50", "1.250,50", "-3", "nan", "1e400",
                     "paid", "void", "draft", "open", "eur", "usd", "EUR - Euro", "Acme", "Orchard Café Ltd", '"', ";"]),
    st.text(max_size=12),
)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.lists(CELLS, min_size=0, max_size=13), min_size=0, max_size=6))
def test_any_stripe_shaped_file_is_imported_whole_or_refused_in_lines(rows):
    text = HEADER + "\n".join(",".join(cells) for cells in rows) + "\n"
    with Ledger.open("memory:", clock=lambda: TODAY) as ledger:
        try:
            result = ledger.import_csv(text.encode(), preset="stripe")
        except ImportRefused as refusal:
            assert refusal.problems and all(p and "\n" not in p for p in refusal.problems)
            assert ledger.head_position() == 0
            return
        assert result.appended is not None and ledger.head_position() == result.appended.stored
        assert ledger.import_csv(text.encode(), preset="stripe").plan.events == []
