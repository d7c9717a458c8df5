"""The integrity of a client's money events, checked as they are appended (pure).

Every store runs :class:`MoneyBooks` inside its appending transaction, after the
lock that serialises writers, so two writers cannot both pay the last of an
invoice; or, for one event appended on its own, just before, against the
invoice's money events, and stores it only if the invoice still has as many
under that lock. The rules (``docs/events.md``, "Money integrity"):

* an ``invoice_id`` is issued once per client (the same event again is an
  idempotent retry, skipped by its id before this check sees it);
* an invoice is not due before it was issued (``issued_on``, else the date of its ``at``);
* a payment names an invoice issued to the same client, already stored or
  anywhere in the same append, that is not void by the payment's moment, and
  never takes the total paid above the invoice's amount;
* a void names an invoice issued to the client and not void already, and
  comes no earlier than the invoice's payments.

The last two follow the events' moments, not the order they were stored in:
a client's events are read (folded, exported) in time order, so what is
accepted in any order imports again from its export.

A payment or void whose invoice is not issued yet waits for it until the end
of the append (an export lists each client's events in time order, and a
payment may be dated before its invoice): it is checked when the invoice comes,
and refused by :meth:`MoneyBooks.finish` if it never does.

A refusal is a :class:`MoneyRefused`: one line with the figures, and the store
keeps nothing of the append.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable, Collection, Iterable

import attrs

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events import Event, Instant, InvoiceIssued, InvoiceVoided, PaymentReceived
from clientrules.domain.money.amounts import exact, figure

#: the event types whose integrity is checked
MONEY_TYPES = (InvoiceIssued.TYPE, PaymentReceived.TYPE, InvoiceVoided.TYPE)


def shown(invoice_id: str) -> str:
    """An invoice id as a one-line message names it: as written, or quoted with escapes if it holds control characters."""
    return invoice_id if invoice_id.isprintable() else repr(invoice_id)


class MoneyRefused(InvalidEvent):
    """A money event that would break a client's books; nothing was stored.

    ``event_id`` names that event, ``concerns`` the ``data`` key at fault (a form shows the message beside it).
    """

    event_id: str

    def __init__(self, message: str, *, event_id: str, concerns: str) -> None:
        self.concerns = concerns
        super().__init__(message, event_id=event_id)


@attrs.define
class BookedInvoice:
    """An invoice as the books hold it: as issued, what was paid towards it, and whether it is void."""

    issue: InvoiceIssued
    amount: Decimal
    paid: Decimal = Decimal(0)
    voided: bool = False
    #: the moment of its void, and of its latest payment
    voided_at: Instant | None = None
    last_paid_at: Instant | None = None

    @property
    def left(self) -> Decimal:
        """What is left to pay (nothing once void)."""
        return Decimal(0) if self.voided else self.amount - self.paid


def invoice_of(event: Event) -> str:
    """The invoice a money event issues, pays or voids."""
    payload = event.payload
    assert isinstance(payload, (InvoiceIssued, PaymentReceived, InvoiceVoided)), "a money event"
    return payload.invoice_id


def count_into(book: dict[str, BookedInvoice], event: Event) -> None:
    """Count one money event of a client into its ``book`` (a repeated issue, or a payment or void of no invoice, counts nothing)."""
    payload = event.payload
    if isinstance(payload, InvoiceIssued):
        book.setdefault(payload.invoice_id, BookedInvoice(payload, exact(payload.amount)))
    elif isinstance(payload, PaymentReceived):
        invoice = book.get(payload.invoice_id)
        if invoice is not None:
            invoice.paid += exact(payload.amount)
            invoice.last_paid_at = max(event.at, invoice.last_paid_at or event.at)
    elif isinstance(payload, InvoiceVoided):
        invoice = book.get(payload.invoice_id)
        if invoice is not None:
            invoice.voided = True
            invoice.voided_at = event.at


class MoneyBooks:
    """The invoices an append names: each money event is checked against its invoice, then counted.

    ``stored`` reads the money events already stored for some ``(client,
    invoice id)`` pairs (any order; events of other invoices may come too, and
    are left out); it is called once per pair, the first time a money event of
    that invoice is checked. Every rule looks at one invoice, so the books
    never need a client's other invoices.
    """

    def __init__(self, stored: Callable[[Collection[tuple[str, str]]], Iterable[Event]]) -> None:
        self._stored = stored
        #: per client, the invoices read so far
        self._books: dict[str, dict[str, BookedInvoice]] = {}
        self._read: set[tuple[str, str]] = set()
        #: payments and voids of invoices not issued yet, by client and invoice id, in append order
        self._waiting: dict[tuple[str, str], list[Event]] = {}

    def check(self, events: Iterable[Event]) -> None:
        """Check ``events`` (in append order) and count them in; :class:`MoneyRefused` at the first that breaks the books."""
        money = [event for event in events if event.payload.TYPE in MONEY_TYPES]
        if not money:
            return
        unread = {(event.client, invoice_of(event)) for event in money} - self._read
        if unread:
            self._read |= unread
            for client, _ in unread:
                self._books.setdefault(client, {})
            stored = [event for event in self._stored(unread) if (event.client, invoice_of(event)) in unread]
            # issues first: a payment or void stored in any order, even dated before its invoice, counts only once the invoice is booked
            for event in sorted(stored, key=lambda event: not isinstance(event.payload, InvoiceIssued)):
                count_into(self._books[event.client], event)
        for event in money:
            payload = event.payload
            book = self._books[event.client]
            if isinstance(payload, (PaymentReceived, InvoiceVoided)) and payload.invoice_id not in book:
                self._waiting.setdefault((event.client, payload.invoice_id), []).append(event)
                continue
            self._take(event)
            if isinstance(payload, InvoiceIssued):
                for waiting in self._waiting.pop((event.client, payload.invoice_id), ()):
                    self._take(waiting)

    def finish(self) -> None:
        """At the end of an append: :class:`MoneyRefused` if a payment or void is still waiting for its invoice."""
        for waiting in self._waiting.values():
            self._take(waiting[0])  # refused: its invoice was never issued

    def _take(self, event: Event) -> None:
        refusal = self._refusal(event)
        if refusal is not None:
            concerns, message = refusal
            raise MoneyRefused(message, event_id=event.id, concerns=concerns)
        count_into(self._books[event.client], event)

    def _refusal(self, event: Event) -> tuple[str, str] | None:
        """The field at fault and why ``event`` would break the books, None if it would not."""
        book = self._books[event.client]
        payload = event.payload
        client = event.client
        if isinstance(payload, InvoiceIssued):
            issued_on = payload.issued_on or event.at.date
            if payload.due_on < issued_on:
                return "due_on", (
                    f"client {client}: {shown(payload.invoice_id)} is due on {payload.due_on.isoformat()},"
                    f" before it was issued on {issued_on.isoformat()}"
                )
            if payload.invoice_id in book:
                return "invoice_id", (
                    f"client {client}: {shown(payload.invoice_id)} is issued already (for"
                    f" {figure(book[payload.invoice_id].amount)}); an invoice id is issued once per client"
                )
            return None
        if not isinstance(payload, (PaymentReceived, InvoiceVoided)):
            return None
        invoice = book.get(payload.invoice_id)
        if isinstance(payload, PaymentReceived):
            paying = f"a payment of {figure(payload.amount)}"
            if invoice is None:
                return "invoice_id", f"client {client}: {paying} names {shown(payload.invoice_id)}, which was never issued to {client}"
            if invoice.voided and (invoice.voided_at is None or invoice.voided_at <= event.at):
                return "invoice_id", f"client {client}: {shown(payload.invoice_id)} is void; {paying} cannot go to it"
            if invoice.paid + exact(payload.amount) > invoice.amount:
                return "amount", (
                    f"client {client}: {shown(payload.invoice_id)} asks {figure(invoice.amount)} and has"
                    f" {figure(invoice.paid)} paid; {paying} would exceed it"
                )
            return None
        if invoice is None:
            return "invoice_id", f"client {client}: {shown(payload.invoice_id)} cannot be voided: it was never issued to {client}"
        if invoice.voided:
            return "invoice_id", f"client {client}: {shown(payload.invoice_id)} is void already"
        if invoice.last_paid_at is not None and invoice.last_paid_at > event.at:
            return "at", (
                f"client {client}: {shown(payload.invoice_id)} has a payment of {invoice.last_paid_at.date.isoformat()},"
                f" after this void of {event.at.date.isoformat()}; void it no earlier than its last payment"
            )
        return None
