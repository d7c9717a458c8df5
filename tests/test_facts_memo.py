"""Kept facts (clientrules.domain.facts.memo) answer every moment they hold for exactly as the fold, on random histories.

A memo of the facts as of T, written and read back, must give at any moment
from T up to ``until`` the very facts (values, evidence, incidents, in the same
order) and status that folding the history gives, with and without the
portfolio's value; it must refuse any other moment or grace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_facts_properties import as_of_moments, histories

from clientrules.domain.events import Event, Instant, registry
from clientrules.domain.facts import ClientFold, FactsError
from clientrules.domain.facts.memo import memo_format, memo_from_text, memo_if_holding, memo_of, memo_text

#: how far past T a memo that holds forever is checked
HORIZON = dt.timedelta(days=800)


@st.composite
def histories_with_notices(draw):
    """A random history, sometimes with notices given (a status that changes when one runs out)."""
    events = draw(histories())
    for _ in range(draw(st.integers(0, 2))):
        given_at = draw(st.sampled_from(events)).at.utc + dt.timedelta(hours=draw(st.integers(-48, 48)))
        effective = given_at.date() + dt.timedelta(days=draw(st.integers(0, 60)))
        payload = registry.decode("NoticeGiven", {"by": draw(st.sampled_from(["us", "client"])),
                                                  "effective_on": effective.isoformat()})
        version = len(events) + 1
        events.append(Event("c1", Instant.from_datetime(given_at), payload, f"n{version}").stored(version, version))
    return events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=histories_with_notices(),
    data=st.data(),
    grace=st.sampled_from([0, 7, 8]),
    portfolio=st.sampled_from([None, Decimal(0), Decimal("4000.5")]),
)
def test_kept_facts_answer_every_moment_they_hold_for_as_the_fold(events, data, grace, portfolio):
    fold = ClientFold()
    fold.apply_all(events)
    then = data.draw(as_of_moments(events), label="then")
    kept = memo_of(fold, fold.facts(then, grace_days=grace, portfolio_value=portfolio), grace_days=grace)
    memo = memo_from_text(memo_text(kept), client="c1", version=fold.version)
    assert memo == kept
    end = then.key + int(HORIZON.total_seconds() * 1_000_000) if memo.until is None else memo.until
    assert end > then.key
    span = end - then.key
    probes = {0, 1, span - 1, *data.draw(st.lists(st.integers(0, span - 1), max_size=6), label="probes")}
    for event in events:  # the moments a window forgets an event, and the microsecond before
        for days in (90, 180, 365):
            edge = event.at.key + days * 86_400_000_000 - then.key
            probes.update((edge - 1, edge))
    for micros in sorted(probe for probe in probes if 0 <= probe < span):
        moment = Instant.from_datetime(then.utc + dt.timedelta(microseconds=micros))
        assert memo.holds(moment, grace)
        for value in (portfolio, None, Decimal("123.45")):
            expected = fold.facts(moment, grace_days=grace, portfolio_value=value)
            found = memo.facts(moment, grace_days=grace, portfolio_value=value)
            assert found == expected, moment
            assert list(found.values) == list(expected.values) and list(found.evidence) == list(expected.evidence)
            assert memo.facts(moment, grace_days=grace, portfolio_value=value, explained=False) == fold.facts(
                moment, grace_days=grace, portfolio_value=value, explained=False
            )
        assert memo.status(moment) == fold.status(moment)
    if memo.until is not None:
        assert not memo.holds(Instant.from_datetime(then.utc + dt.timedelta(microseconds=span)), grace)
    assert not memo.holds(then, grace + 1)
    if then.key > 0:
        assert not memo.holds(Instant.from_datetime(then.utc - dt.timedelta(microseconds=1)), grace)


def kept_facts_text() -> tuple[ClientFold, str]:
    fold = ClientFold()
    fold.apply_all([
        Event("c1", Instant.parse("2026-01-05"), registry.decode("ClientOnboarded", {"name": "C"}), "e1").stored(1, 1),
        Event("c1", Instant.parse("2026-02-01"), registry.decode("FollowUpSent", {"topic": "x"}), "e2").stored(2, 2),
    ])
    moment = Instant.parse("2026-03-01")
    return fold, memo_text(memo_of(fold, fold.facts(moment, grace_days=7), grace_days=7))


def test_a_moment_the_kept_facts_do_not_hold_for_is_refused():
    fold, text = kept_facts_text()
    memo = memo_from_text(text, client="c1", version=2)
    assert memo.until is None  # nothing in this history can change with time but the day counts
    assert memo.facts(Instant.parse("2027-03-01"), grace_days=7)["silent_days"] == 393
    with pytest.raises(FactsError, match="do not hold as of 2026-02-28"):
        memo.facts(Instant.parse("2026-02-28"), grace_days=7)
    with pytest.raises(FactsError, match="do not hold"):
        memo.facts(Instant.parse("2026-03-02"), grace_days=8)


def signed(span: str, body: str) -> str:
    """A kept-facts text whose checksum holds, of whatever ``span`` and ``body``."""
    checksum = hashlib.blake2b((span + "\n" + body).encode(), digest_size=16).hexdigest()
    return f"{span}\n{checksum}\n{body}"


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda text: text.replace(" 7\n", " 8\n", 1), "fail their checksum"),  # a longer grace, by hand
        (lambda text: text.replace('"as_of":"2026-03-01"', '"as_of":"2026-03-02"'), "fail their checksum"),
        (lambda text: text.split("\n")[0], "fail their checksum"),
        (lambda text: "", "fail their checksum"),
        (lambda text: signed("1 - 7", "{}"), "are damaged"),
        (lambda text: signed("1 - 7", "[1]"), "are damaged"),
        (lambda text: signed("soon - 7", text.split("\n")[2]), "are damaged"),
    ],
)
def test_damaged_kept_facts_are_refused(damage, problem):
    _, text = kept_facts_text()
    assert damage(text) != text
    with pytest.raises(FactsError, match=problem):
        memo_from_text(damage(text), client="c1", version=2)


def test_whether_kept_facts_hold_is_read_from_their_span_alone():
    _, text = kept_facts_text()
    span = text.split("\n")[0]
    assert span.endswith(" - 7")  # from 2026-03-01, with no end, under 7 days of grace
    later, earlier = Instant.parse("2026-04-01"), Instant.parse("2026-02-01")
    assert memo_if_holding(text, client="c1", version=2, moment=later, grace_days=7) == memo_from_text(
        text, client="c1", version=2
    )
    garbled = text[: len(span) + 1] + "0" * 32 + "\n{"
    assert memo_if_holding(garbled, client="c1", version=2, moment=earlier, grace_days=7) is None
    assert memo_if_holding(garbled, client="c1", version=2, moment=later, grace_days=8) is None
    with pytest.raises(FactsError, match="fail their checksum"):
        memo_if_holding(garbled, client="c1", version=2, moment=later, grace_days=7)


def test_kept_facts_of_another_client_or_version_are_refused():
    _, text = kept_facts_text()
    with pytest.raises(FactsError, match="are of client 'c1' at version 2"):
        memo_from_text(text, client="c1", version=3)
    with pytest.raises(FactsError, match="are of client 'c1' at version 2"):
        memo_from_text(text, client="c2", version=2)


def test_the_format_names_the_fold_format_it_depends_on():
    from clientrules.domain.facts.stored import fold_format

    assert memo_format(registry).endswith("/" + fold_format(registry))
    assert memo_format(registry).startswith("facts-1-")
