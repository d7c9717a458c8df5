"""The command is light: its entry module loads no web framework, chart or template engine, and a busy port is one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from clientrules import Ledger, WorkLogged
from clientrules.cli.main import cli

#: what a command that needs none of them must not load (the web app, the report's charts, templates, PostgreSQL)
HEAVY = ("flask", "werkzeug", "wtforms", "matplotlib", "numpy", "jinja2", "psycopg", "durable")


#: what a process that only decides must not load: the services it never uses, imported when first asked for
NOT_DECIDING = tuple(
    f"clientrules.application.{name}" for name in ("learning", "alerts", "next_steps", "csv_import", "rule_changes")
) + ("clientrules.adapters.report",)


def loaded_after(code: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded after running ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps([m for m in {watched!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def database(tmp_path):
    """A database of one client."""
    path = tmp_path / "light.db"
    with Ledger.open(path) as ledger:
        ledger.record("acme", WorkLogged(hours=1.0, billable=True), "2026-03-01")
    return path


def test_importing_the_command_loads_neither_flask_nor_matplotlib_nor_jinja():
    assert loaded_after("import clientrules.cli.main") == []


def test_the_version_and_a_read_of_the_database_load_none_of_them(database):
    code = (
        "from clientrules.cli.main import main\n"
        f"for args in (['--version'], ['--db', {str(database)!r}, 'clients']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as end:\n"
        "        assert end.code == 0, end.code"
    )
    assert loaded_after(code) == []


def test_a_deciding_process_loads_none_of_the_services_it_does_not_use(database):
    """Another process of ``evaluate --workers`` opens its ledger by ``clientrules.ledger.Ledger.open`` (as the
    caller pickled it) and decides, without the learning loop, the watcher, next steps or the CSV import."""
    code = (
        "from clientrules.ledger import Ledger\n"
        f"with Ledger.open({str(database)!r}) as ledger:\n"
        "    assert [decision.client for decision in ledger.decisions.iter_evaluate(as_of='2026-04-01')] == ['acme']"
    )
    assert loaded_after(code, NOT_DECIDING) == []


def test_the_help_lists_the_web_apps_command_too():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert {"serve", "evaluate", "watch", "report"} <= {line.split()[0] for line in result.output.splitlines() if line.startswith("  ")}


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--db", str(tmp_path / "app.db"), "serve", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert result.stderr.startswith(f"error: cannot serve on 127.0.0.1:{port}: Address already in use")


#: in a fresh interpreter: whether the command's own objects (its area's list of commands) are left in the garbage
#: collector's reach after the command ran through click's test runner (a program's process), then after it ran as
#: the console script (a process of its own, frozen once the command is found)
IN_REACH_AFTER_EACH_WAY = """
import gc, json
from click.testing import CliRunner
from clientrules.cli.main import cli, main

def in_reach():
    import clientrules.cli.ledger as area
    return any(tracked is area.commands for tracked in gc.get_objects())

assert CliRunner().invoke(cli, ["--db", DATABASE, "clients"]).exit_code == 0
seen = {"embedded": in_reach()}
try:
    main(["--db", DATABASE, "clients"])
except SystemExit as end:
    assert end.code == 0, end.code
seen["console script"] = in_reach()
print(json.dumps(seen))
"""


def test_the_console_script_freezes_its_start_up_and_a_program_running_the_command_is_left_as_it_was(database):
    code = IN_REACH_AFTER_EACH_WAY.replace("DATABASE", repr(str(database)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == {"embedded": True, "console script": False}


#: in a fresh interpreter (``sys.argv[1]``: the database, ``sys.argv[2]``: a free port, ``sys.argv[3]``: which way
#: the command runs): whether the served app is in the garbage collector's reach once the server listens; then the
#: server is stopped as Ctrl-C stops it
APP_IN_REACH_WHILE_SERVING = """
import gc, json, os, signal, socket, sys, threading, time
from click.testing import CliRunner
from flask import Flask
from clientrules.cli.main import cli, main

database, port, way = sys.argv[1:]
arguments = ["--db", database, "serve", "--port", port, "--no-watch"]
seen = {}

def look_once_listening():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    seen["app in reach"] = any(isinstance(tracked, Flask) for tracked in gc.get_objects())
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=look_once_listening).start()
if way == "console script":
    try:
        main(arguments)
    except SystemExit as end:
        assert end.code == 0, end.code
else:
    assert CliRunner().invoke(cli, arguments).exit_code == 0
print(json.dumps(seen))
"""


@pytest.mark.parametrize(("way", "in_reach"), [("console script", False), ("test runner", True)])
def test_serve_freezes_its_warmed_app_only_in_a_process_of_its_own(database, way, in_reach):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run([sys.executable, "-c", APP_IN_REACH_WHILE_SERVING, str(database), str(port), way],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"app in reach": in_reach}
