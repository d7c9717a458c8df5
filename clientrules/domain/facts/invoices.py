"""One client's invoices and the payments towards them, indexed for questions as of any moment.

An invoice is the first ``InvoiceIssued`` (in time) of its ``invoice_id``; a
repeated one for the same id is kept but does not count. A ``PaymentReceived``
counts for its invoice only once that invoice is issued as of the moment asked
about (a payment for an unknown invoice is ignored), and it counts even when it
arrived before the invoice was issued. Amounts are summed exactly, as the
decimals they were written as: an invoice is fully paid at the payment where
the running total reaches its amount (a zero amount is paid when issued).

A voided invoice (``InvoiceVoided``) is not open, late or owed as of any
moment at or after its void, and it never stains a client's record
(:meth:`Invoice.late_since`). The stores refuse histories that break the
books (:mod:`clientrules.domain.money`); the fold stays lenient about them.

Lateness (``docs/rules.md``): an invoice is late when the UTC date on which
it became fully paid is more than ``grace_days`` days after ``due_on``, or
when it is not fully paid and the UTC date of T is more than ``grace_days``
days after ``due_on``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from decimal import Decimal

from clientrules.domain.facts.timeline import DAY_US, EXACT, TIE_BITS, ZERO, Timeline, at_of, insort_key, remove_key

EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def ordinal_of(at_us: int) -> int:
    """The proleptic Gregorian ordinal of the UTC date of a moment (microseconds since the epoch)."""
    return EPOCH_ORDINAL + at_us // DAY_US


def midnight_of(ordinal: int) -> int:
    """00:00 UTC of a date ordinal, in microseconds since the epoch."""
    return (ordinal - EPOCH_ORDINAL) * DAY_US


#: the voids of an invoice never voided (read only: shared by all of them)
NO_VOIDS = Timeline()


class Invoice:
    """An invoice id with its issues (rows: amount, due ordinal) and payments (rows: amount)."""

    __slots__ = (
        "invoice_id",
        "issues",
        "payments",
        "voids",
        "issue_key",
        "issue_id",
        "amount",
        "due_ordinal",
        "due_us",
        "paid_key",
        "paid_ordinal",
        "paying",
    )

    def __init__(self, invoice_id: str) -> None:
        self.invoice_id = invoice_id
        self.issues = Timeline()
        self.payments = Timeline(summed=0)
        self.voids = NO_VOIDS  # few invoices are ever voided: a timeline of their own once one is
        #: the order key of the issue that counts (0 until :meth:`settle` has run, on its first issue)
        self.issue_key = 0
        self.issue_id = ""
        self.amount = ZERO
        self.due_ordinal = 0
        self.due_us = 0
        #: the order key of the payment that made it fully paid (None: not fully paid)
        self.paid_key: int | None = None
        self.paid_ordinal = 0
        #: how many payments it took to be fully paid
        self.paying = 0

    def settle(self) -> None:
        """Recompute which issue counts and when the payments reached its amount."""
        self.issue_key = self.issues.keys[0]
        self.issue_id = self.issues.ids[0]
        self.amount, self.due_ordinal = self.issues.rows[0]
        self.due_us = midnight_of(self.due_ordinal)
        self.paid_key = None
        self.paying = 0
        if self.amount == 0:
            self.paid_key = self.issue_key
        else:
            running = ZERO
            for index, (amount,) in enumerate(self.payments.rows):
                running = EXACT.add(running, amount)
                if running >= self.amount:
                    self.paid_key = self.payments.keys[index]
                    self.paying = index + 1
                    break
        if self.paid_key is not None:
            self.paid_ordinal = ordinal_of(at_of(self.paid_key))

    def voids_to_change(self) -> Timeline:
        """Its voids, a timeline of its own (not the shared empty one) to insert into."""
        if self.voids is NO_VOIDS:
            self.voids = Timeline()
        return self.voids

    def voided(self, bound: int) -> bool:
        """Whether it is void as of the moment whose last order key is ``bound``."""
        keys = self.voids.keys
        return bool(keys) and keys[0] <= bound

    def is_late(self, bound: int, ordinal: int, grace_days: int) -> bool:
        """Late as of the moment whose last order key is ``bound`` and UTC date ``ordinal`` (never once void)."""
        if self.voided(bound):
            return False
        paid_key = self.paid_key
        if paid_key is not None and paid_key <= bound:
            return self.paid_ordinal - self.due_ordinal > grace_days
        return ordinal - self.due_ordinal > grace_days

    def late_since(self, grace_days: int) -> int | None:
        """The first moment (µs) from which it is late for good, unless voided; None if it never is."""
        if self.paid_key is not None and self.paid_ordinal - self.due_ordinal <= grace_days:
            return None
        return max(midnight_of(self.due_ordinal + grace_days + 1), at_of(self.issue_key))

    def evidence(self, bound: int) -> tuple[str, ...]:
        """The issue id, then the ids of the payments up to the paying one, as of ``bound``."""
        payments = self.payments
        count = bisect_right(payments.keys, bound)
        if self.paid_key is not None and self.paying < count:
            count = self.paying
        return (self.issue_id, *payments.ids[:count])

    def paid_amount(self, bound: int) -> Decimal:
        payments = self.payments
        return payments.total(0, bisect_right(payments.keys, bound))


class InvoiceBook:
    """Every invoice of a client, indexed by due date, by issue and by when it was settled."""

    __slots__ = (
        "invoices",
        "due_keys",
        "due_invoices",
        "issue_keys",
        "issue_invoices",
        "settled_keys",
        "settled_invoices",
        "unpaid_keys",
        "unpaid_invoices",
        "_longest_wait",
        "_earliest_late",
    )

    def __init__(self) -> None:
        self.invoices: dict[str, Invoice] = {}
        self.due_keys: list[int] = []
        self.due_invoices: list[Invoice] = []
        self.issue_keys: list[int] = []
        self.issue_invoices: list[Invoice] = []
        #: max(issue, paid) order key of the fully paid invoices
        self.settled_keys: list[int] = []
        self.settled_invoices: list[Invoice] = []
        #: issue order keys of the invoices that are not fully paid (as of any moment)
        self.unpaid_keys: list[int] = []
        self.unpaid_invoices: list[Invoice] = []
        #: at least the longest time (µs) from an issue to its settling: older paid invoices cannot be open
        self._longest_wait = 0
        self._earliest_late: dict[int, tuple[int, Invoice] | None] = {}

    def issue(self, key: int, event_id: str, invoice_id: str, amount: Decimal, due_ordinal: int) -> None:
        invoice = self._unindexed(invoice_id)
        invoice.issues.insert(key, event_id, (amount, due_ordinal))
        self._reindex(invoice)

    def load(self, issues: Timeline, payments: Timeline, voids: Timeline) -> None:
        """Fill an empty book from timelines of every issue, payment and void (rows: ``(invoice_id, *fields)``), a restore.

        Each index is sorted once, in the order :meth:`issue` and :meth:`pay` keep it.
        """
        invoices = self.invoices
        for timeline, side in ((issues, "issues"), (payments, "payments"), (voids, "voids")):
            for key, event_id, row in zip(timeline.keys, timeline.ids, timeline.rows):
                invoice = invoices.get(row[0])
                if invoice is None:
                    invoice = invoices[row[0]] = Invoice(row[0])
                into = invoice.voids_to_change() if side == "voids" else getattr(invoice, side)
                into.keys.append(key)
                into.ids.append(event_id)
                into.rows.append(row[1:])
        issued = [invoice for invoice in invoices.values() if invoice.issues.keys]
        for invoice in issued:
            invoice.settle()
        by_due = sorted(issued, key=_due_order)
        self.due_keys = [invoice.due_us for invoice in by_due]
        self.due_invoices = by_due
        self.issue_invoices = sorted(issued, key=_issue_order)
        self.issue_keys = [invoice.issue_key for invoice in self.issue_invoices]
        self.unpaid_invoices = [invoice for invoice in self.issue_invoices if invoice.paid_key is None]
        self.unpaid_keys = [invoice.issue_key for invoice in self.unpaid_invoices]
        settled = sorted(
            ((self._settled_key(invoice), invoice) for invoice in issued if invoice.paid_key is not None),
            key=_first_of_pair,
        )
        self.settled_keys = [key for key, _ in settled]
        self.settled_invoices = [invoice for _, invoice in settled]
        for key, invoice in settled:
            self._longest_wait = max(self._longest_wait, at_of(key) - at_of(invoice.issue_key))

    def pay(self, key: int, event_id: str, invoice_id: str, amount: Decimal) -> None:
        invoice = self._unindexed(invoice_id)
        invoice.payments.insert(key, event_id, (amount,))
        if invoice.issues.keys:
            self._reindex(invoice)

    def void(self, key: int, event_id: str, invoice_id: str) -> None:
        invoice = self._unindexed(invoice_id)
        invoice.voids_to_change().insert(key, event_id, ())
        if invoice.issues.keys:
            self._reindex(invoice)

    def _unindexed(self, invoice_id: str) -> Invoice:
        """The invoice, taken out of every index (and out of the remembered earliest lateness) to change."""
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            invoice = self.invoices[invoice_id] = Invoice(invoice_id)
        elif invoice.issues.keys:  # it has an issue: it was settled and indexed
            cache = self._earliest_late
            for grace_days in [g for g, found in cache.items() if found is not None and found[1] is invoice]:
                del cache[grace_days]
            remove_key(self.due_keys, self.due_invoices, invoice.due_us, invoice)
            remove_key(self.issue_keys, self.issue_invoices, invoice.issue_key, invoice)
            if invoice.paid_key is None:
                remove_key(self.unpaid_keys, self.unpaid_invoices, invoice.issue_key, invoice)
            else:
                remove_key(self.settled_keys, self.settled_invoices, self._settled_key(invoice), invoice)
        return invoice

    def _reindex(self, invoice: Invoice) -> None:
        invoice.settle()
        cache = self._earliest_late
        for grace_days, found in cache.items():
            since = invoice.late_since(grace_days)
            if since is not None and (found is None or (since, invoice.issue_key) < (found[0], found[1].issue_key)):
                cache[grace_days] = (since, invoice)
        self._insert_by_due(invoice)
        insort_key(self.issue_keys, self.issue_invoices, invoice.issue_key, invoice)
        if invoice.paid_key is None:
            insort_key(self.unpaid_keys, self.unpaid_invoices, invoice.issue_key, invoice)
        else:
            settled = self._settled_key(invoice)
            insort_key(self.settled_keys, self.settled_invoices, settled, invoice)
            self._longest_wait = max(self._longest_wait, at_of(settled) - at_of(invoice.issue_key))

    def _insert_by_due(self, invoice: Invoice) -> None:
        """Insert into the due-date index; invoices due at the same moment stay in issue order.

        A canonical order, whatever order the events came in: a restored book
        and one folded event by event list the same invoices in the same order.
        """
        keys, invoices = self.due_keys, self.due_invoices
        index = bisect_left(keys, invoice.due_us)
        stop = bisect_right(keys, invoice.due_us, index)
        while index < stop and invoices[index].issue_key < invoice.issue_key:
            index += 1
        keys.insert(index, invoice.due_us)
        invoices.insert(index, invoice)

    @staticmethod
    def _settled_key(invoice: Invoice) -> int:
        paid_key = invoice.paid_key
        assert paid_key is not None, "only a fully paid invoice has a settled key"
        return max(invoice.issue_key, paid_key)

    def due_between(self, after_us: int, until_us: int) -> list[Invoice]:
        """Invoices (issued or not yet) with ``after_us < due <= until_us``, by due date."""
        keys = self.due_keys
        return self.due_invoices[bisect_right(keys, after_us) : bisect_right(keys, until_us)]

    def open_count(self, bound: int) -> int:
        """How many invoices issued as of ``bound`` are not fully paid as of it."""
        return bisect_right(self.issue_keys, bound) - bisect_right(self.settled_keys, bound)

    def open_invoices(self, bound: int) -> list[Invoice]:
        """The invoices issued, not fully paid and not void as of ``bound``, in issue order.

        Those never paid come from their own index; a paid one is open only if
        issued less than the longest wait before ``bound``, so only those are looked at.
        """
        return [invoice for invoice in self._unpaid(bound) if not invoice.voided(bound)]

    def _unpaid(self, bound: int) -> list[Invoice]:
        found = self.unpaid_invoices[: bisect_right(self.unpaid_keys, bound)]
        if len(found) < self.open_count(bound):
            oldest = (at_of(bound) - self._longest_wait) << TIE_BITS
            issued = self.issue_invoices
            first = bisect_left(self.issue_keys, oldest)
            for invoice in issued[first : bisect_right(self.issue_keys, bound)]:
                if invoice.paid_key is not None and self._settled_key(invoice) > bound:
                    found.append(invoice)
            found.sort(key=lambda invoice: invoice.issue_key)
        return found

    def earliest_late(self, grace_days: int, bound: int) -> tuple[int, Invoice] | None:
        """The first moment (µs) any invoice not void as of ``bound`` was late, and that invoice; None if none ever is.

        Remembered per ``grace_days`` over every invoice; voids are rare, so when
        the one remembered is void as of ``bound`` the others are looked through.
        """
        cache = self._earliest_late
        if grace_days not in cache:
            cache[grace_days] = self._earliest_late_of(grace_days, None)
        found = cache[grace_days]
        if found is not None and found[1].voided(bound):
            return self._earliest_late_of(grace_days, bound)
        return found

    def _earliest_late_of(self, grace_days: int, bound: int | None) -> tuple[int, Invoice] | None:
        candidates = [
            (since, invoice)
            for invoice in self.issue_invoices
            if (since := invoice.late_since(grace_days)) is not None and (bound is None or not invoice.voided(bound))
        ]
        # issue_invoices is in issue order: of invoices late from the same moment, the first issued
        return min(candidates, key=_first_of_pair) if candidates else None


def _due_order(invoice: Invoice) -> tuple[int, int]:
    return invoice.due_us, invoice.issue_key


def _issue_order(invoice: Invoice) -> int:
    return invoice.issue_key


def _first_of_pair(pair: tuple[int, Invoice]) -> int:
    return pair[0]
