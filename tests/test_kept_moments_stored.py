"""The history's kept moments, kept with the database: a fresh ledger's backtest reads them instead of folding
every client, brought up to date client by client as streams change, and gives what folding every client gives."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import zlib
from array import array
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_decisions_differential import playbook_histories
from test_facts_properties import histories
from test_learning_signal import db, generated, template  # noqa: F401  (a history with proposals to make)
from test_standing_cache import store_stories

from clientrules import Ledger
from clientrules.adapters.durable import DurableEngine
from clientrules.application import learning
from clientrules.application.engines import Engines
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import (
    ERASED,
    ClientOnboarded,
    Event,
    Instant,
    MeetingHeld,
    RelationshipEnded,
    SurveyAnswered,
    SurveyInvited,
)
from clientrules.domain.learning import kept as kept_module
from clientrules.domain.learning.backtest import backtests, replay
from clientrules.domain.learning.history import ClientRecord, Onboardings
from clientrules.domain.learning.kept_format import kept_from_bytes, kept_to_bytes

START = dt.datetime(2025, 1, 10, tzinfo=dt.timezone.utc)


def folded_backtest(ledger: Ledger) -> str:
    """The backtest of the current rules against themselves, every client folded from its events."""
    alone = Engines(DurableEngine, standings_kept=0)
    current = ledger.rules.current()
    histories_now = ledger.learning.histories()
    (folded,), _ = backtests(
        lambda columns: replay(histories_now, columns, alone.fired_batch), current, [("again", current)]
    )
    return json.dumps(folded.to_json(changes_limit=10**9))


def stored_backtest(ledger: Ledger) -> str:
    current = ledger.rules.current()
    return json.dumps(ledger.learning.backtest(current.ruleset.source, label="again").to_json(changes_limit=10**9))


def test_a_fresh_ledger_backtests_on_the_stored_moments_as_folding_every_client_does(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Examples grow one database: new clients, and more events for earlier ones (back-dated or later, so some
    streams change and the end of the history moves); each backtest is made by a ledger opened afresh, which has
    only the moments stored with the database, brought up to date. The standings are placed a few client-moments
    at a time, as a large history's are."""
    monkeypatch.setattr(kept_module, "_SLICE", 7)
    examples = itertools.count(1)
    stored: list[str] = []

    @settings(
        max_examples=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        drawn=st.lists(st.one_of(histories(), playbook_histories()), min_size=1, max_size=2),
        more=st.lists(st.tuples(st.integers(0, 50), st.one_of(histories(), playbook_histories())), max_size=2),
    )
    def example(drawn: list[list[Event]], more: list[tuple[int, list[Event]]]) -> None:
        number = next(examples)
        with Ledger.open(store_url) as ledger:
            stored.extend(store_stories(ledger, number, drawn))
            for pick, events in more:
                if not stored:
                    break
                client = stored[pick % len(stored)]
                try:
                    ledger.append(
                        Event(client, event.at, event.payload, f"{client}-more{number}-{n}")
                        for n, event in enumerate(events)
                    )
                except ClientRulesError:  # e.g. an invoice id the client has already
                    pass
        with Ledger.open(store_url) as ledger:
            assert stored_backtest(ledger) == folded_backtest(ledger)
            assert ledger.store.read_kept_moments() is not None

    example()


def departed_shop(url: str) -> None:
    """Two clients a few months long; one left and said why in words of its own."""
    with Ledger.open(url) as ledger:
        for client in ("stays", "leaves"):
            ledger.record(client, ClientOnboarded(name=f"Name of {client}", monthly_value=900), START)
            for month in range(1, 5):
                ledger.record(client, MeetingHeld(topic="review", outcome="resolved"), START + dt.timedelta(days=30 * month))
        left = Instant.from_datetime(START + dt.timedelta(days=140))
        ledger.record("leaves", RelationshipEnded(initiated_by="client"), left)
        ledger.record("leaves", SurveyInvited(invitation_id="inv-1", expires_at="2025-07-30"), left)
        ledger.record(
            "leaves",
            SurveyAnswered(
                invitation_id="inv-1", primary_reason="price_too_high", what_to_change="Zanzibarish invoices",
                first_thought_leaving="one_to_three_months",
            ),
            left,
        )


def test_the_stored_moments_read_back_as_written_and_hold_no_personal_words(tmp_path: Path) -> None:
    url = str(tmp_path / "shop.db")
    departed_shop(url)
    with Ledger.open(url) as ledger:
        result = stored_backtest(ledger)
        data = ledger.store.read_kept_moments()
    assert data is not None
    kept = kept_from_bytes(data)
    assert kept is not None
    assert kept_to_bytes(kept) == data
    assert [(client.client, client.version, len(client.moments)) for client in kept.clients] == [
        ("stays", 5, 5), ("leaves", 8, 4),
    ]
    leaving = kept.clients[1].departure
    assert leaving is not None and leaving.chosen_by_client and leaving.decided_days_before is not None
    text = zlib.decompress(data)
    assert b"Zanzibarish" not in text and b"Name of" not in text
    with Ledger.open(url) as ledger:
        assert stored_backtest(ledger) == result


def test_damaged_or_foreign_stored_moments_are_kept_again_from_the_events(tmp_path: Path) -> None:
    url = str(tmp_path / "shop.db")
    departed_shop(url)
    with Ledger.open(url) as ledger:
        expected = folded_backtest(ledger)
        assert stored_backtest(ledger) == expected
        good = _stored(ledger)
    for bad in (b"", b"not zlib at all", good[:-7], zlib.compress(b"\0" * 8 + b"{}"), _foreign(good)):
        assert kept_from_bytes(bad) is None
        with Ledger.open(url) as ledger:
            ledger.store.write_kept_moments(bad)
        with Ledger.open(url) as ledger:
            assert stored_backtest(ledger) == expected
            assert kept_from_bytes(_stored(ledger)) is not None


def test_an_unchanged_history_is_backtested_without_reading_any_client_again(tmp_path: Path) -> None:
    url = str(tmp_path / "shop.db")
    departed_shop(url)
    with Ledger.open(url) as ledger:
        first = stored_backtest(ledger)
    with Ledger.open(url) as ledger:
        read = clients_read(ledger)
        assert stored_backtest(ledger) == first
        assert not read
        ledger.record("stays", MeetingHeld(topic="review", outcome="resolved"), START + dt.timedelta(days=200))
        read.clear()
        result = stored_backtest(ledger)
        assert read == ["stays"]
        assert result == folded_backtest(ledger)


def test_on_stored_moments_the_evidence_reads_only_the_clients_who_left_or_changed(tmp_path: Path) -> None:
    """Where the stored moments hold a client that stayed as its stream is, the evidence pass does not read its
    events: its values are kept and its name is that of its last onboarding in time (one appended later but
    dated earlier does not rename it; once erased, it reads as erased). A client whose stream changed since (here:
    it left) is read. The evidence is the one folding every client gives."""
    url = str(tmp_path / "shop.db")
    departed_shop(url)
    with Ledger.open(url) as ledger:
        ledger.record("stays", ClientOnboarded(name="Renamed", monthly_value=950), START + dt.timedelta(days=100))
        ledger.record("stays", ClientOnboarded(name="Named before"), START - dt.timedelta(days=3))
        ledger.record("quiet", ClientOnboarded(name="Quiet one", monthly_value=500), START)
        stored_backtest(ledger)

    def evidence_read(ledger: Ledger) -> tuple[dict[str, Any], list[str]]:
        read = clients_read(ledger)
        evidence, _ = ledger.learning._evidence_and_kept(ledger.learning.histories())
        return evidence_json(evidence), read

    with Ledger.open(url) as ledger:
        stored, read = evidence_read(ledger)
        assert read == ["leaves"]
        assert stored == evidence_json(ledger.learning.evidence())
        assert stored["names"] == {"stays": "Renamed", "leaves": "Name of leaves", "quiet": "Quiet one"}
        ledger.record("quiet", RelationshipEnded(initiated_by="client"), START + dt.timedelta(days=70))
    with Ledger.open(url) as ledger:
        stored, read = evidence_read(ledger)
        assert read == ["leaves", "quiet"]
        assert stored == evidence_json(ledger.learning.evidence())
        assert [departed["client"] for departed in stored["departed"]] == ["quiet", "leaves"]
        ledger.erase("stays", requested_by="the client, by e-mail")
        evidence_read(ledger)  # its stream changed: read, and kept again
    with Ledger.open(url) as ledger:
        stored, read = evidence_read(ledger)
        assert read == ["leaves", "quiet"]
        assert stored["names"]["stays"] == ERASED


def test_a_known_record_is_named_and_valued_as_reading_its_events_would() -> None:
    """Of many onboardings, taken in any order, the record keeps the last in time's name and the last monthly value
    given: the same as reading every event."""
    dated = [("First", 900, 0), ("Renamed", None, 20), ("Back-dated", 700, 10), ("Older", 500, 5)]
    events = [
        Event.new("acme", ClientOnboarded(name=name, monthly_value=value), START + dt.timedelta(days=day)).stored(version, version)
        for version, (name, value, day) in enumerate(dated, start=1)
    ]
    onboardings = Onboardings()
    for event in [*reversed(events), *events]:
        onboardings.add(event)
    assert len(onboardings.of("acme")) == 2 and onboardings.of("other") == []
    read = ClientRecord.from_events("acme", sorted(events, key=lambda event: event.at))  # in time, as a store reads them
    known = ClientRecord.known(
        "acme", version=4, first_at=Instant.from_datetime(START), onboardings=onboardings.of("acme"), read=lambda: events
    )
    assert (known.name, known.monthly_value) == (read.name, read.monthly_value) == ("Renamed", 700)
    assert known.facts(Instant.from_datetime(START + dt.timedelta(days=30)), 7) == read.facts(
        Instant.from_datetime(START + dt.timedelta(days=30)), 7
    )


def evidence_json(evidence: Any) -> dict[str, Any]:
    """``evidence`` as plain data that compares equal when it is the same (an absent value written as None)."""
    plain = attrs.asdict(evidence, recurse=True, value_serializer=lambda _, __, value: _plain(value))
    return json.loads(json.dumps(plain, default=str, sort_keys=True))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, array):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return value


def clients_read(ledger: Ledger) -> list[str]:
    """The clients (system streams left out) whose events ``ledger``'s store reads from now on, in order, growing."""
    read: list[str] = []
    read_client = ledger.store.read_client

    def counted(client: str, **options: object) -> list[Event]:
        if not client.startswith("$"):
            read.append(client)
        return read_client(client, **options)  # type: ignore[arg-type]

    ledger.store.read_client = counted  # type: ignore[method-assign]
    return read


def _stored(ledger: Ledger) -> bytes:
    data = ledger.store.read_kept_moments()
    assert data is not None
    return data


def _foreign(good: bytes) -> bytes:
    """``good`` as another version of the format would write it."""
    raw = zlib.decompress(good)
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    header["format"] = "kept-moments-0"
    text = json.dumps(header).encode()
    return zlib.compress(len(text).to_bytes(8, "little") + text + raw[8 + length :])


def test_a_fresh_ledgers_report_and_proposals_on_the_stored_moments_equal_folding_every_client(
    db: str, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """The evidence pass tells each client's record the values stored of it (it folds only for the moments not
    kept): the report and the proposals, with their backtests, are those of folding every client, whether the
    stored moments hold every client as it is or one client changed and the end of the history moved."""

    def from_stored() -> tuple[dict[str, Any], dict[str, Any]]:
        with Ledger.open(db) as ledger:
            return ledger.learning.report().to_json(), ledger.learning.proposals().to_json()

    def folding_every_client() -> tuple[dict[str, Any], dict[str, Any]]:
        with monkeypatch.context() as patched:
            patched.setattr(learning, "KEPT_MOMENTS_MAX", 0)
            return from_stored()

    with Ledger.open(db) as ledger:
        ledger.learning.backtest()
        assert ledger.store.read_kept_moments() is not None
    stored = from_stored()
    assert stored == folding_every_client()
    assert stored[1]["proposals"] and all(p["backtest"] for p in stored[1]["proposals"])
    with Ledger.open(db) as ledger:
        client = ledger.clients()[0]
        last = max(summary.last_at for summary in ledger.clients())
        ledger.record(client.client, MeetingHeld(topic="review", outcome="resolved"), last.utc + dt.timedelta(days=45))
    assert from_stored() == folding_every_client()


def test_a_client_unchanged_since_is_asked_its_new_moments_of_its_stored_fold_not_of_its_events(tmp_path: Path) -> None:
    """When the end of the history moves, a client that stayed has a new moment: its fold (stored beside its
    stream) gives its facts there; its events are not read again."""
    url = str(tmp_path / "shop.db")
    with Ledger.open(url) as ledger:
        for client in ("quiet", "busy"):
            ledger.record(client, ClientOnboarded(name=f"Name of {client}", monthly_value=900), START)
            for month in range(1, 4):
                ledger.record(client, MeetingHeld(topic="review", outcome="resolved"), START + dt.timedelta(days=30 * month))
        stored_backtest(ledger)
    with Ledger.open(url) as ledger:
        ledger.record("busy", MeetingHeld(topic="review", outcome="resolved"), START + dt.timedelta(days=150))
        read = clients_read(ledger)
        result = stored_backtest(ledger)
        assert read == ["busy"]
        kept = kept_from_bytes(_stored(ledger))
        assert kept is not None and [len(client.moments) for client in kept.clients] == [6, 6]
        assert result == folded_backtest(ledger)
