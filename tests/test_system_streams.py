"""System streams are the system's: imports and appends write them only as the API would; db check verifies them.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from conftest import STORE_BACKENDS, STORIES

from clientrules import Ledger
from clientrules.cli.main import cli
from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events import Event, Instant, InvoiceIssued, RuleSetAdopted
from clientrules.domain.rules import default_ruleset_text

AS_OF = "2026-07-01"
EXTRA_RULE = '\n[[rules]]\nid = "many-hours"\nverdict = "renegotiate"\nwhen = ["hours_90d >= 300"]\n'


@pytest.fixture(params=sorted(STORE_BACKENDS))
def two_stores(request: pytest.FixtureRequest, tmp_path) -> tuple[str, str]:
    """The URLs of two fresh stores of one backend."""
    make = STORE_BACKENDS[request.param]
    return make(request, tmp_path / "a"), make(request, tmp_path / "b")


@pytest.fixture(params=sorted(STORE_BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path) -> str:
    return STORE_BACKENDS[request.param](request, tmp_path)


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def with_history(url: str, note: str) -> None:
    """The stories, a rule history of their own (default playbook, then one more version), recorded decisions."""
    with Ledger.open(url) as ledger:
        ledger.import_jsonl(STORIES)
        ledger.rules.use(default_ruleset_text() + EXTRA_RULE, note=note)
        ledger.decisions.evaluate(as_of=AS_OF, record=True)


def exported(url: str) -> str:
    out = io.StringIO()
    with Ledger.open(url) as ledger:
        ledger.export_jsonl(out)
    return out.getvalue()


def head(url: str) -> int:
    with Ledger.open(url) as ledger:
        return ledger.store.head_position()


def evaluates(url: str) -> None:
    result = run("--db", url, "evaluate", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)


def line(client: str, type_: str, data: dict, id_: str = "x1") -> str:
    return json.dumps({"client": client, "type": type_, "at": "2026-05-01", "data": data, "id": id_}) + "\n"


def test_an_export_into_a_store_with_its_own_rule_history_is_refused_whole_and_both_still_evaluate(two_stores):
    a, b = two_stores
    with_history(a, "a's own")
    with_history(b, "b's own")
    before = head(b)
    result = run("--db", b, "import", "-", input=exported(a))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "rule histories of their own" in result.stderr
    assert head(b) == before
    evaluates(a)
    evaluates(b)
    assert run("--db", b, "db", "check").exit_code == 0


def test_an_export_imports_into_a_new_store_and_again_as_a_no_op_and_round_trips(two_stores):
    a, b = two_stores
    with_history(a, "a's own")
    document = exported(a)
    first = run("--db", b, "import", "-", input=document)
    assert first.exit_code == 0, first.output
    again = run("--db", b, "import", "-", input=document)
    assert again.exit_code == 0 and again.stdout.startswith("stored 0 events")
    assert exported(b) == document
    with Ledger.open(b) as ledger:
        assert [v.note for v in ledger.rules.versions()] == ["default playbook", "a's own"]
    evaluates(b)
    # the copy goes on with a version of its own; a's export is still a no-op there
    assert run("--db", b, "rules", "use", "-", input=default_ruleset_text()).exit_code == 0
    assert run("--db", b, "import", "-", input=document).exit_code == 0
    evaluates(b)
    assert run("--db", b, "db", "check").exit_code == 0


SOURCE_NOT_TOML = {"version": 1, "source": "this is not TOML ["}
HOSTILE_LINES = {
    "rule set that is not TOML": line("$rules", "RuleSetAdopted", SOURCE_NOT_TOML),
    "rule set over the engine's limits": line(
        "$rules", "RuleSetAdopted", {"version": 1, "source": "\n".join(
            f'[[rules]]\nid = "r{i}"\nverdict = "keep"\nwhen = ["hours_90d >= 17"]\n' for i in range(401))}
    ),
    "version out of sequence": line("$rules", "RuleSetAdopted", {"version": 2, "source": default_ruleset_text()}),
    "invoice in a made-up system stream": line("$meta", "InvoiceIssued", {"invoice_id": "I1", "amount": 5, "due_on": "2026-06-01"}),
    "invoice in the rules stream": line("$rules", "InvoiceIssued", {"invoice_id": "I1", "amount": 5, "due_on": "2026-06-01"}),
    "rule set in a client's stream": line("acme", "RuleSetAdopted", {"version": 1, "source": default_ruleset_text()}),
    "decision under a version nobody has": line(
        "acme", "DecisionRecorded", {"verdict": "keep", "ruleset_version": 9, "as_of": "2026-05-01T00:00:00Z"}
    ),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_LINES))
def test_system_events_not_as_the_api_writes_them_are_refused_with_one_line_and_nothing_stored(store, hostile):
    document = STORIES.read_text() + HOSTILE_LINES[hostile]
    result = run("--db", store, "import", "-", input=document)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    with Ledger.open(store) as ledger:
        assert ledger.store.head_position() == 0
    evaluates(store)


def test_the_api_refuses_the_same_events(store):
    with Ledger.open(store) as ledger:
        with pytest.raises(InvalidEvent, match="not a system stream"):
            ledger.record("$meta", InvoiceIssued(invoice_id="I1", amount=5, due_on="2026-06-01"), "2026-05-01")
        bad = Event.new("$rules", RuleSetAdopted(version=1, source="nope ["), Instant.parse("2026-05-01"))
        with pytest.raises(InvalidEvent, match="does not validate"):
            ledger.append([bad])
        assert ledger.store.head_position() == 0


def test_db_check_finds_a_store_damaged_before_imports_were_checked_and_rules_use_repairs_decisions(store):
    with Ledger.open(store) as ledger:
        ledger.import_jsonl(STORIES)
        ledger.rules.current()
        # what an unchecked import of another store's export left: its version 1 and 2 after this store's 1
        foreign = [
            Event.new("$rules", RuleSetAdopted(version=v, source=default_ruleset_text()), Instant.parse("2026-05-01"))
            for v in (1, 2)
        ]
        ledger.store.append(foreign)
        ledger.store.append([Event.new("$rules", InvoiceIssued(invoice_id="I", amount=1, due_on="2026-06-01"), Instant.parse("2026-05-02"))])
    evaluate = run("--db", store, "evaluate", "--as-of", AS_OF)
    assert evaluate.exit_code == 1 and evaluate.stderr.count("\n") == 1
    assert "rules use" in evaluate.stderr  # the current version is the invoice: the error says how to repair
    checked = run("--db", store, "db", "check")
    assert checked.exit_code == 1
    lines = checked.stderr.splitlines()
    assert any("says it is rule-set version 1" in l for l in lines)
    assert any("is a InvoiceIssued, not a RuleSetAdopted" in l for l in lines)
    assert lines[-1].startswith("error: ") and "clientrules rules use" in lines[-1]
    assert run("--db", store, "rules", "use", "-", input=default_ruleset_text()).exit_code == 0
    evaluates(store)
    with Ledger.open(store) as ledger:
        assert ledger.rules.current().version == 5
