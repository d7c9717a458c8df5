"""Moving a ledger between backends: ``clientrules --db A export | clientrules --db B import -`` keeps everything."""

from __future__ import annotations

import subprocess
import sys

from clientrules import Ledger
from clientrules.domain.events import RelationshipEnded
from clientrules.domain.rules import default_ruleset_text

CLI = [sys.executable, "-m", "clientrules"]


def _history(ledger: Ledger) -> list[tuple]:
    """Every stream in first-stored order, each with its events in time order, as written by export.

    Versions are left out: export writes each stream in time order (spec/events.md), so an
    event appended late with an earlier ``at`` gets the version of its place in time.
    """
    streams: dict[str, None] = {}
    for event in ledger.store.iter_all():
        streams.setdefault(event.client)
    return [
        (stream, [(e.id, e.type, e.at.text, e.data) for e in ledger.events(stream)])
        for stream in streams
    ]


def _move(source: str, target: str) -> str:
    export = subprocess.Popen([*CLI, "--db", source, "export"], stdout=subprocess.PIPE)
    imported = subprocess.run([*CLI, "--db", target, "import", "-"], stdin=export.stdout, capture_output=True, text=True)
    export.stdout.close()  # type: ignore[union-attr]
    assert export.wait() == 0
    assert imported.returncode == 0, imported.stderr
    return imported.stdout


def test_export_from_sqlite_and_import_into_postgresql_keeps_everything(tmp_path, pg_url, stories_path):
    sqlite_url = str(tmp_path / "ledger.db")
    with Ledger.open(sqlite_url) as ledger:
        ledger.import_jsonl(stories_path)
        ledger.decisions.evaluate(as_of="2026-06-01", record=True)
        ledger.rules.use(default_ruleset_text(), note="the playbook again")
        ledger.decisions.evaluate(["acme-late"], as_of="2026-07-01", record=True)
        ledger.record("acme-late", RelationshipEnded(initiated_by="client"), "2026-07-02")
        invitation = ledger.surveys.invite("acme-late", email="ap@acme.test")
        ledger.surveys.submit(invitation.token, {"primary_reason": "price_too_high", "recommend": 3})
        before = _history(ledger)
        versions = [(v.version, v.ruleset.source, v.note) for v in ledger.rules.versions()]
        decisions = {s.client: [e.to_json() for e in ledger.decisions.recorded(s.client)] for s in ledger.clients()}
        answers = [e.to_json() for e in ledger.surveys.answers()]
        count = ledger.store.head_position()

    assert _move(sqlite_url, pg_url) == f"stored {count} events, 0 already present\n"
    assert _move(sqlite_url, pg_url) == f"stored 0 events, {count} already present\n"  # again: a no-op

    with Ledger.open(pg_url) as moved:
        assert _history(moved) == before
        assert [(v.version, v.ruleset.source, v.note) for v in moved.rules.versions()] == versions
        assert len(versions) == 2
        assert {s.client: [e.to_json() for e in moved.decisions.recorded(s.client)] for s in moved.clients()} == decisions
        assert sum(map(len, decisions.values())) == 12
        assert [e.to_json() for e in moved.surveys.answers()] == answers != []
    back = subprocess.run([*CLI, "--db", pg_url, "export"], capture_output=True, text=True, check=True).stdout
    original = subprocess.run([*CLI, "--db", sqlite_url, "export"], capture_output=True, text=True, check=True).stdout
    assert back == original
