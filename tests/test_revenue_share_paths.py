"""A rule on ``revenue_share`` (the one fact that depends on other clients) decides the same on every path:
evaluate, the watcher's recorded changes (for the client whose value changed and for the others, whose share
moved with it), the dashboard and the client page's decision over time; on both backends."""

from __future__ import annotations

import datetime as dt

from survey_fixtures import Clock

from clientrules import ClientOnboarded, Ledger, TermsRenegotiated

BIG_CLIENT_RULES = """
description = "One rule: a client bringing half the revenue or more is renegotiated"

[[rules]]
id = "too-big-to-lose"
description = "They bring half our revenue"
verdict = "renegotiate"
when = ["revenue_share >= 0.5"]
"""


def test_a_rule_on_the_revenue_share_decides_alike_everywhere(store_url: str) -> None:
    clock = Clock(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc))
    with Ledger.open(store_url, clock=clock) as ledger:
        ledger.rules.use(BIG_CLIENT_RULES, note="watch our dependence on one client")
        ledger.record("acme", ClientOnboarded(name="Acme", monthly_value=300.0), "2026-01-05")
        ledger.record("globex", ClientOnboarded(name="Globex", monthly_value=400.0), "2026-01-05")
        ledger.alerts.once(as_of="2026-02-01")  # the baseline: globex brings 4/7 of the revenue
        assert ledger.decisions.evaluate(["acme"], as_of="2026-02-01")[0].reached == "keep"

        ledger.record("acme", TermsRenegotiated(change="a bigger retainer", monthly_value=900.0), "2026-03-01")

        [evaluated] = ledger.decisions.evaluate(["acme"])  # 900 of 1,300
        assert (evaluated.reached, evaluated.fired) == ("renegotiate", ("too-big-to-lose",))
        # globex's share fell with acme's rise (400 of 1,300): the watcher decides it again too
        assert ledger.decisions.evaluate(["globex"])[0].reached == "keep"
        assert {(c.client, c.from_verdict, c.to_verdict, c.cause) for c in ledger.alerts.once()[0].changes} == {
            ("acme", "keep", "renegotiate", "event"),
            ("globex", "renegotiate", "keep", "event"),
        }
        assert ledger.alerts.once()[0].changes == ()  # nothing moved since
        assert {s.client: s.verdict for s in ledger.portfolio.standings()} == {"acme": "renegotiate", "globex": "keep"}
        over_time = ledger.portfolio.verdict_over_time("acme")
        assert [(v.at.date.isoformat(), v.verdict) for v in over_time] == [
            ("2026-01-05", "keep"),
            ("2026-03-01", "renegotiate"),
            ("2026-03-02", "renegotiate"),
        ]
