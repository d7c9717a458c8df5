"""Mapping files: how the columns of a CSV export become our fields (TOML; the presets are mapping files too).

::

    name = "mybank"            # names the source of every event (``mybank:INV-7``)
    kind = "invoices"          # or "time"
    [csv]
    delimiter = ";"            # default ","
    encoding = "utf-8"         # default utf-8 (a byte-order mark is always allowed)
    skip_rows = 0              # lines before the header
    sum_lines = false          # true: one row per line item, amounts summed per invoice
    [columns]                  # our field = the file's header, or a list of headers it may have
    client = "Customer"
    amount = ["Total", "Amount"]
    [format]
    date = "%d.%m.%Y"          # strftime pattern; absent: ISO, or day and month told apart by the values
    decimal = ","              # default "."
    thousands = "."            # default ","
    [statuses]                 # the file's status -> open, paid, void or draft
    "Sent" = "open"
    [pins]                     # a name in the file -> the id of a client already known
    "Orchard Cafe" = "orchard"
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import attrs

from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import check_client_id
from clientrules.domain.money import is_currency_code

#: every field a mapping may name, per kind of file
FIELDS = {
    "invoices": (
        "client", "client_email", "invoice_id", "record_id", "amount", "issued_on", "due_on", "paid_on",
        "paid_amount", "balance", "currency", "status",
    ),
    "time": ("client", "client_email", "date", "hours", "duration", "billable", "description", "currency"),
}
#: the fields a file must have, per kind (time: ``hours`` or ``duration``, checked apart)
REQUIRED = {"invoices": ("client", "invoice_id", "amount", "issued_on"), "time": ("client", "date")}
STATUS_MEANINGS = ("open", "paid", "void", "draft")
#: statuses every invoice preset understands, lower case
COMMON_STATUSES = {
    "draft": "draft", "open": "open", "sent": "open", "viewed": "open", "overdue": "open", "partial": "open",
    "partially paid": "open", "unpaid": "open", "awaiting payment": "open", "paid": "paid", "void": "void",
    "voided": "void", "uncollectible": "void", "written off": "void", "cancelled": "void", "deleted": "void",
}
PRESETS = ("stripe", "quickbooks", "xero", "freshbooks", "harvest", "toggl", "clockify", "wave", "zoho", "invoiceninja")


class ImportRefused(ClientRulesError):
    """A file (or its mapping) cannot be imported as it is: one line per problem; nothing was stored."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@attrs.frozen
class Mapping:
    name: str
    kind: str
    columns: dict[str, tuple[str, ...]]
    delimiter: str = ","
    encoding: str = "utf-8"
    skip_rows: int = 0
    sum_lines: bool = False
    date: str | None = None
    decimal: str = "."
    thousands: str = ","
    statuses: dict[str, str] = attrs.field(factory=dict)
    pins: dict[str, str] = attrs.field(factory=dict)
    #: the currency of every amount, where the file says it once (a header such as ``Amount (USD)``)
    currency: str | None = None
    #: rows to pass over (bucket and total rows of a report): a column and the starts of values that mark them
    skip_when: dict[str, tuple[str, ...]] = attrs.field(factory=dict)

    def status_of(self, text: str) -> str | None:
        """What a status written in the file means (open, paid, void, draft), None if unknown."""
        key = text.strip().casefold()
        return self.statuses.get(key) or COMMON_STATUSES.get(key)


def parse_mapping(text: str, *, origin: str) -> Mapping:
    """The mapping of a TOML document (``origin`` names it in errors); :class:`ImportRefused` if it is not one."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ImportRefused([f"{origin}: not a TOML file ({error})"]) from None
    try:
        return _mapping(document, origin)
    except (TypeError, ValueError, AttributeError) as error:
        raise ImportRefused([f"{origin}: {error}"]) from None


def _texts(value: Any, what: str) -> tuple[str, ...]:
    values = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else None
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{what} must be a header or a list of headers")
    return values


def _mapping(document: dict[str, Any], origin: str) -> Mapping:
    name = document.get("name")
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError("name must be a short name without ':' (it starts the source of every event)")
    kind = document.get("kind", "invoices")
    if kind not in FIELDS:
        raise ValueError(f"kind must be invoices or time, not {kind!r}")
    unknown = sorted(set(document) - {"name", "kind", "csv", "columns", "format", "statuses", "pins", "currency", "skip_when"})
    if unknown:
        raise ValueError(f"unknown section or key {unknown[0]!r}")
    columns_table = document.get("columns", {})
    strange = sorted(set(columns_table) - set(FIELDS[kind]))
    if strange:
        raise ValueError(f"[columns] {strange[0]!r} is not a field of {kind} files ({', '.join(FIELDS[kind])})")
    columns = {field: _texts(value, f"[columns] {field}") for field, value in columns_table.items()}
    missing = [field for field in REQUIRED[kind] if field not in columns]
    if kind == "time" and "hours" not in columns and "duration" not in columns:
        missing.append("hours or duration")
    if missing:
        raise ValueError(f"[columns] must name {', '.join(missing)}")
    csv_table = document.get("csv", {})
    form = document.get("format", {})
    statuses = {str(k).casefold(): v for k, v in document.get("statuses", {}).items()}
    bad_status = [v for v in statuses.values() if v not in STATUS_MEANINGS]
    if bad_status:
        raise ValueError(f"[statuses] values must be one of {', '.join(STATUS_MEANINGS)}, not {bad_status[0]!r}")
    pins = dict(document.get("pins", {}))
    for pinned in pins.values():
        check_client_id(pinned, field="[pins]")
    currency = document.get("currency")
    if currency is not None and (not isinstance(currency, str) or not is_currency_code(currency)):
        raise ValueError("currency must be a code of three capital letters, such as EUR")
    decimal, thousands = form.get("decimal", "."), form.get("thousands", "," if form.get("decimal", ".") == "." else ".")
    if decimal not in (".", ",") or thousands not in (",", ".", " ", "'", "") or decimal == thousands:
        raise ValueError('[format] decimal is "." or ",", and thousands another of ",", ".", " ", "\'" or ""')
    delimiter = csv_table.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError("[csv] delimiter must be one character")
    skip_rows = csv_table.get("skip_rows", 0)
    if not isinstance(skip_rows, int) or not 0 <= skip_rows <= 100:
        raise ValueError("[csv] skip_rows must be a whole number from 0 to 100")
    return Mapping(
        name=name,
        kind=kind,
        columns=columns,
        delimiter=delimiter,
        encoding=str(csv_table.get("encoding", "utf-8")),
        skip_rows=skip_rows,
        sum_lines=bool(csv_table.get("sum_lines", False)),
        date=form.get("date"),
        decimal=decimal,
        thousands=thousands,
        statuses=statuses,
        pins={str(k): str(v) for k, v in pins.items()},
        currency=currency,
        skip_when={column: _texts(values, f"[skip_when] {column}") for column, values in document.get("skip_when", {}).items()},
    )


def preset(name: str) -> Mapping:
    """A mapping shipped with the package (:data:`PRESETS`); :class:`ImportRefused` for another name."""
    if name not in PRESETS:
        raise ImportRefused([f"no preset {name!r}: the presets are {', '.join(PRESETS)} (or give a mapping file with --map)"])
    return parse_mapping(preset_text(name), origin=f"preset {name}")


def preset_text(name: str) -> str:
    """The TOML of a preset, for an owner to copy and adjust."""
    return resources.files("clientrules.domain.importing").joinpath("presets", f"{name}.toml").read_text("utf-8")
