"""Forgetting a person: personal fields sealed with a per-client key, ``ledger.erase`` destroying it, on both backends.

After an erasure the client's name, e-mail address, note, reason and free-text
answer are nowhere: not in the database's bytes (SQLite file and WAL; the
PostgreSQL tables, their raw pages included), not in exports, survey answers
(JSON and CSV), the owner's pages or the learning report; and every figure
that is not personal (facts, decisions, the report's counts) is unchanged.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from clientrules.adapters.report.html import render_html
from clientrules import (
    ClientOnboarded,
    Event,
    IncidentReported,
    InvoiceIssued,
    Ledger,
    PaymentReceived,
    RelationshipEnded,
    StoreError,
    UnknownClient,
    WorkLogged,
)
from clientrules.cli.main import cli
from clientrules.domain.errors import ConcurrencyError, InvalidEvent
from clientrules.domain.events import ERASED, Instant, PersonalDataErased, as_instant, registry
from clientrules.domain.facts import facts_of
from clientrules.domain.privacy import ClientKey, PersonalFields, open_value, seal_value
from clientrules.adapters.store import open_store
from postgres_fixtures import SERVER_URL
from survey_fixtures import clean_environment, close_app, csrf_token, make_app

NAME = "Zelda Quartermaine"
EMAIL = "zelda.quartermaine@example.test"
NOTE = "shouted at Marta in the lobby"
REASON = "moving everything to Brightwater Agency"
TEXT = "Tell Zelda when the Pinewood deadline slips"
SECRETS = (NAME, EMAIL, NOTE, REASON, TEXT)
KEPT_NAME = "Yolanda Keepsake"
AS_OF = "2027-01-01"
PASSWORD = "a proper owner password"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def departed(ledger: Ledger) -> None:
    """``zq``, who left and answered the survey in her own words, and ``yk``, a client who stays."""
    ledger.record("zq", ClientOnboarded(name=NAME, email=EMAIL, monthly_value=1200.0), "2026-01-05")
    ledger.record("zq", InvoiceIssued(invoice_id="Z-1", amount=900.0, due_on="2026-02-01"), "2026-01-10")
    ledger.record("zq", PaymentReceived(invoice_id="Z-1", amount=900.0), "2026-02-25")
    ledger.record("zq", IncidentReported(kind="rude", against="staff", note=NOTE), "2026-03-01")
    ledger.record("zq", RelationshipEnded(initiated_by="client", reason=REASON), "2026-10-30")
    invitation = ledger.surveys.invite("zq")
    assert invitation.email == EMAIL
    ledger.surveys.submit(invitation.token, {"primary_reason": "missed_deadlines", "recommend": 2, "what_to_change": TEXT})
    ledger.record("yk", ClientOnboarded(name=KEPT_NAME, email="yk@example.test"), "2026-02-01")
    ledger.record("yk", WorkLogged(hours=3.0, billable=True), "2026-02-02")


def figures(ledger: Ledger) -> dict:
    """Everything about ``zq`` that is not personal: its facts, its decision, the learning report's counts."""
    report = ledger.learning.report().to_json()
    return {
        "facts": facts_of(ledger.events("zq", until=AS_OF), as_instant(AS_OF), grace_days=7).to_json(),
        "decision": [d.to_json() for d in ledger.decisions.evaluate(["zq"], as_of=AS_OF)],
        "summary": report["summary"],
        "reasons": report["reasons"],
        "recommend": report["recommend"],
    }


def stored_bytes(url: str) -> bytes:
    """What the database holds: the SQLite file and its write-ahead log, or every PostgreSQL table of the ledger."""
    if not url.startswith("postgresql://"):
        return b"".join(p.read_bytes() for p in Path(url).parent.glob(Path(url).name + "*") if p.suffix != ".db-shm")
    schema = url.rpartition("schema=")[2]
    with psycopg.connect(SERVER_URL, autocommit=True) as connection:
        tables = [row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        rows = [
            connection.execute(sql.SQL("SELECT t::text FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))).fetchall()
            for table in tables
        ]
    return repr(rows).encode()


def absent(text: str | bytes, *secrets: str) -> list[str]:
    """The secrets found in ``text`` (none, when all is well)."""
    haystack = text if isinstance(text, bytes) else text.encode()
    return [secret for secret in secrets if secret.encode() in haystack]


@pytest.fixture
def ledger(store_url: str):
    with Ledger.open(store_url) as opened:
        yield opened


# --- the envelope and the fields (pure) -------------------------------------------------------


def test_a_sealed_value_opens_only_with_its_key_event_and_field() -> None:
    key = ClientKey.generate()
    envelope = seal_value(key, "ev-1", "name", NAME)
    assert NAME not in json.dumps(envelope) and envelope["v"] == 1 and envelope["k"] == key.id
    assert open_value(key, "ev-1", "name", envelope) == NAME
    for event_id, field in (("ev-2", "name"), ("ev-1", "email")):
        with pytest.raises(StoreError, match="fails its integrity check"):
            open_value(key, event_id, field, envelope)
    with pytest.raises(StoreError, match="fails its integrity check"):
        open_value(ClientKey(key.id, ClientKey.generate().secret), "ev-1", "name", envelope)
    with pytest.raises(StoreError, match="envelope version 2"):
        open_value(key, "ev-1", "name", {**envelope, "v": 2})


def test_personal_fields_are_those_marked_and_read_as_erased_without_their_key() -> None:
    personal = PersonalFields(registry)
    assert personal.types == {
        "ClientOnboarded", "NoticeGiven", "RelationshipEnded", "IncidentReported", "ContractBreached", "NeedOutgrown",
        "SurveyInvited", "SurveyAnswered",
    }
    event = Event.new("zq", ClientOnboarded(name=NAME, email=EMAIL, segment="retail"), "2026-01-05")
    key = ClientKey.generate()
    sealed = personal.seal(event, registry.encode(event.payload), {"zq": key})
    assert sealed["segment"] == "retail" and personal.is_sealed("ClientOnboarded", sealed)
    opened = personal.open(event.id, "ClientOnboarded", dict(sealed), key)
    assert opened == {"name": NAME, "email": EMAIL, "segment": "retail"}
    assert personal.open(event.id, "ClientOnboarded", dict(sealed), None) == {"name": ERASED, "segment": "retail"}
    assert personal.open(event.id, "ClientOnboarded", dict(sealed), ClientKey.generate()) == {"name": ERASED, "segment": "retail"}
    legacy = {"name": NAME, "email": EMAIL}
    assert personal.open(event.id, "ClientOnboarded", dict(legacy), None) == legacy  # stored before encryption
    assert not personal.needs_key(WorkLogged(hours=1.0, billable=True))
    assert not personal.needs_key(RelationshipEnded(initiated_by="us"))


# --- the stores ---------------------------------------------------------------------------------


def test_personal_fields_are_sealed_before_they_are_written_and_read_back_whole(ledger, store_url) -> None:
    departed(ledger)
    assert absent(stored_bytes(store_url), *SECRETS, KEPT_NAME) == []
    (onboarded, *_rest) = ledger.events("zq")
    assert (onboarded.payload.name, onboarded.payload.email) == (NAME, EMAIL)
    assert ledger.surveys.answers("zq")[0].payload.what_to_change == TEXT
    assert [e.payload.name for e in ledger.store.read_all() if e.type == "ClientOnboarded"] == [NAME, KEPT_NAME]
    assert set(ledger.store.client_keys(["zq", "yk", "nobody"])) == {"zq", "yk"}


def test_events_without_personal_values_need_no_key(ledger) -> None:
    ledger.append([Event.new("plain", WorkLogged(hours=1.0, billable=True), "2026-01-01"),
                   Event.new("plain", RelationshipEnded(initiated_by="us"), "2026-01-02")])
    assert ledger.store.client_keys(["plain"]) == {}


def test_an_append_that_fails_leaves_no_key_behind(ledger) -> None:
    def batch():
        yield Event.new("gone", ClientOnboarded(name=NAME), "2026-01-01")
        raise InvalidEvent("bad event at the end")

    with pytest.raises(InvalidEvent):
        ledger.append(batch())
    ledger.record("late", WorkLogged(hours=1.0, billable=True), "2026-01-01")
    with pytest.raises(ConcurrencyError):
        ledger.append([Event.new("late", ClientOnboarded(name=NAME), "2026-01-01")], expected_version=0)
    assert ledger.store.client_keys(["gone", "late"]) == {}


def _append_first_events(url: str, start, worker: int) -> None:
    store = open_store(url)
    start.wait()
    for n in range(15):
        store.append([Event.new(f"new-{n}", ClientOnboarded(name=f"Person {n} by {worker}"), "2026-01-01")])
    store.close()


def test_processes_appending_a_clients_first_events_at_once_share_one_key(store_url) -> None:
    open_store(store_url).close()  # the schema exists before the race
    context = multiprocessing.get_context("fork")
    start = context.Barrier(3)
    workers = [context.Process(target=_append_first_events, args=(store_url, start, w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    with Ledger.open(store_url) as ledger:
        for n in range(15):
            names = sorted(e.payload.name for e in ledger.events(f"new-{n}"))
            assert names == [f"Person {n} by {w}" for w in range(3)]
        assert len(ledger.store.client_keys([f"new-{n}" for n in range(15)])) == 15


def test_erasing_a_client_forgets_its_personal_data_and_nothing_else(ledger, store_url, tmp_path, monkeypatch) -> None:
    departed(ledger)
    before = figures(ledger)
    head = ledger.store.head_position()
    erasure = ledger.erase("zq", requested_by="Zelda, by e-mail")

    assert erasure.key_destroyed and not erasure.already_erased and erasure.warnings == []
    assert erasure.erased_events == 5  # onboarding, incident, departure, invitation, answer
    assert (erasure.event.type, erasure.event.position, ledger.store.head_position()) == ("PersonalDataErased", head + 1, head + 1)
    assert ledger.store.client_keys(["zq"]) == {}
    assert absent(stored_bytes(store_url), *SECRETS) == []

    onboarded = ledger.events("zq")[0].payload
    assert (onboarded.name, onboarded.email, onboarded.monthly_value) == (ERASED, None, 1200.0)
    (answer,) = ledger.surveys.answers("zq")
    assert (answer.payload.what_to_change, answer.payload.primary_reason, answer.payload.recommend) == (ERASED, "missed_deadlines", 2)
    assert ledger.surveys.invitations("zq")[0].email is None
    assert ledger.events("yk")[0].payload.name == KEPT_NAME  # others keep theirs

    # every figure that is not personal is the same: the learning report still counts the client
    assert figures(ledger) == before
    report = ledger.learning.report().to_json()
    assert (report["summary"]["departed"], report["summary"]["answered"]) == (1, 1)
    assert (report["reasons"][0]["code"], report["reasons"][0]["primary"]) == ("missed_deadlines", 1)
    assert report["answers"][0].items() >= {"client": "zq", "text": ERASED}.items()
    assert absent(ledger.learning.report().to_text(), *SECRETS) == []
    assert absent(render_html(ledger.learning.report().to_json(), full_page=True), *SECRETS) == []

    exported = run("--db", store_url, "export").stdout
    assert absent(exported, *SECRETS) == [] and ERASED in exported and KEPT_NAME in exported
    for line in map(json.loads, exported.splitlines()):
        assert not any(isinstance(value, dict) for value in line["data"].values()), line  # no envelope either
    for fmt in ("csv", "json"):
        answers = run("--db", store_url, "survey", "answers", "--format", fmt)
        assert answers.exit_code == 0 and absent(answers.stdout, *SECRETS) == [] and ERASED in answers.stdout

    clean_environment(monkeypatch)
    ledger.surveys.owner.set_password(PASSWORD)
    app = make_app(store_url, tmp_path)
    try:
        owner = app.test_client()
        page = owner.get("/owner/login").get_data(as_text=True)
        assert owner.post("/owner/login", data={"csrf_token": csrf_token(page), "password": PASSWORD}).status_code == 303
        for path in ("/owner/", "/owner/clients/zq", "/owner/invitations", "/owner/learning/"):
            html = owner.get(path).get_data(as_text=True)
            assert absent(html, *SECRETS) == [], path
        assert ERASED in owner.get("/owner/clients/zq").get_data(as_text=True)
        assert KEPT_NAME in owner.get("/owner/clients/yk").get_data(as_text=True)
    finally:
        close_app(app)


def test_stored_folds_hold_no_personal_data_and_survive_an_erasure_unchanged(ledger, store_url) -> None:
    departed(ledger)
    before = ledger.decisions.evaluate(["zq"], as_of=AS_OF)
    (tail,) = ledger.store.read_folds(["zq"], format=ledger.folds.format)
    assert tail.fold is not None and tail.fold.version == ledger.version("zq")  # the evaluate stored the fold
    assert absent(tail.fold.data, *SECRETS) == []  # it holds ids, moments, amounts and flags, never a personal field

    ledger.erase("zq")
    assert absent(stored_bytes(store_url), *SECRETS) == []  # client_folds included
    elsewhere = Ledger.open(store_url)  # another process: reads the stored fold, then the erasure event
    try:
        assert [d.to_json() for d in elsewhere.decisions.evaluate(["zq"], as_of=AS_OF)] == [d.to_json() for d in before]
    finally:
        elsewhere.close()


def test_erasing_again_changes_nothing(ledger) -> None:
    departed(ledger)
    first = ledger.erase("zq")
    head = ledger.store.head_position()
    again = ledger.erase("zq", requested_by="asked twice")
    assert (again.already_erased, again.key_destroyed, again.event) == (True, False, first.event)
    assert ledger.store.head_position() == head
    assert [e.type for e in ledger.events("zq")].count("PersonalDataErased") == 1


def test_a_client_without_personal_data_gets_the_record_of_the_request(ledger) -> None:
    ledger.record("plain", WorkLogged(hours=1.0, billable=True), "2026-01-01")
    erasure = ledger.erase("plain")
    assert (erasure.key_destroyed, erasure.already_erased, erasure.erased_events) == (False, False, 0)
    assert ledger.erase("plain").already_erased


def test_personal_data_recorded_after_an_erasure_gets_a_new_key(ledger) -> None:
    departed(ledger)
    ledger.erase("zq")
    ledger.record("zq", ClientOnboarded(name="Zelda again"), "2026-12-01")
    names = [e.payload.name for e in ledger.events("zq") if e.type == "ClientOnboarded"]
    assert names == [ERASED, "Zelda again"]
    second = ledger.erase("zq")
    assert second.key_destroyed and not second.already_erased
    assert [e.payload.name for e in ledger.events("zq") if e.type == "ClientOnboarded"] == [ERASED, ERASED]


def test_erasing_an_unknown_client_or_a_system_stream_is_refused(ledger) -> None:
    with pytest.raises(UnknownClient, match="no events are stored for client 'nobody'"):
        ledger.erase("nobody")
    with pytest.raises(InvalidEvent, match="is not a client id"):
        ledger.erase("$rules")


def test_a_ciphertext_moved_to_another_event_does_not_open(store_url) -> None:
    """Altering the stored data (here: copying one event's envelope into another's) is damage, not erasure."""
    with Ledger.open(store_url) as ledger:
        ledger.record("zq", ClientOnboarded(name=NAME), "2026-01-01", id="first")
        ledger.record("zq", ClientOnboarded(name="placeholder"), "2026-01-02", id="second")
    _raw_insert(store_url, "zq", "forged", "ClientOnboarded", _raw_data(store_url, "first"))
    with Ledger.open(store_url) as ledger:
        with pytest.raises(StoreError, match="event forged: the encrypted field name fails its integrity check"):
            ledger.events("zq")


# --- the bytes of a destroyed key ---------------------------------------------------------------


def test_sqlite_leaves_no_byte_of_a_destroyed_key_in_its_files(db_url) -> None:
    with Ledger.open(db_url) as ledger:
        ledger.append([Event.new(f"c{n:03}", ClientOnboarded(name=f"Client {n}"), "2026-01-01") for n in range(400)])
        secret = ledger.store.client_keys(["c123"])["c123"].secret
        assert secret in stored_bytes(db_url)
        erasure = ledger.erase("c123")
        assert erasure.lingering is None
        assert Path(db_url + "-wal").stat().st_size == 0  # the truncating checkpoint emptied the log
        assert secret not in stored_bytes(db_url)
        assert ledger.events("c124")[0].payload.name == "Client 124"


def test_postgresql_rewrites_the_key_table_so_its_pages_hold_no_destroyed_key(pg_url) -> None:
    with Ledger.open(pg_url) as ledger:
        ledger.append([Event.new(f"c{n:03}", ClientOnboarded(name=f"Client {n}"), "2026-01-01") for n in range(400)])
        secret = ledger.store.client_keys(["c123"])["c123"].secret
        assert secret in _raw_pages(pg_url)
        assert ledger.erase("c123").lingering is None
        assert secret not in _raw_pages(pg_url)
        assert ledger.events("c124")[0].payload.name == "Client 124"


@pytest.mark.slow
def test_postgresql_erasure_waits_for_older_transactions_and_names_one_still_open(pg_url) -> None:
    """The rewrite keeps a deleted row for any transaction older than the deletion: the erasure waits for those
    to end, and says so when one outlasts the wait."""
    read_keys = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(pg_url.rpartition("schema=")[2], "client_keys"))
    with Ledger.open(pg_url) as ledger:
        ledger.append([Event.new(f"c{n:03}", ClientOnboarded(name=f"Client {n}"), "2026-01-01") for n in range(40)])
        secrets = {client: key.secret for client, key in ledger.store.client_keys(["c010", "c020"]).items()}
        with psycopg.connect(SERVER_URL) as older:  # a report reading keys from before the erasures
            older.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            older.execute(read_keys)
            outlasted = ledger.erase("c010")
            assert re.match(r"\d+ transactions? older than the erasure (was|were) still open after 3 s: the destroyed "
                            r"key's bytes remain in the pages of client_keys", outlasted.lingering or ""), outlasted
            assert outlasted.warnings == [outlasted.lingering]
            assert secrets["c010"] in _raw_pages(pg_url)
            older.rollback()

            older.execute(read_keys)
            ending = threading.Timer(0.5, older.rollback)
            ending.start()
            waited = ledger.erase("c020")
            ending.join()
        assert waited.lingering is None
        pages = _raw_pages(pg_url)
        assert secrets["c020"] not in pages and secrets["c010"] not in pages
        assert ledger.events("c021")[0].payload.name == "Client 21"


def _raw_pages(url: str) -> bytes:
    """Every page of ``client_keys`` as PostgreSQL stores it (deleted rows included), through pageinspect."""
    schema = url.rpartition("schema=")[2]
    table = f"{schema}.client_keys"
    with psycopg.connect(SERVER_URL, autocommit=True) as connection:
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        except psycopg.errors.UniqueViolation:  # another test run created it at the same moment
            pass
        pages = connection.execute("SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", (table,)).fetchone()[0]
        return b"".join(
            connection.execute("SELECT get_raw_page(%s, %s)", (table, page)).fetchone()[0] for page in range(pages)
        )


# --- databases from before encryption ----------------------------------------------------------


def test_plaintext_stored_before_encryption_is_read_as_it_is_and_named_by_erase(store_url) -> None:
    with Ledger.open(store_url) as ledger:
        ledger.record("old", WorkLogged(hours=1.0, billable=True), "2026-01-01")
    _downgrade(store_url)
    _raw_insert(store_url, "old", "legacy-1", "ClientOnboarded", {"name": NAME, "email": EMAIL})
    with Ledger.open(store_url) as ledger:  # upgrades the schema
        ledger.record("old", RelationshipEnded(initiated_by="client", reason=REASON), "2026-02-01")
        onboarded, _, ended = ledger.events("old")
        assert (onboarded.payload.name, onboarded.payload.email, ended.payload.reason) == (NAME, EMAIL, REASON)
        assert absent(stored_bytes(store_url), REASON) == []  # new events are sealed

        erasure = ledger.erase("old")
        assert (erasure.erased_events, erasure.plaintext_events) == (1, ("legacy-1",))
        assert "1 event of old was stored before clientrules encrypted personal fields" in erasure.warnings[0]
        assert ledger.events("old")[2].payload.reason == ERASED
        assert ledger.events("old")[0].payload.name == NAME  # honest: the append-only log still has it

    result = run("--db", store_url, "erase", "old", "--yes")
    assert result.exit_code == 0
    assert result.stdout == f"old was erased on {erasure.event.at.date}: nothing left to erase\n"
    assert result.stderr.startswith("warning: 1 event of old was stored before clientrules encrypted")


def _downgrade(url: str) -> None:
    """Make the store look like one from before client keys (SQLite schema 1, PostgreSQL migration 3)."""
    if url.startswith("postgresql://"):
        schema = url.rpartition("schema=")[2]
        with psycopg.connect(SERVER_URL, autocommit=True) as connection:
            connection.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            connection.execute("DROP TABLE client_keys; DROP FUNCTION client_keys_are_never_changed();"
                               " DROP TABLE client_folds, client_facts, engine_answers; DROP TABLE watch_checkpoint, watched_clients, deliveries, portfolio_standings, kept_moments;"
                               " DROP TRIGGER events_stored ON events; DROP FUNCTION notify_events_stored();"
                               " DROP FUNCTION append_checked_alone, append_alone; DROP INDEX events_by_invoice, events_first;"
                               " DELETE FROM schema_migrations WHERE version >= 4")
        return
    with closing(sqlite3.connect(url)) as connection, connection:
        later = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name not in ("events", "meta", "schema_migrations")
        ]
        connection.executescript(
            "".join(f"DROP TABLE {name};" for name in later)
            + "DROP INDEX events_by_invoice; DROP INDEX events_first; DELETE FROM schema_migrations WHERE version > 1;"
        )


def _raw_insert(url: str, client: str, event_id: str, type_name: str, data: dict) -> None:
    """An event written straight into the table, as an older clientrules wrote it."""
    text = json.dumps(data)
    at = Instant.parse("2025-12-31")
    if url.startswith("postgresql://"):
        schema = url.rpartition("schema=")[2]
        with psycopg.connect(SERVER_URL, autocommit=True) as connection, connection.transaction():
            connection.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
            position = connection.execute("UPDATE position_counter SET last = last + 1 RETURNING last").fetchone()[0]
            version = connection.execute("SELECT MAX(version) + 1 FROM events WHERE stream = %s", (client,)).fetchone()[0]
            connection.execute(
                "INSERT INTO events (position, id, stream, version, type, schema, at_key, at_text, data)"
                " VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s)",
                (position, event_id, client, version, type_name, at.key, at.text, text),
            )
        return
    with closing(sqlite3.connect(url)) as connection, connection:
        connection.execute(
            "INSERT INTO events (id, stream, version, type, schema, at_key, at_text, data, recorded_at)"
            " SELECT ?, ?, MAX(version) + 1, ?, 1, ?, ?, ?, 'then' FROM events WHERE stream = ?",
            (event_id, client, type_name, at.key, at.text, text, client),
        )


def _raw_data(url: str, event_id: str) -> dict:
    if url.startswith("postgresql://"):
        schema = url.rpartition("schema=")[2]
        with psycopg.connect(SERVER_URL, autocommit=True) as connection:
            query = sql.SQL("SELECT data FROM {}.events WHERE id = %s").format(sql.Identifier(schema))
            return json.loads(connection.execute(query, (event_id,)).fetchone()[0])
    with closing(sqlite3.connect(url)) as connection:
        return json.loads(connection.execute("SELECT data FROM events WHERE id = ?", (event_id,)).fetchone()[0])


# --- the command --------------------------------------------------------------------------------


def test_the_erase_command_needs_yes_and_names_unknown_clients(store_url) -> None:
    with Ledger.open(store_url) as ledger:
        departed(ledger)
    refused = run("--db", store_url, "erase", "zq")
    assert (refused.exit_code, refused.stderr) == (1, "error: erasing the personal data of zq cannot be undone: run again with --yes\n")
    with Ledger.open(store_url) as ledger:
        assert ledger.events("zq")[0].payload.name == NAME
    unknown = run("--db", store_url, "erase", "nobody", "--yes")
    assert (unknown.exit_code, unknown.stderr) == (1, "error: no events are stored for client 'nobody'\n")
    done = run("--db", store_url, "erase", "zq", "--yes", "--requested-by", "the client, by phone")
    assert (done.exit_code, done.stdout, done.stderr) == (0, f"erased zq: the personal fields of 5 events now read as {ERASED}\n", "")
    with Ledger.open(store_url) as ledger:
        (erased,) = [e.payload for e in ledger.events("zq") if isinstance(e.payload, PersonalDataErased)]
        assert erased.requested_by == "the client, by phone"
    assert "nothing left to erase" in run("--db", store_url, "erase", "zq", "--yes").stdout


def test_the_erase_command_deletes_the_outbox_copies_of_the_clients_mail(store_url, tmp_path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    outbox = tmp_path / "outbox"
    monkeypatch.setenv("CLIENTRULES_OUTBOX", str(outbox))
    with Ledger.open(store_url) as ledger:
        for client, name, email in (("zq", NAME, EMAIL), ("zq-2", KEPT_NAME, "yk@example.test")):
            ledger.record(client, ClientOnboarded(name=name, email=email), "2026-01-05")
            ledger.record(client, RelationshipEnded(initiated_by="client"), "2026-10-30")
    for client in ("zq", "zq-2"):  # "zq-2" starts like "zq-": its mail stays
        assert run("--db", store_url, "survey", "invite", client).exit_code == 0
    assert run("--db", store_url, "survey", "remind", "--after-days", "0").exit_code == 0
    kept = sorted(outbox.glob("zq-2-*.eml"))
    mailed_to_zq = sorted(set(outbox.glob("*.eml")) - set(kept))
    assert len(kept) == len(mailed_to_zq) == 2  # an invitation and a reminder each
    assert EMAIL.encode() in mailed_to_zq[0].read_bytes()

    done = run("--db", store_url, "erase", "zq", "--yes")
    assert done.exit_code == 0
    assert done.stdout.splitlines()[1:] == [f"deleted the outbox copy {path}" for path in mailed_to_zq]
    assert sorted(outbox.glob("*.eml")) == kept


def test_an_erasure_drops_the_links_this_process_remembers_of_the_client(ledger: Ledger) -> None:
    """A link opened (its page shown, its answers stored) is remembered with its invitation, e-mail address
    included; erasing the client drops its links at once, and those of other clients stay."""
    departed(ledger)  # zq's link was opened to store her answers
    ledger.record("yk", RelationshipEnded(initiated_by="client"), "2026-10-30")
    ledger.surveys.open_link(ledger.surveys.invite("yk").token)
    remembered = ledger.surveys._opened
    assert sorted(link.invitation.email for link in remembered.values()) == ["yk@example.test", EMAIL]
    ledger.erase("zq")
    assert [link.invitation.client for link in remembered.values()] == ["yk"]
