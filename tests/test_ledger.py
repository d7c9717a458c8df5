"""The Ledger: recording, reading, JSON Lines import and export, on real SQLite files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from clientrules import (
    ClientRulesError,
    ConcurrencyError,
    InvalidEvent,
    InvalidInput,
    InvoiceIssued,
    Ledger,
    StoreError,
    UnknownClient,
    WorkLogged,
)
from clientrules.config import DB_ENV


def line(client: str, type_name: str, at: str, data: dict | None = None, **extra: str) -> str:
    obj = {"client": client, "type": type_name, "at": at, **({"data": data} if data is not None else {}), **extra}
    return json.dumps(obj)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def canonical(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True)


def test_open_uses_the_environment_then_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DB_ENV, raising=False)
    with Ledger.open() as ledger:
        assert ledger.url == "clientrules.db"
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.db"))
    with Ledger.open() as ledger:
        assert ledger.url == str(tmp_path / "env.db")


def test_record_returns_the_stored_event(ledger):
    first = ledger.record("acme", InvoiceIssued(invoice_id="A-1", amount=900.0, due_on="2026-03-31"), "2026-03-01")
    second = ledger.record("acme", WorkLogged(hours=2, billable=False), "2026-03-02", id="w-1", expected_version=1)
    assert (first.version, first.position, second.version, second.position) == (1, 1, 2, 2)
    assert second.id == "w-1"
    assert ledger.events("acme") == [first, second]
    assert ledger.version("acme") == 2


def test_recording_a_stored_id_again_changes_nothing(ledger):
    first = ledger.record("acme", WorkLogged(hours=2, billable=False), "2026-03-02", id="w-1")
    again = ledger.record("acme", WorkLogged(hours=2, billable=False), "2026-03-02", id="w-1")
    assert again == first
    assert ledger.version("acme") == 1


def test_two_ledgers_on_one_file_conflict_on_the_expected_version(db_url):
    with Ledger.open(db_url) as mine, Ledger.open(db_url) as theirs:
        mine.record("acme", WorkLogged(hours=1, billable=True), "2026-03-01", expected_version=0)
        with pytest.raises(ConcurrencyError, match="not the expected 0"):
            theirs.record("acme", WorkLogged(hours=3, billable=True), "2026-03-01", expected_version=0)
        assert len(theirs.events("acme")) == 1


def test_record_refuses_bad_values_naming_the_field(ledger):
    with pytest.raises(InvalidEvent, match="^client: 'a b' is not a client id"):
        ledger.record("a b", WorkLogged(hours=1, billable=True), "2026-03-01")
    with pytest.raises(InvalidEvent, match="^at: '2026-13-01' is not an ISO 8601 date"):
        ledger.record("acme", WorkLogged(hours=1, billable=True), "2026-13-01")
    with pytest.raises(InvalidEvent, match="^hours: must not be negative"):
        WorkLogged(hours=-1, billable=True)
    assert ledger.clients() == []


def test_events_until_a_moment(ledger):
    for day in (1, 5, 9):
        ledger.record("acme", WorkLogged(hours=day, billable=True), f"2026-03-0{day}")
    assert [e.payload.hours for e in ledger.events("acme", until="2026-03-05")] == [1, 5]
    assert ledger.events("nobody") == []


def test_import_stores_the_stories_then_re_import_is_a_no_op(ledger, stories_path):
    result = ledger.import_jsonl(stories_path)
    assert (result.stored, result.already_present) == (122, 0)
    again = ledger.import_jsonl(str(stories_path))
    assert (again.stored, again.already_present) == (0, 122)
    assert sum(summary.events for summary in ledger.clients()) == 122


def test_import_then_export_round_trips_the_stories(ledger, stories_path, tmp_path):
    ledger.import_jsonl(stories_path)
    out = io.StringIO()
    assert ledger.export_jsonl(out) == 122
    exported = [json.loads(text) for text in out.getvalue().splitlines()]
    assert all(obj.pop("id").startswith("c-") for obj in exported)
    original = [json.loads(text) for text in stories_path.read_text().splitlines() if text.strip()]
    assert Counter(map(canonical, exported)) == Counter(map(canonical, original))


def test_an_export_imported_elsewhere_exports_identically(ledger, stories_path, tmp_path):
    ledger.import_jsonl(stories_path)
    first = tmp_path / "first.jsonl"
    ledger.export_jsonl(first)
    with Ledger.open(tmp_path / "copy.db") as copy:
        assert copy.import_jsonl(first).stored == 122
        second = tmp_path / "second.jsonl"
        copy.export_jsonl(second)
    assert second.read_text() == first.read_text()
    assert ledger.import_jsonl(first).already_present == 122


def test_export_is_in_time_order_per_client_in_order_of_first_event(ledger, tmp_path):
    source = write_lines(
        tmp_path / "e.jsonl",
        [
            line("b", "FollowUpSent", "2026-03-05", {"topic": "late"}, id="b2"),
            line("a", "FollowUpSent", "2026-03-09", {"topic": "x"}, id="a1"),
            line("b", "FollowUpSent", "2026-03-01", {"topic": "early"}, id="b1"),
            line("b", "FollowUpSent", "2026-03-01T01:00:00+02:00", {"topic": "earlier"}, id="b0"),
        ],
    )
    ledger.import_jsonl(source)
    out = io.StringIO()
    ledger.export_jsonl(out)
    assert [json.loads(text)["id"] for text in out.getvalue().splitlines()] == ["b0", "b1", "b2", "a1"]
    only_a = io.StringIO()
    assert ledger.export_jsonl(only_a, client="a") == 1
    assert json.loads(only_a.getvalue()) == {
        "client": "a", "type": "FollowUpSent", "at": "2026-03-09", "data": {"topic": "x"}, "id": "a1"
    }


def test_export_of_an_unknown_client_is_an_error(ledger):
    with pytest.raises(UnknownClient, match="no events are stored for client 'ghost'"):
        ledger.export_jsonl(io.StringIO(), client="ghost")


def test_a_bad_line_in_the_middle_stores_nothing(ledger, stories_path, tmp_path):
    lines = stories_path.read_text().splitlines()
    lines.insert(60, line("acme", "InvoiceIssued", "2026-03-01", {"invoice_id": "X", "amount": "lots", "due_on": "2026-04-01"}))
    with pytest.raises(InvalidInput) as raised:
        ledger.import_jsonl(write_lines(tmp_path / "bad.jsonl", lines))
    assert str(raised.value) == "line 61: data.amount: must be a number"
    assert raised.value.line == 61
    assert ledger.clients() == []
    assert ledger.store.head_position() == 0


def test_a_bad_line_after_many_good_ones_stores_nothing(ledger, tmp_path):
    good = [line(f"c{i % 50}", "WorkLogged", "2026-03-01", {"hours": 1, "billable": True}) for i in range(5000)]
    with pytest.raises(InvalidInput, match="^line 5001: type: unknown event type 'Nope'"):
        ledger.import_jsonl(write_lines(tmp_path / "big.jsonl", [*good, line("x", "Nope", "2026-03-01")]))
    assert ledger.store.head_position() == 0
    assert ledger.import_jsonl(write_lines(tmp_path / "good.jsonl", good)).stored == 5000


def test_identical_lines_without_ids_are_distinct_events(ledger, tmp_path):
    same = line("acme", "WorkLogged", "2026-03-01", {"hours": 1, "billable": True})
    source = write_lines(tmp_path / "same.jsonl", [same, same, "", "# a comment", same])
    assert ledger.import_jsonl(source).stored == 3
    assert ledger.import_jsonl(source).already_present == 3


def test_import_reads_text_and_binary_file_objects(ledger):
    text = line("acme", "ClientOnboarded", "2026-03-01", {"name": "Acme"}, id="t") + "\n"
    assert ledger.import_jsonl(io.StringIO(text)).stored == 1
    binary = line("acme", "ClientReplied", "2026-03-02", id="b") + "\n"
    assert ledger.import_jsonl(io.BytesIO(binary.encode())).stored == 1
    assert [e.id for e in ledger.events("acme")] == ["t", "b"]


def test_import_of_a_missing_file_is_one_clear_error(ledger, tmp_path):
    with pytest.raises(ClientRulesError, match="^cannot read .*nothing.jsonl: No such file or directory$"):
        ledger.import_jsonl(tmp_path / "nothing.jsonl")


def test_unknown_data_keys_survive_import_and_export(ledger, tmp_path):
    source = write_lines(
        tmp_path / "x.jsonl",
        [line("acme", "WorkLogged", "2026-03-01", {"hours": 1.5, "billable": True, "ticket": "T-7"}, id="x")],
    )
    ledger.import_jsonl(source)
    (event,) = ledger.events("acme")
    assert event.payload.extra == {"ticket": "T-7"}
    out = io.StringIO()
    ledger.export_jsonl(out)
    assert json.loads(out.getvalue())["data"] == {"hours": 1.5, "billable": True, "ticket": "T-7"}


def test_opening_without_create_reports_a_missing_database(tmp_path):
    with pytest.raises(StoreError, match="no database at"):
        Ledger.open(tmp_path / "none.db", create=False)


def test_non_ascii_text_round_trips(ledger, tmp_path):
    source = write_lines(tmp_path / "u.jsonl", [line("zoe", "ClientOnboarded", "2026-03-01", {"name": "Zoë Brontë 😀"}, id="u")])
    ledger.import_jsonl(source)
    out = io.StringIO()
    ledger.export_jsonl(out)
    assert out.getvalue() == source.read_text().replace("\\u00eb", "ë").replace("\\ud83d\\ude00", "😀")


def test_the_quickstart_example_runs(tmp_path):
    example = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    done = subprocess.run([sys.executable, str(example)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert "imported 163 events, 0 already present" in done.stdout
    assert "second writer refused: client 'acme' is at version 3, not the expected 2" in done.stdout
    assert list(tmp_path.iterdir()) == []
