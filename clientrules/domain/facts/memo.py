"""A client's facts at a moment, kept with the span over which they still hold (pure).

Folding a long history and computing its facts is most of what deciding a
client costs, yet between two moments with no new event most facts cannot
move: :func:`~clientrules.domain.facts.schedule.next_change` gives the first
moment after T at which one can. A :class:`FactsMemo` keeps the facts as of
T and answers any moment from T up to (not including) ``until`` exactly as
the fold would:

* the day counts (``tenure_days``, ``silent_days``, ``plan_age_days``) grow
  every day, so the memo keeps the moment each counts from and counts again;
* ``revenue_share`` divides the client's monthly value by the portfolio's,
  which other clients move: the memo keeps the monthly value and divides again;
* the status changes when a notice runs out, and the incidents an
  explanation names are those of the last 365 days: both bound ``until`` too.

A memo is of one stream version and one ``grace_days``: any new event, or
another grace, and the fold answers. :func:`memo_text` writes it behind a
checksum and :func:`memo_from_text` reads it back, or raises
:class:`~clientrules.domain.facts.FactsError`; :func:`memo_format` names
what it depends on, so a memo written by another version of the code is ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from bisect import bisect_right
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

import attrs
import orjson

from clientrules.domain.events import Instant, Registry, as_instant
from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.facts.fold import REVENUE_SHARE, ClientFold, FactsError
from clientrules.domain.facts.invoices import midnight_of
from clientrules.domain.facts.schedule import age_starts, next_change
from clientrules.domain.facts.status import ClientStatus
from clientrules.domain.facts.stored import checksum, fold_format
from clientrules.domain.facts.timeline import DAY_US, EXACT, at_of, last_key_at
from clientrules.domain.facts.value import Facts, Incident

#: raised whenever what a memo keeps, or how the facts it keeps are computed, changes
MEMO_SCHEMA = 1
#: the window of the incidents an explanation names (:attr:`Facts.incidents`)
INCIDENT_DAYS = 365
#: every fact's name, numbered as kept facts write them (the format names a digest of this list)
_NAMES = tuple(sorted(FACTS))
_NUMBERS = {name: number for number, name in enumerate(_NAMES)}


@attrs.frozen
class FactsMemo:
    """``client``'s facts at stream ``version`` as of ``as_of``, valid for moments in ``[as_of, until)``.

    ``until`` is None when nothing can change them later; ``values`` and
    ``evidence`` are the facts' as of ``as_of`` without ``revenue_share``
    (``values`` of the day counts are recomputed from ``ages``: the moment, in
    microseconds since the epoch, each counts from).
    """

    client: str
    version: int
    as_of: Instant
    until: int | None
    grace_days: int
    values: Mapping[str, int | float | bool]
    evidence: Mapping[str, tuple[str, ...]]
    incidents: tuple[Incident, ...]
    ages: Mapping[str, int]
    monthly_value: Decimal
    status_then: ClientStatus
    #: :attr:`as_of` in microseconds since the epoch, computed once
    as_of_key: int = attrs.field(init=False, repr=False, eq=False)

    @as_of_key.default
    def _key_of_as_of(self) -> int:
        return self.as_of.key

    def holds(self, moment: Instant, grace_days: int) -> bool:
        """Whether the memo answers for ``moment`` under ``grace_days`` exactly as the fold would."""
        return self._holds(moment.key, grace_days)

    def _holds(self, key: int, grace_days: int) -> bool:
        return _spans(self.as_of_key, self.until, self.grace_days, key, grace_days)

    def facts(
        self, as_of: Instant, *, grace_days: int = 7, portfolio_value: Decimal | None = None, explained: bool = True
    ) -> Facts:
        """What :meth:`ClientFold.facts` answers for the same arguments (:class:`FactsError` where the memo does not hold)."""
        as_of = self._holding_at(as_of, grace_days)
        now = as_of.key
        values = dict(self.values)
        for name, start in self.ages.items():
            values[name] = (now - start) // DAY_US
        evidence = self.evidence
        if portfolio_value is not None:  # the share goes right after the monthly value, where the fold puts it
            share = float(EXACT.divide(self.monthly_value, portfolio_value)) if portfolio_value else 0.0
            values = _after_monthly_value(values, share)
            evidence = _after_monthly_value(evidence, evidence["monthly_value"])
        if not explained:
            return Facts(as_of, values, {})
        return Facts(as_of, values, evidence, self.incidents)

    def past_system_events(self, version: int) -> FactsMemo:
        """This memo at the later stream ``version``, for a caller that knows every event after :attr:`version` to
        be one the library writes itself (a recorded decision): the fold takes nothing from those, so no fact moves."""
        return attrs.evolve(self, version=version)

    def status(self, as_of: Instant) -> ClientStatus:
        """Where the client stands as of ``as_of``, a moment the memo holds for (as :meth:`ClientFold.status`)."""
        self._holding_at(as_of, self.grace_days)
        return self.status_then

    def _holding_at(self, as_of: Instant, grace_days: int) -> Instant:
        """``as_of`` as an :class:`Instant`, if the memo holds for it under ``grace_days`` (else :class:`FactsError`)."""
        as_of = as_instant(as_of, field="as_of")
        if not self._holds(as_of.key, grace_days):
            raise FactsError(f"the kept facts of client {self.client!r} do not hold as of {as_of.text}")
        return as_of


def _after_monthly_value(entries: Mapping[str, Any], share: Any) -> dict[str, Any]:
    """``entries`` with ``revenue_share`` set to ``share`` right after ``monthly_value``."""
    placed: dict[str, Any] = {}
    for name, entry in entries.items():
        placed[name] = entry
        if name == "monthly_value":
            placed[REVENUE_SHARE] = share
    return placed


def memo_of(fold: ClientFold, facts: Facts, *, grace_days: int) -> FactsMemo:
    """The memo of ``facts``, which ``fold`` (of a stored client) gave with ``grace_days``, with or without
    ``revenue_share``, with their evidence."""
    if fold.client is None:
        raise FactsError("only the fold of a stored client's events can be kept as facts")
    as_of = facts.as_of
    now, bound = as_of.key, last_key_at(as_of.key)
    later = []
    change = next_change(fold, as_of, grace_days=grace_days, ages={})
    if change is not None:
        later.append(change.key)
    later += [midnight_of(effective) for _, effective in fold._of("notice").rows if midnight_of(effective) > now]
    incidents = fold._of("incident")
    oldest = bisect_right(incidents.keys, last_key_at(now - INCIDENT_DAYS * DAY_US))
    if oldest < len(incidents.keys) and incidents.keys[oldest] <= bound:
        later.append(at_of(incidents.keys[oldest]) + INCIDENT_DAYS * DAY_US)
    return FactsMemo(
        client=fold.client,
        version=fold.version,
        as_of=as_of,
        until=min(later) if later else None,
        grace_days=grace_days,
        values={name: value for name, value in facts.values.items() if name != REVENUE_SHARE},
        evidence={name: ids for name, ids in facts.evidence.items() if name != REVENUE_SHARE},
        incidents=facts.incidents,
        ages=dict(age_starts(fold, bound)),
        monthly_value=fold.monthly_value(as_of),
        status_then=fold.status(as_of),
    )


def memo_format(registry: Registry) -> str:
    """The format of memos of folds read through ``registry``: the memo schema, the facts' names and the fold format."""
    names = hashlib.blake2b(",".join(_NAMES).encode(), digest_size=4).hexdigest()
    return f"facts-{MEMO_SCHEMA}-{names}/{fold_format(registry)}"


def memo_text(memo: FactsMemo) -> str:
    """The memo as stored: its span (moment, end or ``-``, grace days), the hex checksum of the span and the JSON,
    then that JSON, a line each. The span alone tells whether the memo holds, without reading the rest."""
    status = memo.status_then
    span = f"{memo.as_of_key} {'-' if memo.until is None else memo.until} {memo.grace_days}"
    body = orjson.dumps(
        {
            "client": memo.client,
            "version": memo.version,
            "as_of": memo.as_of.text,
            "values": _by_number(memo.values),
            "evidence": _by_number(memo.evidence),
            "incidents": [
                [incident.event_id, incident.on.toordinal(), incident.kind, incident.against, incident.severity]
                for incident in memo.incidents
            ],
            "ages": memo.ages,
            "monthly_value": str(memo.monthly_value),
            "status": [
                status.state,
                _ordinal(status.on),
                status.ended_by,
                _ordinal(status.decided_on),
                status.event_id,
            ],
        }
    ).decode()
    return f"{span}\n{_signature(span, body)}\n{body}"


def memo_if_holding(text: str, *, client: str, version: int, moment: Instant, grace_days: int) -> FactsMemo | None:
    """:func:`memo_from_text`, or None when the memo's span says it does not hold for ``moment`` under
    ``grace_days`` (then nothing else of it is read)."""
    as_of_key, until, grace = _span(text.partition("\n")[0], client)
    if not _spans(as_of_key, until, grace, moment.key, grace_days):
        return None
    return memo_from_text(text, client=client, version=version)


def memo_from_text(text: str, *, client: str, version: int) -> FactsMemo:
    """The memo :func:`memo_text` wrote for ``client`` at stream ``version`` (:class:`FactsError` if it is not that)."""
    span, written, body = (*text.split("\n", 2), "", "")[:3]
    if written != _signature(span, body):
        raise FactsError(f"the kept facts of client {client!r} fail their checksum: compute them again")
    as_of_key, until, grace_days = _span(span, client)
    try:
        data = orjson.loads(body)
        state, on, ended_by, decided_on, event_id = data["status"]
        memo = FactsMemo(
            client=data["client"],
            version=data["version"],
            as_of=Instant.from_key(as_of_key, data["as_of"]),
            until=until,
            grace_days=grace_days,
            values=_by_name(data["values"]),
            evidence=_by_name(data["evidence"], tuple),
            incidents=tuple(
                Incident(event, dt.date.fromordinal(day), kind, against, severity)
                for event, day, kind, against, severity in data["incidents"]
            ),
            ages=data["ages"],
            monthly_value=Decimal(data["monthly_value"]),
            status_then=ClientStatus(state, _date(on), ended_by, _date(decided_on), event_id),
        )
    except (ValueError, KeyError, TypeError, InvalidOperation):  # orjson.JSONDecodeError is a ValueError
        raise FactsError(f"the kept facts of client {client!r} are damaged: compute them again") from None
    if memo.client != client or memo.version != version:
        raise FactsError(
            f"the kept facts of client {client!r} at version {version} are of client {memo.client!r} "
            f"at version {memo.version}: compute them again"
        )
    return memo


def _by_number(entries: Mapping[str, Any]) -> list[Any]:
    """``entries`` as one flat list, each fact's number in :data:`_NAMES` then its entry (a third of the text of
    the names, so a third of the time to read back)."""
    flat: list[Any] = []
    for name, entry in entries.items():
        flat += (_NUMBERS[name], entry)
    return flat


def _by_name(flat: list[Any], convert: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """What :func:`_by_number` wrote, read back in order (each entry through ``convert``, if given)."""
    entries = flat[1::2]
    return dict(zip(map(_NAMES.__getitem__, flat[::2]), entries if convert is None else map(convert, entries)))


def _signature(span: str, body: str) -> str:
    """The checksum a memo's text keeps between its span line and its body: of both."""
    return checksum(f"{span}\n{body}")


def _span(line: str, client: str) -> tuple[int, int | None, int]:
    """The moment, end (None: none) and grace days of a memo's first line (:class:`FactsError` if it is not one)."""
    try:
        as_of_key, until, grace_days = line.split(" ")
        return int(as_of_key), None if until == "-" else int(until), int(grace_days)
    except ValueError:
        raise FactsError(f"the kept facts of client {client!r} are damaged: compute them again") from None


def _spans(as_of_key: int, until: int | None, grace: int, key: int, grace_days: int) -> bool:
    """Whether a memo of ``as_of_key`` to ``until`` under ``grace`` holds for the moment ``key`` under ``grace_days``."""
    return grace_days == grace and as_of_key <= key and (until is None or key < until)


def _ordinal(day: dt.date | None) -> int | None:
    return None if day is None else day.toordinal()


def _date(ordinal: Any) -> dt.date | None:
    return None if ordinal is None else dt.date.fromordinal(ordinal)


__all__ = ["FactsMemo", "memo_format", "memo_from_text", "memo_if_holding", "memo_of", "memo_text"]
