"""Money that adds up: every store refuses a money event that would break a client's books, and stores nothing.

The rules are in docs/events.md ("Money integrity"); the checks hold under each
store's appending lock, so the same refusals hold for import, the API, the CLI
and the owner's forms, and two writers cannot both pay the last of an invoice.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from test_store_contract import store  # noqa: F401  (every backend: SQLite, PostgreSQL, memory)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientrules.adapters.store import EventStore, open_store
from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events import (
    ClientOnboarded,
    Event,
    Instant,
    InvoiceIssued,
    InvoiceVoided,
    PaymentReceived,
)
from clientrules.domain.facts import facts_of
from clientrules.domain.money import MoneyRefused, client_currency, format_money


def issue(invoice_id: str, amount: float, *, at: str = "2026-03-01", due_on: str = "2026-03-31", client: str = "acme", **more) -> Event:
    return Event.new(client, InvoiceIssued(invoice_id=invoice_id, amount=amount, due_on=due_on, **more), at)


def pay(invoice_id: str, amount: float, *, at: str = "2026-03-10", client: str = "acme") -> Event:
    return Event.new(client, PaymentReceived(invoice_id=invoice_id, amount=amount), at)


def void(invoice_id: str, *, at: str = "2026-03-12", client: str = "acme") -> Event:
    return Event.new(client, InvoiceVoided(invoice_id=invoice_id, reason="order cancelled"), at)


def refused(store: EventStore, events: list[Event]) -> str:
    """The one-line refusal of appending ``events``, after checking that nothing was stored."""
    before = store.head_position()
    with pytest.raises(MoneyRefused) as caught:
        store.append(events)
    assert store.head_position() == before
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_payment_stored_before_its_invoice_in_one_append_counts_in_later_appends(store):
    client = f"c-{uuid.uuid4().hex[:12]}"  # stored first, the payment is read back before the invoice it pays
    store.append([pay("I-1", 60, client=client), issue("I-1", 100, client=client), issue("I-2", 100, client=client)])
    assert "has 60.00 paid" in refused(store, [pay("I-1", 50, client=client)])
    store.append([pay("I-1", 40, client=client), pay("I-2", 100, client=client)])


def test_a_payment_above_what_is_left_is_refused_with_the_figures(store):
    store.append([issue("INV-7", 500.0), pay("INV-7", 500.0)])
    assert refused(store, [pay("INV-7", 5000.0)]) == (
        "client acme: INV-7 asks 500.00 and has 500.00 paid; a payment of 5,000.00 would exceed it"
    )
    store.append([issue("INV-8", 1000.0), pay("INV-8", 0.1), pay("INV-8", 0.2)])
    assert "has 0.30 paid; a payment of 999.71" in refused(store, [pay("INV-8", 999.71)])
    store.append([pay("INV-8", 999.7)])  # exactly what is left: decimals as written, no float drift


def test_an_invoice_id_is_issued_once_per_client(store):
    store.append([issue("INV-1", 900.0)])
    assert refused(store, [issue("INV-1", 900.0, at="2026-04-01", due_on="2026-04-30")]) == (
        "client acme: INV-1 is issued already (for 900.00); an invoice id is issued once per client"
    )
    assert "issued already" in refused(store, [issue("INV-2", 1.0), issue("INV-2", 1.0)])
    store.append([issue("INV-1", 900.0, client="other")])  # another client's numbering is its own


def test_the_same_event_again_is_an_idempotent_retry(store):
    first = issue("INV-1", 900.0)
    payment = pay("INV-1", 900.0)
    store.append([first, payment])
    result = store.append([first, payment])
    assert (result.stored, result.already_present) == (0, 2)
    for event in (first, payment):  # alone too, though the books would refuse each as new: its id is stored
        result = store.append([event])
        assert (result.stored, result.already_present, result.version) == (0, 1, 2)


def test_a_payment_names_an_invoice_issued_to_that_client(store):
    store.append([issue("INV-1", 900.0, client="other")])
    assert refused(store, [pay("INV-1", 10.0)]) == (
        "client acme: a payment of 10.00 names INV-1, which was never issued to acme"
    )
    assert "never issued" in refused(store, [issue("INV-3", 10.0), pay("INV-2", 10.0)])
    store.append([issue("INV-2", 10.0), pay("INV-2", 4.0)])  # earlier in the same append: fine
    # later in the same append too (an export lists a payment dated before its invoice first), with the same checks
    store.append([pay("INV-4", 10.0, at="2026-02-27"), issue("INV-4", 10.0)])
    assert refused(store, [pay("INV-5", 7.0), pay("INV-5", 7.0), issue("INV-5", 10.0)]) == (
        "client acme: INV-5 asks 10.00 and has 7.00 paid; a payment of 7.00 would exceed it"
    )
    assert "INV-6 is void" in refused(store, [void("INV-6"), pay("INV-6", 1.0, at="2026-03-13"), issue("INV-6", 10.0)])


def test_an_invoice_is_not_due_before_it_was_issued(store):
    assert refused(store, [issue("INV-1", 10.0, at="2026-03-10", due_on="2026-03-09")]) == (
        "client acme: INV-1 is due on 2026-03-09, before it was issued on 2026-03-10"
    )
    with pytest.raises(InvalidEvent, match="before the issue date"):
        InvoiceIssued(invoice_id="INV-1", amount=1.0, due_on="2026-03-09", issued_on="2026-03-10")
    store.append([issue("INV-1", 10.0, at="2026-03-10", due_on="2026-03-10")])  # due the day it is issued
    store.append([issue("INV-2", 10.0, at="2026-03-20", due_on="2026-03-31", issued_on="2026-03-01")])


def test_voids_name_a_known_invoice_once_and_stop_its_payments(store):
    assert refused(store, [void("INV-9")]) == "client acme: INV-9 cannot be voided: it was never issued to acme"
    store.append([issue("INV-1", 6400.0), pay("INV-1", 400.0), void("INV-1")])
    assert refused(store, [pay("INV-1", 100.0, at="2026-03-13")]) == "client acme: INV-1 is void; a payment of 100.00 cannot go to it"
    assert refused(store, [void("INV-1")]) == "client acme: INV-1 is void already"


def test_payments_and_voids_follow_their_moments_so_what_is_stored_in_any_order_reads_back_in_time_order(store):
    """A client's events are read in time order: a void dated before a payment would void what that payment paid."""
    store.append([issue("INV-1", 100.0), pay("INV-1", 40.0, at="2026-03-10")])
    assert refused(store, [void("INV-1", at="2026-03-05")]) == (
        "client acme: INV-1 has a payment of 2026-03-10, after this void of 2026-03-05; void it no earlier than its last payment"
    )
    store.append([issue("INV-2", 100.0), void("INV-2", at="2026-03-20"), pay("INV-2", 40.0, at="2026-03-15")])
    assert "INV-2 is void" in refused(store, [pay("INV-2", 1.0, at="2026-03-20")])
    in_time_order = store.read_client("acme")
    assert [event.type for event in in_time_order][-2:] == ["PaymentReceived", "InvoiceVoided"]
    open_store("memory:").append(in_time_order)  # as an import of the export stores them: the books hold


def test_a_refusal_in_a_long_batch_stores_none_of_it(store):
    good = [issue(f"INV-{n}", 10.0) for n in range(1200)]  # more than one chunk of every backend
    message = refused(store, [*good, pay("INV-3", 11.0)])
    assert message.startswith("client acme: INV-3 asks 10.00")
    assert store.client_version("acme") == 0


def test_two_writers_cannot_both_pay_the_last_of_an_invoice(store_url):
    """Each writer has its own connection; the check runs after the lock that serialises appends."""
    opened = [open_store(store_url) for _ in range(4)]
    try:
        opened[0].append([issue("INV-1", 100.0)])
        start = threading.Barrier(len(opened))
        outcomes: list[str] = []

        def write(writer: EventStore) -> None:
            start.wait()
            try:
                writer.append([pay("INV-1", 60.0)])
                outcomes.append("stored")
            except MoneyRefused:
                outcomes.append("refused")

        threads = [threading.Thread(target=write, args=(writer,)) for writer in opened]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["refused", "refused", "refused", "stored"]
        paid = [e.payload.amount for e in opened[0].read_client("acme") if isinstance(e.payload, PaymentReceived)]
        assert paid == [60.0]
    finally:
        for writer in opened:
            writer.close()


def test_a_payment_checked_against_what_a_store_knows_of_its_invoice_sees_another_writer_s_payment(store_url):
    """A store checks a single payment against the money events it appended to the invoice itself; another writer
    paid since, so the append reads the invoice again and refuses what would overpay it."""
    ours, theirs = open_store(store_url), open_store(store_url)
    try:
        ours.append([issue("INV-1", 100.0)])
        ours.append([pay("INV-1", 60.0, at="2026-03-05")])
        theirs.append([pay("INV-1", 40.0, at="2026-03-06")])
        assert "has 100.00 paid" in refused(ours, [pay("INV-1", 40.0, at="2026-03-07")])
        ours.append([void("INV-1", at="2026-03-08")])  # read again: three money events, all paid
        assert [type(e.payload) for e in ours.read_client("acme")] == [InvoiceIssued, PaymentReceived, PaymentReceived,
                                                                       InvoiceVoided]
    finally:
        ours.close()
        theirs.close()


# --- random histories --------------------------------------------------------------------------------

INVOICE_IDS = st.sampled_from(["I-1", "I-2", "I-3"])
AMOUNTS = st.sampled_from([0, 0.1, 0.2, 0.3, 1, 50, 99.99, 100, 250.5])
OPERATIONS = st.one_of(
    st.tuples(st.just("issue"), INVOICE_IDS, AMOUNTS),
    st.tuples(st.just("pay"), INVOICE_IDS, AMOUNTS),
    st.tuples(st.just("pay"), INVOICE_IDS, AMOUNTS),
    st.tuples(st.just("void"), INVOICE_IDS, st.just(0)),
)


def as_event(client: str, day: int, operation: tuple[str, str, float]) -> Event:
    kind, invoice_id, amount = operation
    at = (dt.date(2026, 1, 1) + dt.timedelta(days=day)).isoformat()
    if kind == "issue":
        return issue(invoice_id, amount, at=at, due_on="2026-12-31", client=client)
    if kind == "pay":
        return pay(invoice_id, amount, at=at, client=client)
    return void(invoice_id, at=at, client=client)


def assert_books_add_up(history: list[Event]) -> None:
    """No invoice id twice, no payment without its invoice or after its void (in append order), never paid above it."""
    amounts: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    voided: set[str] = set()
    in_order = sorted(history, key=lambda e: e.version or 0)
    for event in in_order:
        payload = event.payload
        if isinstance(payload, InvoiceIssued):
            assert payload.invoice_id not in amounts, "an invoice id issued twice"
            amounts[payload.invoice_id] = Decimal(repr(payload.amount))
            paid[payload.invoice_id] = Decimal(0)
    for event in in_order:
        payload = event.payload
        if isinstance(payload, PaymentReceived):
            assert payload.invoice_id in amounts, "a payment for an invoice never issued"
            assert payload.invoice_id not in voided, "a payment to a void invoice"
            paid[payload.invoice_id] += Decimal(repr(payload.amount))
            assert paid[payload.invoice_id] <= amounts[payload.invoice_id], "a negative balance"
        elif isinstance(payload, InvoiceVoided):
            assert payload.invoice_id in amounts and payload.invoice_id not in voided


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(OPERATIONS, min_size=1, max_size=4), min_size=1, max_size=8))
def test_no_accepted_history_breaks_the_books(store, batches):
    client = f"c-{uuid.uuid4().hex[:12]}"  # one store serves every example
    day = 0
    accepted = 0
    for batch in batches:
        events = []
        for operation in batch:
            events.append(as_event(client, day, operation))
            day += 1
        try:
            accepted += store.append(events).stored
        except MoneyRefused:
            pass
        history = store.read_client(client)
        assert len(history) == accepted  # a refused batch left nothing behind
        assert_books_add_up(history)


# --- what the facts make of voids -------------------------------------------------------------------


def test_a_voided_invoice_is_neither_open_nor_late_nor_owed():
    events = [
        issue("PRO-1", 6400.0, at="2026-01-05", due_on="2026-01-20"),
        issue("INV-2", 500.0, at="2026-01-05", due_on="2026-01-20"),
        void("PRO-1", at="2026-03-01"),
    ]
    stored = [event.stored(n, n) for n, event in enumerate(events, start=1)]
    before = facts_of(stored, Instant.parse("2026-02-15"))
    assert (before.values["open_invoices"], before.values["late_invoices_12m"], before.values["overdue_amount"]) == (2, 2, 6900.0)
    after = facts_of(stored, Instant.parse("2026-03-02"))
    assert (after.values["open_invoices"], after.values["late_invoices_12m"], after.values["overdue_amount"]) == (1, 1, 500.0)
    assert after.evidence["open_invoices"] == (stored[1].id,)


# --- amounts as people read them ----------------------------------------------------------------------


def test_amounts_carry_their_currency():
    assert format_money(1250.5, "EUR") == "1,250.50 EUR"
    assert format_money(Decimal("0.1") + Decimal("0.2"), "GBP") == "0.30 GBP"
    assert format_money(5000, "USD") == "5,000.00 USD"
    onboarded = Event.new("acme", ClientOnboarded(name="Acme", currency="CHF"), "2026-01-01")
    assert client_currency([onboarded], "EUR") == "CHF"
    assert client_currency([], "EUR") == "EUR"


def test_an_export_with_a_payment_dated_before_its_invoice_imports_again(tmp_path):
    from clientrules import Ledger

    with Ledger.open(tmp_path / "a.db") as ledger:
        ledger.append([issue("INV-1", 300.0, at="2026-03-05"), pay("INV-1", 100.0, at="2026-03-01"), void("INV-1")])
        exported = tmp_path / "a.jsonl"
        ledger.export_jsonl(exported)
    assert [line.split('"type": "')[1].split('"')[0] for line in exported.read_text().splitlines()] == [
        "PaymentReceived", "InvoiceIssued", "InvoiceVoided"]  # in time order: the payment first
    with Ledger.open(tmp_path / "b.db") as copy:
        assert copy.import_jsonl(exported).stored == 3


def test_a_stored_payment_dated_before_its_invoice_still_counts(store):
    """The books read what is stored with the invoices first: a payment dated before its invoice is not forgotten."""
    store.append([pay("INV-1", 60.0, at="2026-02-27"), issue("INV-1", 100.0, at="2026-03-01")])
    assert refused(store, [pay("INV-1", 60.0)]) == (
        "client acme: INV-1 asks 100.00 and has 60.00 paid; a payment of 60.00 would exceed it"
    )
