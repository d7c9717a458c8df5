"""Amounts typed by the owner, read the way the business writes them, or refused with the reading we would make."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from clientrules import NUMBER_FORMATS
from survey_app.numbers import AmountError, read_amount, written


@pytest.mark.parametrize(
    ("typed", "number_format", "read"),
    [
        ("1250", "1,234.56", 1250.0),
        ("1,250.50", "1,234.56", 1250.5),
        ("1 250.50", "1,234.56", 1250.5),
        ("0.25", "1,234.56", 0.25),
        ("1.250,50", "1.234,56", 1250.5),
        ("1 250,50", "1 234,56", 1250.5),
        ("  ", "1,234.56", None),
    ],
)
def test_an_amount_written_the_business_way_is_read(typed, number_format, read) -> None:
    assert read_amount(typed, number_format) == read


@pytest.mark.parametrize(
    ("typed", "number_format", "said"),
    [
        ("1.250,50", "1,234.56", "1.250,50: did you mean 1,250.50? Write amounts like 1,234.56."),
        ("1,250.50", "1.234,56", "1,250.50: did you mean 1.250,50? Write amounts like 1.234,56."),
        ("1.250", "1,234.56", "1.250: did you mean 1,250?"),  # one and a quarter, or a thousand and more?
        ("-5", "1,234.56", "Enter the amount without a minus sign: an amount here is never below 0."),
        ("twelve", "1,234.56", "Enter an amount, like 1,234.56."),
    ],
)
def test_an_amount_written_another_way_or_two_ways_is_refused_with_our_reading(typed, number_format, said) -> None:
    with pytest.raises(AmountError) as refused:
        read_amount(typed, number_format)
    assert str(refused.value).startswith(said)


@given(st.integers(0, 10**9), st.integers(0, 99), st.sampled_from(sorted(NUMBER_FORMATS)))
def test_an_amount_as_we_write_it_reads_back_the_same(units, cents, number_format) -> None:
    value = units + cents / 100
    assert read_amount(written(value, number_format), number_format) == pytest.approx(value)
