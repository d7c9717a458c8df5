"""The portfolio behind the owner's dashboard: standings kept up to date by events, by rule-set versions, by time."""

from __future__ import annotations

import datetime as dt

from clientrules import ClientOnboarded, FollowUpSent, Instant, InvoiceIssued, Ledger, NeedOutgrown, RelationshipEnded
from clientrules.application.portfolio import Portfolio, PortfolioQuery
from survey_fixtures import Clock


def portfolio(ledger: Ledger, clock: Clock) -> Portfolio:
    return Portfolio(ledger.store, ledger.rules, ledger.engines, decisions=ledger.decisions, clock=clock)


def verdicts(page) -> dict[str, str]:
    return {s.client: s.verdict for s in page.standings}


def test_new_events_change_a_standing_at_once(ledger: Ledger) -> None:
    clock = Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    ledger.record("acme", ClientOnboarded(name="Acme", monthly_value=900.0), "2026-01-05")
    ledger.record("bravo", ClientOnboarded(name="Bravo", segment="retail"), "2026-01-05")
    shown = portfolio(ledger, clock)
    assert verdicts(shown.page()) == {"acme": "keep", "bravo": "keep"}
    clock.advance(minutes=5)
    ledger.record("acme", NeedOutgrown(need="a bigger agency"), Instant.from_datetime(clock.now))
    ledger.record("bravo", RelationshipEnded(initiated_by="client"), "2026-05-30")
    page = shown.page()
    assert verdicts(page)["acme"] == "refer_out"
    assert {s.client: s.stage for s in page.standings} == {"acme": "active", "bravo": "left"}
    assert [(t.verdict, t.clients, t.monthly_value) for t in page.totals if t.clients] == [("refer_out", 1, 900.0)]
    assert page.departed == {"left": 1, "invited": 0, "answered": 0}


def test_time_alone_changes_standings_in_the_background(ledger: Ledger) -> None:
    clock = Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    ledger.record("acme", ClientOnboarded(name="Acme"), "2026-01-05")
    for day in (2, 3, 4):
        ledger.record("acme", FollowUpSent(topic="the draft"), f"2026-05-{day:02}")
    shown = portfolio(ledger, clock)
    first = shown.page()
    assert verdicts(first) == {"acme": "terminate"}  # silent for 4 weeks after 3 follow-ups
    clock.now = dt.datetime(2026, 6, 1, 2, tzinfo=dt.timezone.utc)
    stale = shown.page()  # two hours later: served at once, a refresh starts
    assert stale.as_of == first.as_of
    thread = shown._rebuilding
    assert thread is not None
    thread.join(timeout=60)
    assert shown.page().as_of == Instant.from_datetime(clock.now)


def test_a_new_rule_set_version_decides_everyone_again(ledger: Ledger) -> None:
    clock = Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    ledger.record("acme", ClientOnboarded(name="Acme"), "2026-01-05")
    ledger.record("acme", NeedOutgrown(need="more"), "2026-05-01")
    shown = portfolio(ledger, clock)
    assert verdicts(shown.page()) == {"acme": "refer_out"}
    text = ledger.rules.current().ruleset.source.replace('verdict = "refer_out"', 'verdict = "renegotiate"')
    ledger.rules.use(text, note="outgrown clients: talk first")
    at_once = shown.page(PortfolioQuery(search="ACM"))  # the standings of version 1, while version 2 decides
    assert (verdicts(at_once), at_once.ruleset_version, at_once.refreshing) == ({"acme": "refer_out"}, 1, True)
    thread = shown._rebuilding
    if thread is not None:
        thread.join(timeout=60)
    fresh = shown.page(PortfolioQuery(search="ACM"))
    assert (verdicts(fresh), fresh.ruleset_version, fresh.refreshing) == ({"acme": "renegotiate"}, 2, False)


def test_the_verdict_over_time_changes_at_the_moment_time_alone_changes_a_fact(ledger: Ledger) -> None:
    clock = Clock(dt.datetime(2026, 12, 5, 10, tzinfo=dt.timezone.utc))
    ledger.record("acme", ClientOnboarded(name="Acme"), "2026-07-01")
    for month in (9, 10, 11):  # all issued on one day, none paid: the third turns late on 9 November
        ledger.record("acme", InvoiceIssued(invoice_id=f"i{month}", amount=100.0, due_on=dt.date(2026, month, 1)), "2026-08-01")
    ledger.record("bravo", ClientOnboarded(name="Bravo"), "2026-01-05")
    for day in (2, 3, 4):  # three follow-ups unanswered: gone silent 14 days after the first
        ledger.record("bravo", FollowUpSent(topic="the draft"), f"2026-05-{day:02}")
    shown = portfolio(ledger, clock)
    assert [(p.at.utc.isoformat(), p.verdict) for p in shown.verdict_over_time("acme")] == [
        ("2026-07-01T00:00:00+00:00", "keep"),
        ("2026-11-09T00:00:00+00:00", "renegotiate"),
        ("2026-12-05T10:00:00+00:00", "renegotiate"),
    ]
    assert [(p.at.utc.date().isoformat(), p.verdict) for p in shown.verdict_over_time("bravo")] == [
        ("2026-01-05", "keep"),
        ("2026-05-16", "terminate"),
        ("2026-12-05", "terminate"),
    ]
