"""The PostgreSQL store against the real server: database-enforced rules, migrations (racing processes: tests/test_concurrency.py)."""

from __future__ import annotations

import multiprocessing
import threading

import psycopg
import pytest
from psycopg import sql

from clientrules.domain.errors import ConcurrencyError, StoreError
from clientrules.domain.events import ClientOnboarded, Event, InvoiceIssued, PaymentReceived, WorkLogged
from clientrules.adapters.store import open_store
from clientrules.adapters.store import postgres_schema
from clientrules.adapters.store.postgres import PostgresStore


def work(client: str, at: str = "2026-03-01", *, id: str | None = None) -> Event:
    return Event.new(client, WorkLogged(hours=1.0, billable=True), at, id=id)


def test_the_database_refuses_to_change_or_delete_events(pg_url):
    store = PostgresStore(pg_url)
    store.append([work("acme", id="e-1")])
    with store.connection() as connection:
        for statement in ("UPDATE events SET data = '{}'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(psycopg.Error, match="events are append-only"):
                connection.execute(statement)
    assert [e.id for e in store.read_all()] == ["e-1"]
    store.close()


def test_the_same_batch_appended_at_once_by_two_writers_is_stored_once(pg_url):
    store = open_store(pg_url)
    batch = [work("acme", id=f"e-{n}") for n in range(50)]
    results = []
    barrier = threading.Barrier(2)

    def append() -> None:
        barrier.wait()
        results.append(store.append(batch))

    threads = [threading.Thread(target=append) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((r.stored, r.already_present) for r in results) == [(0, 50), (50, 0)]
    assert [e.position for e in store.read_all()] == list(range(1, 51))
    store.close()


def test_a_money_event_checked_against_an_invoice_that_changed_since_is_not_appended_alone(pg_url):
    """append_checked_alone appends only when the invoice still has as many money events as its books were checked on."""
    store = open_store(pg_url)
    store.append([Event.new("acme", InvoiceIssued(invoice_id="INV-1", amount=100.0, due_on="2026-03-31"), "2026-03-01")])
    payment = Event.new("acme", PaymentReceived(invoice_id="INV-1", amount=60.0), "2026-03-10")
    row = (payment.id, "acme", None, PaymentReceived.TYPE, PaymentReceived.SCHEMA, payment.at.key, payment.at.text,
           '{"invoice_id":"INV-1","amount":60.0}')
    call = "SELECT * FROM append_checked_alone(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL)"
    store.append([Event.new("acme", PaymentReceived(invoice_id="INV-1", amount=60.0), "2026-03-09")])
    assert store.read(call, (*row, "INV-1", 1)) == []  # checked when the invoice had 1 money event; it has 2 now
    assert store.head_position() == 2
    assert store.read(call, (*row, "INV-1", 2)) == [(3, 3)]
    store.close()


def test_a_client_first_personal_field_is_stored_with_the_key_that_seals_it(pg_url):
    """append_checked_alone stores an event with its client's new key, and nothing for a client that has a key already."""
    store = open_store(pg_url)
    store.append([Event.new("acme", ClientOnboarded(name="Acme Ltd", email="ops@acme.test"), "2026-03-01")])
    key = store.client_keys(["acme"])["acme"]
    assert store.read_client("acme")[0].payload.name == "Acme Ltd"
    sealed = Event.new("acme", ClientOnboarded(name="Acme Two"), "2026-03-02")
    row = (sealed.id, "acme", None, ClientOnboarded.TYPE, ClientOnboarded.SCHEMA, sealed.at.key, sealed.at.text,
           '{"name":"sealed with another key"}', None, None, "another", bytes(32))
    assert store.read("SELECT * FROM append_checked_alone(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", row) == []
    store.append([sealed])  # the usual path seals it with the client's key
    assert store.client_keys(["acme"]) == {"acme": key}
    assert [e.payload.name for e in store.read_client("acme")] == ["Acme Ltd", "Acme Two"]
    store.close()


def test_a_conflict_stores_nothing_and_gives_the_position_back(pg_url):
    store = open_store(pg_url)
    store.append([work("acme")], expected_version=0)
    with pytest.raises(ConcurrencyError, match="'acme' is at version 1, not the expected 0"):
        store.append([work("acme"), work("acme")], expected_version=0)
    assert store.append([work("bob")]).last_position == 2
    store.close()


def test_migrations_are_recorded_and_idempotent(pg_url):
    store = PostgresStore(pg_url)
    with store.direct_connection() as connection:
        assert postgres_schema.migrate(connection, store.schema) == []
        assert postgres_schema.applied_versions(connection, store.schema) == [m.version for m in postgres_schema.MIGRATIONS]
    store.close()
    PostgresStore(pg_url).close()


def test_a_schema_newer_than_this_library_is_refused(pg_url):
    store = PostgresStore(pg_url)
    with store.direct_connection() as connection:
        connection.execute(
            sql.SQL("INSERT INTO {}.schema_migrations (version, description) VALUES (99, 'future')").format(
                sql.Identifier(store.schema)
            )
        )
    store.close()
    with pytest.raises(StoreError, match="has schema version 99; this clientrules knows up to"):
        PostgresStore(pg_url)


def test_bad_urls_and_unreachable_servers_are_one_line_errors():
    with pytest.raises(StoreError, match="schema='Bad-Name' is not a schema name"):
        open_store("postgresql://postgres@127.0.0.1:5432/test?schema=Bad-Name")
    with pytest.raises(StoreError, match=r"^cannot connect to PostgreSQL at 127.0.0.1:1/test: ") as error:
        open_store("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    assert "\n" not in str(error.value)


def _append_in_child(store: PostgresStore, results: multiprocessing.Queue) -> None:
    results.put(store.append([work("child", id="from-child")]).last_position)
    store.close()


def test_a_forked_process_gets_connections_of_its_own(pg_url):
    store = PostgresStore(pg_url)
    store.append([work("parent", id="before-fork")])
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_append_in_child, args=(store, results))
    child.start()
    assert results.get(timeout=30) == 2
    child.join(timeout=30)
    assert child.exitcode == 0
    store.append([work("parent", id="after-fork")])  # the parent's pooled connection was left alone
    assert [e.id for e in store.read_all()] == ["before-fork", "from-child", "after-fork"]
    store.close()


def _cli(db: str, *args: str):
    from click.testing import CliRunner

    from clientrules.cli.main import cli

    return CliRunner().invoke(cli, ["--db", db, *args])


def test_db_status_and_migrate_commands(pg_url, tmp_path):
    schema = pg_url.rpartition("schema=")[2]
    status = _cli(pg_url, "db", "status")
    assert status.exit_code == 0
    assert status.stdout.splitlines()[1:] == [
        "migrations applied: none",
        "pending migration 1: events (append-only), position counter, meta  (run: clientrules db migrate)",
        "pending migration 2: evaluation queue for clientrules worker  (run: clientrules db migrate)",
        "pending migration 3: clients whose evaluation failed are set aside with the error  (run: clientrules db migrate)",
        "pending migration 4: per-client data keys for personal fields (deleted to erase a client)  (run: clientrules db migrate)",
        "pending migration 5: each client's fold (a cache of what its facts are computed from)  (run: clientrules db migrate)",
        "pending migration 6: the watcher's checkpoint, schedule and outbox; events stored notify listeners  (run: clientrules db migrate)",
        "pending migration 7: one event appended in one call (one round trip)  (run: clientrules db migrate)",
        "pending migration 8: the owner's portfolio: every client's standing, kept between runs  (run: clientrules db migrate)",
        "pending migration 9: money events found by invoice id (the books' checks read one invoice at a time)  (run: clientrules db migrate)",
        "pending migration 10: the learning loop's kept moments, kept between runs  (run: clientrules db migrate)",
        "pending migration 11: a money event, or a client's first personal field, appended in one call after the"
        " caller's checks  (run: clientrules db migrate)",
        "pending migration 12: each client's latest computed facts (a cache beside its fold)  (run: clientrules db migrate)",
        "pending migration 13: the rules engine's answers by standing, per compiled rule set (a cache)"
        "  (run: clientrules db migrate)",
        "pending migration 14: each client's first event, indexed: the list of clients without grouping every event"
        "  (run: clientrules db migrate)",
    ]
    assert _cli(pg_url, "db", "migrate").stdout == f"schema {schema}: applied migration 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14\n"
    assert _cli(pg_url, "db", "migrate").stdout == f"schema {schema} is up to date (version 14)\n"
    store = open_store(pg_url)
    store.append([work("acme"), work("bolt")])
    store.close()
    assert _cli(pg_url, "db", "status").stdout.splitlines()[1:] == [
        "migrations applied: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14",
        "last position: 2",
        "evaluation queue: 0 clients, filled up to position 0",
    ]
    sqlite = str(tmp_path / "ledger.db")
    missing = _cli(sqlite, "db", "status")
    assert (missing.exit_code, missing.stderr) == (1, f"error: no database at {sqlite} (import events first: clientrules import FILE)\n")
    assert _cli(sqlite, "db", "migrate").stdout == f"SQLite database {sqlite} is up to date\n"
    assert _cli(sqlite, "db", "status").stdout == f"backend: SQLite {sqlite}\nlast position: 0\n"


def _wait_until_blocked_on_a_lock(url: str, application: str) -> None:
    with psycopg.connect(url.partition("?")[0], autocommit=True) as connection:
        for _ in range(5_000):
            row = connection.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application,),
            ).fetchone()
            if row[0]:
                return
            threading.Event().wait(0.002)
    raise AssertionError(f"{application} never waited for a lock")


def test_a_later_append_cannot_commit_before_an_earlier_one_so_a_follower_sees_no_gap(pg_url):
    """The bigserial trap: position 2 must not become visible while position 1 is still uncommitted."""
    first = PostgresStore(pg_url)
    second = PostgresStore(f"{pg_url}&application_name=second-writer")
    reader = PostgresStore(pg_url)
    results = []
    with first.transaction() as connection:
        assert first.append_in(connection, [work("a", id="first")]).last_position == 1
        writer = threading.Thread(target=lambda: results.append(second.append([work("b", id="second")])))
        writer.start()
        _wait_until_blocked_on_a_lock(pg_url, "second-writer")  # on the position counter row
        assert reader.read_all() == []  # neither is visible: no gap for a follower to checkpoint past
    writer.join(timeout=30)
    assert results[0].last_position == 2
    assert [(e.id, e.position) for e in reader.read_all()] == [("first", 1), ("second", 2)]
    for store in (first, second, reader):
        store.close()


def test_the_store_reads_without_jit_unless_the_options_of_its_url_ask_for_it(pg_url):
    separator = "&" if "?" in pg_url else "?"
    for url, expected in ((pg_url, "off"), (f"{pg_url}{separator}options=-c%20jit%3Don", "on")):
        store = PostgresStore(url)
        try:
            assert store.read("SHOW jit") == [(expected,)]
        finally:
            store.close()
