"""The portfolio's standings kept in the store: a start shows them at once, marked as of when they were decided.

On both backends (real SQLite files and the real PostgreSQL): the standings
survive a restart; clients with events stored since are decided again at once;
another rule-set version or time passing marks them as being brought up to
date; an erasure removes them (they hold names), and standings decided before
an erasure are never written after it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from clientrules import ClientOnboarded, Instant, Ledger, NeedOutgrown
from clientrules.application import portfolio as portfolio_module
from clientrules.application.portfolio import Portfolio
from clientrules.ports import StoredStandings
from survey_fixtures import Clock


def portfolio(ledger: Ledger, clock: Clock) -> Portfolio:
    return Portfolio(ledger.store, ledger.rules, ledger.engines, decisions=ledger.decisions, clock=clock)


def verdicts(shown: Portfolio) -> dict[str, str | None]:
    return {s.client: s.verdict for s in shown.page().standings}


def two_clients(ledger: Ledger) -> None:
    ledger.record("acme", ClientOnboarded(name="Acme"), "2026-01-05")
    ledger.record("acme", NeedOutgrown(need="more"), "2026-05-01")
    ledger.record("bravo", ClientOnboarded(name="Bravo"), "2026-01-05")


def finish(shown: Portfolio) -> None:
    thread = shown._rebuilding
    if thread is not None:
        thread.join(timeout=60)


def test_the_standings_survive_a_restart_as_of_when_they_were_decided(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    with Ledger.open(store_url) as ledger:
        two_clients(ledger)
        first = portfolio(ledger, clock).page()
        kept = ledger.store.read_standings()
        assert kept is not None and kept.position == ledger.head_position()
    clock.advance(minutes=10)
    with Ledger.open(store_url) as ledger:
        read = ledger.store.read_client

        def read_no_client(client: str, **options: object) -> list:
            assert client.startswith("$"), f"a start read the events of {client}"
            return read(client, **options)  # type: ignore[arg-type]

        monkeypatch.setattr(ledger.store, "read_client", read_no_client)
        page = portfolio(ledger, clock).page()
    assert {s.client: (s.name, s.verdict) for s in page.standings} == {"acme": ("Acme", "refer_out"), "bravo": ("Bravo", "keep")}
    assert (page.as_of, page.refreshing, page.decided) == (first.as_of, False, True)


def test_a_client_with_new_events_is_decided_again_at_once_after_a_start(store_url: str) -> None:
    clock = Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    with Ledger.open(store_url) as ledger:
        two_clients(ledger)
        portfolio(ledger, clock).page()
        ledger.record("bravo", NeedOutgrown(need="a bigger agency"), "2026-05-31")
    with Ledger.open(store_url) as ledger:
        shown = portfolio(ledger, clock)
        assert verdicts(shown) == {"acme": "refer_out", "bravo": "refer_out"}
        assert not shown.page().refreshing


def test_kept_standings_of_another_rule_set_or_too_old_are_shown_as_being_brought_up_to_date(store_url: str) -> None:
    clock = Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    with Ledger.open(store_url) as ledger:
        two_clients(ledger)
        decided = portfolio(ledger, clock).page().as_of
        text = ledger.rules.current().ruleset.source.replace('verdict = "refer_out"', 'verdict = "renegotiate"')
        ledger.rules.use(text, note="outgrown clients: talk first")
    with Ledger.open(store_url) as ledger:
        shown = portfolio(ledger, clock)
        stale = shown.page()
        assert (stale.as_of, stale.ruleset_version, stale.refreshing) == (decided, 1, True)
        assert verdicts(shown)["acme"] == "refer_out"
        finish(shown)
        fresh = shown.page()
        assert (fresh.ruleset_version, fresh.refreshing, verdicts(shown)["acme"]) == (2, False, "renegotiate")
    clock.now += portfolio_module.REFRESH_AFTER
    with Ledger.open(store_url) as ledger:
        shown = portfolio(ledger, clock)
        old = shown.page()
        assert (old.ruleset_version, old.refreshing) == (2, True)
        finish(shown)
        assert shown.page().as_of == Instant.from_datetime(clock.now)


def test_an_erasure_removes_the_kept_standings_and_older_ones_are_not_written_after_it(store_url: str) -> None:
    clock = Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    with Ledger.open(store_url) as ledger:
        two_clients(ledger)
        portfolio(ledger, clock).page()
        before = ledger.store.read_standings()
        assert before is not None and "Bravo" in before.data
        ledger.erase("bravo", requested_by="Bravo, by e-mail")
        assert ledger.store.read_standings() is None
        assert not ledger.store.write_standings(before)  # decided before the erasure: it holds the name
        assert ledger.store.read_standings() is None
        page = portfolio(ledger, clock).page()
        assert "Bravo" not in {s.name for s in page.standings}
        after = ledger.store.read_standings()
        assert after is not None and "Bravo" not in after.data


def test_a_slower_writer_never_puts_back_older_standings(store_url: str) -> None:
    with Ledger.open(store_url) as ledger:
        two_clients(ledger)
        head = ledger.head_position()
        assert ledger.store.write_standings(StoredStandings(head, 1, "test", "newer"))
        assert not ledger.store.write_standings(StoredStandings(head - 1, 1, "test", "older"))
        assert ledger.store.read_standings() == StoredStandings(head, 1, "test", "newer")


def test_a_large_portfolio_is_decided_the_first_time_in_the_background_with_its_progress(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portfolio_module, "AT_ONCE", 1)  # two clients are more than decided before answering
    two_clients(ledger)
    shown = portfolio(ledger, Clock(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)))
    first = shown.page()
    assert (first.decided, first.standings, first.refreshing) == (False, (), True)
    finish(shown)
    page = shown.page()
    assert (page.decided, page.matching, page.progress) == (True, 2, None)
