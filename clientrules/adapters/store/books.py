"""The books of an event appended on its own: a money event is checked against its invoice's money events before the
statement that appends it, and that statement appends it only if the invoice still has as many.

Every rule of the books (:class:`~clientrules.domain.money.MoneyBooks`) looks at one invoice's own money events, and
events are only ever added: an invoice that has as many money events as were checked has the same ones, so the check
still holds. What the check is made against needs no read in the usual cases: none for an invoice being issued, and
those of an invoice the store appended to lately (:class:`KnownInvoices`). A check that no longer holds stores
nothing, and the event goes the store's usual path, which reads the invoice and checks again in its transaction.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from clientrules.domain.events import Event, InvoiceIssued
from clientrules.domain.money import MoneyBooks, MoneyRefused
from clientrules.domain.money.integrity import invoice_of

#: how many invoices a store keeps the money events of after appending to them
INVOICES_KNOWN = 4096

#: an invoice: (client, invoice id)
Invoice = tuple[str, str]


class KnownInvoices:
    """The money events of the invoices a store appended to on their own lately, as it stored them (at most
    :data:`INVOICES_KNOWN`, the least recently used forgotten first). Safe to share between threads."""

    def __init__(self) -> None:
        self._money: OrderedDict[Invoice, tuple[Event, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def books_allow(self, event: Event, read: Callable[[Invoice], tuple[Event, ...]]) -> tuple[Event, ...] | None:
        """The money events of money ``event``'s invoice it was checked against, if its books allow it; None if they
        refuse it. Those known, else none for an invoice being issued, else ``read``."""
        invoice = (event.client, invoice_of(event))
        with self._lock:
            money = self._money.get(invoice)
            if money is not None:
                self._money.move_to_end(invoice)
        if money is None:
            money = () if isinstance(event.payload, InvoiceIssued) else read(invoice)
        books = MoneyBooks(lambda _: money)
        try:
            books.check([event])
            books.finish()
        except MoneyRefused:
            return None
        return money

    def after_append(self, event: Event, checked: tuple[Event, ...], appended: bool) -> None:
        """Know money ``event``'s invoice as ``checked`` plus ``event`` once an append stored it; forget it if not (the
        invoice's money events were not those checked, or ``event`` is stored already)."""
        invoice = (event.client, invoice_of(event))
        with self._lock:
            if not appended:
                self._money.pop(invoice, None)
                return
            self._money[invoice] = (*checked, event)
            self._money.move_to_end(invoice)
            if len(self._money) > INVOICES_KNOWN:
                self._money.popitem(last=False)
