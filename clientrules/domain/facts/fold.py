"""The incremental fold of one client's events into the facts of ``docs/rules.md``.

:class:`ClientFold` keeps each kind of event in a sorted :class:`Timeline`
(invoices and payments in an :class:`InvoiceBook`). ``apply`` bisects one
event into place, whatever its ``at``; ``facts(T)`` bisects every timeline to
T and to the window each fact looks at, so a windowed fact costs as much as
the events in its window, not the whole history. Exact definitions of every
fact: ``clientrules/domain/facts/catalogue.py``.
"""

from __future__ import annotations

import datetime as dt
import functools
from itertools import compress, repeat
from operator import and_, itemgetter, lshift, or_, rshift
import statistics
from bisect import bisect_left, bisect_right
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Event, Instant, as_instant
from clientrules.domain.facts.invoices import InvoiceBook
from clientrules.domain.facts.portfolio import ValueSteps
from clientrules.domain.facts.status import LEAVING, LEFT, NOT_ENDED, ClientStatus
from clientrules.domain.facts.timeline import DAY_US, EXACT, TIE_BITS, TIE_MASK, ZERO, Timeline, at_of, last_key_at, order_key
from clientrules.domain.facts.value import Facts, Incident

SNAPSHOT_SCHEMA = 3
SNAPSHOT_KIND = "clientrules.facts.ClientFold"
SEVERE_KINDS = frozenset({"abuse", "harassment", "threat"})
EMPTY: tuple[str, ...] = ()


def _severe_against_staff(row: tuple[Any, ...]) -> bool:
    """Version 1's measure: abuse, harassment or a threat against staff, whatever its severity."""
    return bool(row[1] == "staff" and row[0] in SEVERE_KINDS)


def _serious(row: tuple[Any, ...]) -> bool:
    """Abuse, harassment or a threat of severity 2 or more, or any incident of severity 3, against anyone."""
    return bool((row[0] in SEVERE_KINDS and row[2] >= 2) or row[2] == 3)


class FactsError(ClientRulesError):
    """An event or snapshot that cannot be folded, or a bad argument to ``facts``."""


@functools.lru_cache(maxsize=4096)
def _decimal(number: float | int) -> Decimal:
    """A JSON number as the decimal it was written as (``0.1`` is exactly one tenth).

    Amounts and hours repeat a lot, so equal ones share one (immutable) Decimal.
    """
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


# What each event type contributes: the timeline ("kind") it goes to and the fields kept.
_ROWS: dict[str, Callable[[Any], tuple[str, tuple[Any, ...]] | None]] = {
    "ClientOnboarded": lambda p: ("onboarded", ()),
    "InvoiceIssued": lambda p: ("invoice", (p.invoice_id, _decimal(p.amount), p.due_on.toordinal())),
    "PaymentReceived": lambda p: ("payment", (p.invoice_id, _decimal(p.amount))),
    "InvoiceVoided": lambda p: ("void", (p.invoice_id,)),
    "WorkLogged": lambda p: ("work", (_decimal(p.hours), p.billable)),
    "ScopeChangeRequested": lambda p: None if p.paid else ("unpaid_scope", ()),
    "DeadlineMissed": lambda p: ("deadline", ()),
    "FollowUpSent": lambda p: ("followup", ()),
    "ClientReplied": lambda p: ("reply", ()),
    "ClientMessageReceived": lambda p: ("message", ()),
    "ReplySent": lambda p: ("answer", ()),
    "MeetingHeld": lambda p: ("remedy", (p.TYPE,)),
    "PlanAgreed": lambda p: ("remedy", (p.TYPE,)),
    "TermsRenegotiated": lambda p: ("remedy", (p.TYPE,)),
    "IncidentReported": lambda p: ("incident", (p.kind, p.against, p.severity)),
    "ContractBreached": lambda p: ("breach", ()),
    "NeedOutgrown": lambda p: ("outgrown", ()),
    "NoticeGiven": lambda p: ("notice", (p.by, p.effective_on.toordinal())),
    "RelationshipEnded": lambda p: ("ended", (p.initiated_by,)),
}
#: Event types that may also give the client's monthly value (a "value" row when they do).
_VALUED = frozenset({"ClientOnboarded", "TermsRenegotiated"})
#: Kinds whose rows keep no field.
_PLAIN = (
    "onboarded",
    "unpaid_scope",
    "deadline",
    "followup",
    "reply",
    "message",
    "answer",
    "breach",
    "outgrown",
)
#: Timelines derived from another kind's: which, and which of its rows they keep.
_DERIVED: dict[str, tuple[tuple[str, Callable[[tuple[Any, ...]], bool]], ...]] = {
    "work": (("unbillable", lambda row: not row[1]),),
    "remedy": (("plan", lambda row: row[0] == "PlanAgreed"),),
    "incident": (("severe", _severe_against_staff), ("serious", _serious)),
}
#: Timelines that keep running totals of a field (its position in the row).
_SUMMED = {"work": 0, "unbillable": 0}
#: The kinds the invoice book keeps (each invoice's timeline of them), in the order :meth:`InvoiceBook.load` takes them.
_BOOK_KINDS = {"invoice": "issues", "payment": "payments", "void": "voids"}
#: Kinds whose moments change what a client adds to the portfolio's value (:meth:`ClientFold.value_steps`).
_VALUE_KINDS = ("onboarded", "value", "notice", "ended")
#: Read-only stand-in for a timeline nothing was folded into yet (a fold creates its timelines lazily).
_NOTHING = Timeline(summed=0)
#: The fields of each kind's row (a column of its snapshot table each); exact decimals are written as strings.
_COLUMNS: dict[str, tuple[tuple[str, type], ...]] = {
    **{kind: () for kind in _PLAIN},
    "invoice": (("invoice_id", str), ("amount", Decimal), ("due", int)),
    "payment": (("invoice_id", str), ("amount", Decimal)),
    "void": (("invoice_id", str),),
    "work": (("hours", Decimal), ("billable", bool)),
    "remedy": (("type", str),),
    "incident": (("kind", str), ("against", str), ("severity", int)),
    "notice": (("by", str), ("effective", int)),
    "ended": (("by", str),),
    "value": (("monthly_value", Decimal),),
}


#: what a snapshot table of each kind holds: its columns, and the types of each column's values
_TABLE_KEYS = {kind: frozenset({"at", "tie", "id", *(name for name, _ in fields)}) for kind, fields in _COLUMNS.items()}
_TABLE_TYPES: dict[str, tuple[tuple[str, set[type]], ...]] = {
    kind: (("at", {int}), ("tie", {int}), ("id", {str}),
           *((name, {str if kind_of is Decimal else kind_of}) for name, kind_of in fields))
    for kind, fields in _COLUMNS.items()
}


class ClientFold:
    """All that the facts of one client need, folded event by event.

    ``apply`` takes events in any order of ``at``; events with the same ``at``
    keep their stream order (their ``version``; for events not stored yet, the
    order they were applied in). An event id applied twice counts once.
    ``facts(T)`` considers only events with ``at <= T``.

    A fold is not thread-safe (``facts`` extends running totals and caches as
    it goes): give each thread its own, or hold a lock around it.
    """

    def __init__(self) -> None:
        self.client: str | None = None
        #: the highest stream version folded (0 when no stored event was folded)
        self.version = 0
        self._sequence = 0
        #: the id of every event folded; None after a restore until an event is applied (:meth:`_known_ids`)
        self._ids: set[str] | None = set()
        self._unindexed: list[str] = []
        self._first: tuple[int, str] | None = None
        self._timelines: dict[str, Timeline] = {}
        self._book = InvoiceBook()

    # --- folding ------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Fold one event in; False if an event with its id was folded already.

        Finding its place is a bisection (O(log n)); appending in time order is
        O(1), and inserting earlier shifts the later entries of one list (a
        memmove, not a refold).
        """
        placed = self._placed(event)
        if placed is None:
            return False
        key, event_id, records = placed
        for kind, row in records:
            self._add(kind, key, event_id, row)
        return True

    def apply_all(self, events: Iterable[Event]) -> None:
        """Fold every one of ``events`` in, as :meth:`apply` does one.

        Into an empty fold, the events' records are gathered, each kind's sorted once and taken as a restore
        takes a snapshot's: a client's whole history is folded without keeping every index in order at each step.
        """
        if self._sequence or self._ids is None:  # it holds events already: each goes in its place
            for event in events:
                self.apply(event)
            return
        gathered: dict[str, list[tuple[int, str, tuple[Any, ...]]]] = {}
        try:
            for event in events:
                placed = self._placed(event)
                if placed is not None:
                    key, event_id, records = placed
                    for kind, row in records:
                        entries = gathered.get(kind)
                        if entries is None:
                            entries = gathered[kind] = []
                        entries.append((key, event_id, row))
        finally:  # an event refused part way leaves the fold as applying the ones before it one by one would
            for entries in gathered.values():
                entries.sort(key=_order)  # stable: equal keys keep the order they were applied in, as insert does
            self._load({kind: Timeline.of(entries, _SUMMED.get(kind)) for kind, entries in gathered.items()})

    def _placed(self, event: Event) -> tuple[int, str, tuple[tuple[str, tuple[Any, ...]], ...]] | None:
        """Check ``event`` and count it in; its order key, id and records (kind and row of each), or None if an
        event with its id was folded already."""
        if not isinstance(event, Event):
            raise FactsError(f"can only fold an Event, not {type(event).__name__}")
        client = event.client
        if self.client is None:
            self.client = client
        elif client != self.client:
            raise FactsError(f"this fold is for client {self.client!r}, not {client!r}")
        ids = self._ids if self._ids is not None else self._known_ids()
        event_id = event.id
        if event_id in ids:
            return None
        version = event.version
        tie = self._sequence + 1 if version is None else version
        if tie > TIE_MASK:
            raise FactsError(f"a fold orders at most {TIE_MASK} events of one client")
        ids.add(event_id)
        self._sequence += 1
        if version is not None and version > self.version:
            self.version = version
        key = order_key(event.at.key, tie)
        payload = event.payload
        if payload.SYSTEM:
            self._unindexed.append(event_id)
            return key, event_id, ()
        if self._first is None or key < self._first[0]:
            self._first = (key, event_id)
        type_name = payload.TYPE
        contribution = _ROWS.get(type_name, _none)(payload)
        if contribution is None:
            self._unindexed.append(event_id)
            return key, event_id, ()
        monthly_value = getattr(payload, "monthly_value", None) if type_name in _VALUED else None
        if monthly_value is None:
            return key, event_id, (contribution,)
        return key, event_id, (contribution, ("value", (_decimal(monthly_value),)))

    def _load(self, timelines: dict[str, Timeline]) -> None:
        """Take every kind's timeline at once, each sorted by order key, into this fold with no record yet (the
        invoices' kinds to its book; the timelines derived from a kind's, from its)."""
        for kind, timeline in timelines.items():
            if kind in _BOOK_KINDS or not timeline.keys:
                continue
            if kind not in _COLUMNS:
                raise FactsError(f"unknown kind of fold record {kind!r}")
            self._timelines[kind] = timeline
            for derived, keeps in _DERIVED.get(kind, ()):
                kept = list(map(keeps, timeline.rows))
                if any(kept):
                    subset = self._timelines[derived] = Timeline(_SUMMED.get(derived))
                    subset.keys = list(compress(timeline.keys, kept))
                    subset.ids = list(compress(timeline.ids, kept))
                    subset.rows = list(compress(timeline.rows, kept))
        self._book.load(*(timelines.get(kind, _NOTHING) for kind in _BOOK_KINDS))

    def _known_ids(self) -> set[str]:
        """The id of every event folded (gathered from the timelines the first time after a restore)."""
        if self._ids is None:
            ids = set(self._unindexed)
            for timeline in self._timelines.values():
                ids.update(timeline.ids)
            for invoice in self._book.invoices.values():
                ids.update(invoice.issues.ids, invoice.payments.ids, invoice.voids.ids)
            self._ids = ids
        return self._ids

    def _add(self, kind: str, key: int, event_id: str, row: tuple[Any, ...]) -> None:
        if kind == "invoice":
            self._book.issue(key, event_id, *row)
        elif kind == "payment":
            self._book.pay(key, event_id, *row)
        elif kind == "void":
            self._book.void(key, event_id, *row)
        elif kind in _COLUMNS:
            self._into(kind).insert(key, event_id, row)
            for derived, keeps in _DERIVED.get(kind, ()):
                if keeps(row):
                    self._into(derived).insert(key, event_id, row)
        else:
            raise FactsError(f"unknown kind of fold record {kind!r}")

    def _into(self, kind: str) -> Timeline:
        timeline = self._timelines.get(kind)
        if timeline is None:
            timeline = self._timelines[kind] = Timeline(summed=_SUMMED.get(kind))
        return timeline

    def _of(self, kind: str) -> Timeline:
        """The timeline of ``kind`` to read (an empty one if nothing was folded into it)."""
        return self._timelines.get(kind, _NOTHING)

    # --- snapshots ----------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        """The fold's whole state as plain JSON data; :meth:`from_snapshot` continues from it.

        Each kind of event folded is a table of parallel columns (``at`` in µs,
        the ``tie``-break, the event ``id`` and the kind's fields, exact
        decimals as strings), sorted by order key: a restore reads whole
        columns rather than one record at a time.
        """
        tables = {
            kind: _table(kind, timeline)
            for kind, timeline in self._timelines.items()
            if kind in _COLUMNS and kind not in _BOOK_KINDS and timeline.keys
        }
        entries_of: dict[str, list[tuple[int, str, tuple[Any, ...]]]] = {kind: [] for kind in _BOOK_KINDS}
        for invoice in self._book.invoices.values():
            for kind, side in _BOOK_KINDS.items():
                timeline = getattr(invoice, side)
                entries_of[kind].extend(
                    (key, event_id, (invoice.invoice_id, *row))
                    for key, event_id, row in zip(timeline.keys, timeline.ids, timeline.rows)
                )
        for kind, entries in entries_of.items():
            if entries:
                entries.sort(key=_order)
                tables[kind] = _table(kind, Timeline.of(entries))
        return {
            "kind": SNAPSHOT_KIND,
            "schema": SNAPSHOT_SCHEMA,
            "client": self.client,
            "version": self.version,
            "sequence": self._sequence,
            "first": [*_split(self._first[0]), self._first[1]] if self._first else None,
            "tables": tables,
            "unindexed": list(self._unindexed),
        }

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any], *, checked: bool = True) -> ClientFold:
        """Rebuild a fold from :meth:`to_snapshot` data (raises :class:`FactsError` if it is not one).

        ``checked=False`` skips checking the type and order of every value, for
        a snapshot known to be one :meth:`to_snapshot` wrote in this schema (a
        stored fold whose checksum held): its kind and schema are still checked.
        """
        if not isinstance(snapshot, dict) or snapshot.get("kind") != SNAPSHOT_KIND:
            raise FactsError("not a client fold snapshot")
        if snapshot.get("schema") != SNAPSHOT_SCHEMA:
            raise FactsError(
                f"fold snapshot schema {snapshot.get('schema')!r} is not {SNAPSHOT_SCHEMA}: fold the events again"
            )
        fold = cls()
        fold._ids = None  # gathered only if an event is folded in afterwards
        try:
            client = snapshot["client"]
            fold.client = None if client is None else _checked(client, str)
            fold.version = _checked(snapshot["version"], int)
            fold._sequence = _checked(snapshot["sequence"], int)
            first = snapshot["first"]
            fold._first = (_joined(first[0], first[1]), _checked(first[2], str)) if first else None
            tables = snapshot["tables"]
            if type(tables) is not dict or not tables.keys() <= _COLUMNS.keys():
                raise ValueError("unknown kind of fold record")
            fold._load({kind: _timeline(kind, table, checked) for kind, table in tables.items()})
            unindexed = snapshot["unindexed"]
            if checked and (type(unindexed) is not list or not set(map(type, unindexed)) <= {str}):
                raise TypeError("unindexed ids are not strings")
            fold._unindexed = unindexed
        except (KeyError, TypeError, ValueError, IndexError, InvalidOperation):
            raise FactsError("the client fold snapshot is damaged: fold the events again") from None
        return fold

    # --- facts --------------------------------------------------------------------------

    def facts(
        self, as_of: Instant, *, grace_days: int = 7, portfolio_value: Decimal | None = None, explained: bool = True
    ) -> Facts:
        """The facts as of ``as_of`` (only events with ``at <= as_of`` count).

        ``portfolio_value``: the sum of the ``monthly_value`` of every client
        not left as of ``as_of`` (:func:`portfolio_value`), the one fact that
        depends on other clients; without it ``revenue_share`` is absent.
        ``explained=False``: the values alone, without their evidence and
        incidents (for a verdict no one reads the reasons of, e.g. a backtest).
        """
        as_of = as_instant(as_of, field="as_of")
        if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
            raise FactsError(f"grace_days must be a whole number of days >= 0, not {grace_days!r}")
        now = as_of.key
        bound = last_key_at(now)
        values: dict[str, int | float | bool] = {}
        evidence: dict[str, tuple[str, ...]] | None = {} if explained else None
        self._tenure(now, bound, values, evidence)
        self._invoices(now, bound, as_of.date.toordinal(), grace_days, values, evidence)
        self._silence(now, bound, grace_days, values, evidence)
        self._work_facts(now, bound, values, evidence)
        self._conduct(now, bound, values, evidence)
        self._our_side(now, bound, values, evidence)
        self._value(bound, portfolio_value, values, evidence)
        ended = self._of("ended")
        count = bisect_right(ended.keys, bound)
        values["relationship_ended"] = count > 0
        if evidence is None:
            return Facts(as_of, values, {})
        evidence["relationship_ended"] = tuple(ended.ids[:count])
        return Facts(as_of, values, evidence, self._incidents(now, bound))

    def monthly_value(self, as_of: Instant) -> Decimal:
        """The latest ``monthly_value`` given by ``ClientOnboarded`` or ``TermsRenegotiated`` by ``as_of`` (0 if none)."""
        return self._monthly_value_at(as_instant(as_of, field="as_of").key)

    def _monthly_value_at(self, now: int) -> Decimal:
        values = self._of("value")
        count = bisect_right(values.keys, last_key_at(now))
        return values.rows[count - 1][0] if count else ZERO

    def status(self, as_of: Instant) -> ClientStatus:
        """Active, leaving or left as of ``as_of`` (``clientrules/domain/facts/status.py`` says how)."""
        return self._status_at(as_instant(as_of, field="as_of").key)

    def value_steps(self) -> ValueSteps:
        """What this client adds to the portfolio's value (:class:`~clientrules.domain.facts.portfolio.PortfolioValue`)
        at every moment: its ``monthly_value``, or nothing once it has left.

        Both read only when the client was onboarded, renegotiated, gave
        notice or ended, and the midnight its notice runs out, so what it adds
        changes only at those moments: the steps are each such moment at which
        it changes, with what it adds from then on (nothing before the first).
        """
        notices = self._of("notice")
        moments = {at_of(key) for kind in _VALUE_KINDS for key in self._of(kind).keys}
        moments.update((effective - _EPOCH_ORDINAL) * DAY_US for _, effective in notices.rows)
        starts: list[int] = []
        values: list[Decimal] = []
        adds = ZERO
        for now in sorted(moments):
            value = ZERO if self._status_at(now).is_left else self._monthly_value_at(now)
            if value.compare_total(adds):  # 2.50 after 2.5 too: the sum is written as the values are
                starts.append(now)
                values.append(value)
                adds = value
        return tuple(starts), tuple(values)

    def _status_at(self, now: int) -> ClientStatus:
        bound = last_key_at(now)
        onboarded = self._of("onboarded")
        started = bisect_right(onboarded.keys, bound)
        after = onboarded.keys[started - 1] if started else -1
        ended, notices = self._of("ended"), self._of("notice")
        first_end, last_end = bisect_right(ended.keys, after), bisect_right(ended.keys, bound)
        ending = last_end - 1 if last_end > first_end else None
        if ending is not None and ending > first_end:  # it came back after an earlier ending, then ended again
            after = ended.keys[ending - 1]
        last_notice = bisect_right(notices.keys, bound if ending is None else ended.keys[ending])
        notice = last_notice - 1 if last_notice > bisect_right(notices.keys, after) else None
        if notice is not None:
            by, effective = notices.rows[notice]
            given, effective_day = _day(notices.keys[notice]), dt.date.fromordinal(effective)
            if ending is not None and _day(ended.keys[ending]) < effective_day:  # ended before the notice ran out
                return ClientStatus(LEFT, _day(ended.keys[ending]), by, given, ended.ids[ending])
            reached = ending is not None or (effective - _EPOCH_ORDINAL) * DAY_US <= now
            return ClientStatus(LEFT if reached else LEAVING, effective_day, by, given, notices.ids[notice])
        if ending is not None:
            day = _day(ended.keys[ending])
            return ClientStatus(LEFT, day, ended.rows[ending][0], day, ended.ids[ending])
        return NOT_ENDED

    def _tenure(self, now: int, bound: int, values: dict[str, Any], evidence: dict[str, Any] | None) -> None:
        onboarded = self._of("onboarded")
        if onboarded.keys and onboarded.keys[0] <= bound:
            start, event_id = onboarded.keys[0], onboarded.ids[0]
        elif self._first is not None and self._first[0] <= bound:
            start, event_id = self._first
        else:
            return
        values["tenure_days"] = (now - at_of(start)) // DAY_US
        if evidence is not None:
            evidence["tenure_days"] = (event_id,)

    def _invoices(
        self, now: int, bound: int, today: int, grace: int, values: dict[str, Any], evidence: dict[str, Any] | None
    ) -> None:
        book = self._book
        late = [
            invoice
            for invoice in book.due_between(now - 365 * DAY_US, now)
            if invoice.issue_key <= bound and invoice.is_late(bound, today, grace)
        ]
        values["late_invoices_12m"] = len(late)
        if evidence is not None:
            evidence["late_invoices_12m"] = _invoice_evidence(late, bound)

        remedies = self._of("remedy")
        if late:
            start = bisect_left(remedies.keys, late[0].due_us << TIE_BITS)
            stop = bisect_right(remedies.keys, bound)
            values["remedy_since_first_late"] = stop > start
            if evidence is not None:
                evidence["remedy_since_first_late"] = tuple(remedies.ids[start:stop])

        count = bisect_right(remedies.keys, bound)
        if count:
            latest = remedies.keys[count - 1]
            late_after = [
                invoice
                for invoice in book.due_between(at_of(latest), now)
                if invoice.issue_key <= bound and invoice.is_late(bound, today, grace)
            ]
            values["late_after_latest_remedy"] = len(late_after)
            if evidence is not None:
                evidence["late_after_latest_remedy"] = (remedies.ids[count - 1], *_invoice_evidence(late_after, bound))
        else:
            values["late_after_latest_remedy"] = 0
            if evidence is not None:
                evidence["late_after_latest_remedy"] = EMPTY

        open_invoices = book.open_invoices(bound)
        overdue_ids: list[str] = []
        overdue = ZERO
        for invoice in open_invoices:
            if today - invoice.due_ordinal > grace:
                if evidence is not None:
                    overdue_ids.extend(invoice.evidence(bound))
                overdue = EXACT.add(overdue, EXACT.subtract(invoice.amount, invoice.paid_amount(bound)))
        values["open_invoices"] = len(open_invoices)
        if evidence is not None:
            evidence["open_invoices"] = tuple(invoice.issue_id for invoice in open_invoices)
        values["overdue_amount"] = float(overdue)
        if evidence is not None:
            evidence["overdue_amount"] = tuple(overdue_ids)

    def _silence(self, now: int, bound: int, grace: int, values: dict[str, Any], evidence: dict[str, Any] | None) -> None:
        followups, replies = self._of("followup"), self._of("reply")
        replied = bisect_right(replies.keys, bound)
        start = bisect_right(followups.keys, replies.keys[replied - 1]) if replied else 0
        stop = bisect_right(followups.keys, bound)
        if start >= stop:
            values["unanswered_followups"] = 0
            if evidence is not None:
                evidence["unanswered_followups"] = EMPTY
            return
        values["unanswered_followups"] = stop - start
        if evidence is not None:
            evidence["unanswered_followups"] = tuple(followups.ids[start:stop])
        first_key, first_id = followups.keys[start], followups.ids[start]
        first_at = at_of(first_key)
        values["silent_days"] = (now - first_at) // DAY_US
        if evidence is not None:
            evidence["silent_days"] = (first_id,)
        stains: list[str] = []
        incidents = self._of("incident")
        if incidents.keys and incidents.keys[0] < first_key:
            stains.append(incidents.ids[0])
        earliest_late = self._book.earliest_late(grace, bound)
        if earliest_late is not None and earliest_late[0] <= first_at:
            stains.append(earliest_late[1].issue_id)
        values["clean_before_silence"] = not stains
        if evidence is not None:
            evidence["clean_before_silence"] = tuple(stains)

    def _work_facts(self, now: int, bound: int, values: dict[str, Any], evidence: dict[str, Any] | None) -> None:
        work, unbillable = self._of("work"), self._of("unbillable")
        after = last_key_at(now - 90 * DAY_US)
        self._hours("_90d", work, unbillable, after, bound, values, evidence)
        _count(values, evidence, "unpaid_scope_changes_90d", self._of("unpaid_scope"), after, bound)
        plans = self._of("plan")
        _count(values, evidence, "plans_180d", plans, last_key_at(now - 180 * DAY_US), bound)
        count = bisect_right(plans.keys, bound)
        if not count:
            return
        plan_key, plan_id = plans.keys[count - 1], plans.ids[count - 1]
        values["plan_age_days"] = (now - at_of(plan_key)) // DAY_US
        if evidence is not None:
            evidence["plan_age_days"] = (plan_id,)
        behind = (plan_id,)
        self._hours("_since_plan", work, unbillable, plan_key, bound, values, evidence, behind)
        _count(
            values, evidence, "unpaid_scope_changes_since_plan", self._of("unpaid_scope"), plan_key, bound, behind
        )

    @staticmethod
    def _hours(
        suffix: str,
        work: Timeline,
        unbillable: Timeline,
        after: int,
        bound: int,
        values: dict[str, Any],
        evidence: dict[str, Any] | None,
        behind: tuple[str, ...] = EMPTY,
    ) -> None:
        """``hours``, ``unbillable_hours`` and ``unbillable_share`` over order keys in (after, bound].

        Their evidence is ``behind`` (e.g. the plan they count from) and the work logs.
        """
        start, stop = bisect_right(work.keys, after), bisect_right(work.keys, bound)
        hours = work.total(start, stop)
        ustart, ustop = bisect_right(unbillable.keys, after), bisect_right(unbillable.keys, bound)
        unbilled = unbillable.total(ustart, ustop)
        values["hours" + suffix] = float(hours)
        values["unbillable_hours" + suffix] = float(unbilled)
        values["unbillable_share" + suffix] = float(EXACT.divide(unbilled, hours)) if hours else 0.0
        if evidence is not None:
            ids = (*behind, *work.ids[start:stop])
            evidence["hours" + suffix] = ids
            evidence["unbillable_hours" + suffix] = (*behind, *unbillable.ids[ustart:ustop])
            evidence["unbillable_share" + suffix] = ids

    def _conduct(self, now: int, bound: int, values: dict[str, Any], evidence: dict[str, Any] | None) -> None:
        year = last_key_at(now - 365 * DAY_US)
        _count(values, evidence, "incidents_180d", self._of("incident"), last_key_at(now - 180 * DAY_US), bound)
        _count(values, evidence, "severe_staff_incidents_365d", self._of("severe"), year, bound)
        _count(values, evidence, "serious_incidents_365d", self._of("serious"), year, bound)
        _count(values, evidence, "contract_breaches_365d", self._of("breach"), year, bound)
        _count(values, evidence, "needs_outgrown_365d", self._of("outgrown"), year, bound)

    def _value(
        self, bound: int, portfolio: Decimal | None, values: dict[str, Any], evidence: dict[str, Any] | None
    ) -> None:
        timeline = self._of("value")
        count = bisect_right(timeline.keys, bound)
        value = timeline.rows[count - 1][0] if count else ZERO
        values["monthly_value"] = float(value)
        if evidence is not None:
            evidence["monthly_value"] = (timeline.ids[count - 1],) if count else EMPTY
        if portfolio is not None:
            values[REVENUE_SHARE] = float(EXACT.divide(value, portfolio)) if portfolio else 0.0
            if evidence is not None:
                evidence[REVENUE_SHARE] = evidence["monthly_value"]

    def _incidents(self, now: int, bound: int) -> tuple[Incident, ...]:
        """The incidents of the last 365 days, oldest first: what the conduct facts count, in detail."""
        incidents = self._of("incident")
        start = bisect_right(incidents.keys, last_key_at(now - 365 * DAY_US))
        stop = bisect_right(incidents.keys, bound)
        return tuple(
            Incident(incidents.ids[index], _day(incidents.keys[index]), *incidents.rows[index])
            for index in range(start, stop)
        )

    def _our_side(self, now: int, bound: int, values: dict[str, Any], evidence: dict[str, Any] | None) -> None:
        after = last_key_at(now - 90 * DAY_US)
        _count(values, evidence, "deadlines_missed_90d", self._of("deadline"), after, bound)
        messages, answers = self._of("message"), self._of("answer")
        start, stop = bisect_right(answers.keys, after), bisect_right(answers.keys, bound)
        days: list[float] = []
        pairs: list[str] = []
        for index in range(start, stop):
            oldest = bisect_right(messages.keys, answers.keys[index - 1]) if index else 0
            if oldest < len(messages.keys) and messages.keys[oldest] < answers.keys[index]:
                days.append((at_of(answers.keys[index]) - at_of(messages.keys[oldest])) / DAY_US)
                pairs += (messages.ids[oldest], answers.ids[index])
        if days:
            values["reply_days_median_90d"] = float(statistics.median(days))
            if evidence is not None:
                evidence["reply_days_median_90d"] = tuple(pairs)
        answered = bisect_right(answers.keys, bound)
        first = bisect_right(messages.keys, answers.keys[answered - 1]) if answered else 0
        last = bisect_right(messages.keys, bound)
        values["unanswered_messages"] = last - first
        if evidence is not None:
            evidence["unanswered_messages"] = tuple(messages.ids[first:last])


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _day(key: int) -> dt.date:
    """The UTC date of an order key."""
    return dt.date.fromordinal(_EPOCH_ORDINAL + at_of(key) // DAY_US)


#: the one fact that depends on other clients: it needs the portfolio's value
#: (:class:`~clientrules.domain.facts.portfolio.PortfolioValue`)
REVENUE_SHARE = "revenue_share"


def _none(_: Any) -> None:
    return None


def _split(key: int) -> list[int]:
    """An order key as ``[at in µs, tie-break]``: two integers any JSON reader keeps exact."""
    return [at_of(key), key & TIE_MASK]


def _joined(at_us: Any, tie: Any) -> int:
    if not 0 <= _checked(tie, int) <= TIE_MASK:
        raise ValueError("tie-break out of range")
    return order_key(_checked(at_us, int), tie)


def _table(kind: str, timeline: Timeline) -> dict[str, list[Any]]:
    """A timeline as the columns of a snapshot table (see :meth:`ClientFold.to_snapshot`)."""
    keys = timeline.keys
    table: dict[str, list[Any]] = {
        "at": list(map(rshift, keys, repeat(TIE_BITS))),
        "tie": list(map(and_, keys, repeat(TIE_MASK))),
        "id": list(timeline.ids),
    }
    for position, (name, kind_of_field) in enumerate(_COLUMNS[kind]):
        column = map(itemgetter(position), timeline.rows)
        table[name] = list(map(str, column) if kind_of_field is Decimal else column)
    return table


def _timeline(kind: str, table: Any, checked: bool) -> Timeline:
    """A snapshot table back as a sorted timeline; ``checked``: raise TypeError or ValueError if it is not one."""
    ids = table["id"]
    count = len(ids)
    if checked:
        if type(table) is not dict or table.keys() != _TABLE_KEYS[kind]:
            raise ValueError("not a snapshot table")
        for name, types in _TABLE_TYPES[kind]:
            column = table[name]
            if type(column) is not list or len(column) != count or not set(map(type, column)) <= types:
                raise TypeError("not a snapshot column")
        ties = table["tie"]
        if count and (min(ties) < 0 or max(ties) > TIE_MASK):
            raise ValueError("tie-break out of range")
    keys = list(map(or_, map(lshift, table["at"], repeat(TIE_BITS)), table["tie"]))  # (at << TIE_BITS) | tie, in C
    if checked and keys != sorted(keys):
        raise ValueError("a snapshot table is not in order")
    timeline = Timeline(_SUMMED.get(kind))
    timeline.keys, timeline.ids = keys, ids
    fields = _COLUMNS[kind]
    if fields:
        timeline.rows = list(
            zip(*(map(_decimal_text, table[name]) if kind_of is Decimal else table[name] for name, kind_of in fields))
        )
    else:
        timeline.rows = [EMPTY] * count
    return timeline


def _order(entry: tuple[int, str, tuple[Any, ...]]) -> int:
    return entry[0]


@functools.lru_cache(maxsize=4096)
def _decimal_text(text: str) -> Decimal:
    """An exact decimal written in a snapshot (equal ones share one immutable Decimal)."""
    return Decimal(text)


def _checked(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise TypeError(f"{value!r} is not a {kind.__name__}")
    return value


def _count(
    values: dict[str, Any],
    evidence: dict[str, Any] | None,
    name: str,
    timeline: Timeline,
    after: int,
    bound: int,
    behind: tuple[str, ...] = EMPTY,
) -> None:
    """``name``: how many events of ``timeline`` have an order key in (after, bound]; evidence ``behind`` and them."""
    keys = timeline.keys
    if not keys or keys[-1] <= after or keys[0] > bound:
        values[name] = 0
        if evidence is not None:
            evidence[name] = behind
        return
    start, stop = bisect_right(keys, after), bisect_right(keys, bound)
    values[name] = stop - start
    if evidence is not None:
        evidence[name] = (*behind, *timeline.ids[start:stop])


def _invoice_evidence(invoices: list[Any], bound: int) -> tuple[str, ...]:
    ids: list[str] = []
    for invoice in invoices:
        ids.extend(invoice.evidence(bound))
    return tuple(ids)


def facts_of(
    events: Iterable[Event], as_of: Instant, *, grace_days: int = 7, portfolio_value: Decimal | None = None
) -> Facts:
    """The facts of one client's ``events`` (any order) as of ``as_of``."""
    fold = ClientFold()
    fold.apply_all(events)
    return fold.facts(as_of, grace_days=grace_days, portfolio_value=portfolio_value)
