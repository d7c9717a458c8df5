"""Events as values: instants, the type registry and its codec, upcasters, and fast restoring from a store."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import attrs
import pytest
from hypothesis import given, strategies as st

from clientrules.domain.errors import InvalidEvent
from clientrules.domain.events import (
    SPEC_TYPES,
    Event,
    Instant,
    Registry,
    as_instant,
    check_client_id,
    client_id_from_name,
    content_id,
    registry,
)
from clientrules.domain.events.system import SYSTEM_TYPES
from clientrules.domain.events.types import Payload

#: one valid ``data`` per type, with every optional field set where the type has one
SAMPLES = {
    "ClientOnboarded": {"name": "Acme", "email": "a@acme.test", "segment": "shop", "monthly_value": 900, "currency": "EUR"},
    "ContractSigned": {"contract_id": "C-1", "ends_on": "2027-01-31", "value": 12000.0, "notice_days": 30, "auto_renews": True},
    "NoticeGiven": {"by": "client", "effective_on": "2026-12-31", "reason": "budget"},
    "RelationshipEnded": {"initiated_by": "client", "reason": "moved"},
    "ClientReferredOut": {"partner": "Big Agency"},
    "InvoiceIssued": {"invoice_id": "I-1", "amount": 4200.0, "due_on": "2026-03-15", "issued_on": "2026-03-01", "currency": "USD", "source": "stripe:in_1"},
    "PaymentReceived": {"invoice_id": "I-1", "amount": 100, "source": "stripe:in_1"},
    "InvoiceVoided": {"invoice_id": "I-1", "reason": "order cancelled"},
    "DepositRequested": {"amount": 1920.0, "for": "samples"},
    "DepositReceived": {"amount": 1920.0},
    "WorkLogged": {"hours": 2.5, "billable": False},
    "ScopeChangeRequested": {"description": "more pages", "paid": False},
    "DeadlineMissed": {"deliverable": "logo"},
    "FollowUpSent": {"topic": "deposit"},
    "ClientReplied": {"topic": "deposit"},
    "ClientMessageReceived": {"topic": "question"},
    "ReplySent": {},
    "MeetingHeld": {"topic": "delays", "outcome": "resolved"},
    "PlanAgreed": {"summary": "weekly calls", "review_on": "2026-04-01"},
    "TermsRenegotiated": {"change": "upfront payment", "monthly_value": 1200},
    "IncidentReported": {"kind": "threat", "against": "owner", "severity": 3, "note": "n"},
    "ContractBreached": {"clause": "4.2"},
    "NeedOutgrown": {"need": "24/7 support"},
    "DecisionRecorded": {"verdict": "keep", "fired": ["r1"], "reasons": [{"rule": "r1"}], "ruleset_version": 1, "as_of": "2026-03-01"},
    "DecisionChanged": {"from_verdict": "keep", "to_verdict": "terminate", "previous_fired": [], "fired": ["r1"], "reasons": [{"rule": "r1"}], "advice": ["talk"], "ruleset_version": 1, "as_of": "2026-03-01", "cause": "event"},
    "SurveyInvited": {"invitation_id": "inv-1", "expires_at": "2026-04-01T00:00:00Z", "email": "a@acme.test"},
    "SurveyReminded": {"invitation_id": "inv-1"},
    "SurveyAnswered": {"invitation_id": "inv-1", "primary_reason": "quality", "other_reasons": ["price_too_high"], "recommend": 7, "may_contact": True},
    "PersonalDataErased": {"requested_by": "client"},
    "RuleSetAdopted": {"version": 2, "source": "[rules]", "note": "stricter"},
    "ProposalDecided": {"proposal_id": "p-1", "outcome": "accepted", "evidence": "12 of 15", "rule": {"id": "x", "when": ["late_invoices_12m >= 2"]}},
}


def test_every_type_has_a_sample():
    assert set(SAMPLES) == {t.TYPE for t in (*SPEC_TYPES, *SYSTEM_TYPES)}


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_decode_then_encode_gives_the_data_back(type_name):
    data = {**SAMPLES[type_name], "future_field": {"kept": True}}
    payload = registry.decode(type_name, data)
    assert registry.encode(payload) == data


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_restore_builds_what_decode_builds(type_name):
    data = {**SAMPLES[type_name], "future_field": 1}
    payload_type = registry.payload_type(type_name)
    assert registry.restore(type_name, dict(data), payload_type.SCHEMA) == registry.decode(type_name, dict(data))


def test_restore_fills_defaults_and_converts_dates():
    restored = registry.restore("IncidentReported", {"kind": "rude", "against": "staff"}, 1)
    assert (restored.severity, restored.note, restored.extra) == (1, None, {})
    invoice = registry.restore("InvoiceIssued", {"invoice_id": "I", "amount": 1, "due_on": "2026-03-15"}, 1)
    assert invoice.due_on == dt.date(2026, 3, 15)
    first, second = (registry.restore("DecisionRecorded", {"verdict": "keep", "ruleset_version": 1, "as_of": "x"}, 1) for _ in range(2))
    assert first.fired == [] and first.fired is not second.fired


@pytest.mark.parametrize(
    ("type_name", "data", "message"),
    [
        ("InvoiceIssued", {"invoice_id": "I", "amount": 1, "due_on": "2026-03-01", "issued_on": "2026-03-02"}, "due_on: 2026-03-01 is before the issue date 2026-03-02"),
        ("InvoiceIssued", {"invoice_id": "I", "amount": 1, "due_on": "2026-03-01", "currency": "eur"}, "currency: must be an ISO 4217 currency code"),
        ("ClientOnboarded", {"name": "A", "currency": "EURO"}, "currency: must be an ISO 4217 currency code"),
        ("ContractSigned", {"contract_id": "C", "notice_days": 3651}, "notice_days: must be a whole number of days from 0 to 3,650"),
        ("ContractSigned", {"contract_id": "C", "notice_days": 1.5}, "notice_days: must be a whole number of days"),
        ("ContractSigned", {"contract_id": "C", "auto_renews": "yes"}, "auto_renews: must be true or false"),
        ("NoticeGiven", {"by": "them", "effective_on": "2026-03-01"}, "by: 'them' is not one of us, client"),
        ("NoticeGiven", {"by": "us"}, "effective_on"),
    ],
)
def test_the_second_vocabulary_checks_its_fields(type_name, data, message):
    with pytest.raises(InvalidEvent, match=message):
        registry.decode(type_name, data)


def test_event_restore_equals_a_validated_event():
    event = Event.new("acme", registry.decode("FollowUpSent", {"topic": "x"}), "2026-03-01", id="e")
    assert Event.restore("acme", event.at, event.payload, "e", 3, 9) == event.stored(3, 9)


def test_instants_compare_by_their_utc_moment():
    early = Instant.parse("2026-03-01T01:00:00+02:00")
    midnight = Instant.parse("2026-03-01")
    same = Instant.parse("2026-03-01T00:00:00Z")
    assert early < midnight <= same
    assert early.key < midnight.key == same.key
    assert sorted([midnight, early]) == [early, midnight]
    assert early.date == dt.date(2026, 2, 28)
    assert Instant.from_key(early.key, early.text).utc == early.utc


@pytest.mark.parametrize("text", ["2026-03-01T09:30", "2026-3-1", "tomorrow", "2026-03-01T25:00:00Z", ""])
def test_bad_moments_are_refused(text):
    with pytest.raises(InvalidEvent, match="^at: "):
        Instant.parse(text)


def test_as_instant_takes_what_callers_have():
    assert as_instant(dt.date(2026, 3, 1)).text == "2026-03-01"
    aware = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert as_instant(aware).key == Instant.parse("2026-03-01T09:30:00+02:00").key
    with pytest.raises(InvalidEvent, match="needs a time zone"):
        as_instant(dt.datetime(2026, 3, 1, 9, 30))


def test_payloads_validate_when_built():
    with pytest.raises(InvalidEvent, match="^data.severity: must be 1, 2 or 3$"):
        registry.decode("IncidentReported", {"kind": "rude", "against": "staff", "severity": 4})
    with pytest.raises(InvalidEvent, match="^data.amount: must be a number$"):
        registry.decode("DepositReceived", {"amount": True})
    with pytest.raises(InvalidEvent, match="^data: must be a JSON object$"):
        registry.decode("DepositReceived", "100")
    with pytest.raises(InvalidEvent, match="^data.name: is not valid Unicode"):
        registry.decode("ClientOnboarded", {"name": "Ren\ud800e"})
    assert registry.decode("ClientOnboarded", {"name": "Renée 😀"}).name == "Renée 😀"


def test_system_streams_are_allowed_as_clients_but_not_other_dollar_names():
    Event.new("$rules", registry.decode("RuleSetAdopted", SAMPLES["RuleSetAdopted"]), "2026-03-01")
    with pytest.raises(InvalidEvent, match="^client: "):
        Event.new("$Rules!", registry.decode("ClientReplied", {}), "2026-03-01")


def test_upcasters_run_in_order_from_the_stored_schema():
    @attrs.frozen(kw_only=True)
    class Call(Payload):
        TYPE: ClassVar[str] = "Call"
        SCHEMA: ClassVar[int] = 3
        hours: float
        channel: str

    calls = Registry([Call])
    calls.register_upcaster("Call", 1, lambda data: {"hours": data.pop("minutes") / 60, **data})
    calls.register_upcaster("Call", 2, lambda data: {"channel": "phone", **data})
    assert calls.decode("Call", {"minutes": 30}, 1) == Call(hours=0.5, channel="phone")
    assert calls.restore("Call", {"hours": 1, "channel": "video"}, 2) == Call(hours=1, channel="video")
    assert calls.restore("Call", {"hours": 1, "channel": "video"}, 3) == Call(hours=1, channel="video")
    with pytest.raises(InvalidEvent, match="schema 4 of Call is newer than this clientrules reads"):
        calls.restore("Call", {"hours": 1}, 4)
    missing = Registry([Call])
    with pytest.raises(InvalidEvent, match="no upcaster from schema 1 of Call"):
        missing.decode("Call", {"minutes": 30}, 1)


@pytest.mark.parametrize("slots", [True, False])
def test_restore_builds_a_payload_class_made_with_or_without_slots(slots):
    @attrs.frozen(kw_only=True, slots=slots)
    class Visit(Payload):
        TYPE: ClassVar[str] = "Visit"
        SCHEMA: ClassVar[int] = 1
        site: str
        on: dt.date | None = attrs.field(default=None, converter=lambda value: dt.date.fromisoformat(value))

    visits = Registry([Visit])
    restored = visits.restore("Visit", {"site": "north", "on": "2026-03-01", "later": 1}, 1)
    assert restored == Visit(site="north", on="2026-03-01", extra={"later": 1})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        restored.site = "south"


def test_content_ids_are_deterministic_and_tell_occurrences_apart():
    first = content_id("acme", "WorkLogged", "2026-03-01", {"hours": 1}, 0)
    assert first == content_id("acme", "WorkLogged", "2026-03-01", {"hours": 1}, 0)
    assert first != content_id("acme", "WorkLogged", "2026-03-01", {"hours": 1}, 1)
    assert first.startswith("c-") and len(first) == 34


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Orchard Café Ltd", "orchard-cafe-ltd"),
        ("Straße & Søn", "strasse-son"),
        ("  Zoë—Łódź  ", "zoe-lodz"),
        ("Acme & Sons Ltd.", "acme-sons-ltd"),
        ("東京", None),
        ("", None),
    ],
)
def test_a_client_id_is_made_of_a_name_with_its_accents_and_special_letters_spelled_out(name, expected):
    assert client_id_from_name(name) == expected


@given(st.text(max_size=200))
def test_a_client_id_made_of_any_name_is_none_or_a_valid_id(name):
    made = client_id_from_name(name)
    assert made is None or check_client_id(made) == made
