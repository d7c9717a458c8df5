"""Amounts typed by the owner, read the way the business writes them (``CLIENTRULES_NUMBER_FORMAT``).

``1,250.50`` is 1250.5 where the business writes ``1,234.56``, and ``1.250,50`` where it writes
``1.234,56``. An amount written the other way, or that could be read two ways (``1.250``: one and a
quarter, or twelve hundred and fifty?), is refused with the reading we would have made, never guessed.
"""

from __future__ import annotations

import re

from clientrules import NUMBER_FORMATS, in_number_format

#: the spaces a phone or a spreadsheet may put between thousands
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


class AmountError(ValueError):
    """Why a typed amount was not read, in one sentence for beside the field."""


def read_amount(typed: str, number_format: str) -> float | None:
    """The amount ``typed`` (None when nothing is typed), or :class:`AmountError` saying why not."""
    thousands, decimal = NUMBER_FORMATS[number_format]
    text = _SPACES.sub(" ", typed.strip())
    if not text:
        return None
    if text.startswith(("-", "−")):
        raise AmountError("Enter the amount without a minus sign: an amount here is never below 0.")
    text = text.replace(" ", "")  # spaces only ever group thousands
    value = _read(text, thousands, decimal)
    if value is not None:
        return value
    other = next(
        (seps for seps in NUMBER_FORMATS.values() if seps != (thousands, decimal) and _read(text, *seps) is not None),
        None,
    )
    if other is not None:
        meant = written(_read(text, *other) or 0.0, number_format)
        raise AmountError(f"{typed.strip()}: did you mean {meant}? Write amounts like {number_format}.")
    raise AmountError(f"Enter an amount, like {number_format}.")


def _read(text: str, thousands: str, decimal: str) -> float | None:
    """``text`` read with these separators, None if it is not a number written so, or could be read two ways."""
    t, d = re.escape(thousands), re.escape(decimal)
    grouped = re.fullmatch(rf"(\d{{1,3}}(?:{t}\d{{3}})+)({d}\d+)?", text)
    plain = re.fullmatch(rf"(\d+)({d}\d+)?", text)
    found = grouped or plain
    if found is None:
        return None
    whole, fraction = found.group(1).replace(thousands, ""), (found.group(2) or "")[1:]
    if plain and fraction and len(fraction) == 3 and thousands != " ":
        return None  # 1.250 or 1,250 with a decimal separator: could be a thousand and more
    return float(f"{whole}.{fraction}" if fraction else whole)


def written(value: float, number_format: str) -> str:
    """``value`` as the business writes amounts: ``1,250.50``, ``1.250,50``, ``1 250,50`` (``1,250`` when whole)."""
    return in_number_format(f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}", number_format)
