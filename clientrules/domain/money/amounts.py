"""Amounts as an owner or a client reads them: two decimals, thousands grouped, and the currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from clientrules.domain.events import ClientOnboarded, Event

#: the business's currency when the settings name none
DEFAULT_CURRENCY = "EUR"
#: days from an invoice's issue to its due date, where an import finds no due date and the settings name none
DEFAULT_PAYMENT_TERMS_DAYS = 30


def is_currency_code(text: str) -> bool:
    """Whether ``text`` has the shape of an ISO 4217 code: three capital letters (``EUR``)."""
    return len(text) == 3 and text.isascii() and text.isalpha() and text.isupper()


def exact(amount: Decimal | float | int) -> Decimal:
    """An amount as the decimal it was written as (``0.1`` is exactly one tenth)."""
    if isinstance(amount, Decimal):
        return amount
    return Decimal(amount) if isinstance(amount, int) else Decimal(repr(amount))


def figure(amount: Decimal | float | int) -> str:
    """An amount with two decimals and grouped thousands, no currency: ``5,000.00``."""
    return f"{exact(amount):,.2f}"


def format_money(amount: Decimal | float | int, currency: str) -> str:
    """An amount as people read it, with its ISO 4217 currency code after it: ``1,250.50 EUR``."""
    return f"{figure(amount)} {currency}"


def client_currency(events: Iterable[Event], default: str) -> str:
    """The currency a client is invoiced in: its latest ``ClientOnboarded.currency``, else ``default`` (the business's)."""
    found = default
    for event in events:
        payload = event.payload
        if isinstance(payload, ClientOnboarded) and payload.currency is not None:
            found = payload.currency
    return found
