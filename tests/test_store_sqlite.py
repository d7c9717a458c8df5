"""What only the SQLite store does: the file, its triggers and pragmas, processes and threads sharing it."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from conftest import run_in_threads
from hypothesis import given, settings
from hypothesis import strategies as st
from store_checks import assert_consistent

from clientrules.domain.errors import StoreError
from clientrules.domain.events import Event, Registry, WorkLogged
from clientrules.domain.events.types import Payload
from clientrules.adapters.store import open_store
from clientrules.adapters.store.sqlite import CHANGED_CLIENTS, READ_STORED_FACTS, SCHEMA_VERSION, SqliteStore, sqlite_path
from clientrules.ports import StoredFacts

WRITERS = 2
EVENTS_PER_WRITER = 300
BATCH = 5
SHARED_CLIENTS = 4


def work(client: str, at: str = "2026-03-01", *, id: str | None = None) -> Event:
    return Event.new(client, WorkLogged(hours=1.0, billable=True), at, id=id)


@pytest.fixture
def store(db_url):
    opened = SqliteStore(db_url)
    yield opened
    opened.close()


def test_the_database_refuses_update_and_delete_of_events(store, db_url):
    store.append([work("a", id="x")])
    raw = sqlite3.connect(db_url)
    try:
        for statement in ("UPDATE events SET data = '{}'", "DELETE FROM events", "UPDATE events SET stream = 'b'"):
            with pytest.raises(sqlite3.DatabaseError, match="events are append-only"):
                raw.execute(statement)
        raw.rollback()
    finally:
        raw.close()
    assert [(e.id, e.data) for e in store.read_client("a")] == [("x", {"hours": 1.0, "billable": True})]


def test_the_clients_changed_since_a_position_are_found_from_the_events_after_it_alone(store, db_url):
    store.append([work(f"c{n}") for n in range(20)])
    raw = sqlite3.connect(db_url)
    try:
        plan = " ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {CHANGED_CLIENTS}", (18,)))
    finally:
        raw.close()
    assert "USING INTEGER PRIMARY KEY (rowid>?)" in plan and "INDEX" not in plan.replace("PRIMARY KEY", ""), plan
    assert store.changed_clients(18) == ["c18", "c19"]


def test_stored_facts_are_read_with_one_index_seek_per_client_not_a_scan_of_events(store, db_url):
    store.append([work(f"c{n % 20}", id=f"e{n}") for n in range(200)])
    store.write_stored_facts([StoredFacts(f"c{n}", 10, "facts-1", "") for n in range(20)])
    raw = sqlite3.connect(db_url)
    try:
        raw.execute("ANALYZE")
        plan = " ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {READ_STORED_FACTS}", ('["c1", "c2"]', "facts-1")))
    finally:
        raw.close()
    assert "SCAN events" not in plan and "SEARCH events USING COVERING INDEX" in plan and "(stream=?)" in plan, plan
    assert set(store.read_stored_facts(["c1", "c2"], format="facts-1")) == {"c1", "c2"}


@pytest.mark.parametrize("started_by", [False, True])
def test_the_clients_are_listed_from_their_first_events_not_by_grouping_every_event(store, db_url, started_by):
    from clientrules.adapters.store.sqlite import CLIENT_IDS, CLIENT_IDS_STARTED_BY

    store.append([work(f"c{n % 20}", id=f"e{n}") for n in range(200)])
    raw = sqlite3.connect(db_url)
    try:
        raw.execute("ANALYZE")
        sql = CLIENT_IDS_STARTED_BY if started_by else CLIENT_IDS
        plan = " ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", (0,) if started_by else ()))
    finally:
        raw.close()
    assert "INDEX events_first" in plan and "TEMP B-TREE" not in plan, plan
    assert store.client_ids() == [f"c{n}" for n in range(20)]


def test_the_file_is_in_wal_mode_with_the_schema_version(store, db_url):
    store.append([work("a")])
    raw = sqlite3.connect(db_url)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()


def _answers_kept(store: SqliteStore) -> bool:
    return store.write_engine_answers("rules-1", {"s1": "a1"}) == 1 and store.read_engine_answers("rules-1") == {"s1": "a1"}


@pytest.mark.parametrize(
    ("downgrade", "works"),
    [
        ("DROP TABLE engine_answers; DROP INDEX events_first; DELETE FROM schema_migrations WHERE version >= 9;",
         _answers_kept),
        ("DROP INDEX events_first; DELETE FROM schema_migrations WHERE version = 10;", lambda store: store.client_ids() == ["a"]),
    ],
    ids=["schema 8", "schema 9"],
)
def test_a_file_of_an_older_schema_is_given_what_it_lacks_when_opened(store, db_url, downgrade, works):
    store.append([work("a", id="x")])
    store.close()
    raw = sqlite3.connect(db_url)
    try:
        raw.executescript(downgrade)
    finally:
        raw.close()
    reopened = SqliteStore(db_url)
    try:
        assert works(reopened)
        assert [event.id for event in reopened.read_client("a")] == ["x"]
        connection = reopened._connection()
        assert connection.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION == 10
        assert connection.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_first'").fetchone()[0] == 1
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("query", "level"), [("", 1), ("?synchronous=full", 2), ("?synchronous=NORMAL", 1), ("?synchronous=extra", 3)]
)
def test_the_durability_setting_comes_from_the_url(tmp_path, query, level):
    opened = open_store(f"sqlite:///{tmp_path}/d.db{query}")
    try:
        assert opened._connection().execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        opened.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///x.db?synchronous=sometimes", "synchronous='sometimes' is not one of"),
        ("sqlite:///x.db?cache=shared", "unknown SQLite URL option 'cache'"),
        ("sqlite://x.db", "is not a SQLite URL"),
        (":memory:", "needs a file path"),
        ("mysql://host/db", "unknown database URL scheme 'mysql'"),
    ],
)
def test_bad_urls_are_one_clear_error(url, message):
    with pytest.raises(StoreError, match=message):
        open_store(url)


def test_url_forms_name_the_file():
    assert sqlite_path("data/c.db") == (Path("data/c.db"), {})
    assert sqlite_path("sqlite:///data/c.db") == (Path("data/c.db"), {})
    assert sqlite_path("sqlite:////tmp/c.db?synchronous=full") == (Path("/tmp/c.db"), {"synchronous": "full"})


def test_opening_without_create_refuses_a_missing_file(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no database at .*missing.db"):
        open_store(str(missing), create=False)
    assert not missing.exists()


def test_a_database_from_a_newer_version_is_refused(store, db_url):
    raw = sqlite3.connect(db_url)
    raw.execute("INSERT INTO schema_migrations VALUES (99, 'later')")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SqliteStore(db_url)


def test_an_upcaster_applies_to_events_stored_in_an_old_shape(db_url):
    @attrs.frozen(kw_only=True)
    class Call(Payload):
        TYPE: ClassVar[str] = "Call"
        SCHEMA: ClassVar[int] = 2
        hours: float

    registry = Registry([Call])
    registry.register_upcaster("Call", 1, lambda data: {"hours": data.pop("minutes") / 60, **data})
    store = SqliteStore(db_url, registry=registry)
    try:
        store.append([Event.new("a", Call(hours=2.0), "2026-03-02", id="new")])
        raw = sqlite3.connect(db_url)
        raw.execute(
            "INSERT INTO events (id, stream, version, type, schema, at_key, at_text, data, recorded_at)"
            " VALUES ('old', 'a', 2, 'Call', 1, 0, '1970-01-01', '{\"minutes\": 90, \"room\": \"B\"}', 'then')"
        )
        raw.commit()
        raw.close()
        old, new = store.read_client("a")
        assert (old.id, old.payload.hours, old.payload.extra) == ("old", 1.5, {"room": "B"})
        assert (new.id, new.payload.hours) == ("new", 2.0)
    finally:
        store.close()


def test_a_writer_waits_for_another_holding_the_lock(store, db_url):
    holder = sqlite3.connect(db_url, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        result = store.append([work("a")])
    finally:
        release.join()
        holder.close()
    assert result.stored == 1


def test_threads_share_one_store(store):
    def write(thread: int) -> None:
        for i in range(20):
            store.append([work(f"t{thread}", id=f"t{thread}-{i}")])
            store.read_client(f"t{thread}")

    assert run_in_threads(write, 4) == []
    assert [e.position for e in store.read_all()] == list(range(1, 81))


def test_connections_of_ended_threads_are_closed(store):
    def read() -> None:
        store.read_client("a")

    for _ in range(30):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    read()
    assert len(store._connections) <= 2


def _append_from_another_process(url: str, writer: int, start: multiprocessing.Event) -> None:
    store = open_store(url)
    start.wait()
    for first in range(0, EVENTS_PER_WRITER, BATCH):
        store.append(
            [work(f"shared-{(first + i) % SHARED_CLIENTS}", id=f"w{writer}-{first + i}") for i in range(BATCH)]
        )
    store.close()


def test_two_processes_appending_at_once_keep_positions_and_versions_dense(store, db_url):
    context = multiprocessing.get_context("fork")
    start = context.Event()
    writers = [context.Process(target=_append_from_another_process, args=(db_url, n, start)) for n in range(WRITERS)]
    for writer in writers:
        writer.start()
    start.set()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0] * WRITERS

    events = assert_consistent(store)  # positions 1..N, every client's versions 1..n, the file sound
    assert len(events) == WRITERS * EVENTS_PER_WRITER
    writers_seen = {event.id.split("-")[0] for event in events}
    assert writers_seen == {f"w{n}" for n in range(WRITERS)}


def test_a_closed_store_refuses_work(db_url):
    store = SqliteStore(db_url)
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.read_client("a")


def test_reading_back_does_not_revalidate_but_gives_equal_events(store):
    events = [work("a", f"2026-03-{day:02d}", id=f"d{day}") for day in range(1, 29)]
    store.append(events)
    assert store.read_client("a") == [e.stored(n, n) for n, e in enumerate(events, start=1)]


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path):
    not_a_db = tmp_path / "events.jsonl"
    not_a_db.write_text('{"client": "acme"}\n' * 100)
    with pytest.raises(StoreError, match="events.jsonl: file is not a database"):
        open_store(str(not_a_db))
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store(str(tmp_path))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
            st.sampled_from([-600, -120, 0, 60, 330, 840]),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=10),
)
def test_any_history_reads_back_in_utc_order_then_append_order(moments, batch):
    texts = [
        moment.date().isoformat()
        if date_only
        else moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset))).isoformat()
        for moment, offset, date_only in moments
    ]
    events = [work("a", text, id=f"e{n}") for n, text in enumerate(texts)]
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "h.db")
        try:
            for start in range(0, len(events), batch):
                store.append(events[start : start + batch])
            read = store.read_client("a")
            until = events[len(events) // 2].at
            read_until = store.read_client("a", until=until)
        finally:
            store.close()
    expected = sorted(events, key=lambda e: (e.at.utc, int(e.id[1:])))
    assert [e.id for e in read] == [e.id for e in expected]
    assert [e.id for e in read_until] == [e.id for e in expected if e.at.utc <= until.utc]
