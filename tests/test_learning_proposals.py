"""The proposal method on hand-made histories (pure: events in memory, no store)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clientrules.domain.events import (
    ClientMessageReceived,
    ClientOnboarded,
    Event,
    RelationshipEnded,
    ReplySent,
    SurveyAnswered,
    WorkLogged,
)
from clientrules.domain.learning.evidence import gather
from clientrules.domain.learning.history import History
from clientrules.domain.learning.proposals import Finding, Method, NoProposal, find, learned_rule, wilson
from clientrules.domain.rules import RuleSet, default_ruleset_text, parse_ruleset


def _find(history: History, method: Method = Method(), *, ruleset: RuleSet | None = None) -> tuple[list[Finding], list[NoProposal]]:
    evidence = gather(history, method.facts, lead_days=method.lead_days, horizon_days=method.horizon_days, grace_days=7)
    return find(evidence, method, ruleset=ruleset)


def _events(client: str, *items) -> list[Event]:
    return [Event.new(client, payload, at) for at, payload in items]


def _slow_leaver(client: str, reason: str, reply_after_days: int) -> list[Event]:
    """Onboarded in January; a message in March answered late; gone on 1 June; cites ``reason``."""
    answered = f"2025-03-{1 + reply_after_days:02d}"
    return _events(
        client,
        ("2025-01-05", ClientOnboarded(name=client)),
        ("2025-03-01", ClientMessageReceived(topic="brief")),
        (answered, ReplySent(topic="brief")),
        ("2025-06-01", RelationshipEnded(initiated_by="client")),
        ("2025-06-05", SurveyAnswered(invitation_id=f"inv-{client}", primary_reason=reason)),
    )


def _quick_stayer(client: str) -> list[Event]:
    return _events(
        client,
        ("2025-01-05", ClientOnboarded(name=client)),
        ("2025-03-01", ClientMessageReceived(topic="brief")),
        ("2025-03-03", ReplySent(topic="brief")),
        ("2025-08-01", ClientMessageReceived(topic="hello")),
        ("2026-03-01", ClientMessageReceived(topic="still here")),
    )


def test_the_threshold_sits_in_the_middle_of_the_gap() -> None:
    history = History.from_events(
        [*_slow_leaver("a", "poor_communication", 9), *_slow_leaver("b", "poor_communication", 12),
         *_slow_leaver("c", "poor_communication", 9), *_slow_leaver("d", "poor_communication", 10),
         *_quick_stayer("x"), *_quick_stayer("y")]
    )  # fmt: skip
    (finding,), not_proposed = _find(history)
    assert not_proposed == []
    # the leavers waited 9 to 12 days, the stayers 2 (and stayed a year after): the middle of 2 and 9, rounded up
    assert finding.condition == "reply_days_median_90d >= 6.0"
    assert (finding.clients, finding.flagged, finding.false_alarms) == (("a", "b", "c", "d"),) * 2 + ((),)
    assert (finding.precision, finding.recall) == (1.0, 1.0) and finding.precision_interval == wilson(4, 4)
    rule = learned_rule(finding, Method())
    assert rule["id"] == "learned-poor-communication" and rule["when"] == ["reply_days_median_90d >= 6.0"]
    assert "4 exit surveys" in rule["description"]


def test_too_few_clients_and_no_separating_fact_are_explained() -> None:
    history = History.from_events(
        [*_slow_leaver("a", "price_too_high", 2), *_slow_leaver("b", "price_too_high", 2),
         *_slow_leaver("c", "quality", 9), *_quick_stayer("x"), *_quick_stayer("y"), *_quick_stayer("z")]
    )  # fmt: skip
    findings, not_proposed = _find(history)
    assert findings == []
    why = {n.reason: n.why for n in not_proposed}
    assert why["quality"] == "too few clients: 1 cited it, 2 needed"
    # they waited two days for replies, as every retained client did
    assert why["price_too_high"].startswith(
        "no separating fact: the best, reply_days_median_90d >= 1.0 flags 2 of 2 of them but also 3 clients who stayed"
    )


def test_a_rule_already_in_the_rule_set_covers_the_finding() -> None:
    ruleset = parse_ruleset(
        default_ruleset_text()
        + '\n[[rules]]\nid = "slow-replies"\nverdict = "renegotiate"\nwhen = ["reply_days_median_90d >= 2.5"]\n'
    )
    leavers = [e for n in "abcd" for e in _slow_leaver(n, "felt_neglected", 9)]
    history = History.from_events([*leavers, *_quick_stayer("x")])
    findings, (covered,) = _find(history, ruleset=ruleset)
    assert findings == []
    assert covered.why == "already covered: rule slow-replies (reply_days_median_90d >= 2.5) fires whenever reply_days_median_90d >= 6.0 holds"


def test_two_clients_are_too_little_evidence() -> None:
    history = History.from_events([*_slow_leaver("a", "poor_communication", 9), *_slow_leaver("b", "poor_communication", 9), *_quick_stayer("x")])
    findings, (thin,) = _find(history)
    assert findings == [] and thin.why.startswith("too little evidence: the best, reply_days_median_90d >= 6.0 flags 2 of 2")


def _deadline_history(leavers: list[int], stayers: list[int]) -> History:
    """Leavers (citing missed_deadlines, gone 1 June) and stayers with the given numbers of deadlines missed."""
    from clientrules.domain.events import DeadlineMissed

    events: list[Event] = []
    for index, count in enumerate(leavers):
        client = f"leaver-{index}"
        events += _events(client, ("2025-01-05", ClientOnboarded(name=client)))
        events += _events(client, *((f"2025-04-{day + 1:02d}", DeadlineMissed(deliverable="x")) for day in range(count)))
        events += _events(
            client,
            ("2025-06-01", RelationshipEnded(initiated_by="client")),
            ("2025-06-02", SurveyAnswered(invitation_id=f"inv-{client}", primary_reason="missed_deadlines")),
        )
    for index, count in enumerate(stayers):
        client = f"stayer-{index}"
        events += _events(client, ("2025-01-05", ClientOnboarded(name=client)), ("2026-01-01", ClientMessageReceived(topic="hi")))
        events += _events(client, *((f"2025-03-{day + 1:02d}", DeadlineMissed(deliverable="x")) for day in range(count)))
    return History.from_events(events)


@settings(max_examples=40, deadline=None)
@given(
    leavers=st.lists(st.integers(0, 5), min_size=2, max_size=6),
    stayers=st.lists(st.integers(0, 5), min_size=1, max_size=6),
)
def test_the_chosen_threshold_is_the_lowest_that_qualifies(leavers: list[int], stayers: list[int]) -> None:
    method = Method(facts=(("deadlines_missed_90d", ">="),))
    findings, not_proposed = _find(_deadline_history(leavers, stayers), method)

    def counts(threshold: int) -> tuple[int, int]:
        return sum(count >= threshold for count in leavers), sum(count >= threshold for count in stayers)

    def qualifies(threshold: int) -> bool:
        true, false = counts(threshold)
        return true >= method.min_support and wilson(true, true + false)[0] >= method.min_precision

    qualifying = [t for t in range(1, 7) if qualifies(t)]
    if not qualifying:
        assert findings == [] and not_proposed[0].why.startswith(("no separating fact", "too little evidence"))
        return
    (finding,) = findings
    assert (len(finding.flagged), len(finding.false_alarms)) == counts(min(qualifying))
    # the stayers stayed long after: none of them is pending
    assert finding.pending == ()


def test_a_threshold_no_rule_file_can_state_is_not_proposed() -> None:
    """Leavers with a sliver of unbillable work (a share of 1e-05) and stayers with none: 0.00001 cannot be a rule."""

    def leaver(client: str) -> list[Event]:
        return _events(
            client,
            ("2025-01-05", ClientOnboarded(name=client)),
            ("2025-04-01", WorkLogged(hours=99_999, billable=True)),
            ("2025-04-01", WorkLogged(hours=1, billable=False)),
            ("2025-06-01", RelationshipEnded(initiated_by="client")),
            ("2025-06-05", SurveyAnswered(invitation_id=f"inv-{client}", primary_reason="quality")),
        )

    history = History.from_events([*leaver("a"), *leaver("b"), *_quick_stayer("x"), *_quick_stayer("y")])
    assert _find(history, Method(facts=(("unbillable_share_90d", ">="),))) == (
        [],
        [NoProposal("quality", ("a", "b"), "no separating fact: none of the watched facts had a warning value"
                    " for these clients 30 to 180 days before they left")],
    )  # fmt: skip


def test_our_endings_are_kept_apart_and_never_learned_from() -> None:
    """Four slow-reply clients we ended with, who answered how working with us was: no proposal, and no departure."""
    from clientrules.domain.events import NoticeGiven
    import datetime as dt

    ours = []
    for client in ("a", "b", "c", "d"):
        events = _slow_leaver(client, "poor_communication", 10)
        events[3] = Event.new(client, RelationshipEnded(initiated_by="us"), "2025-06-01")
        ours += events
    # a client that gave notice, recorded as ended by us later: the notice says who chose
    chose = _events(
        "e",
        ("2025-01-05", ClientOnboarded(name="Eve")),
        ("2025-04-01", NoticeGiven(by="client", effective_on=dt.date(2025, 6, 1))),
        ("2025-06-01", RelationshipEnded(initiated_by="us")),
    )
    history = History.from_events([*ours, *chose, *_quick_stayer("x"), *_quick_stayer("y")])
    method = Method()
    evidence = gather(history, method.facts, lead_days=method.lead_days, horizon_days=method.horizon_days, grace_days=7)
    assert [d.client for d in evidence.ended_by_us] == ["a", "b", "c", "d"]
    assert [d.client for d in evidence.departed] == ["e"]
    assert evidence.departed[0].departure.at.date == dt.date(2025, 4, 1)  # when the client decided
    assert evidence.clients == 7 and evidence.names["e"] == "Eve"
    assert find(evidence, method) == ([], [])


def test_a_client_who_had_decided_early_moves_its_warning_window_earlier() -> None:
    """Slow replies in March, gone on 1 June: in time for one who decided under a month before, too late for one who says over three months."""
    def leaver(client: str, first_thought: str | None) -> list[Event]:
        events = _slow_leaver(client, "poor_communication", 10)
        answer = SurveyAnswered(invitation_id=f"inv-{client}", primary_reason="poor_communication", first_thought_leaving=first_thought)
        return [*events[:4], Event.new(client, answer, "2025-06-05")]

    history = History.from_events([*leaver("soon", "under_a_month"), *leaver("early", "over_three_months")])
    method = Method()
    evidence = gather(history, method.facts, lead_days=method.lead_days, horizon_days=method.horizon_days, grace_days=7)
    worst = {d.client: d.worst[("reply_days_median_90d", ">=")] for d in evidence.departed}
    # the reply came in March: within the window of "soon" (up to 30 days before 1 June), and not before 3 March (90 days before)
    assert worst["soon"] >= 10
    assert worst["early"] != worst["early"] or worst["early"] < 10  # nan (absent) or the earlier, better value
