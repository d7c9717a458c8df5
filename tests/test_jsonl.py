"""The JSON Lines format of spec/events.md: every kind of bad input names its line; good input round-trips."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientrules.domain.errors import InvalidInput
from clientrules.domain.events import Event, FollowUpSent, WorkLogged, iter_events, read_events, write_events
from clientrules.domain.events.jsonl import MAX_LINE_BYTES, iter_lines
from conftest import REPO

GOOD = '{"client": "acme", "type": "WorkLogged", "at": "2026-03-01", "data": {"hours": 1, "billable": true}}'


def obj_line(**changes: object) -> str:
    obj = json.loads(GOOD)
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj)


BAD_LINES = {
    "wrong type": (obj_line(type="WorkDone"), "type: unknown event type 'WorkDone'"),
    "missing field": (obj_line(data={"hours": 1}), "data.billable: is required"),
    "missing key": (obj_line(at=None), "at: is required"),
    "wrong field type": (obj_line(data={"hours": "two", "billable": True}), "data.hours: must be a number"),
    "wrong boolean": (obj_line(data={"hours": 1, "billable": "yes"}), "data.billable: must be true or false"),
    "bad enum": (
        obj_line(type="IncidentReported", data={"kind": "grumpy", "against": "staff"}),
        "data.kind: 'grumpy' is not one of abuse, harassment, threat, rude, unreasonable_demand",
    ),
    "bad against": (
        obj_line(type="IncidentReported", data={"kind": "rude", "against": "cat"}),
        "data.against: 'cat' is not one of staff, owner",
    ),
    "bad initiated_by": (
        obj_line(type="RelationshipEnded", data={"initiated_by": "fate"}),
        "data.initiated_by: 'fate' is not one of us, client",
    ),
    "malformed at": (
        obj_line(at="01/03/2026"),
        "at: '01/03/2026' is not an ISO 8601 date (2026-03-01) or date-time with offset (2026-03-01T09:30:00+02:00)",
    ),
    "date-time without offset": (obj_line(at="2026-03-01T09:30:00"), "at: '2026-03-01T09:30:00' is not an ISO 8601 date"),
    "impossible date": (obj_line(at="2026-02-30"), "at: '2026-02-30' is not an ISO 8601 date"),
    "bad client id": (obj_line(client="acme corp"), "client: 'acme corp' is not a client id"),
    "client id too long": (obj_line(client="x" * 65), "client: 'xxxxx"),
    "invalid JSON": ('{"client": "acme", "type": ', "invalid JSON (Expecting value)"),
    "not an object": ("[1, 2]", "an event must be a JSON object"),
    "unknown key": (obj_line(when="now"), "unknown key 'when' (keys: client, type, at, data, id)"),
    "data not an object": (obj_line(data=[1]), "data: must be a JSON object"),
    "bad id": (obj_line(id="x" * 129), "id: must be a string of 1 to 128 characters"),
    # PostgreSQL cannot store it: the same file must import into either backend
    "NUL in id": (obj_line(id="x\u0000y"), "id: must not hold the NUL character (\\u0000)"),
    "negative amount": (obj_line(type="DepositReceived", data={"amount": -5}), "data.amount: must not be negative"),
    "NaN": (GOOD.replace('"hours": 1', '"hours": NaN'), "invalid JSON (NaN is not a JSON number)"),
    "bad due date": (
        obj_line(type="InvoiceIssued", data={"invoice_id": "I", "amount": 1, "due_on": "soon"}),
        "data.due_on: must be an ISO date such as 2026-03-15",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_every_bad_line_is_one_line_naming_its_number(kind):
    bad, message = BAD_LINES[kind]
    with pytest.raises(InvalidInput) as raised:
        read_events([GOOD, "", "# comment", bad, GOOD])
    assert raised.value.line == 4
    assert str(raised.value).startswith(f"line 4: {message}")
    assert "\n" not in str(raised.value)


def test_a_line_over_64_kib_is_refused_without_reading_it_whole():
    long_line = obj_line(data={"hours": 1, "billable": True, "pad": "x" * MAX_LINE_BYTES}) + "\n"
    stream = io.BytesIO((GOOD + "\n" + long_line + GOOD + "\n").encode())
    lines = list(iter_lines(stream))
    assert len(lines) == 3
    assert len(lines[1]) <= MAX_LINE_BYTES + 3
    with pytest.raises(InvalidInput, match="^line 2: line is longer than 64 KiB$"):
        read_events(lines)


def test_a_line_of_exactly_64_kib_is_accepted():
    # written as export writes it (an id, 1.0 for a number of hours), so that the export is the same line
    padding = MAX_LINE_BYTES - len(obj_line(data={"hours": 1.0, "billable": True, "pad": ""}, id="e-1"))
    line = obj_line(data={"hours": 1.0, "billable": True, "pad": "x" * padding}, id="e-1")
    assert len(line.encode()) == MAX_LINE_BYTES
    (event,) = read_events(iter_lines(io.BytesIO((line + "\r\n").encode())))
    assert len(event.payload.extra["pad"]) == padding
    with pytest.raises(InvalidInput, match="longer than 64 KiB"):
        read_events([line.replace('"pad": "', '"pad": "y') + "\n"])


@pytest.mark.parametrize(
    "line",
    [
        # without its id, which export adds
        obj_line(data={"hours": 1.0, "billable": True, "pad": "x" * (MAX_LINE_BYTES - 120)}),
        # compact JSON: export puts a space after every comma and colon, and writes 1e15 as 1000000000000000.0
        obj_line(data={"hours": 1.0, "billable": True, "n": [1] * 30_000}, id="e-1").replace(", ", ","),
        obj_line(data={"hours": 1.0, "billable": True, "n": [0] * 6_000}, id="e-1").replace(" 0", "1e15"),
        # characters that export escapes so that no reader takes them for line breaks
        json.dumps({**json.loads(obj_line(id="e-1")), "data": {"hours": 1.0, "billable": True, "pad": "\u2028" * 15_000}}, ensure_ascii=False),
    ],
    ids=["no id", "compact", "compact numbers", "line separators"],
)
def test_a_line_that_export_would_write_longer_than_64_kib_is_refused(line):
    assert len(line.encode()) <= MAX_LINE_BYTES
    with pytest.raises(InvalidInput, match="^line 2: export would write this event longer than 64 KiB"):
        read_events([GOOD, line])


def test_invalid_utf8_and_lone_surrogates_are_refused():
    with pytest.raises(InvalidInput, match="^line 1: not valid UTF-8$"):
        read_events([GOOD.encode().replace(b"acme", b"ac\xffme")])
    with pytest.raises(InvalidInput, match="^line 1: a string holds a lone surrogate"):
        read_events([obj_line(data={"hours": 1, "billable": True, "note": "\ud800"})])


def test_a_byte_order_mark_before_the_first_line_is_allowed():
    (event,) = read_events(iter_lines(io.BytesIO(b"\xef\xbb\xbf" + GOOD.encode() + b"\n")))
    assert event.client == "acme"


def test_lines_without_id_get_the_same_ids_on_every_read():
    lines = [GOOD, GOOD, obj_line(at="2026-03-02")]
    first, second = read_events(lines), read_events(lines)
    assert [e.id for e in first] == [e.id for e in second]
    assert len({e.id for e in first}) == 3


def test_iter_events_yields_before_reaching_a_bad_line():
    events = iter_events([GOOD, GOOD, "oops"])
    assert next(events).client == "acme"
    assert next(events).client == "acme"
    with pytest.raises(InvalidInput, match="^line 3: invalid JSON"):
        next(events)


def test_write_then_read_gives_the_same_events():
    events = [
        Event.new("acme", WorkLogged(hours=1.5, billable=False, extra={"ticket": "T-1"}), "2026-03-01T09:30:00+02:00", id="a"),
        Event.new("acme", WorkLogged(hours=2, billable=True), "2026-03-02", id="b"),
    ]
    out = io.StringIO()
    assert write_events(events, out) == 2
    assert read_events(out.getvalue().splitlines()) == events
    assert json.loads(out.getvalue().splitlines()[0]) == {
        "client": "acme",
        "type": "WorkLogged",
        "at": "2026-03-01T09:30:00+02:00",
        "data": {"hours": 1.5, "billable": False, "ticket": "T-1"},
        "id": "a",
    }


def test_every_example_of_the_event_reference_reads():
    reference = (REPO / "docs" / "events.md").read_text()
    examples = [line for line in reference.splitlines() if line.startswith('{"client"')]
    assert examples
    assert len(read_events(examples)) == len(examples)


moments = st.builds(
    lambda moment, offset_minutes, date_only: moment.date().isoformat()
    if date_only
    else moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes))).isoformat(),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: m - m % 15),
    st.booleans(),
)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True),
            moments,
            st.one_of(
                st.builds(lambda h, b: WorkLogged(hours=h, billable=b), st.floats(0, 1e6), st.booleans()),
                st.builds(lambda t, x: FollowUpSent(topic=t, extra=x), texts, st.dictionaries(texts, texts, max_size=3)),
            ),
        ),
        max_size=20,
    )
)
def test_any_events_written_read_back_equal(specs):
    events = [Event.new(client, payload, at) for client, at, payload in specs]
    out = io.StringIO()
    write_events(events, out)
    assert read_events(out.getvalue().splitlines()) == events
