"""Amounts as an owner or a client reads them: two decimals, thousands grouped the business's way
(``CLIENTRULES_NUMBER_FORMAT``: :data:`NUMBER_FORMATS`), and the currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from clientrules.domain.events import ClientOnboarded, Event

#: the business's currency when the settings name none
DEFAULT_CURRENCY = "EUR"
#: days from an invoice's issue to its due date, where an import finds no due date and the settings name none
DEFAULT_PAYMENT_TERMS_DAYS = 30
#: the ways a business may write amounts, each named by how it writes 1234.56, with its thousands and decimal
#: separators; the default first
NUMBER_FORMATS: dict[str, tuple[str, str]] = {"1,234.56": (",", "."), "1.234,56": (".", ","), "1 234,56": (" ", ",")}
DEFAULT_NUMBER_FORMAT = next(iter(NUMBER_FORMATS))


def is_currency_code(text: str) -> bool:
    """Whether ``text`` has the shape of an ISO 4217 code: three capital letters (``EUR``)."""
    return len(text) == 3 and text.isascii() and text.isalpha() and text.isupper()


def exact(amount: Decimal | float | int) -> Decimal:
    """An amount as the decimal it was written as (``0.1`` is exactly one tenth)."""
    if isinstance(amount, Decimal):
        return amount
    return Decimal(amount) if isinstance(amount, int) else Decimal(repr(amount))


def in_number_format(written: str, number_format: str) -> str:
    """A number written with Python's ``,`` and ``.`` (``f"{x:,.2f}"``) as ``number_format`` writes it."""
    thousands, decimal = NUMBER_FORMATS[number_format]
    return written.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def figure(amount: Decimal | float | int, number_format: str = DEFAULT_NUMBER_FORMAT) -> str:
    """An amount with two decimals and grouped thousands, no currency: ``5,000.00`` (or ``5.000,00``...)."""
    return in_number_format(f"{exact(amount):,.2f}", number_format)


def format_money(amount: Decimal | float | int, currency: str, number_format: str = DEFAULT_NUMBER_FORMAT) -> str:
    """An amount as people read it, with its ISO 4217 currency code after it: ``1,250.50 EUR`` (or as
    ``number_format`` writes it: ``1.250,50 EUR``)."""
    return f"{figure(amount, number_format)} {currency}"


def client_currency(events: Iterable[Event], default: str) -> str:
    """The currency a client is invoiced in: its latest ``ClientOnboarded.currency``, else ``default`` (the business's)."""
    found = default
    for event in events:
        payload = event.payload
        if isinstance(payload, ClientOnboarded) and payload.currency is not None:
            found = payload.currency
    return found
