"""A form for every event type of the vocabulary, built from the event registry (a new type gets one for free).

Each payload field becomes a control that fits its type: a date picker for
dates, a decimal box for amounts, radio buttons for fields with a few choices
(``kind``, ``against``, ``initiated_by``, ``outcome``, yes/no flags), a text
box or text area for the rest. The form only reads what was sent; whether it
makes an event is the registry's verdict, as for the API and JSON Lines, so
the rules and messages are the same everywhere. Every form carries an
idempotency key: the event's id is built from it, so a double click stores
one event.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import attrs
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, Field, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Optional, ValidationError

from clientrules import (
    CHOICES,
    DATA_KEY,
    SPEC_TYPES,
    ClientOnboarded,
    Instant,
    InvalidEvent,
    MoneyRefused,
    OpenInvoice,
    Payload,
    check_client_id,
    client_id_from_name,
    registry,
)
from survey_app.forms import RADIOS, SelectChoice, email_address
from survey_app.numbers import AmountError, read_amount
from survey_app.state import app_state
from survey_app.words import choice_label, event_name, field_label, money_words

#: fields written at some length: a text area instead of a one-line box
LONG_TEXT = frozenset({"note", "reason", "description", "summary", "change"})
#: the idempotency key as the form sends it (and the event id made of it)
_KEY = re.compile(r"[0-9a-f]{32}")
#: the event types an owner records (the library appends the others itself)
RECORDABLE: tuple[str, ...] = tuple(payload_type.TYPE for payload_type in SPEC_TYPES)
#: the event types that name one of the client's open invoices: their form offers them in a list
NAMES_AN_OPEN_INVOICE = frozenset({"PaymentReceived", "InvoiceVoided"})
#: the quick actions of a client's page, in the order they are offered
QUICK_ACTIONS: tuple[str, ...] = (
    "RelationshipEnded",
    "IncidentReported",
    "DeadlineMissed",
    "MeetingHeld",
    "PlanAgreed",
    "FollowUpSent",
    "ClientReplied",
    "InvoiceIssued",
    "PaymentReceived",
)


class AmountField(StringField):
    """A sum of money or hours, typed as the business writes amounts (``1,250.50``; see :mod:`survey_app.numbers`):
    a number, or the field's error (an amount written another way is refused with the reading we would make)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        typed = valuelist[0] if valuelist else ""
        self.refusal: str | None = None
        try:
            self.data = read_amount(typed, app_state().settings.number_format)  # type: ignore[assignment]
        except AmountError as error:
            self.data, self.refusal = typed, str(error)

    def pre_validate(self, form: Any) -> None:
        refusal: str | None = getattr(self, "refusal", None)
        if refusal:
            raise ValidationError(refusal)


class EventForm(FlaskForm):
    """The fields every event form has: when it happened, and the key that makes a double submit store one event."""

    TYPE = ""
    #: (form field name, data key) of the payload's fields, in their order
    PAYLOAD_FIELDS: tuple[tuple[str, str], ...] = ()

    at = DateField(
        "When did it happen?",
        default=lambda: _now().date,
        validators=[InputRequired(message="Enter the date it happened.")],
    )
    idempotency_key = HiddenField(default=lambda: uuid.uuid4().hex)

    def validate_at(self, field: Field) -> None:
        if field.data and field.data > _now().date:
            raise ValidationError("That date is in the future: record what has happened.")
        if field.data:
            try:
                Instant.parse(field.data.isoformat())
            except InvalidEvent as error:
                raise ValidationError(_sentence(str(error).split(": ", 1)[-1].replace(" (in UTC)", ""))) from None

    def validate_idempotency_key(self, field: Field) -> None:
        if not _KEY.fullmatch(field.data or ""):
            raise ValidationError("This form is incomplete: reload the page and fill it in again.")

    @property
    def title(self) -> str:
        return event_name(self.TYPE)

    @property
    def event_id(self) -> str:
        """The id of the event this form records: the same for every submission of one rendered form."""
        return f"web-{self.idempotency_key.data}"

    @property
    def moment(self) -> Instant:
        """Today's events happen now (in the order they are recorded); earlier ones at the start of their day."""
        now = _now()
        day = self.at.data
        assert day is not None, "a validated form has its date"
        return now if day == now.date else Instant.parse(day.isoformat())

    def payload_fields(self) -> list[Field]:
        return [self[name] for name, _ in self.PAYLOAD_FIELDS]

    def offer_invoices(self, invoices: list[OpenInvoice], day_words: Any) -> None:
        """Offer the client's open invoices in the invoice field (payments and voids name one of them)."""
        field = self["invoice_id"]
        assert isinstance(field, SelectField), "the forms of NAMES_AN_OPEN_INVOICE list the invoices"
        field.choices = [SelectChoice("", "Choose an invoice" if invoices else "No open invoices")] + [
            SelectChoice(
                invoice.invoice_id,
                f"{invoice.invoice_id}: {money_words(invoice.left, invoice.currency)} left of"
                f" {money_words(invoice.amount, invoice.currency)}, due {day_words(invoice.due_on)}",
            )
            for invoice in invoices
        ]

    def refused(self, refusal: MoneyRefused) -> None:
        """Show the books' refusal beside the field it concerns."""
        name = next((n for n, key in self.PAYLOAD_FIELDS if key == refusal.concerns), None)
        message = _sentence(str(refusal).split(": ", 1)[-1])
        if name is None:
            self.form_errors.append(message)
        else:
            self[name].errors = [*self[name].errors, message]

    def payload(self) -> Payload | None:
        """The event's payload as the registry builds it, or None with the registry's complaint on its field."""
        data = {key: self[name].data for name, key in self.PAYLOAD_FIELDS if self[name].data not in (None, "")}
        try:
            return registry.decode(self.TYPE, data)
        except InvalidEvent as error:
            self.refuse(error)
            return None

    def refuse(self, error: InvalidEvent) -> None:
        """Show the library's refusal of this form's event next to its field (the longest text when it names none)."""
        key = (error.field or "").removeprefix("data.")
        name = next((n for n, k in self.PAYLOAD_FIELDS if k == key), None)
        message = _sentence(str(error).split(": ", 1)[-1])
        if error.field is None and "longer than" in message:
            message = f"This is longer than {MAX_EVENT_KIB} KiB in all, more than one event can hold: shorten it."
            name = max(self.PAYLOAD_FIELDS, key=lambda pair: len(str(self[pair[0]].data or "")), default=(None, ""))[0]
        if name is None:
            self.form_errors.append(message)
            return
        if isinstance(self[name], RadioField):  # the registry names codes; the form shows words
            message = "Choose one of the options shown."
        self[name].errors = [*self[name].errors, message]


def _now() -> Instant:
    """Now, by the ledger's clock."""
    return app_state().ledger.clock()


def event_form(type_name: str) -> type[EventForm]:
    """The form class of ``type_name`` (raises :class:`~clientrules.domain.errors.InvalidEvent` for an unknown type)."""
    payload_type = registry.payload_type(type_name)
    if payload_type.TYPE not in _FORMS:
        _FORMS[payload_type.TYPE] = _form_class(payload_type)
    return _FORMS[payload_type.TYPE]


#: the form class of each event type, built on first use
_FORMS: dict[str, type[EventForm]] = {}


def _form_class(payload_type: type[Payload]) -> type[EventForm]:
    attrs.resolve_types(payload_type)
    fields: dict[str, Any] = {}
    names = []
    for attribute in attrs.fields(payload_type):
        if attribute.name == "extra":
            continue
        name = attribute.name.rstrip("_")
        fields[name] = _control(attribute)
        names.append((name, attribute.metadata.get(DATA_KEY, attribute.name)))
    if payload_type.TYPE in NAMES_AN_OPEN_INVOICE:
        fields["invoice_id"] = SelectField(
            field_label("invoice_id"),
            choices=[],
            validate_choice=False,  # the books refuse an invoice that is not open, with the figures
            validators=[InputRequired(message="Choose the invoice.")],
        )
    fields["TYPE"] = payload_type.TYPE
    fields["PAYLOAD_FIELDS"] = tuple(names)
    return type(f"{payload_type.__name__}Form", (EventForm,), fields)


def _control(attribute: attrs.Attribute[Any]) -> Field:
    required = attribute.default is attrs.NOTHING
    label = field_label(attribute.name)
    # the label is beside the error already, and the summary puts it before: the message does not repeat it
    checks = [InputRequired(message="Please fill this in.")] if required else [Optional()]
    kind = attribute.type
    choices = attribute.metadata.get(CHOICES)
    if kind is bool:
        choices = (True, False)
    if choices:
        options = [SelectChoice(value, choice_label(attribute.name, value)) for value in choices]
        default = attribute.default if attribute.default is not attrs.NOTHING else None
        return RadioField(
            label,
            choices=options,
            coerce=_choice_of(choices),
            default=default,
            validate_choice=False,
            widget=RADIOS,
            validators=[InputRequired(message="Please choose one.")] if required else [],
        )
    if kind in (float, float | None, int, int | None):
        return AmountField(label, validators=checks, render_kw={"inputmode": "decimal", "autocomplete": "off"})
    if kind in (dt.date, dt.date | None):
        return DateField(label, validators=checks)
    if attribute.name == "email":
        return EmailField(label, validators=[*checks, email_address])
    if attribute.name in LONG_TEXT:
        return TextAreaField(label, validators=checks)
    return StringField(label, validators=checks)


def _choice_of(choices: tuple[Any, ...]) -> Any:
    """Turns the sent text back into the choice it stands for (``"True"`` -> True, ``"2"`` -> 2)."""
    by_text = {str(value): value for value in choices}

    def coerce(value: Any) -> Any:
        return by_text.get(str(value), value) if value is not None else None

    return coerce


def _sentence(message: str) -> str:
    """The registry's message (``is required``) as a sentence to show next to the field."""
    text = message.strip()
    if text.startswith(("is ", "must ")):
        text = "This " + text
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


#: the most one event may hold, as the owner is told
MAX_EVENT_KIB = 64


class NewClientForm(_form_class(ClientOnboarded)):  # type: ignore[misc]
    """A new client: the ``ClientOnboarded`` form, with the short name the client is known by in links and exports."""

    client = StringField("Short name")
    at = DateField(
        "Client since",
        default=lambda: _now().date,
        validators=[InputRequired(message="Enter the date they became a client.")],
    )

    def client_id(self) -> str | None:
        """The short name given, else one made of the name (``"Orchard Café Ltd"`` -> ``orchard-cafe-ltd``); None if invalid."""
        given = (self.client.data or "").strip()
        candidate = given or client_id_from_name(self.name.data or "") or ""
        try:
            return check_client_id(candidate)
        except InvalidEvent:
            self.client.errors = [
                "Use 1 to 64 letters, digits, dots, dashes or underscores (no spaces)."
                if given
                else "Give a short name of letters and digits: the name has none to make one from."
            ]
            return None
