"""Money: the integrity of a client's invoices, payments and voids, and amounts as an owner reads them (pure)."""

from clientrules.domain.money.amounts import (
    DEFAULT_CURRENCY,
    DEFAULT_NUMBER_FORMAT,
    DEFAULT_PAYMENT_TERMS_DAYS,
    NUMBER_FORMATS,
    client_currency,
    exact,
    figure,
    format_money,
    in_number_format,
    is_currency_code,
)
from clientrules.domain.money.integrity import MONEY_TYPES, MoneyBooks, MoneyRefused
from clientrules.domain.money.statement import OpenInvoice, open_invoices

__all__ = [
    "DEFAULT_CURRENCY",
    "DEFAULT_NUMBER_FORMAT",
    "DEFAULT_PAYMENT_TERMS_DAYS",
    "MONEY_TYPES",
    "NUMBER_FORMATS",
    "MoneyBooks",
    "MoneyRefused",
    "OpenInvoice",
    "client_currency",
    "exact",
    "figure",
    "format_money",
    "in_number_format",
    "is_currency_code",
    "open_invoices",
]
