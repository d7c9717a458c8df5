"""The portfolio's value (what ``revenue_share`` divides by) from kept value steps, against its definition:
the sum of ``monthly_value`` over the folds of the clients not left at that moment.

Random histories of onboardings, renegotiations, notices and endings, applied
in any order, are compared at random moments and on every boundary; then a
long-lived ledger, which keeps the steps and catches them up from the clients
changed since, is compared with that definition after each of a series of
appends (back-dated ones too), on both backends.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clientrules import ClientOnboarded, Ledger, NoticeGiven, RelationshipEnded, TermsRenegotiated, WorkLogged
from clientrules.domain.events import Event, Instant, registry
from clientrules.domain.facts import ClientFold
from clientrules.domain.facts.portfolio import PortfolioValue
from clientrules.domain.facts.timeline import EXACT, ZERO

START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
VALUES = st.sampled_from([0, 0.0, 100, 250.5, 250.50, 900.25, 1500])

VALUE_EVENTS = st.one_of(
    st.just(("ClientOnboarded", {"name": "C"})),
    VALUES.map(lambda value: ("ClientOnboarded", {"name": "C", "monthly_value": value})),
    VALUES.map(lambda value: ("TermsRenegotiated", {"change": "rate", "monthly_value": value})),
    st.just(("TermsRenegotiated", {"change": "scope"})),
    st.tuples(st.sampled_from(["us", "client"]), st.integers(-5, 120)).map(
        lambda drawn: ("NoticeGiven", {"by": drawn[0], "effective_on": drawn[1]})
    ),
    st.sampled_from(["us", "client"]).map(lambda by: ("RelationshipEnded", {"initiated_by": by})),
    st.just(("WorkLogged", {"hours": 2, "billable": True})),
)


def defined(folds: list[ClientFold], moment: Instant) -> Decimal:
    """The portfolio's value as it is defined, from every fold at ``moment``."""
    total = ZERO
    for fold in folds:
        if not fold.status(moment).is_left:
            total = EXACT.add(total, fold.monthly_value(moment))
    return total


@st.composite
def portfolios(draw) -> tuple[list[ClientFold], list[ClientFold]]:
    """Each client's fold of all its events, and its fold of the first of them (what it was earlier)."""
    folds, earlier = [], []
    for client in [f"c{n}" for n in range(draw(st.integers(1, 4)))]:
        drawn = draw(st.lists(st.tuples(VALUE_EVENTS, st.integers(0, 24 * 200)), min_size=1, max_size=12))
        events = []
        for version, ((type_name, data), hours) in enumerate(drawn, start=1):
            at = START + dt.timedelta(hours=hours - hours % 24 if hours % 3 else hours)
            if type_name == "NoticeGiven":
                data = {**data, "effective_on": (at.date() + dt.timedelta(days=data["effective_on"])).isoformat()}
            event = Event(client, Instant.from_datetime(at), registry.decode(type_name, data), f"{client}-{version}")
            events.append(event.stored(version=version, position=version))
        fold, first = ClientFold(), ClientFold()
        fold.apply_all(draw(st.permutations(events)))
        first.apply_all(events[: draw(st.integers(0, len(events)))])
        folds.append(fold)
        earlier.append(first)
    return folds, earlier


def boundaries(folds: list[ClientFold]) -> list[Instant]:
    """A microsecond before, at and after each moment a client's value may change, and far before and after."""
    moments = {0, 10**17}
    for fold in folds:
        for start in fold.value_steps()[0]:
            moments.update((start - 1, start, start + 1))
    return [Instant.from_datetime(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=us))
            for us in sorted(moments) if us < 253_402_300_800_000_000]


@settings(max_examples=300, deadline=None)
@given(portfolios(), st.lists(st.integers(-24 * 10, 24 * 330), max_size=5))
def test_the_kept_steps_give_the_defined_value_at_every_moment(drawn, hours):
    folds, earlier = drawn
    moments = boundaries(folds) + [Instant.from_datetime(START + dt.timedelta(hours=h)) for h in hours]
    portfolio = PortfolioValue()
    portfolio.replace({f"c{n}": fold.value_steps() for n, fold in enumerate(earlier)})
    assert portfolio.at(moments) == [defined(earlier, moment) for moment in moments]
    portfolio.replace({f"c{n}": fold.value_steps() for n, fold in enumerate(folds)})  # their histories went on
    for moment, value in zip(moments, portfolio.at(moments)):
        expected = defined(folds, moment)
        assert value == expected and value.as_tuple() == expected.as_tuple(), moment.text


def test_a_client_whose_steps_are_replaced_adds_its_new_value_from_then_on():
    moment = Instant.from_datetime(START)
    portfolio = PortfolioValue()
    portfolio.replace({"a": ((moment.key,), (Decimal("2.5"),)), "b": ((moment.key,), (Decimal("100"),))})
    assert [str(value) for value in portfolio.at([moment])] == ["102.5"]
    portfolio.replace({"a": ((moment.key,), (Decimal("2.50"),))})  # the same value written otherwise
    assert [str(value) for value in portfolio.at([moment])] == ["102.50"]
    portfolio.replace({"a": ((moment.key,), (Decimal("7"),))})  # another value from the same moment
    assert [str(value) for value in portfolio.at([moment])] == ["107"]
    portfolio.replace({"a": ClientFold().value_steps()})  # none: it adds nothing
    assert [str(value) for value in portfolio.at([moment])] == ["100"]


def test_a_long_lived_ledger_catches_its_value_up_with_every_change(store_url: str) -> None:
    moments = [f"2026-0{month}-{day:02d}" for month in range(1, 8) for day in (1, 15)]
    changes = [
        ("acme", ClientOnboarded(name="Acme", monthly_value=300.0), "2026-01-05"),
        ("globex", ClientOnboarded(name="Globex", monthly_value=400.25), "2026-01-05"),
        ("acme", TermsRenegotiated(change="a bigger retainer", monthly_value=900.0), "2026-03-01"),
        ("globex", NoticeGiven(by="client", effective_on=dt.date(2026, 5, 1)), "2026-04-01"),
        ("initech", ClientOnboarded(name="Initech", monthly_value=50.5), "2026-02-01"),  # a new client
        ("acme", TermsRenegotiated(change="back-dated rate", monthly_value=310.0), "2026-02-10"),  # back-dated
        ("acme", WorkLogged(hours=3.0, billable=True), "2026-03-02"),  # changes nothing it adds
        ("initech", RelationshipEnded(initiated_by="us"), "2026-06-01"),
    ]
    with Ledger.open(store_url) as long_lived:
        for client, payload, at in changes:
            long_lived.record(client, payload, at)
            found = long_lived.decisions.portfolio_values([Instant.parse(m) for m in moments])
            with Ledger.open(store_url) as fresh:
                folds = [fresh.decisions.fold(c) for c in fresh.store.client_ids()]
            assert found == [defined(folds, Instant.parse(m)) for m in moments], f"after {client}'s {payload.TYPE}"
        assert long_lived.decisions.portfolio_value("2026-05-15") == Decimal("950.5")  # globex left on 1 May
