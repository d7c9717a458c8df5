"""What an import would store: rows become events, clients are matched or created, and nothing is guessed (pure).

Every event carries ``source`` (the mapping's name and the row's own id or
number) where its type has the field, and its id derives from it, so importing
the same file again stores nothing and an updated export adds only what
changed: a payment made since is the difference between what the export says
was paid and what is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import attrs

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events import (
    ClientOnboarded,
    Event,
    InvoiceIssued,
    InvoiceVoided,
    PaymentReceived,
    WorkLogged,
)
from clientrules.domain.events.event import MAX_ID_LENGTH
from clientrules.domain.importing.mapping import ImportRefused, Mapping
from clientrules.domain.importing.reading import Cells, iter_cells, split_rows, table
from clientrules.domain.money import client_currency, is_currency_code
from clientrules.domain.money.integrity import BookedInvoice, count_into, shown

#: at most this many problems are listed (the owner fixes them and runs the import again)
MAX_PROBLEMS = 20
_GAPS = re.compile(r"[^a-z0-9]+")


def client_id_from_name(name: str) -> str:
    """The id a client gets from its name: accents dropped, lower case, other runs as one ``-`` ("Orchard Café Ltd" -> ``orchard-cafe-ltd``)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _GAPS.sub("-", plain.casefold()).strip("-")[:64].strip("-")


@attrs.define
class KnownClient:
    """A client already in the ledger, as an import matches rows to it."""

    id: str
    name: str | None
    email: str | None
    currency: str
    book: dict[str, BookedInvoice]
    event_ids: set[str]

    @classmethod
    def of(cls, client: str, events: list[Event], default_currency: str) -> KnownClient:
        name = email = None
        book: dict[str, BookedInvoice] = {}
        for event in sorted(events, key=lambda e: e.version or 0):
            if isinstance(event.payload, ClientOnboarded):
                name, email = event.payload.name, event.payload.email
            count_into(book, event)
        return cls(client, name, email, client_currency(events, default_currency), book, {e.id for e in events})


@attrs.frozen
class ImportPlan:
    """The events an import would store and what the owner should know about them."""

    events: list[Event]
    new_clients: list[str]
    matched_clients: list[str]
    late_today: int
    warnings: list[str]

    def counts(self) -> dict[str, int]:
        return dict(Counter(event.type for event in self.events))

    def summary(self) -> list[str]:
        """The dry run's report, one line each."""
        counts = self.counts()
        lines = [
            f"clients: {len(self.new_clients)} new ({', '.join(self.new_clients) or 'none'}),"
            f" {len(self.matched_clients)} matched ({', '.join(self.matched_clients) or 'none'})",
            "events: " + (", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())) or "none new"),
            f"invoices late today: {self.late_today}",
        ]
        return lines + [f"warning: {warning}" for warning in self.warnings]


@attrs.define
class _Invoice:
    row: Cells
    client: str
    invoice_id: str
    source: str
    amount: Decimal
    issued_on: dt.date
    due_on: dt.date | None
    paid: Decimal | None
    paid_on: dt.date | None
    status: str | None
    currency: str


def plan_import(
    text: str,
    mapping: Mapping,
    known: dict[str, KnownClient],
    *,
    today: dt.date,
    default_currency: str,
    payment_terms_days: int,
) -> ImportPlan:
    """The plan for importing the CSV ``text`` with ``mapping``; :class:`ImportRefused` listing every bad row."""
    rows = split_rows(text, mapping)
    found = table(rows, mapping, mapping.skip_rows)
    planner = _Planner(mapping, known, today, default_currency, payment_terms_days)
    problems: list[str] = []
    for cells in iter_cells(found, mapping):
        try:
            planner.row(cells)
        except ImportRefused as refusal:
            problems.extend(refusal.problems)
            if len(problems) >= MAX_PROBLEMS:
                break
    if not problems:
        try:
            planner.finish()
        except ImportRefused as refusal:
            problems.extend(refusal.problems)
    if problems:
        raise ImportRefused(problems[:MAX_PROBLEMS])
    return planner.plan()


class _Planner:
    def __init__(self, mapping: Mapping, known: dict[str, KnownClient], today: dt.date, currency: str, terms: int) -> None:
        self.mapping = mapping
        self.known = known
        self.today = today
        self.default_currency = currency
        self.terms = terms
        self.by_email = {c.email.casefold(): c.id for c in known.values() if c.email}
        self.by_name = {c.name.casefold(): c.id for c in known.values() if c.name}
        self.new: dict[str, dict[str, Any]] = {}  # id -> name, email, currency, first date
        self.matched: dict[str, None] = {}
        self.invoices: dict[tuple[str, str], _Invoice] = {}
        self.work: list[Event] = []
        self.seen_rows: Counter[str] = Counter()
        self.no_due = 0
        self.paid_without_date = 0
        self.late = 0
        self.unpaid_unknown = not {"status", "paid_amount", "balance"} & mapping.columns.keys()
        self.invoice_events_: list[Event] = []

    # --- clients ------------------------------------------------------------------------

    def client_of(self, cells: Cells, day: dt.date) -> tuple[str, str]:
        """The id of the row's client and its currency, matching by pin, e-mail, then name; a new client otherwise."""
        name, email = cells.text("client"), cells.text("client_email")
        if not name and not email:
            raise ImportRefused([f"{cells.where('client')}: the client's name is empty"])
        client = self.mapping.pins.get(name) or (self.by_email.get(email.casefold()) if email else None)
        client = client or self.by_name.get(name.casefold())
        if client is not None:
            if client in self.known:
                self.matched.setdefault(client)
                return client, self.known[client].currency
        else:
            client = client_id_from_name(name or email.split("@")[0])
            if not client:
                raise ImportRefused([f"{cells.where('client')}: {name!r} has no letters or digits to make a client id of: pin it"])
            if client in self.known:
                raise ImportRefused([
                    f"{cells.where('client')}: {name!r} would get the id {client}, which is another client's"
                    f" ({self.known[client].name}): pin the name to a client in the mapping file"
                ])
        entry = self.new.setdefault(client, {"name": name or email, "email": email or None, "currency": None, "first": day})
        entry["first"] = min(entry["first"], day)
        self.by_name.setdefault((name or email).casefold(), client)
        if email:
            self.by_email.setdefault(email.casefold(), client)
        return client, entry["currency"] or self.mapping.currency or self.default_currency

    def currency_of(self, cells: Cells, client: str, expected: str) -> str:
        written = cells.text("currency")[:3].upper() or self.mapping.currency  # "EUR - Euro" names EUR
        if written is None:
            return expected
        if not is_currency_code(written):
            raise ImportRefused([f"{cells.where('currency')}: {cells.text('currency')!r} is not a currency code such as EUR"])
        entry = self.new.get(client)
        if entry is not None and entry["currency"] is None:
            entry["currency"] = written
            return written
        if written != expected:
            raise ImportRefused([f"{cells.where('currency')}: {written}, but {client} is invoiced in {expected}"])
        return written

    # --- rows ---------------------------------------------------------------------------

    def row(self, cells: Cells) -> None:
        try:
            if self.mapping.kind == "time":
                self.time_row(cells)
            else:
                self.invoice_row(cells)
        except InvalidEvent as error:  # what the event vocabulary refuses (a date outside its years, a long text)
            raise ImportRefused([f"row {cells.number}: {error}"]) from None

    def time_row(self, cells: Cells) -> None:
        day = cells.date_of("date")
        if day is None:
            raise ImportRefused([f"{cells.where('date')}: the date is empty"])
        client, _ = self.client_of(cells, day)
        hours = cells.hours_of()
        billable = cells.flag("billable") if "billable" in self.mapping.columns else True
        fingerprint = "\x1f".join([client, day.isoformat(), str(hours), str(billable), cells.text("description")])
        digest = hashlib.blake2b(fingerprint.encode(), digest_size=10).hexdigest()
        occurrence = self.seen_rows[digest]
        self.seen_rows[digest] += 1
        source = f"{self.mapping.name}:{digest}-{occurrence}"
        self.work.append(
            Event.new(
                client,
                WorkLogged(hours=float(round(hours, 4)), billable=billable, extra={"source": source}),
                day.isoformat(),
                id=_event_id(source, "worked"),
            )
        )

    def invoice_row(self, cells: Cells) -> None:
        status_text = cells.text("status")
        status = None
        if "status" in self.mapping.columns:
            status = self.mapping.status_of(status_text) if status_text else None
            if status_text and status is None:
                raise ImportRefused([
                    f"{cells.where('status')}: unknown status {status_text!r}; name what it means in [statuses] of a mapping file"
                ])
            if status == "draft":
                return
        issued_on = cells.date_of("issued_on")
        if issued_on is None:
            raise ImportRefused([f"{cells.where('issued_on')}: the issue date is empty"])
        invoice_id = cells.text("invoice_id") or cells.text("record_id")
        if not invoice_id:
            raise ImportRefused([f"{cells.where('invoice_id')}: the invoice number is empty"])
        amount = cells.number_of("amount")
        if amount is None:
            raise ImportRefused([f"{cells.where('amount')}: the amount is empty"])
        due_on = cells.date_of("due_on") if "due_on" in cells._table.columns else None
        paid_on = cells.date_of("paid_on") if "paid_on" in cells._table.columns else None
        paid = cells.number_of("paid_amount") if "paid_amount" in cells._table.columns else None
        if paid is None and "balance" in cells._table.columns:
            balance = cells.number_of("balance")
            if balance is not None:
                paid = amount - balance if not self.mapping.sum_lines else None
        client, expected = self.client_of(cells, issued_on)
        currency = self.currency_of(cells, client, expected)
        key = (client, invoice_id)
        earlier = self.invoices.get(key)
        if earlier is not None:
            if self.mapping.sum_lines:
                earlier.amount += amount
                return
            if earlier.amount != amount or earlier.issued_on != issued_on:
                raise ImportRefused([
                    f"{cells.where('invoice_id')}: {shown(invoice_id)} is also on row {earlier.row.number} with another amount or date"
                ])
            return
        record_id = cells.text("record_id") or invoice_id
        self.invoices[key] = _Invoice(
            cells, client, invoice_id, f"{self.mapping.name}:{record_id}", amount, issued_on, due_on, paid, paid_on, status, currency
        )

    # --- events -------------------------------------------------------------------------

    def finish(self) -> None:
        problems = []
        for invoice in self.invoices.values():
            try:
                self.invoice_events(invoice)
            except ImportRefused as refusal:
                problems.extend(refusal.problems)
            except InvalidEvent as error:  # what the event vocabulary refuses (a date outside its years, a long text)
                problems.append(f"row {invoice.row.number}: {error}")
        if problems:
            raise ImportRefused(problems)

    def invoice_events(self, invoice: _Invoice) -> None:
        known = self.known.get(invoice.client)
        booked = known.book.get(invoice.invoice_id) if known is not None else None
        due_on = invoice.due_on
        if due_on is None:
            due_on = invoice.issued_on + dt.timedelta(days=self.terms)
            self.no_due += 1
        if due_on < invoice.issued_on:
            raise ImportRefused([f"row {invoice.row.number}: {shown(invoice.invoice_id)} is due on {due_on}, before its issue date {invoice.issued_on}"])
        paid = invoice.paid
        if paid is None:
            paid = invoice.amount if invoice.status == "paid" else Decimal(0)
        if paid > invoice.amount:
            raise ImportRefused([f"row {invoice.row.number}: {shown(invoice.invoice_id)} asks {invoice.amount:,.2f} and shows {paid:,.2f} paid"])
        at = invoice.issued_on.isoformat()
        events = self.invoice_events_
        if booked is None:
            events.append(Event.new(
                invoice.client,
                InvoiceIssued(
                    invoice_id=invoice.invoice_id,
                    amount=float(invoice.amount),
                    due_on=due_on,
                    issued_on=invoice.issued_on,
                    currency=invoice.currency,
                    source=invoice.source,
                ),
                at,
                id=_event_id(invoice.source, "issued"),
            ))
        already = booked.paid if booked is not None else Decimal(0)
        if paid > already:
            paid_on = invoice.paid_on
            if paid_on is None:
                self.paid_without_date += 1
                paid_on = min(due_on, self.today)
            paid_on = max(paid_on, invoice.issued_on)
            events.append(Event.new(
                invoice.client,
                PaymentReceived(invoice_id=invoice.invoice_id, amount=float(paid - already), source=invoice.source),
                paid_on.isoformat(),
                id=_event_id(invoice.source, f"paid-to-{paid}"),
            ))
        if invoice.status == "void" and not (booked is not None and booked.voided):
            events.append(Event.new(
                invoice.client,
                InvoiceVoided(invoice_id=invoice.invoice_id, reason=f"void in {self.mapping.name}", extra={"source": invoice.source}),
                max(invoice.paid_on or invoice.issued_on, invoice.issued_on).isoformat(),
                id=_event_id(invoice.source, "voided"),
            ))
        if invoice.status != "void" and paid < invoice.amount and due_on < self.today:
            self.late += 1

    def plan(self) -> ImportPlan:
        onboarded = [
            Event.new(
                client,
                ClientOnboarded(
                    name=entry["name"],
                    email=entry["email"],
                    currency=entry["currency"] or self.mapping.currency,
                    extra={"source": f"{self.mapping.name}:client:{client}"},
                ),
                entry["first"].isoformat(),
                id=_event_id(f"{self.mapping.name}:client:{client}", "onboarded"),
            )
            for client, entry in self.new.items()
        ]
        warnings = []
        if self.no_due:
            warnings.append(
                f"{self.no_due} invoice(s) have no due date in this export: due {self.terms} days after issue"
                " (the payment terms setting, CLIENTRULES_PAYMENT_TERMS_DAYS)"
            )
        if self.invoices and self.unpaid_unknown:
            warnings.append(
                "this export says nothing of payments (no status, paid amount or balance):"
                " its invoices are recorded as unpaid; import the payments from another export"
            )
        if self.paid_without_date:
            warnings.append(
                f"{self.paid_without_date} payment(s) have no date in this export: recorded on the invoice's due date"
                " (or today, if that is later)"
            )
        fresh = [
            event
            for event in [*onboarded, *self.invoice_events_, *self.work]
            if event.client not in self.known or event.id not in self.known[event.client].event_ids
        ]
        return ImportPlan(fresh, list(self.new), list(self.matched), self.late, warnings)



def _event_id(source: str, what: str) -> str:
    """The id of an imported event: its source and what it records, hashed if that is too long for an id."""
    text = f"{source}#{what}"
    if len(text) <= MAX_ID_LENGTH:
        return text
    return "import-" + hashlib.sha256(text.encode()).hexdigest()[:40]
