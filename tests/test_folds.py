"""Stored folds on both backends: when they are written, what replaces what, and what is never trusted."""

from __future__ import annotations

import json

import pytest

from clientrules import Ledger
from clientrules.application.decisions import KEPT_FROM_ONE_CALL
from clientrules.application.folds import WRITE_AFTER, Folds
from clientrules.domain.events import Event, IncidentReported, Instant, InvoiceIssued, NoticeGiven, PaymentReceived, registry
from clientrules.domain.facts import ClientFold, FactsError, facts_of
from clientrules.domain.facts.stored import fold_format, fold_from_text, fold_text
from clientrules.domain.events.registry import Registry
from clientrules.ports import StoredFold

AS_OF = Instant.parse("2026-06-01")


def work(client: str, day: int) -> Event:
    return Event.new(client, registry.decode("WorkLogged", {"hours": 1.5, "billable": day % 2 == 0}), f"2026-01-{day:02d}")


@pytest.fixture
def ledger(store_url: str):
    with Ledger.open(store_url) as opened:
        yield opened


def stored(ledger: Ledger, client: str) -> StoredFold | None:
    tails = list(ledger.store.read_folds([client], format=ledger.folds.format))
    return tails[0].fold if tails else None


def test_appends_and_imports_write_no_fold_and_a_read_writes_one_once_enough_is_new(ledger, tmp_path) -> None:
    ledger.append([work("acme", day) for day in range(1, WRITE_AFTER)])
    lines = [json.dumps({"client": "bolt", "type": "WorkLogged", "at": f"2026-01-{d:02d}", "data": {"hours": 1, "billable": True}})
             for d in range(1, 9)]
    (tmp_path / "bolt.jsonl").write_text("\n".join(lines) + "\n")
    ledger.import_jsonl(tmp_path / "bolt.jsonl")
    assert stored(ledger, "acme") is None and stored(ledger, "bolt") is None

    assert ledger.folds.latest("acme").version == WRITE_AFTER - 1
    assert stored(ledger, "acme") is None  # fewer new events than WRITE_AFTER: reading them is cheaper
    ledger.append([work("acme", WRITE_AFTER)])
    assert ledger.folds.latest("acme").version == WRITE_AFTER
    assert stored(ledger, "acme").version == WRITE_AFTER

    ledger.append([work("acme", day) for day in range(WRITE_AFTER + 1, 2 * WRITE_AFTER)])
    assert ledger.folds.latest("acme").version == 2 * WRITE_AFTER - 1
    assert stored(ledger, "acme").version == WRITE_AFTER  # not enough new yet
    assert [fold.client for fold in ledger.folds.iter_latest(["bolt", "nobody", "acme"])] == ["bolt", "acme"]
    assert stored(ledger, "bolt").version == 8
    assert ledger.folds.latest("nobody").version == 0


def test_a_slower_writer_never_replaces_a_newer_fold(ledger) -> None:
    ledger.append([work("acme", day) for day in range(1, 11)])
    folds = {}
    for version in (6, 10):
        fold = ClientFold()
        fold.apply_all(ledger.store.read_client("acme")[:version])
        folds[version] = StoredFold("acme", fold.version, ledger.folds.format, fold_text(fold))
    assert ledger.store.write_folds([folds[10]]) == 1
    assert ledger.store.write_folds([folds[6]]) == 0
    assert stored(ledger, "acme").version == 10
    assert ledger.store.write_folds([folds[10]]) == 1  # the same version again: a repair writes over a damaged one


@pytest.mark.parametrize(
    "damage",
    [
        lambda fold: fold.data.replace("1.5", "9.5"),  # its checksum no longer matches
        lambda fold: fold.data.split("\n", 1)[0] + "\n{}",
        lambda fold: "no line break",
        lambda fold: fold_text(ClientFold()),  # a valid fold, but of no client
    ],
)
def test_a_damaged_fold_is_never_used_and_is_written_anew(ledger, damage) -> None:
    events = [work("acme", day) for day in range(1, 9)]
    ledger.append(events)
    good = ledger.folds.latest("acme")
    fold = stored(ledger, "acme")
    ledger.store.write_folds([StoredFold("acme", fold.version, fold.format, damage(fold))])
    with pytest.raises(FactsError):
        fold_from_text(stored(ledger, "acme").data, client="acme", version=fold.version)

    again = Folds(ledger.store).latest("acme")
    assert again.facts(AS_OF) == good.facts(AS_OF) == facts_of(ledger.events("acme"), AS_OF)
    assert stored(ledger, "acme") == fold  # repaired


def test_a_fold_of_another_format_is_ignored_and_replaced(ledger) -> None:
    ledger.append([work("acme", day) for day in range(1, 9)])
    fold = ClientFold()
    fold.apply_all(ledger.store.read_client("acme")[:2])  # what an older format would have: wrong, if it were read
    ledger.store.write_folds([StoredFold("acme", 8, "fold-1/older", fold_text(fold))])
    assert ledger.folds.latest("acme").facts(AS_OF) == facts_of(ledger.events("acme"), AS_OF)
    assert stored(ledger, "acme").format == ledger.folds.format and stored(ledger, "acme").version == 8


def test_the_format_changes_with_any_event_schema() -> None:
    from clientrules.domain.events.types import SPEC_TYPES

    class WorkLoggedV2(registry.payload_type("WorkLogged")):  # type: ignore[misc, valid-type]
        SCHEMA = 2

    changed = Registry([WorkLoggedV2 if t.TYPE == "WorkLogged" else t for t in SPEC_TYPES])
    same = Registry(SPEC_TYPES)
    assert fold_format(same) == fold_format(Registry(list(reversed(SPEC_TYPES))))
    assert fold_format(changed) != fold_format(same)


def test_a_call_about_a_few_clients_keeps_their_folds_for_the_next_and_a_pass_over_many_does_not(ledger, monkeypatch) -> None:
    few = ["acme", "bolt", "cora"]
    many = [f"c{number:03d}" for number in range(KEPT_FROM_ONE_CALL + 1)]
    ledger.append([work(client, 2) for client in few + many])
    read: list[list[str]] = []
    reads_from_the_store = ledger.folds.iter_latest_with_stored

    def counted(clients: list[str]):
        read.append(clients)
        return reads_from_the_store(clients)

    monkeypatch.setattr(ledger.folds, "iter_latest_with_stored", counted)
    for clients in (few, few, many, many):
        assert len(ledger.decisions.evaluate(clients, as_of=AS_OF)) == len(clients)
    assert read == [few, [], many, []]  # the second pass decides from the facts the first one kept
    assert [client for client, _ in ledger.decisions.iter_folds(few + many[:1])] == few + many[:1]
    assert read[-1] == many[:1]  # the few are still kept


def test_a_stored_fold_reads_back_exactly_at_both_ends_of_the_calendar() -> None:
    """Every number a snapshot holds is an integer that fits in 64 bits, even for events at the first and last
    moments a store accepts (orjson, which reads a stored fold, would read a larger one as a float)."""
    first, last = "1000-01-01T00:00:00Z", "8999-12-31T23:59:59.999999Z"
    events = [
        Event.new("acme", InvoiceIssued(invoice_id="i-1", amount=10**9, due_on="8999-12-31", issued_on="1000-01-01"), first),
        Event.new("acme", PaymentReceived(invoice_id="i-1", amount=5), last),
        Event.new("acme", IncidentReported(kind="rude", against="staff", severity=3), last),
        Event.new("acme", NoticeGiven(by="client", effective_on="8999-12-31"), last),
    ]
    fold = ClientFold()
    fold.apply_all(event.stored(version, version) for version, event in enumerate(events, start=1))
    fold.client = "acme"
    text = fold_text(fold)
    body = text.partition("\n")[2]
    numbers = [value for table in json.loads(body)["tables"].values() for column in table.values() for value in column
               if not isinstance(value, str)]
    assert numbers and all(type(value) is int and abs(value) < 2**63 for value in numbers)
    assert fold_from_text(text, client="acme", version=4).to_snapshot() == fold.to_snapshot()


def test_a_recorded_evaluation_keeps_facts_the_next_one_decides_from(ledger, monkeypatch) -> None:
    """A recorded decision is an event of the library's own, which no fact reads: the facts kept by the evaluation
    that recorded it still hold for the next one, unless another event came in between."""
    from clientrules.application import decisions as decisions_module
    from clientrules.application.kept_facts import KeptFacts

    monkeypatch.setattr(decisions_module, "KEPT_FROM_ONE_CALL", 0)  # every call keeps facts, as one over many clients
    clients = ["acme", "bolt", "cora"]
    ledger.append([work(client, day) for client in clients for day in (2, 3)])
    used: list[str] = []
    holding = KeptFacts.holding

    def counted(self, *args, **kwargs):
        found = holding(self, *args, **kwargs)
        used.extend(found)
        return found

    monkeypatch.setattr(KeptFacts, "holding", counted)
    recorded = ledger.decisions.evaluate(clients, as_of=AS_OF, record=True)
    assert used == [] and [len(ledger.decisions.recorded(client)) for client in clients] == [1, 1, 1]
    again = ledger.decisions.evaluate(clients, as_of=AS_OF, record=True)
    assert sorted(used) == clients and [d.to_json() for d in again] == [d.to_json() for d in recorded]
    used.clear()
    ledger.append([work("bolt", 4)])  # a fact of bolt's moves: its kept facts are of an earlier version
    after = ledger.decisions.evaluate(clients, as_of=AS_OF)
    assert sorted(used) == ["acme", "cora"]
    refolded = ClientFold()
    refolded.apply_all(ledger.events("bolt"))
    assert after[1].reasons == ledger.engines.decide("bolt", refolded.facts(AS_OF), ledger.rules.current()).reasons


def test_facts_kept_by_a_recorded_evaluation_are_not_moved_past_an_event_another_writer_appended(
    ledger, monkeypatch
) -> None:
    from clientrules.application import decisions as decisions_module
    from clientrules.domain.events import DecisionRecorded

    monkeypatch.setattr(decisions_module, "KEPT_FROM_ONE_CALL", 0)
    clients = ["acme", "bolt"]
    ledger.append([work(client, day) for client in clients for day in (2, 3)])
    append = ledger.store.append

    def another_writer_first(events, **options):
        if any(isinstance(event.payload, DecisionRecorded) for event in events):
            append([Event.new("bolt", IncidentReported(kind="threat", against="staff", severity=3), "2026-05-30")])
        return append(events, **options)

    monkeypatch.setattr(ledger.store, "append", another_writer_first)
    ledger.decisions.evaluate(clients, as_of=AS_OF, record=True)
    monkeypatch.setattr(ledger.store, "append", append)
    (bolt,) = [d for d in ledger.decisions.evaluate(clients, as_of=AS_OF) if d.client == "bolt"]
    assert bolt.verdict == "terminate" and ledger.decisions.facts("bolt", AS_OF)["serious_incidents_365d"] == 1
