"""The survey's commands: survey invite|remind|list, owner set-password, serve."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules import ClientOnboarded, Ledger
from clientrules.cli.main import cli
from survey_fixtures import add_departed, clean_environment


@pytest.fixture
def db(db_url: str, monkeypatch) -> str:
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        add_departed(ledger, "acme", email="ann@acme.example")
        add_departed(ledger, "bravo")
        ledger.record("stays", ClientOnboarded(name="Stays"), "2026-01-05")
    return db_url


def run(db: str, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--db", db, *args], input=input)


def test_invite_prints_the_link_and_writes_the_message_to_the_outbox(db: str, tmp_path: Path) -> None:
    result = run(db, "survey", "invite", "acme")
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:8080/s/[\w.-]+", link)
    (message,) = (tmp_path / "outbox").glob("acme-inv-*.eml")
    assert link in message.read_text()
    assert f"written to {message}" in result.stderr


def test_invite_without_an_address_only_prints_the_link(db: str, tmp_path: Path) -> None:
    result = run(db, "survey", "invite", "bravo", "--base-url", "https://s.example/")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("https://s.example/s/")
    assert "no e-mail address is known" in result.stderr
    assert not (tmp_path / "outbox").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["survey", "invite", "stays"], "error: client 'stays' has no RelationshipEnded event"),
        (["survey", "invite", "nobody"], "error: no events are stored for client 'nobody'"),
        (["survey", "invite", "acme", "--email", "not-an-address"], "error: 'not-an-address' is not an e-mail address"),
    ],
)
def test_invite_errors_are_one_line_and_store_nothing(db: str, args: list[str], message: str) -> None:
    result = run(db, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert run(db, "survey", "list").stdout == ""


def test_list_shows_every_invitation_and_its_status(db: str) -> None:
    run(db, "survey", "invite", "acme")
    run(db, "survey", "invite", "acme")
    run(db, "survey", "invite", "bravo")
    rows = [json.loads(line) for line in run(db, "survey", "list", "--json").stdout.splitlines()]
    assert [(r["client"], r["status"]) for r in rows] == [("acme", "superseded"), ("acme", "open"), ("bravo", "open")]
    text = run(db, "survey", "list").stdout
    assert "acme\tsuperseded" in text and "ann@acme.example" in text


def test_remind_sends_the_link_again_only_when_due(db: str) -> None:
    link = run(db, "survey", "invite", "acme").stdout
    not_yet = run(db, "survey", "remind")
    assert not_yet.exit_code == 0 and not_yet.stdout == "" and "reminded 0 client(s)" in not_yet.stderr
    due = run(db, "survey", "remind", "--after-days", "0")
    assert due.stdout == link
    assert run(db, "survey", "remind", "--after-days", "-1").exit_code == 2


def test_set_password_from_stdin_and_by_prompt(db: str) -> None:
    assert run(db, "owner", "set-password", "--password-stdin", input="short\n").exit_code == 1
    result = run(db, "owner", "set-password", "--password-stdin", input="a long enough password\n")
    assert result.exit_code == 0, result.output
    prompted = run(db, "owner", "set-password", input="another good password\nanother good password\n")
    assert prompted.exit_code == 0, prompted.output
    assert "another good password" not in prompted.stdout
    with Ledger.open(db) as ledger:
        assert ledger.surveys.owner.check("another good password") == 2
        assert ledger.surveys.owner.check("a long enough password") is None


@pytest.mark.slow
def test_serve_runs_waitress_on_localhost(db: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTRULES_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "clientrules", "--db", db, "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        lines = []
        while not any("serving" in line for line in lines):
            line = server.stderr.readline()
            assert line, f"serve exited: {lines}"
            lines.append(line)
        port = re.search(r"http://127\.0\.0\.1:(\d+)/", lines[-1]).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/owner/login") as response:
            assert response.status == 200
            assert response.headers["Server"] == "waitress"
            assert response.headers["Referrer-Policy"] == "no-referrer"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/s/unknown-link")
        assert missing.value.code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_answers_export_as_csv_and_json(db: str) -> None:
    import csv
    import io

    from survey_fixtures import FULL_ANSWERS

    with Ledger.open(db) as ledger:
        ledger.surveys.submit(ledger.surveys.invite("acme").token, {**FULL_ANSWERS, "what_to_change": 'Say "no", early;\nplease'})
    rows = list(csv.DictReader(io.StringIO(run(db, "survey", "answers").stdout)))
    assert len(rows) == 1 and rows[0]["client"] == "acme"
    assert rows[0]["primary_reason"] == "missed_deadlines"
    assert rows[0]["other_reasons"] == "poor_communication price_too_high"
    assert rows[0]["what_to_change"] == 'Say "no", early;\nplease'
    (line,) = run(db, "survey", "answers", "--format", "json").stdout.splitlines()
    answer = json.loads(line)
    assert answer["rating_timeliness"] == 1 and answer["may_contact"] is True and answer["client"] == "acme"


def test_a_client_we_ended_with_is_invited_only_on_purpose_and_the_invitation_says_so(db: str, tmp_path: Path) -> None:
    from clientrules import ClientOnboarded, RelationshipEnded

    with Ledger.open(db) as ledger:
        ledger.record("ours", ClientOnboarded(name="Ours"), "2026-01-05")
        ledger.record("ours", RelationshipEnded(initiated_by="us"), "2026-02-01")
    refused = run(db, "survey", "invite", "ours")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.rstrip().endswith("clientrules survey invite ours --on-purpose")
    assert run(db, "survey", "list").stdout == ""
    invited = run(db, "survey", "invite", "ours", "--on-purpose")
    assert invited.exit_code == 0, invited.output
    exported = run(db, "export")
    lines = [json.loads(line) for line in exported.stdout.splitlines() if '"SurveyInvited"' in line]
    assert [line["data"]["ended_by"] for line in lines] == ["us"]
    copy = str(tmp_path / "copy.db")
    (tmp_path / "all.jsonl").write_text(exported.stdout)
    assert run(copy, "import", str(tmp_path / "all.jsonl")).exit_code == 0
    assert run(copy, "export").stdout == exported.stdout
