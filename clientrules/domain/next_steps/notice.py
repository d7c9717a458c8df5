"""When an ending can take effect: the notice the contract asks for, or the owner's default (pure).

- No contract in force: the owner's ``notice_days`` from today.
- A contract with an end date that does not renew: it runs to its end; that is the last day.
- An open-ended contract: its ``notice_days`` (else the owner's) from today.
- A contract that renews at its end (``auto_renews``): a notice of non-renewal
  must reach the client ``notice_days`` (else the owner's) before the end. When
  it is too late for this end, the contract renews for another term of the
  same length (end date minus signing date) and the next end is the last day.
- A client who brings ``revenue_share >= 0.2`` of the monthly revenue is phased
  out: the last day is at least :data:`PHASE_OUT_NOTICE_DAYS` days away.

The last day is never before the contract allows it.
"""

from __future__ import annotations

import datetime as dt

import attrs

from clientrules.domain.events import ContractSigned, Instant

#: a client bringing at least this share of the monthly revenue is phased out, not cut
PHASE_OUT_SHARE = 0.2
#: the least notice a phased-out client gets, in days
PHASE_OUT_NOTICE_DAYS = 30
#: how many renewals ahead an ending is looked for (a contract of one day renewed daily for ten years)
_MAX_RENEWALS = 3660


@attrs.frozen
class Notice:
    """The notice for ending a client as of ``today``."""

    #: the last day of work
    last_day: dt.date
    #: the day the notice must reach the client by (today, unless a renewing contract leaves time)
    give_by: dt.date
    #: the notice period that applies, in days
    days: int
    #: the contract in force, if any
    contract: ContractSigned | None = None
    #: true when the last day is the end of a contract term (fixed or renewing), not a notice period
    at_contract_end: bool = False


def notice_for(
    contract: tuple[Instant, ContractSigned] | None,
    today: dt.date,
    *,
    default_days: int,
    phase_out: bool = False,
) -> Notice:
    """The notice to give as of ``today`` under the latest ``contract`` (its signing moment and terms)."""
    least = PHASE_OUT_NOTICE_DAYS if phase_out else 0
    if contract is None or not in_force(contract[1], today):
        days = max(default_days, least)
        return Notice(today + dt.timedelta(days=days), today, days)
    signed_at, terms = contract
    days = terms.notice_days if terms.notice_days is not None else default_days
    if terms.ends_on is None:
        days = max(days, least)
        return Notice(today + dt.timedelta(days=days), today, days, terms)
    if not terms.auto_renews:
        last_day = max(terms.ends_on, today + dt.timedelta(days=least))
        return Notice(last_day, today, days, terms, at_contract_end=last_day == terms.ends_on)
    earliest = today + dt.timedelta(days=max(days, least))
    end = terms.ends_on
    for renewals in range(1, _MAX_RENEWALS + 1):
        if end >= earliest:
            break
        end = _renewed_end(signed_at.date, terms.ends_on, renewals)
    end = max(end, earliest)
    return Notice(end, end - dt.timedelta(days=days), days, terms, at_contract_end=True)


def _renewed_end(signed_on: dt.date, ends_on: dt.date, renewals: int) -> dt.date:
    """The end of an auto-renewing contract after ``renewals`` renewals of the first term.

    A term of whole months (signed 1 January, ending 31 December: twelve) renews
    by calendar months; any other term by its number of days (a year when the
    contract was signed on or after its end date).
    """
    day_after = ends_on + dt.timedelta(days=1)
    months = (day_after.year - signed_on.year) * 12 + day_after.month - signed_on.month
    if day_after.day == signed_on.day <= 28 and months > 0:
        total = signed_on.month - 1 + months * (renewals + 1)
        return dt.date(signed_on.year + total // 12, total % 12 + 1, signed_on.day) - dt.timedelta(days=1)
    term = (day_after - signed_on).days if day_after > signed_on else 365
    return ends_on + dt.timedelta(days=term * renewals)


def in_force(contract: ContractSigned, today: dt.date) -> bool:
    """True while ``contract`` runs as of ``today``: open-ended, not yet at its end, or renewing at its end."""
    return contract.ends_on is None or contract.ends_on >= today or bool(contract.auto_renews)
