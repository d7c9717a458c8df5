"""A client's open invoices as an owner chooses among them (pure): what each asks, what is left, in which currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable

import attrs

from clientrules.domain.events import Event
from clientrules.domain.money.amounts import client_currency
from clientrules.domain.money.integrity import BookedInvoice, count_into


@attrs.frozen
class OpenInvoice:
    """An invoice issued, not void, with something left to pay."""

    invoice_id: str
    amount: Decimal
    left: Decimal
    due_on: dt.date
    currency: str


def open_invoices(events: Iterable[Event], default_currency: str) -> list[OpenInvoice]:
    """The invoices of one client's ``events`` still open, in the order they were issued.

    An invoice's currency is its own, else the client's (``ClientOnboarded.currency``), else ``default_currency``.
    """
    events = list(events)
    currency = client_currency(events, default_currency)
    book: dict[str, BookedInvoice] = {}
    for event in sorted(events, key=lambda e: e.version or 0):  # the books count in append order
        count_into(book, event)
    return [
        OpenInvoice(invoice_id, invoice.amount, invoice.left, invoice.issue.due_on, invoice.issue.currency or currency)
        for invoice_id, invoice in book.items()
        if invoice.left > 0
    ]
