"""A CSV export read as text: its header found, its columns matched to a mapping's fields, its values read strictly."""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Iterator

import attrs

from clientrules.domain.importing.mapping import REQUIRED, ImportRefused, Mapping

#: a header row is looked for among the first rows (reports put titles above it)
HEADER_SEARCH_ROWS = 20
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?")
_CLOCK = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d))?")


@attrs.frozen
class Table:
    """The rows under the header; ``columns`` maps each field to its column's index and header."""

    header: list[str]
    columns: dict[str, tuple[int, str]]
    rows: list[tuple[int, list[str]]]  # (row number in the file, 1 = its first line; the cells)


def split_rows(text: str, mapping: Mapping) -> list[list[str]]:
    """Every row of the file's text (a byte-order mark dropped), after ``skip_rows``."""
    reader = csv.reader(text.removeprefix("\ufeff").splitlines(), delimiter=mapping.delimiter)
    try:
        rows = list(reader)
    except csv.Error as error:
        raise ImportRefused([f"row {reader.line_num}: not readable as CSV ({error})"]) from None
    return rows[mapping.skip_rows :]


def match_columns(header: list[str], mapping: Mapping) -> dict[str, tuple[int, str]]:
    """Each field of ``mapping`` whose header (or one of its other names) is in ``header``: its index and header."""
    positions = {cell.strip().casefold(): index for index, cell in enumerate(header)}
    found = {}
    for field, names in mapping.columns.items():
        for name in names:
            index = positions.get(name.casefold())
            if index is not None:
                found[field] = (index, header[index].strip())
                break
    return found


def missing_fields(columns: dict[str, tuple[int, str]], mapping: Mapping) -> list[str]:
    missing = [field for field in REQUIRED[mapping.kind] if field not in columns]
    if mapping.kind == "time" and "hours" not in columns and "duration" not in columns:
        missing.append("hours" if "hours" in mapping.columns else "duration")
    return missing


def table(rows: list[list[str]], mapping: Mapping, offset: int) -> Table:
    """The table under the first row that has every required column; :class:`ImportRefused` naming what is missing."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = match_columns(row, mapping)
        if not missing_fields(columns, mapping):
            body = [(offset + index + 2 + n, cells) for n, cells in enumerate(rows[index + 1 :]) if any(c.strip() for c in cells)]
            return Table([cell.strip() for cell in row], columns, body)
    first = rows[0] if rows else []
    missing = missing_fields(match_columns(first, mapping), mapping)
    wanted = "; ".join(f"{field} ({' or '.join(repr(n) for n in mapping.columns.get(field, (field,)))})" for field in missing)
    found = ", ".join(repr(cell.strip()) for cell in first) or "none"
    raise ImportRefused([f"{mapping.name}: no column for {wanted}; the file's headers: {found}"])


class Cells:
    """One row's values by field, read strictly; each problem is one line naming the row and the column."""

    def __init__(self, table: Table, number: int, cells: list[str], mapping: Mapping) -> None:
        self.number = number
        self._table = table
        self._cells = cells
        self._mapping = mapping

    def where(self, field: str) -> str:
        return f"row {self.number}, column {self._table.columns[field][1]!r}"

    def text(self, field: str) -> str:
        """The cell of ``field`` stripped ('' when the file has no such column or the row is short)."""
        found = self._table.columns.get(field)
        if found is None or found[0] >= len(self._cells):
            return ""
        return self._cells[found[0]].strip()

    def number_of(self, field: str) -> Decimal | None:
        """A non-negative number written as the mapping says (``1.250,50`` with decimal ","), None if empty."""
        text = self.text(field)
        if not text:
            return None
        mapping = self._mapping
        cleaned = text.replace("\u00a0", "").replace(" ", "")
        for symbol in "€$£¥":
            cleaned = cleaned.replace(symbol, "")
        if mapping.thousands:
            cleaned = cleaned.replace(mapping.thousands, "")
        if mapping.decimal == ",":
            cleaned = cleaned.replace(",", ".")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise ImportRefused([f"{self.where(field)}: {text!r} is not a number"]) from None
        if not value.is_finite() or value < 0:
            raise ImportRefused([f"{self.where(field)}: {text!r} is not an amount of 0 or more"])
        return value

    def date_of(self, field: str) -> dt.date | None:
        """A date as the mapping's pattern says, else ISO, else day and month told apart by the value; never a guess."""
        text = self.text(field)
        if not text:
            return None
        pattern = self._mapping.date
        if pattern is not None:
            try:
                return dt.datetime.strptime(text.split(" ")[0] if " " not in pattern else text, pattern).date()
            except ValueError:
                raise ImportRefused([f"{self.where(field)}: {text!r} is not a date written as {pattern}"]) from None
        iso = _ISO.fullmatch(text)
        if iso:
            try:
                return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
            except ValueError:
                raise ImportRefused([f"{self.where(field)}: {text!r} is not a calendar date"]) from None
        found = _DAY_MONTH_YEAR.fullmatch(text.split(" ")[0])
        if not found:
            raise ImportRefused([f"{self.where(field)}: {text!r} is not a date (set [format] date in a mapping file)"])
        first, second, year = int(found[1]), int(found[2]), int(found[3])
        readings = {day for day in (_day(year, second, first), _day(year, first, second)) if day is not None}
        if len(readings) == 1:
            return readings.pop()
        if not readings:
            raise ImportRefused([f"{self.where(field)}: {text!r} is not a calendar date"])
        day_first, month_first = _day(year, second, first), _day(year, first, second)
        assert day_first is not None and month_first is not None, "two readings"
        raise ImportRefused([
            f"{self.where(field)}: {text!r} reads as {day_first:%d %B %Y} or {month_first:%d %B %Y};"
            ' say which with [format] date = "%d/%m/%Y" or "%m/%d/%Y" in a mapping file'
        ])

    def hours_of(self) -> Decimal:
        """Hours from ``hours`` (a number) or ``duration`` (``HH:MM:SS``, or a number of hours)."""
        if "hours" in self._table.columns:
            value = self.number_of("hours")
            return Decimal(0) if value is None else value
        text = self.text("duration")
        clock = _CLOCK.fullmatch(text)
        if clock:
            return Decimal(int(clock[1])) + Decimal(int(clock[2])) / 60 + Decimal(int(clock[3] or 0)) / 3600
        value = self.number_of("duration")
        return Decimal(0) if value is None else value

    def flag(self, field: str) -> bool:
        """Yes/no as exports write it (absent: yes)."""
        text = self.text(field).casefold()
        if text in ("", "yes", "y", "true", "1", "billable"):
            return True
        if text in ("no", "n", "false", "0", "non-billable", "not billable"):
            return False
        raise ImportRefused([f"{self.where(field)}: {self.text(field)!r} is neither yes nor no"])


def _day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def iter_cells(table: Table, mapping: Mapping) -> Iterator[Cells]:
    """The rows of ``table`` that hold data (rows the mapping's ``skip_when`` marks are passed over)."""
    skip = [(match_columns_index(table.header, column), starts) for column, starts in mapping.skip_when.items()]
    for number, cells in table.rows:
        if any(
            index is not None and index < len(cells) and cells[index].strip().startswith(starts)
            for index, starts in skip
        ):
            continue
        row = Cells(table, number, cells, mapping)
        if not row.text("client") and not row.text(next(iter(REQUIRED[mapping.kind][1:]), "client")):
            continue  # a bucket title or total row of a report
        yield row


def match_columns_index(header: list[str], name: str) -> int | None:
    lowered = [cell.casefold() for cell in header]
    return lowered.index(name.casefold()) if name.casefold() in lowered else None
