"""Every event type of ``docs/events.md`` (and the ones the library appends) as a frozen attrs class.

A payload class holds the ``data`` of one event. Its fields are validated when it
is built, so an invalid event cannot exist. ``data`` keys the class does not know
are kept in ``extra`` (forward compatibility) and written back on export.

Fields marked ``personal`` hold what identifies a person or what they wrote; the
stores encrypt them with the client's own key, and they are the ones erased when a
client asks to be forgotten (:mod:`clientrules.domain.privacy`). Once erased, a personal
field reads as :data:`ERASED`, or as its ``erased_as`` metadata where that is given
(an e-mail address reads as None: nothing can be sent to an erased address).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, ClassVar

import attrs

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events.instant import parse_date

PERSONAL = "personal"
ERASED_AS = "erased_as"  # metadata: what a personal field reads as once erased, where not ERASED
DATA_KEY = "data_key"  # metadata: the JSON key where it differs from the field name
#: metadata: how a value this field's payload was stored with is read back, where its converter would check it again
READ_BACK = "read_back"
CHOICES = "choices"  # metadata: the values a field accepts, where it accepts only a few (forms offer them)
#: what an erased personal text reads as
ERASED = "[erased]"


def _text(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise InvalidEvent("must be a string", field=attribute.name)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEvent("is not valid Unicode (it holds a lone surrogate)", field=attribute.name) from None


def _optional_text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _text(instance, attribute, value)


#: the largest amount or number of hours one event may carry: a client's sums over any number of events
#: stay finite (a float overflows past 1.8e308), and every fact built from them reaches the engine
MAX_AMOUNT = 10**15


def _amount(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEvent("must be a number", field=attribute.name)
    if not abs(value) <= MAX_AMOUNT:  # nan fails too
        raise InvalidEvent(f"must be a number of at most {MAX_AMOUNT:,}", field=attribute.name)
    if value < 0:
        raise InvalidEvent("must not be negative", field=attribute.name)


def _optional_amount(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _amount(instance, attribute, value)


def _flag(_: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidEvent("must be true or false", field=attribute.name)


def _optional_flag(instance: object, attribute: attrs.Attribute[bool | None], value: object) -> None:
    if value is not None:
        _flag(instance, attribute, value)  # type: ignore[arg-type]


#: the longest notice period a contract may name (ten years), so that every notice date stays in the calendar
MAX_NOTICE_DAYS = 3_650


def _optional_days(_: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NOTICE_DAYS:
        raise InvalidEvent(f"must be a whole number of days from 0 to {MAX_NOTICE_DAYS:,}", field=attribute.name)


def _currency(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha() or not value.isupper():
        raise InvalidEvent("must be an ISO 4217 currency code of three capital letters, such as EUR", field=attribute.name)


def _currency_field() -> Any:
    """An optional ISO 4217 currency code (``EUR``); absent: the client's, else the business's."""
    return attrs.field(default=None, validator=_currency)


def _one_of(*choices: str) -> Callable[[object, attrs.Attribute[str], object], None]:
    def check(_: object, attribute: attrs.Attribute[str], value: object) -> None:
        if value not in choices:
            raise InvalidEvent(
                f"{value!r} is not one of {', '.join(choices)}", field=attribute.name
            )

    return check


def _choice_field(*choices: str) -> Any:
    """A field that holds one of ``choices``."""
    return attrs.field(validator=_one_of(*choices), metadata={CHOICES: choices})


def _text_field(*, personal: bool = False) -> Any:
    return attrs.field(validator=_text, metadata={PERSONAL: personal})


def _optional_text_field(*, personal: bool = False) -> Any:
    return attrs.field(default=None, validator=_optional_text, metadata={PERSONAL: personal})


def _email_field() -> Any:
    """An optional e-mail address: personal, and None once erased."""
    return attrs.field(default=None, validator=_optional_text, metadata={PERSONAL: True, ERASED_AS: None})


def _date_field(name: str, *, optional: bool = False, validator: Any = None) -> Any:
    def convert(value: object) -> object:
        if value is None and optional:
            return None
        return parse_date(value, field=name)

    read_back = {READ_BACK: dt.date.fromisoformat}  # a stored date is always written by date.isoformat
    if optional:
        return attrs.field(default=None, converter=convert, validator=validator, metadata=read_back)
    return attrs.field(converter=convert, validator=validator, metadata=read_back)


def _not_after_due_on(instance: Any, _: attrs.Attribute[dt.date | None], issued_on: dt.date | None) -> None:
    """An invoice is not due before it was issued (validators run once every field is set)."""
    if issued_on is not None and instance.due_on < issued_on:
        raise InvalidEvent(f"{instance.due_on.isoformat()} is before the issue date {issued_on.isoformat()}", field="due_on")


@attrs.frozen(kw_only=True)
class Payload:
    """Base of every event payload: ``TYPE`` is its name, ``SCHEMA`` its current shape's version."""

    TYPE: ClassVar[str] = ""
    SCHEMA: ClassVar[int] = 1
    SYSTEM: ClassVar[bool] = False

    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


# --- Relationship -----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ClientOnboarded(Payload):
    TYPE = "ClientOnboarded"
    name: str = _text_field(personal=True)
    email: str | None = _email_field()
    segment: str | None = _optional_text_field()
    monthly_value: float | None = attrs.field(default=None, validator=_optional_amount)
    currency: str | None = _currency_field()


@attrs.frozen(kw_only=True)
class ContractSigned(Payload):
    TYPE = "ContractSigned"
    contract_id: str = _text_field()
    ends_on: dt.date | None = _date_field("ends_on", optional=True)
    value: float | None = attrs.field(default=None, validator=_optional_amount)
    notice_days: int | None = attrs.field(default=None, validator=_optional_days)
    auto_renews: bool | None = attrs.field(default=None, validator=_optional_flag)


@attrs.frozen(kw_only=True)
class NoticeGiven(Payload):
    TYPE = "NoticeGiven"
    by: str = _choice_field("us", "client")
    effective_on: dt.date = _date_field("effective_on")
    reason: str | None = _optional_text_field(personal=True)


@attrs.frozen(kw_only=True)
class RelationshipEnded(Payload):
    TYPE = "RelationshipEnded"
    initiated_by: str = _choice_field("us", "client")
    reason: str | None = _optional_text_field(personal=True)


@attrs.frozen(kw_only=True)
class ClientReferredOut(Payload):
    TYPE = "ClientReferredOut"
    partner: str = _text_field()


# --- Money --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InvoiceIssued(Payload):
    TYPE = "InvoiceIssued"
    invoice_id: str = _text_field()
    amount: float = attrs.field(validator=_amount)
    due_on: dt.date = _date_field("due_on")
    issued_on: dt.date | None = _date_field("issued_on", optional=True, validator=_not_after_due_on)
    currency: str | None = _currency_field()
    source: str | None = _optional_text_field()


@attrs.frozen(kw_only=True)
class PaymentReceived(Payload):
    TYPE = "PaymentReceived"
    invoice_id: str = _text_field()
    amount: float = attrs.field(validator=_amount)
    source: str | None = _optional_text_field()


@attrs.frozen(kw_only=True)
class InvoiceVoided(Payload):
    TYPE = "InvoiceVoided"
    invoice_id: str = _text_field()
    reason: str | None = _optional_text_field()


@attrs.frozen(kw_only=True)
class DepositRequested(Payload):
    TYPE = "DepositRequested"
    amount: float = attrs.field(validator=_amount)
    for_: str | None = attrs.field(default=None, validator=_optional_text, metadata={DATA_KEY: "for"})


@attrs.frozen(kw_only=True)
class DepositReceived(Payload):
    TYPE = "DepositReceived"
    amount: float = attrs.field(validator=_amount)


# --- Work ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkLogged(Payload):
    TYPE = "WorkLogged"
    hours: float = attrs.field(validator=_amount)
    billable: bool = attrs.field(validator=_flag)


@attrs.frozen(kw_only=True)
class ScopeChangeRequested(Payload):
    TYPE = "ScopeChangeRequested"
    description: str = _text_field()
    paid: bool = attrs.field(validator=_flag)


@attrs.frozen(kw_only=True)
class DeadlineMissed(Payload):
    TYPE = "DeadlineMissed"
    deliverable: str = _text_field()


# --- Communication ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FollowUpSent(Payload):
    TYPE = "FollowUpSent"
    topic: str = _text_field()


@attrs.frozen(kw_only=True)
class ClientReplied(Payload):
    TYPE = "ClientReplied"
    topic: str | None = _optional_text_field()


@attrs.frozen(kw_only=True)
class ClientMessageReceived(Payload):
    TYPE = "ClientMessageReceived"
    topic: str = _text_field()


@attrs.frozen(kw_only=True)
class ReplySent(Payload):
    TYPE = "ReplySent"
    topic: str | None = _optional_text_field()


@attrs.frozen(kw_only=True)
class MeetingHeld(Payload):
    TYPE = "MeetingHeld"
    topic: str = _text_field()
    outcome: str = _choice_field("resolved", "unresolved")


@attrs.frozen(kw_only=True)
class PlanAgreed(Payload):
    TYPE = "PlanAgreed"
    summary: str = _text_field()
    review_on: dt.date | None = _date_field("review_on", optional=True)


@attrs.frozen(kw_only=True)
class TermsRenegotiated(Payload):
    TYPE = "TermsRenegotiated"
    change: str = _text_field()
    monthly_value: float | None = attrs.field(default=None, validator=_optional_amount)


# --- Conduct ------------------------------------------------------------------------

INCIDENT_KINDS = ("abuse", "harassment", "threat", "rude", "unreasonable_demand")


def _severity(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3:
        raise InvalidEvent("must be 1, 2 or 3", field=attribute.name)


@attrs.frozen(kw_only=True)
class IncidentReported(Payload):
    TYPE = "IncidentReported"
    kind: str = _choice_field(*INCIDENT_KINDS)
    against: str = _choice_field("staff", "owner")
    severity: int = attrs.field(default=1, validator=_severity, metadata={CHOICES: (1, 2, 3)})
    note: str | None = _optional_text_field(personal=True)


@attrs.frozen(kw_only=True)
class ContractBreached(Payload):
    TYPE = "ContractBreached"
    clause: str = _text_field()
    note: str | None = _optional_text_field(personal=True)


@attrs.frozen(kw_only=True)
class NeedOutgrown(Payload):
    TYPE = "NeedOutgrown"
    need: str = _text_field()
    note: str | None = _optional_text_field(personal=True)


SPEC_TYPES: tuple[type[Payload], ...] = (
    ClientOnboarded,
    ContractSigned,
    NoticeGiven,
    RelationshipEnded,
    ClientReferredOut,
    InvoiceIssued,
    PaymentReceived,
    InvoiceVoided,
    DepositRequested,
    DepositReceived,
    WorkLogged,
    ScopeChangeRequested,
    DeadlineMissed,
    FollowUpSent,
    ClientReplied,
    ClientMessageReceived,
    ReplySent,
    MeetingHeld,
    PlanAgreed,
    TermsRenegotiated,
    IncidentReported,
    ContractBreached,
    NeedOutgrown,
)
