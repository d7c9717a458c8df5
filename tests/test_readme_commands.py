"""The README and ``make demo`` keep their word: every command they show runs on a fresh demo database.

``make demo`` is run for real (into a temporary database), then every
``$ clientrules ...`` line of the console blocks of the README and of the
tours in docs/getting-started.md, the README's Python block, and each command
of the demo's "what to try next" list, each asserted to exit with status 0. ``clientrules serve`` is started on a free port and must answer
``/healthz``; ``owner set-password`` is given its password on standard input.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import attrs
import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
#: the pages whose console blocks are tours on the demo database
TOURS = [README, REPO / "docs" / "getting-started.md"]
BIN = Path(sys.executable).parent
VENV = Path(sys.prefix)
#: lines of the README's console blocks that set up the tour rather than use clientrules (the test does each itself)
SET_UP = {"make demo", ". .venv/bin/activate", "export CLIENTRULES_DB=demo.db"}
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.slow


def fenced_blocks(markdown: str, language: str) -> list[str]:
    """The bodies of the ```language blocks of ``markdown``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def shown_commands(page: Path) -> list[str]:
    """Every ``$ `` line of ``page``'s console blocks, without its prompt."""
    return [
        line[2:].strip()
        for block in fenced_blocks(page.read_text(encoding="utf-8"), "console")
        for line in block.splitlines()
        if line.startswith("$ ")
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_demo(db: Path) -> str:
    """Run ``make demo`` into ``db`` with this interpreter's environment; return what it printed."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    result = subprocess.run(
        ["make", "--no-print-directory", "demo", f"VENV={VENV}", f"DEMO_DB={db}"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def run(command: str, *, cwd: Path, env: dict[str, str]) -> None:
    """Run one shown command as a shell would, and assert it succeeded (``serve``: that it answers)."""
    words = shlex.split(command, comments=True)
    if words[-1] == "serve":
        serve(words, cwd=cwd, env=env)
        return
    result = subprocess.run(
        command,
        shell=True,
        executable="/bin/bash",
        cwd=cwd,
        env=env,
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,  # no terminal: a password prompt reads standard input
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{command}\n{result.stderr}"


def serve(words: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    port = free_port()
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([*words, "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"{' '.join(words)} stopped: {log.read().decode()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    assert response.status == 200
                    return
            except OSError:
                assert time.monotonic() < deadline, f"{' '.join(words)} did not answer on port {port}"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def tour_environment(db: Path) -> dict[str, str]:
    """The shell of the README's tour: the venv activated, ``CLIENTRULES_DB`` set to the demo database."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTRULES_")}
    environ.update(PATH=f"{BIN}{os.pathsep}{environ.get('PATH', '')}", CLIENTRULES_DB=str(db))
    return environ


@attrs.frozen
class Demo:
    """What ``make demo`` printed, and the database it made (copied for each test, which may change it)."""

    output: str
    db: Path

    def fresh_copy(self, directory: Path) -> Path:
        for suffix in ("", "-wal", "-shm"):
            made = self.db.with_name(self.db.name + suffix)
            if made.exists():
                shutil.copyfile(made, directory / made.name)
        return directory / self.db.name


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    db = tmp_path_factory.mktemp("make-demo") / "demo.db"
    return Demo(make_demo(db), db)


@pytest.mark.parametrize("page", TOURS, ids=lambda page: page.name)
def test_every_command_a_tour_shows_works_after_make_demo(page: Path, demo: Demo, tmp_path: Path) -> None:
    commands = shown_commands(page)
    assert any(command.startswith("clientrules survey invite cyberdyne-left") for command in commands)
    others = [c for c in commands if c not in SET_UP and not c.startswith("clientrules ")]
    assert not others, f"commands of {page.name} this test does not run: {others}"
    env = tour_environment(demo.fresh_copy(tmp_path))
    (tmp_path / "examples").symlink_to(REPO / "examples")
    for command in commands:
        if command not in SET_UP:
            run(command, cwd=tmp_path, env=env)


def test_the_readme_python_block_runs(tmp_path: Path) -> None:
    (block,) = fenced_blocks(README.read_text(encoding="utf-8"), "python")
    (tmp_path / "tour.py").write_text(block, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "tour.py"], cwd=tmp_path, env=tour_environment(tmp_path / "demo.db"),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("keep ()\n")
    assert "https://survey.example.com/s/" in result.stdout


def test_make_demo_shows_the_advice_and_every_command_it_suggests_works(demo: Demo, tmp_path: Path) -> None:
    assert "stored 163 events, 0 already present" in demo.output
    advice = demo.output.split("What to do about each client", 1)[1].split("What to try next", 1)[0]
    assert "acme-late              RENEGOTIATE  Contact them and find the cause" in advice
    assert "harbour-hostile        TERMINATE    Protect yourself and your people" in advice
    assert "slipping-studio        RENEGOTIATE  We are letting them down: fix our side first" in advice
    assert "notice-north           KEEP         They leave on 2026-06-30: end well (clientrules next notice-north)." in advice
    assert "cyberdyne-left         LEFT         Gone since 2026-04-15: nothing to decide." in advice
    suggested = [line.strip() for line in demo.output.split("What to try next", 1)[1].splitlines() if line.startswith("  ")]
    assert any("survey invite cyberdyne-left" in command for command in suggested)
    copy = demo.fresh_copy(tmp_path)
    env = tour_environment(copy)
    for command in suggested:
        assert f"--db {demo.db} " in command
        run(command.replace(str(demo.db), str(copy)), cwd=REPO, env=env)
