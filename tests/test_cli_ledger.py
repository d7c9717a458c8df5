"""The ledger's CLI contract: import, export, history, clients; exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules import __version__
from clientrules.cli.main import cli

CONSOLE_SCRIPT = Path(sys.executable).with_name("clientrules")


def run(*args: str, input: str | None = None, env: dict | None = None):
    """Invoke the CLI in-process (fast); stderr is kept apart from stdout."""
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def console(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``clientrules`` console script, as a user's shell would."""
    env = {key: value for key, value in os.environ.items() if key != "CLIENTRULES_DB"}
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args], cwd=cwd, input=input, capture_output=True, text=True, env=env, timeout=60
    )


def canonical_lines(text: str, *, drop_id: bool = False) -> Counter:
    objects = [json.loads(line) for line in text.splitlines() if line.strip()]
    if drop_id:
        for obj in objects:
            obj.pop("id")
    return Counter(json.dumps(obj, sort_keys=True) for obj in objects)


def test_import_reports_stored_and_already_present(db_url, stories_path):
    first = run("--db", db_url, "import", str(stories_path))
    assert (first.exit_code, first.stdout) == (0, "stored 122 events, 0 already present\n")
    again = run("--db", db_url, "import", str(stories_path))
    assert (again.exit_code, again.stdout) == (0, "stored 0 events, 122 already present\n")


def test_import_then_export_reproduces_the_stories(db_url, stories_path, tmp_path):
    run("--db", db_url, "import", str(stories_path))
    exported = run("--db", db_url, "export")
    assert exported.exit_code == 0
    assert canonical_lines(exported.stdout, drop_id=True) == canonical_lines(stories_path.read_text())
    to_file = run("--db", db_url, "export", str(tmp_path / "out.jsonl"))
    assert (to_file.exit_code, to_file.stderr) == (0, f"exported 122 events to {tmp_path / 'out.jsonl'}\n")
    assert (tmp_path / "out.jsonl").read_text() == exported.stdout


def test_export_of_one_client(db_url, stories_path):
    run("--db", db_url, "import", str(stories_path))
    result = run("--db", db_url, "export", "--client", "acme-late")
    clients = {json.loads(line)["client"] for line in result.stdout.splitlines()}
    assert (result.exit_code, clients, len(result.stdout.splitlines())) == (0, {"acme-late"}, 11)


def test_import_reads_standard_input(db_url):
    line = json.dumps({"client": "acme", "type": "ClientReplied", "at": "2026-03-01"})
    result = run("--db", db_url, "import", "-", input=line + "\n")
    assert (result.exit_code, result.stdout) == (0, "stored 1 events, 0 already present\n")


def test_a_bad_line_is_one_error_line_and_nothing_is_stored(db_url, stories_path, tmp_path):
    lines = stories_path.read_text().splitlines()
    lines.insert(9, '{"client": "acme", "type": "MeetingHeld", "at": "2026-03-01", "data": {"topic": "x", "outcome": "meh"}}')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    result = run("--db", db_url, "import", str(bad))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: line 10: data.outcome: 'meh' is not one of resolved, unresolved (in {bad}; nothing was stored)\n"
    )
    assert result.stdout == ""
    assert run("--db", db_url, "clients").stdout.startswith("no clients yet")


def test_history_is_a_readable_timeline(db_url, tmp_path):
    source = tmp_path / "h.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(obj)
            for obj in [
                {"client": "acme", "type": "InvoiceIssued", "at": "2026-03-02", "data": {"invoice_id": "A-1", "amount": 900, "due_on": "2026-03-31"}},
                {"client": "acme", "type": "ClientOnboarded", "at": "2026-03-01T09:30:00+02:00", "data": {"name": "Acme"}},
                {"client": "acme", "type": "WorkLogged", "at": "2026-03-03", "data": {"hours": 2.5, "billable": False}},
            ]
        )
    )
    run("--db", db_url, "import", str(source))
    result = run("--db", db_url, "history", "acme")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "acme: 3 events",
        "2026-03-01 09:30:00+02:00  ClientOnboarded  name=Acme",
        "2026-03-02                 InvoiceIssued    invoice_id=A-1, amount=900, due_on=2026-03-31",
        "2026-03-03                 WorkLogged       hours=2.5, billable=false",
    ]
    until = run("--db", db_url, "history", "acme", "--until", "2026-03-02")
    assert until.stdout.splitlines()[0] == "acme: 2 events up to 2026-03-02"


def test_clients_lists_counts_and_last_activity(db_url, stories_path):
    run("--db", db_url, "import", str(stories_path))
    lines = run("--db", db_url, "clients").stdout.splitlines()
    assert lines[0].split() == ["CLIENT", "EVENTS", "FIRST", "LAST", "ACTIVITY"]
    assert lines[2].split() == ["acme-late", "11", "2025-09-01", "2026-05-02"]
    assert len(lines) == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "ghost"], "error: no events are stored for client 'ghost'\n"),
        (["export", "--client", "ghost"], "error: no events are stored for client 'ghost'\n"),
    ],
)
def test_unknown_clients_are_one_error_line(db_url, stories_path, args, message):
    run("--db", db_url, "import", str(stories_path))
    result = run("--db", db_url, *args)
    assert (result.exit_code, result.stderr) == (1, message)


@pytest.mark.parametrize("command", [["clients"], ["history", "acme"], ["export"]])
def test_reading_commands_do_not_create_a_missing_database(tmp_path, command):
    missing = tmp_path / "missing.db"
    result = run("--db", str(missing), *command)
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: no database at {missing} (import events first: clientrules import FILE)\n",
    )
    assert not missing.exists()


def test_the_database_comes_from_the_environment(tmp_path, stories_path):
    db = str(tmp_path / "env.db")
    run("import", str(stories_path), env={"CLIENTRULES_DB": db})
    assert run("--db", db, "clients").stdout.count("\n") == 12


def test_usage_errors_exit_2(db_url):
    assert run("--db", db_url, "import").exit_code == 2
    assert run("--db", db_url, "no-such-command").exit_code == 2
    assert run("--db", db_url, "export", "--clinet", "x").exit_code == 2


def test_version():
    assert run("--version").stdout == f"clientrules, version {__version__}\n"


def test_the_console_script_imports_and_exports(tmp_path, stories_path):
    imported = console("import", str(stories_path), cwd=tmp_path)
    assert (imported.returncode, imported.stdout, imported.stderr) == (0, "stored 122 events, 0 already present\n", "")
    assert (tmp_path / "clientrules.db").exists()
    exported = console("export", cwd=tmp_path)
    assert canonical_lines(exported.stdout, drop_id=True) == canonical_lines(stories_path.read_text())
    piped = console("--db", "copy.db", "import", "-", cwd=tmp_path, input=exported.stdout)
    assert piped.stdout == "stored 122 events, 0 already present\n"


def test_the_console_script_reports_errors_without_traceback(tmp_path):
    bad = console("import", "-", cwd=tmp_path, input='{"client": "a b", "type": "ClientReplied", "at": "2026-03-01"}\n')
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == (
        "error: line 1: client: 'a b' is not a client id (1-64 letters, digits, '.', '_' or '-') "
        "(in <stdin>; nothing was stored)\n"
    )
    missing = console("import", "nowhere.jsonl", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (1, "error: cannot read nowhere.jsonl: No such file or directory\n")
    usage = console("import", cwd=tmp_path)
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr + bad.stderr + missing.stderr
