"""The drafts the client reads: never the rules' ids or words, an ending for each situation, the notice the
contract allows, a key account phased out, and every amount with its currency.

Scanned: every client of the shared stories, of the demo (examples/clients.jsonl) and of our own stories
(tests/data/draft_stories.jsonl, one per situation), as of the stories' moment and after an unresolved meeting.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

from clientrules.cli.main import cli
from clientrules.domain.events import ClientOnboarded, ContractSigned, DeadlineMissed, Instant, MeetingHeld, PlanAgreed
from clientrules.domain.drafts import default_drafts
from clientrules.domain.drafts.fields import sample_fields
from clientrules.domain.next_steps import derive_steps
from clientrules.domain.next_steps.notice import notice_for
from clientrules.domain.next_steps.situations import NOT_THE_RIGHT_FIT, ending_situation
from clientrules.domain.rules import default_ruleset_text, parse_ruleset
from clientrules.ledger import Ledger
from test_scenarios import EXPECTED, STORIES

DATA = Path(__file__).resolve().parent / "data"
DEMO = Path(__file__).resolve().parents[1] / "examples" / "clients.jsonl"
OURS = DATA / "draft_stories.jsonl"
AS_OF = EXPECTED["as_of"]
V2 = json.loads((DATA / "stories.expected.v2.json").read_text())


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    """One ledger per story file (their client ids may meet), opened for the whole module."""
    opened = {}
    for name, source in (("stories", STORIES), ("demo", DEMO), ("ours", OURS)):
        ledger = Ledger.open(str(tmp_path_factory.mktemp(name) / f"{name}.db"))
        ledger.import_jsonl(str(source))
        opened[name] = ledger
    yield opened
    for ledger in opened.values():
        ledger.close()


@pytest.fixture(scope="module")
def ours(ledgers) -> Ledger:
    return ledgers["ours"]


def client_words(ledger: Ledger) -> list[str]:
    """What must never reach a client: every rule id, description and advice of every rule version in use."""
    rules = [rule for version in ledger.rules.versions() for rule in version.ruleset.rules]
    rules += parse_ruleset(default_ruleset_text()).rules
    words = {rule.id for rule in rules} | {text for fired in V2["clients"].values() for text in fired["fired"]}
    words |= {rule.description for rule in rules if rule.description}
    words |= {rule.advice for rule in rules if rule.advice}
    return sorted(words)


def leaks(draft: str, words: list[str]) -> list[str]:
    return [word for word in words if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", draft, re.IGNORECASE)]


def test_no_client_facing_draft_names_a_rule(ledgers) -> None:
    scanned = 0
    for name, ledger in ledgers.items():
        words = client_words(ledger)
        for summary in ledger.clients():
            plans = [ledger.steps.for_client(summary.client, as_of=AS_OF)]
            if plans[0].verdict == "renegotiate":  # the ending after a meeting that found no resolution
                copy_events = ledger.events(summary.client, until=AS_OF)
                meeting = MeetingHeld(topic="how we work", outcome="unresolved")
                with Ledger.open("memory:") as scratch:
                    scratch.append(copy_events)
                    scratch.record(summary.client, meeting, "2026-06-02")
                    plans.append(scratch.steps.for_client(summary.client, as_of="2026-06-03"))
            for plan in plans:
                for step in plan.steps:
                    if step.draft:
                        scanned += 1
                        assert not leaks(step.draft, words), (name, summary.client, step.id, leaks(step.draft, words))
    assert scanned >= 40


ENDINGS = {
    "threat-co": "This decision is final and not open to discussion.",
    "breach-co": "Our contract (C-9) was broken on 2 May 2026 (clause: confidentiality).",
    "late-again-co": "When we talked about payments, we agreed on a way forward",
    "silent-co": "We have tried to reach you several times since 20 April 2026 without an answer",
    "costly-co": "Despite the plan we made together, the work has kept growing beyond what we priced",
}


def test_each_situation_ends_in_its_own_words(ours: Ledger) -> None:
    notes = {client: ours.steps.for_client(client, as_of=AS_OF).step("ending-note").draft for client in ENDINGS}
    for client, words in ENDINGS.items():
        assert words in notes[client], client
        others = [other for other in ENDINGS if other != client]
        assert not any(ENDINGS[other] in notes[client] for other in others), client
    firm = notes["threat-co"]
    assert "threatened" not in firm and "phone" not in firm  # the incident's note stays ours
    assert len(firm.split()) < len(notes["costly-co"].split())  # short and firm
    assert "competitor" not in notes["breach-co"]
    assert ending_situation(()) == NOT_THE_RIGHT_FIT


def steps_under_own_rule(tmp_path: Path, rule: str, history: list[tuple[str, object]]):
    """The steps, as of the stories' moment, of a client with ``history`` under the defaults plus ``rule``."""
    with Ledger.open(str(tmp_path / "own.db")) as ledger:
        ledger.rules.use(default_ruleset_text() + "\n[[rules]]\n" + rule, note="a rule of our own")
        ledger.record("own", ClientOnboarded(name="Own Ltd"), "2025-01-01")
        for at, payload in history:
            ledger.record("own", payload, at)
        return ledger.steps.for_client("own", as_of=AS_OF)


def test_not_the_right_fit_speaks_when_an_owner_rule_names_no_situation(tmp_path: Path) -> None:
    rule = (
        'id = "plan-churn"\ndescription = "Plans agreed again and again"\nverdict = "terminate"\n'
        'when = ["plans_180d >= 2"]\nadvice = "Stop re-planning."\n'
    )
    history = [("2026-03-01", PlanAgreed(summary="weekly calls")), ("2026-05-01", PlanAgreed(summary="monthly calls"))]
    note = steps_under_own_rule(tmp_path, rule, history).step("ending-note").draft
    assert "we are not the right fit to keep working together" in note
    assert not leaks(note, ["plan-churn", "Plans agreed again and again", "Stop re-planning."])


def test_late_payment_ending_separates_overdue_from_not_yet_due_and_never_names_a_voided_invoice(ours: Ledger) -> None:
    plan = ours.steps.for_client("late-again-co", as_of=AS_OF)
    note = plan.step("ending-note").draft
    assert "These invoices are past their due date, 1,500.00 USD in all" in note
    assert "- L-4: 1,500.00 USD, due 1 March 2026" in note
    assert "These invoices are not due yet and remain payable on their due dates, 800.00 USD in all" in note
    assert "- L-5: 800.00 USD, due 20 June 2026" in note
    assert "PF-1" not in note and "6,400" not in note  # voided: never owed
    settle = plan.step("settle-accounts")
    assert settle.why.startswith("1,500.00 USD is overdue; 800.00 USD is invoiced and not due yet")
    # every amount the client reads carries its currency
    for amount in re.findall(r"\d[\d,]*\.\d\d(?: [A-Z]{3})?", note):
        assert amount.endswith(" USD"), amount


def test_did_we_do_our_part_comes_before_the_ending_when_we_slipped(ours: Ledger) -> None:
    late = ours.steps.for_client("late-again-co", as_of=AS_OF)
    assert [step.id for step in late.steps] == ["our-part", "settle-accounts", "ending-note"]
    assert "we agreed \u201cupfront payment of 50%\u201d on 10 January 2026 and have not asked for a deposit" in late.step(
        "our-part"
    ).why
    silent = ours.steps.for_client("silent-co", as_of=AS_OF).step("our-part").why
    assert "we took 8 days to answer their message about the launch date of 1 March 2026" in silent
    assert "we missed the deadline for the brand guidelines (10 March 2026)" in silent
    assert "our-part" not in [step.id for step in ours.steps.for_client("threat-co", as_of=AS_OF).steps]
    assert "brand guidelines" not in ours.steps.for_client("silent-co", as_of=AS_OF).step("ending-note").draft


def test_the_notice_honours_the_contract(ours: Ledger) -> None:
    breach = ours.steps.for_client("breach-co", as_of=AS_OF)
    assert breach.step("contract").title == "Give the 60 days' notice of contract C-9: last day 31 July 2026"
    assert "this letter gives you 60 days' notice: our last day of work for you will be 31 July 2026" in (
        breach.step("ending-note").draft
    )
    silent = ours.steps.for_client("silent-co", as_of=AS_OF)
    assert silent.step("contract").title == "Send notice that contract S-1 will not be renewed, by 2 October 2026"
    assert "we will not renew our contract (S-1) when its term ends on 31 December 2026" in silent.step("ending-note").draft
    # too late for this term: the contract renews once more, and the next end is the last day
    late = ours.steps.for_client("silent-co", as_of="2026-10-15")
    assert late.step("contract").title == "Send notice that contract S-1 will not be renewed, by 2 October 2027"
    assert "(last day of work: 31 December 2027)" in late.step("ending-note").title
    # no contract: the owner's notice
    assert "(last day of work: 15 June 2026)" in ours.steps.for_client("threat-co", as_of=AS_OF).step("ending-note").title


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("terms", "signed", "today", "phase_out", "last_day", "give_by"),
    [
        (None, "2025-01-01", "2026-06-01", False, "2026-06-15", "2026-06-01"),
        (None, "2025-01-01", "2026-06-01", True, "2026-07-01", "2026-06-01"),
        ({"ends_on": "2026-12-31"}, "2026-01-01", "2026-06-01", False, "2026-12-31", "2026-06-01"),
        ({"ends_on": "2026-06-10"}, "2026-01-01", "2026-06-01", True, "2026-07-01", "2026-06-01"),
        ({"ends_on": "2026-05-31"}, "2026-01-01", "2026-06-01", False, "2026-06-15", "2026-06-01"),  # ended
        ({"notice_days": 60}, "2025-01-01", "2026-06-01", False, "2026-07-31", "2026-06-01"),
        ({}, "2025-01-01", "2026-06-01", False, "2026-06-15", "2026-06-01"),  # open-ended, no notice named
        ({"notice_days": 7}, "2025-01-01", "2026-06-01", True, "2026-07-01", "2026-06-01"),
        ({"ends_on": "2026-12-31", "auto_renews": True, "notice_days": 60}, "2026-01-01", "2026-11-01", False,
         "2026-12-31", "2026-11-01"),
        ({"ends_on": "2026-12-31", "auto_renews": True, "notice_days": 60}, "2026-01-01", "2026-11-02", False,
         "2027-12-31", "2027-11-01"),
        ({"ends_on": "2026-12-31", "auto_renews": True, "notice_days": 60}, "2026-01-01", "2029-03-01", False,
         "2029-12-31", "2029-11-01"),
        ({"ends_on": "2026-06-15", "auto_renews": True, "notice_days": 10}, "2026-05-16", "2026-06-01", True,
         "2026-07-15", "2026-07-05"),  # a 31-day term: renewed until at least 30 days away
    ],
)
def test_notice_periods(terms, signed, today, phase_out, last_day, give_by) -> None:
    contract = None if terms is None else (Instant.parse(signed), ContractSigned(contract_id="C", **terms))
    notice = notice_for(contract, day(today), default_days=14, phase_out=phase_out)
    assert (notice.last_day, notice.give_by) == (day(last_day), day(give_by))
    if terms is not None and "ends_on" not in terms:
        assert notice.last_day >= day(today) + dt.timedelta(days=terms.get("notice_days", 14))


def test_a_key_account_is_phased_out_not_cut(ours: Ledger) -> None:
    moment = Instant.parse(AS_OF)
    (decision,) = ours.decisions.evaluate(["key-account"], as_of=moment)
    facts = ours.decisions.facts("key-account", moment)
    facts = attrs.evolve(facts, values={**facts.values, "revenue_share": 0.6})
    ruleset = ours.rules.current().ruleset
    plan = derive_steps(decision, decision, facts, ours.events("key-account"), ruleset, as_of=moment)
    assert [step.id for step in plan.steps] == ["replacement-work", "ending-note"]
    assert plan.steps[0].title == "Line up replacement work before giving notice"
    assert "(last day of work: 1 July 2026)" in plan.step("ending-note").title
    assert "30 days' notice: our last day of work for you will be 1 July 2026" in plan.step("ending-note").draft
    small = attrs.evolve(facts, values={**facts.values, "revenue_share": 0.19})
    plan = derive_steps(decision, decision, small, ours.events("key-account"), ruleset, as_of=moment)
    assert [step.id for step in plan.steps] == ["ending-note"] and "15 June 2026" in plan.steps[0].title


def test_the_demo_shows_the_hard_cases(ledgers) -> None:
    """The five demo stories the README's owner tour shows, decided as of the demo's moment."""
    demo: Ledger = ledgers["demo"]
    stories = ["harbour-hostile", "slipping-studio", "notice-north", "keystone-key", "proforma-pine", "cyberdyne-left"]
    decided = {d.client: d for d in demo.decisions.evaluate(stories, as_of=Instant.parse(AS_OF))}
    assert {client: (d.verdict, d.status) for client, d in decided.items()} == {
        "harbour-hostile": ("terminate", "active"),
        "slipping-studio": ("renegotiate", "active"),
        "notice-north": ("keep", "leaving"),
        "keystone-key": ("terminate", "active"),
        "proforma-pine": ("terminate", "active"),
        "cyberdyne-left": (None, "left"),
    }
    assert decided["harbour-hostile"].fired[0] == "hostile-client"
    assert decided["slipping-studio"].fired == ("our-side-slipping",)
    assert decided["keystone-key"].fired[0] == "repeated-incidents"
    key = demo.steps.for_client("keystone-key", as_of=AS_OF)
    assert [step.id for step in key.steps] == ["replacement-work", "ending-note"]
    leaving = demo.steps.for_client("notice-north", as_of=AS_OF)
    assert all("30 June 2026" in step.title for step in leaving.steps)
    drafts = " ".join(step.draft or "" for step in demo.steps.for_client("proforma-pine", as_of=AS_OF).steps)
    assert "900.00 EUR is overdue" in drafts and "4,800" not in drafts and "5,700" not in drafts


def test_a_silent_old_friend_gets_a_short_check_in_that_ticks_when_sent(tmp_path: Path) -> None:
    with Ledger.open(str(tmp_path / "friend.db")) as ledger:
        ledger.import_jsonl(str(OURS))
        plan = ledger.steps.for_client("old-friend", as_of=AS_OF)
        (step,) = plan.steps
        assert (step.id, step.done, step.event_type) == ("check-in", False, "FollowUpSent")
        assert step.draft.startswith("Hi Old Friend Ltd,") and len(step.draft.split()) < 90
        assert "Meeting" not in step.draft and "agenda" not in step.draft
        ledger.steps.record_done("old-friend", "check-in", {}, at="2026-06-02")
        assert ledger.steps.for_client("old-friend", as_of="2026-06-03").step("check-in").done


NEXT_KEYS = {"client", "verdict", "as_of", "steps"}
STEP_KEYS = {"id", "title", "done", "why", "event_type", "done_on"}
OPTIONAL_STEP_KEYS = {"draft", "draft_problem", "suggested"}


def test_next_json_keys_stay_the_contract(ours: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "ours.db"
    with Ledger.open(str(path)) as ledger:
        ledger.import_jsonl(str(OURS))
    for client in ("late-again-co", "silent-co", "old-friend", "breach-co"):
        result = CliRunner().invoke(cli, ["--db", str(path), "next", client, "--as-of", AS_OF, "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert set(data) == NEXT_KEYS
        for step in data["steps"]:
            assert STEP_KEYS <= set(step) <= STEP_KEYS | OPTIONAL_STEP_KEYS, step


def test_when_our_side_is_the_problem_we_fix_it_before_the_talk(tmp_path: Path) -> None:
    rule = (
        'id = "we-are-slipping"\ndescription = "We keep missing their deadlines"\nverdict = "renegotiate"\n'
        'when = ["deadlines_missed_90d >= 2"]\nadvice = "Fix our side first."\n'
    )
    history = [
        ("2026-04-01", DeadlineMissed(deliverable="the spring catalogue")),
        ("2026-05-01", DeadlineMissed(deliverable="the price list")),
    ]
    plan = steps_under_own_rule(tmp_path, rule, history)
    assert [step.id for step in plan.steps][:2] == ["our-part", "meeting"]
    assert plan.steps[0].title == "Fix our side first, then talk to them"
    assert "we missed the deadline for the spring catalogue (1 April 2026)" in plan.steps[0].why
    agenda = plan.step("meeting").draft
    assert "where we fell short" in agenda and "- the price list: we missed the deadline (1 May 2026)" in agenda
    assert not leaks(agenda, ["we-are-slipping", "We keep missing their deadlines", "Fix our side first."])


@pytest.mark.parametrize(
    ("overdue", "not_yet_due", "line"),
    [
        ("1,000.00 EUR", "800.00 EUR", "Still open: 1,000.00 EUR overdue, 800.00 EUR not due yet"),
        ("1,000.00 EUR", "", "Still open: 1,000.00 EUR overdue\n"),
        ("", "800.00 EUR", "Still open: 800.00 EUR not due yet\n"),
    ],
)
def test_the_agenda_keeps_overdue_and_not_yet_due_apart(overdue: str, not_yet_due: str, line: str) -> None:
    fields = dict(sample_fields(), overdue_total=overdue, not_yet_due_total=not_yet_due)
    assert line in default_drafts().fill("meeting_agenda", fields)


@given(
    signed=st.dates(dt.date(2020, 1, 1), dt.date(2027, 12, 31)),
    length=st.integers(-30, 800),
    today=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)),
    notice_days=st.one_of(st.none(), st.integers(0, 365)),
    auto_renews=st.one_of(st.none(), st.booleans()),
    open_ended=st.booleans(),
    default_days=st.integers(0, 365),
    phase_out=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_the_last_day_is_never_before_the_contract_allows(
    signed, length, today, notice_days, auto_renews, open_ended, default_days, phase_out
) -> None:
    ends_on = None if open_ended else signed + dt.timedelta(days=length)
    terms = ContractSigned(contract_id="C", ends_on=ends_on, notice_days=notice_days, auto_renews=auto_renews)
    notice = notice_for((Instant.parse(signed.isoformat()), terms), today, default_days=default_days, phase_out=phase_out)
    least = today + dt.timedelta(days=30 if phase_out else 0)
    asked = notice_days if notice_days is not None else default_days
    assert notice.last_day >= least and notice.give_by >= today
    if ends_on is None:
        assert notice.last_day >= today + dt.timedelta(days=asked)
    elif auto_renews:
        assert notice.last_day >= ends_on and notice.give_by == notice.last_day - dt.timedelta(days=asked)
        earliest = max(least, today + dt.timedelta(days=asked))
        term = (ends_on - signed).days + 1 if ends_on >= signed else 365
        if ends_on >= earliest:  # the notice reaches them in time for this term
            assert notice.last_day == ends_on
        else:  # renewed, to the first end far enough away
            assert notice.last_day <= earliest + dt.timedelta(days=term + 3)
    elif ends_on >= today:
        assert notice.last_day == max(ends_on, least)
    else:  # the contract has ended: the owner's notice
        assert notice.last_day == today + dt.timedelta(days=max(default_days, 30 if phase_out else 0))




def test_amounts_carry_the_business_currency_when_the_client_names_none(tmp_path: Path) -> None:
    from clientrules.domain.events import IncidentReported, InvoiceIssued

    with Ledger.open(str(tmp_path / "gbp.db")) as opened:
        ledger = opened.with_settings(attrs.evolve(opened.settings, currency="GBP"))
        ledger.record("pounds", ClientOnboarded(name="Pounds Ltd"), "2025-01-01")
        ledger.record("pounds", InvoiceIssued(invoice_id="P-1", amount=1200.0, due_on="2026-05-01"), "2026-04-01")
        ledger.record("pounds", InvoiceIssued(invoice_id="P-2", amount=300.0, due_on="2026-06-30", currency="EUR"),
                      "2026-05-20")
        ledger.record("pounds", IncidentReported(kind="threat", against="staff", severity=3), "2026-05-25")
        plan = ledger.steps.for_client("pounds", as_of=AS_OF)
    note = plan.step("ending-note").draft
    assert "1,200.00 GBP is overdue" in note and "300.00 EUR on invoices not due yet" in note
    assert plan.step("settle-accounts").why.startswith("1,200.00 GBP is overdue; 300.00 EUR is invoiced and not due yet")
