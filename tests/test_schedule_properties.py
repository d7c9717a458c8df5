"""The next moment a client's facts can change with time (clientrules.domain.facts.schedule), on random histories.

Between T and ``next_change(T)`` no fact may change: every fact keeps its
value as of T, except the day counts, which only have to stay on the same side
of every threshold given. A moment missed here would be an alert missed.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_facts_properties import as_of_moments, histories

from clientrules.domain.events import Instant
from clientrules.domain.facts import ClientFold
from clientrules.domain.facts.schedule import AGE_FACTS, age_thresholds, next_change
from clientrules.domain.rules import parse_ruleset
from clientrules.domain.rules.format import default_ruleset_text

#: how far past T a history without a next change is checked
HORIZON = dt.timedelta(days=800)


def sides(values: dict, ages: dict[str, tuple[float, ...]]) -> dict:
    """The facts with each day count replaced by which side of each of its thresholds it is on."""
    seen = {name: value for name, value in values.items() if name not in AGE_FACTS}
    for fact in AGE_FACTS:
        value = values.get(fact)
        seen[fact] = None if value is None else tuple(
            (value < threshold, value == threshold) for threshold in ages.get(fact, ())
        )
    return seen


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=histories(),
    data=st.data(),
    grace=st.sampled_from([0, 7, 8]),
    ages=st.fixed_dictionaries(
        {fact: st.lists(st.sampled_from([1, 14, 30, 30.5, 90, 365]), max_size=3).map(tuple) for fact in AGE_FACTS}
    ),
)
def test_no_fact_changes_before_the_next_change(events, data, grace, ages):
    fold = ClientFold()
    fold.apply_all(events)
    after = data.draw(as_of_moments(events), label="after")
    found = next_change(fold, after, grace_days=grace, ages=ages)
    assert found is None or found > after
    end = found.utc if found is not None else after.utc + HORIZON
    expected = sides(fold.facts(after, grace_days=grace).values, ages)
    span = int((end - after.utc).total_seconds() * 1_000_000)
    probes = {1, span - 1, *data.draw(st.lists(st.integers(1, max(span - 1, 1)), max_size=6), label="probes")}
    for micros in sorted(p for p in probes if 0 < p < span):
        moment = Instant.from_datetime(after.utc + dt.timedelta(microseconds=micros))
        assert sides(fold.facts(moment, grace_days=grace).values, ages) == expected, (moment, found)


def test_the_default_playbook_watches_the_day_counts_it_compares():
    ruleset = parse_ruleset(default_ruleset_text())
    ages = age_thresholds((c.fact, c.value) for rule in ruleset.enabled_rules for c in rule.comparisons)
    assert ages["silent_days"] == (14.0,) and ages["tenure_days"] == (365.0,)
