"""The EventStore contract (clientrules/ports.py), run against every backend: SQLite, PostgreSQL and the one in memory.

What only a database shared by several connections can show (two writers, reopening) runs on
the two databases (``store_url``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from conftest import STORE_BACKENDS

from clientrules.domain.errors import ConcurrencyError, InvalidEvent
from clientrules.domain.events import (
    ClientOnboarded,
    Event,
    FollowUpSent,
    Instant,
    RuleSetAdopted,
    WorkLogged,
)
from clientrules.adapters.store import EventStore, open_store
from clientrules.ports import StoredFacts


def work(client: str, at: str, *, id: str | None = None, hours: float = 1.0) -> Event:
    return Event.new(client, WorkLogged(hours=hours, billable=True), at, id=id)


@pytest.fixture(params=[*sorted(STORE_BACKENDS), "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url = "memory:" if request.param == "memory" else STORE_BACKENDS[request.param](request, tmp_path)
    opened = open_store(url)
    yield opened
    opened.close()


def test_an_empty_store_has_nothing(store):
    assert store.head_position() == 0
    assert store.client_version("acme") == 0
    assert store.read_client("acme") == []
    assert store.read_all() == []
    assert store.clients() == []


def test_client_versions_gives_each_client_s_version_in_one_read(store):
    assert store.client_versions([]) == {}
    store.append([work("a", "2026-03-01"), work("b", "2026-03-01"), work("a", "2026-03-02")])
    assert store.client_versions(["a", "nobody", "b", "a"]) == {"a": 2, "nobody": 0, "b": 1}
    assert store.client_versions(["b"]) == {"b": store.client_version("b")}


def test_append_sets_versions_per_client_and_dense_global_positions(store):
    result = store.append([work("a", "2026-03-01"), work("b", "2026-03-01"), work("a", "2026-03-02")])
    assert (result.stored, result.already_present, result.last_position) == (3, 0, 3)
    assert result.version is None  # two clients
    result = store.append([work("a", "2026-03-03")])
    assert (result.version, result.last_position) == (3, 4)
    assert [(e.client, e.version, e.position) for e in store.read_all()] == [
        ("a", 1, 1),
        ("b", 1, 2),
        ("a", 2, 3),
        ("a", 3, 4),
    ]
    assert store.client_version("a") == 3
    assert store.head_position() == 4


def test_events_come_back_as_appended(store):
    event = Event.new("acme", ClientOnboarded(name="Acme", email="a@acme.test", monthly_value=900), "2026-03-01T09:30:00+02:00", id="e-1")
    store.append([event])
    (read,) = store.read_client("acme")
    assert read == event.stored(1, 1)
    assert read.at.text == "2026-03-01T09:30:00+02:00"
    assert read.to_json() == event.to_json()


def test_unknown_data_keys_are_kept(store):
    event = Event.new("acme", WorkLogged(hours=2.0, billable=False, extra={"ticket": "T-9", "tags": ["x"]}), "2026-03-01")
    store.append([event])
    (read,) = store.read_client("acme")
    assert read.data == {"hours": 2.0, "billable": False, "ticket": "T-9", "tags": ["x"]}


def test_numbers_of_any_size_a_store_accepts_read_back_the_same(store):
    extra = {"big": 2**70, "negative": -(2**64), "precise": 0.1 + 0.2, "huge": 1.5e300}
    store.append([Event.new("acme", WorkLogged(hours=2.0, billable=False, extra=extra), "2026-03-01")])
    (read,) = store.read_client("acme")
    assert read.data == {"hours": 2.0, "billable": False, **extra}
    assert [type(value) for value in read.data.values()] == [float, bool, int, int, float, float]


def test_read_client_is_in_time_order_whatever_the_append_order(store):
    store.append([work("a", "2026-03-05", id="late"), work("a", "2026-03-01", id="early"), work("a", "2026-03-03", id="mid")])
    assert [e.id for e in store.read_client("a")] == ["early", "mid", "late"]
    assert [e.version for e in store.read_client("a")] == [2, 3, 1]


def test_time_zones_sort_by_the_utc_moment(store):
    store.append([work("a", "2026-03-01", id="midnight-utc"), work("a", "2026-03-01T01:00:00+02:00", id="23h-utc-before")])
    assert [e.id for e in store.read_client("a")] == ["23h-utc-before", "midnight-utc"]


def test_events_at_the_same_moment_keep_their_append_order(store):
    store.append([work("a", "2026-03-01", id=f"e{i}") for i in range(5)])
    store.append([work("a", "2026-03-01T00:00:00Z", id="e5")])
    assert [e.id for e in store.read_client("a")] == [f"e{i}" for i in range(6)]


def test_read_client_until_and_after_version(store):
    store.append([work("a", f"2026-03-0{day}", id=f"d{day}") for day in range(1, 6)])
    assert [e.id for e in store.read_client("a", until=Instant.parse("2026-03-03"))] == ["d1", "d2", "d3"]
    assert [e.id for e in store.read_client("a", until=Instant.parse("2026-03-02T23:59:59Z"))] == ["d1", "d2"]
    assert [e.id for e in store.read_client("a", after_version=3)] == ["d4", "d5"]


def test_an_id_stored_already_is_skipped(store):
    first = store.append([work("a", "2026-03-01", id="x"), work("a", "2026-03-02", id="y")])
    again = store.append([work("a", "2026-03-01", id="x"), work("a", "2026-03-09", id="z")])
    assert (first.stored, first.already_present) == (2, 0)
    assert (again.stored, again.already_present, again.version) == (1, 1, 3)
    assert [e.id for e in store.read_client("a")] == ["x", "y", "z"]


def test_a_duplicate_id_within_one_batch_is_stored_once(store):
    result = store.append([work("a", "2026-03-01", id="x"), work("a", "2026-03-01", id="x")])
    assert (result.stored, result.already_present) == (1, 1)
    assert store.head_position() == 1


def test_a_duplicate_id_far_apart_in_a_long_batch_is_stored_once(store):
    batch = [work("a", "2026-03-01", id=f"e{i}") for i in range(1500)]
    batch[1400] = work("a", "2026-03-02", id="e3")
    result = store.append(iter(batch))
    assert (result.stored, result.already_present) == (1499, 1)
    assert [e.id for e in store.read_client("a")][-1] == "e1499"


def test_expected_version_appends_when_it_matches(store):
    assert store.append([work("a", "2026-03-01")], expected_version=0).version == 1
    assert store.append([work("a", "2026-03-02"), work("a", "2026-03-03")], expected_version=1).version == 3


def test_a_stale_expected_version_raises_and_stores_nothing(store):
    store.append([work("a", "2026-03-01")])
    with pytest.raises(ConcurrencyError) as raised:
        store.append([work("a", "2026-03-02"), work("a", "2026-03-03")], expected_version=0)
    assert (raised.value.expected, raised.value.actual) == (0, 1)
    assert "'a' is at version 1, not the expected 0" in str(raised.value)
    assert store.head_position() == 1


def test_two_writers_expecting_the_same_version_one_wins(store_url):
    store, other = open_store(store_url), open_store(store_url)
    try:
        seen_by_both = store.client_version("a")
        store.append([work("a", "2026-03-01", id="first")], expected_version=seen_by_both)
        with pytest.raises(ConcurrencyError):
            other.append([work("a", "2026-03-01", id="second")], expected_version=seen_by_both)
        assert [e.id for e in other.read_client("a")] == ["first"]
    finally:
        other.close()
        store.close()


def test_retrying_an_append_that_was_stored_is_a_no_op_not_a_conflict(store):
    batch = [work("a", "2026-03-01", id="x")]
    store.append(batch, expected_version=0)
    result = store.append(batch, expected_version=0)
    assert (result.stored, result.already_present, result.version) == (0, 1, 1)


def test_expected_version_needs_a_single_client(store):
    with pytest.raises(InvalidEvent):
        store.append([work("a", "2026-03-01"), work("b", "2026-03-01")], expected_version=0)
    assert store.head_position() == 0


def test_a_batch_that_fails_midway_stores_nothing_and_leaves_no_gap(store):
    def batch() -> Iterator[Event]:
        for i in range(1200):
            yield work("a", "2026-03-01", id=f"e{i}")
        raise InvalidEvent("bad event at the end")

    with pytest.raises(InvalidEvent):
        store.append(batch())
    assert store.head_position() == 0
    store.append([work("a", "2026-03-01", id="after")])
    assert [(e.id, e.position, e.version) for e in store.read_all()] == [("after", 1, 1)]


def test_an_event_too_long_for_one_exported_line_is_refused_and_nothing_stored(store):
    # each control character is 1 character here and 6 bytes in the export (a \\u escape): 66 KiB in all
    too_long = Event.new("a", FollowUpSent(topic="\x01" * 11_000), "2026-03-02")
    fits = Event.new("a", FollowUpSent(topic="\x01" * 10_000), "2026-03-02")
    with pytest.raises(InvalidEvent, match="export would write this event longer than 64 KiB"):
        store.append([work("a", "2026-03-01"), too_long])
    assert store.head_position() == 0
    store.append([fits])
    assert store.read_client("a") == [fits.stored(1, 1)]


def test_append_accepts_any_iterable_in_one_transaction(store):
    result = store.append(work("a", "2026-03-01", id=f"e{i}") for i in range(1200))
    assert (result.stored, result.version, result.last_position) == (1200, 1200, 1200)


def test_read_all_and_iter_all_follow_positions(store):
    store.append([work(f"c{i % 3}", "2026-03-01", id=f"e{i}") for i in range(25)])
    assert [e.position for e in store.read_all(after_position=20)] == [21, 22, 23, 24, 25]
    assert [e.position for e in store.read_all(after_position=5, limit=3)] == [6, 7, 8]
    assert [e.id for e in store.iter_all(after_position=2, batch=4)] == [f"e{i}" for i in range(2, 25)]


def test_iter_types_gives_every_stream_s_events_of_those_types_in_position_order(store):
    onboard = [
        Event.new(client, ClientOnboarded(name=f"Name of {client}"), at, id=f"o-{client}-{at}")
        for client, at in (("b", "2026-03-05"), ("a", "2026-03-01"), ("b", "2026-01-01"))
    ]
    store.append([onboard[0], work("a", "2026-03-02"), onboard[1]])
    store.append([Event.new("$rules", RuleSetAdopted(version=1, source="x"), "2026-01-01"), onboard[2]])
    for batch in (1, 2, 10_000):
        read = store.iter_types([ClientOnboarded.TYPE], batch=batch)
        assert [(e.id, e.payload) for e in read] == [(e.id, e.payload) for e in onboard]
        assert [e.client for e in store.iter_types([ClientOnboarded.TYPE, RuleSetAdopted.TYPE], batch=batch)] == ["b", "a", "$rules", "b"]
    assert list(store.iter_types([FollowUpSent.TYPE])) == []


def test_clients_summarise_client_streams_only(store):
    store.append([work("b", "2026-03-05"), work("a", "2026-03-01T10:00:00+02:00"), work("b", "2026-02-01"), work("b", "2026-03-02")])
    store.append([Event.new("$rules", RuleSetAdopted(version=1, source="x"), "2026-01-01")])
    summaries = store.clients()
    assert [(s.client, s.events, s.first_at.text, s.last_at.text) for s in summaries] == [
        ("b", 3, "2026-02-01", "2026-03-05"),
        ("a", 1, "2026-03-01T10:00:00+02:00", "2026-03-01T10:00:00+02:00"),
    ]


def test_client_ids_in_summary_order_and_by_first_event(store):
    store.append([work("b", "2026-03-05"), work("a", "2026-03-01T10:00:00+02:00"), work("c", "2026-04-01"), work("b", "2026-02-01")])
    store.append([Event.new("$rules", RuleSetAdopted(version=1, source="x"), "2026-01-01")])
    assert store.client_ids() == [summary.client for summary in store.clients()] == ["b", "a", "c"]
    assert store.client_ids(started_by=Instant.parse("2026-03-01T08:00:00Z")) == ["b", "a"]
    assert store.client_ids(started_by=Instant.parse("2026-03-01T07:59:59Z")) == ["b"]
    assert store.client_ids(started_by=Instant.parse("2026-01-31")) == []


def test_changed_clients_after_a_position(store):
    store.append([work("a", "2026-03-01"), work("b", "2026-03-01")])
    head = store.head_position()
    store.append([work("c", "2026-03-01"), work("a", "2026-03-02"), Event.new("$rules", RuleSetAdopted(version=1, source="x"), "2026-01-01")])
    assert sorted(store.changed_clients(head)) == ["a", "c"]
    assert store.changed_clients(store.head_position()) == []


def test_stored_facts_are_read_back_at_their_stream_s_version_and_in_their_format(store):
    store.append([work("a", "2026-03-01"), work("a", "2026-03-02"), work("b", "2026-03-01")])
    facts = [StoredFacts("a", 2, "facts-1", '{"a": 1}'), StoredFacts("b", 1, "facts-1", "of b")]
    assert store.write_stored_facts(facts) == 2
    assert store.read_stored_facts(["a", "nobody", "b"], format="facts-1") == {"a": facts[0], "b": facts[1]}
    assert store.read_stored_facts(["b"], format="facts-1") == {"b": facts[1]}  # a was not asked for
    assert store.read_stored_facts([], format="facts-1") == {}
    assert store.write_stored_facts([]) == 0


def test_stored_facts_of_an_earlier_version_or_another_format_are_left_out(store):
    store.append([work("a", "2026-03-01"), work("b", "2026-03-01")])
    store.write_stored_facts([StoredFacts("a", 1, "facts-1", "a at 1"), StoredFacts("b", 1, "facts-0", "b at 1")])
    store.append([work("a", "2026-03-02")])
    assert store.read_stored_facts(["a", "b"], format="facts-1") == {}  # a has an event since; b's are of another format
    assert store.read_stored_facts(["b"], format="facts-0") == {"b": StoredFacts("b", 1, "facts-0", "b at 1")}


def test_stored_facts_of_a_client_without_events_are_of_version_0(store):
    store.write_stored_facts([StoredFacts("new", 0, "facts-1", "none yet"), StoredFacts("ahead", 3, "facts-1", "?")])
    assert store.read_stored_facts(["new", "ahead"], format="facts-1") == {"new": StoredFacts("new", 0, "facts-1", "none yet")}


def test_stored_facts_written_again_replace_the_first_whatever_their_version(store):
    store.append([work("a", "2026-03-01")])
    store.write_stored_facts([StoredFacts("a", 5, "facts-1", "first")])
    assert store.write_stored_facts([StoredFacts("a", 1, "facts-2", "second")]) == 1
    assert store.read_stored_facts(["a"], format="facts-2") == {"a": StoredFacts("a", 1, "facts-2", "second")}
    assert store.read_stored_facts(["a"], format="facts-1") == {}


def test_stored_facts_of_many_clients_are_read_in_chunks(store):
    clients = [f"c{n}" for n in range(1_200)]
    store.append([work(client, "2026-03-01") for client in clients])
    store.append([work("c700", "2026-03-02")])
    facts = [StoredFacts(client, 1, "facts-1", f"of {client}") for client in clients]
    assert store.write_stored_facts(facts) == 1_200
    found = store.read_stored_facts([*reversed(clients), "nobody"], format="facts-1")
    assert found == {stored.client: stored for stored in facts if stored.client != "c700"}


def test_engine_answers_are_read_back_by_their_rule_set(store):
    assert store.write_engine_answers("rules-1", {"s1": "a1", "s2": "a2"}) == 2
    assert store.write_engine_answers("rules-2", {"s1": "other"}) == 1
    assert store.read_engine_answers("rules-1") == {"s1": "a1", "s2": "a2"}  # not those of rules-2
    assert store.read_engine_answers("rules-2") == {"s1": "other"}
    assert store.read_engine_answers("unknown") == {}


def test_engine_answers_kept_already_keep_their_first_answer(store):
    store.write_engine_answers("rules-1", {"s1": "first"})
    assert store.write_engine_answers("rules-1", {"s1": "second"}) == 0
    assert store.write_engine_answers("rules-1", {"s1": "third", "s2": "a2", "s3": "a3"}) == 2  # only the new ones
    assert store.read_engine_answers("rules-1") == {"s1": "first", "s2": "a2", "s3": "a3"}


def test_no_engine_answers_write_nothing(store):
    assert store.write_engine_answers("rules-1", {}) == 0
    assert store.read_engine_answers("rules-1") == {}

def test_meta_keeps_the_first_value(store):
    assert store.get_meta("secret") is None
    assert store.put_meta_if_absent("secret", "one") == "one"
    assert store.put_meta_if_absent("secret", "two") == "one"
    assert store.get_meta("secret") == "one"


def test_events_survive_closing_and_reopening(store_url):
    first = open_store(store_url)
    first.append([Event.new("acme", FollowUpSent(topic="logo"), "2026-03-01", id="kept")])
    first.put_meta_if_absent("k", "v")
    first.close()
    second = open_store(store_url)
    try:
        assert [e.id for e in second.read_client("acme")] == ["kept"]
        assert second.get_meta("k") == "v"
    finally:
        second.close()
