"""Next steps: steps for every verdict of the default playbook on the shared stories, their drafts, steps
turning done as events are recorded, owner drafts in the rule file, and hostile templates."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules.cli.main import cli
from clientrules.domain.events import ClientOnboarded, ClientReferredOut, MeetingHeld, PlanAgreed, RelationshipEnded
from clientrules.domain.drafts import DraftError, default_drafts
from clientrules.domain.drafts.fields import FIELDS, empty_fields, sample_fields
from clientrules.domain.drafts.sandbox import (
    MAX_DRAFT_CHARS,
    MAX_LOOP_ROUNDS,
    MAX_NESTING,
    MAX_TEMPLATE_CHARS,
    MAX_WORK,
    check_template,
    fill,
)
from clientrules.domain.next_steps.fields import MAX_LIST_ITEMS
from clientrules.domain.rules import RuleSetProblems, default_ruleset_text, parse_ruleset, ruleset_to_toml
from clientrules.ledger import Ledger
from test_scenarios import EXPECTED, STORIES

AS_OF = EXPECTED["as_of"]
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|\bNone\b|Undefined")


@pytest.fixture(scope="module")
def stories_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("next") / "stories.db"
    with Ledger.open(str(path)) as ledger:
        ledger.import_jsonl(str(STORIES))
    return path


@pytest.fixture
def ledger(stories_db: Path, tmp_path: Path):
    """A copy of the stories, to record on."""
    copy = tmp_path / "stories.db"
    shutil.copy(stories_db, copy)
    with Ledger.open(str(copy)) as opened:
        yield opened


def drafts_of(plan) -> str:
    return "\n".join(step.draft for step in plan.steps if step.draft)


def test_every_story_gets_steps_for_its_verdict_with_filled_drafts(stories_db: Path) -> None:
    with Ledger.open(str(stories_db)) as ledger:
        plans = {client: ledger.steps.for_client(client, as_of=AS_OF) for client in EXPECTED["clients"]}
    assert {client: plan.verdict for client, plan in plans.items()} == {
        client: expected["verdict"] for client, expected in EXPECTED["clients"].items()
    }
    assert {plan.verdict for plan in plans.values()} == {"keep", "renegotiate", "refer_out", "terminate"}
    first_steps = {
        "renegotiate": "meeting",
        "refer_out": "referral-note",
    }
    long_silent = {"hooli-quiet"}  # a long-standing client gone quiet gets a check-in, not a meeting
    for client, plan in plans.items():
        assert not LEFTOVERS.search(drafts_of(plan)), client
        assert all(not step.done for step in plan.steps), client
        if plan.verdict == "keep":
            assert plan.steps == ()
        elif plan.verdict == "terminate":
            assert plan.steps[-1].id == "ending-note" and plan.steps[-1].event_type == "RelationshipEnded"
            assert plan.steps[-1].draft.startswith("Dear ")
        elif client in long_silent:
            assert [step.id for step in plan.steps] == ["check-in"], client
        else:
            assert plan.steps[0].id == first_steps[plan.verdict], client


def test_a_late_payers_meeting_agenda_lists_the_late_invoices(stories_db: Path) -> None:
    with Ledger.open(str(stories_db)) as ledger:
        plan = ledger.steps.for_client("acme-late", as_of=AS_OF)
    assert [step.id for step in plan.steps] == ["meeting", "new-terms", "written-plan"]
    agenda = plan.step("meeting").draft
    assert "Meeting with Acme Wholesale" in agenda
    assert "INV-2: 1,000.00 EUR, due 14 January 2026, paid 4 February 2026 (21 days late)" in agenda
    assert "INV-4" in agenda and "INV-5" in agenda
    assert "INV-1" not in agenda and "INV-3" not in agenda  # paid on time
    assert "upfront payment or a deposit" in agenda
    assert plan.step("written-plan").draft.startswith("Our plan with Acme Wholesale")


def test_the_other_renegotiations_name_their_own_evidence(stories_db: Path) -> None:
    with Ledger.open(str(stories_db)) as ledger:
        quiet = ledger.steps.for_client("hooli-quiet", as_of=AS_OF)
        scope = ledger.steps.for_client("initech-scope", as_of=AS_OF)
    # a long-standing client gone quiet: a short, warm check-in, not a meeting with an agenda
    assert [step.id for step in quiet.steps] == ["check-in"]
    check_in = quiet.step("check-in")
    assert check_in.event_type == "FollowUpSent"
    assert check_in.draft.startswith("Hi Hooli,") and "since 10 January 2022" in check_in.draft
    assert len(check_in.draft.split()) < 90 and "agenda" not in check_in.draft.lower()
    agenda = scope.step("meeting").draft
    assert "extra banner sizes (2 April 2026)" in agenda
    assert "20 of 50 hours in the last 90 days (40%)" in agenda


def test_terminating_under_a_running_contract_names_its_end_date(stories_db: Path) -> None:
    with Ledger.open(str(stories_db)) as ledger:
        plan = ledger.steps.for_client("vandelay-breach", as_of=AS_OF)
    assert [step.id for step in plan.steps] == ["contract", "ending-note"]
    assert plan.steps[0].title == "Fulfil contract C-77 as promised, until 31 December 2026"
    note = plan.step("ending-note").draft
    assert "We will fulfil our contract (C-77) as promised, until 31 December 2026" in note
    # a breach ending says what was breached and what happens to the contract; the owner's note stays private
    assert "was broken on 18 April 2026 (clause: exclusivity)" in note
    assert "neither side has any further obligation under it" in note and "another designer" not in note


def test_terminating_settles_what_is_owed_first(stories_db: Path) -> None:
    with Ledger.open(str(stories_db)) as ledger:
        plan = ledger.steps.for_client("brightline-late-again", as_of=AS_OF)
    settle = plan.step("settle-accounts")
    assert not settle.done and "1,000.00" in settle.why
    assert "1,000.00 EUR is overdue" in settle.why
    note = plan.step("ending-note").draft
    assert "These invoices are past their due date, 1,000.00 EUR in all" in note and "- INV-7: 1,000.00 EUR, due 8 April 2026" in note
    assert "not due yet" not in note  # nothing is open and not yet due


def test_a_client_who_outgrew_us_gets_a_referral_note(stories_db: Path) -> None:
    with Ledger.open(str(stories_db)) as ledger:
        plan = ledger.steps.for_client("globex-outgrown", as_of=AS_OF)
    assert [step.id for step in plan.steps] == ["referral-note", "hand-over"]
    assert "You now need 24/7 support across three continents" in plan.step("referral-note").draft


def test_steps_turn_done_as_the_matching_events_are_recorded(ledger: Ledger) -> None:
    ledger.steps.record_done("acme-late", "meeting", {"topic": "late invoices", "outcome": "resolved"}, at="2026-06-02")
    plan = ledger.steps.for_client("acme-late", as_of="2026-06-03")
    # the meeting is a remedy: the decision is now keep, and the steps follow the renegotiation through
    assert plan.verdict == "keep"
    assert [(step.id, step.done) for step in plan.steps] == [
        ("meeting", True), ("new-terms", False), ("written-plan", False)
    ]
    assert plan.step("meeting").done_on.text == "2026-06-02"
    assert plan.next.id == "new-terms"
    ledger.record("acme-late", PlanAgreed(summary="half upfront", review_on="2026-09-01"), "2026-06-04")
    plan = ledger.steps.for_client("acme-late", as_of="2026-06-05")
    assert plan.step("written-plan").done and plan.step("written-plan").title.endswith("1 September 2026")
    assert plan.next.id == "new-terms"


def test_an_unresolved_meeting_adds_the_polite_ending(ledger: Ledger) -> None:
    ledger.record("initech-scope", MeetingHeld(topic="the extra work", outcome="unresolved"), "2026-06-02")
    plan = ledger.steps.for_client("initech-scope", as_of="2026-06-03")
    assert [step.id for step in plan.steps] == ["meeting", "new-terms", "written-plan", "ending-note"]
    ending = plan.step("ending-note")
    assert "found no resolution" in ending.why
    assert "The work has kept growing beyond what we priced" in ending.draft  # no plan was agreed: none is claimed


def test_a_referral_moves_on_to_the_hand_over_then_nothing_once_we_ended_it(ledger: Ledger) -> None:
    ledger.steps.record_done("globex-outgrown", "referral-note", {"partner": "Big Support Co"}, at="2026-06-02")
    plan = ledger.steps.for_client("globex-outgrown", as_of="2026-06-03")
    assert [(step.id, step.done) for step in plan.steps] == [("referral-note", True), ("hand-over", False)]
    assert plan.step("referral-note").suggested == {"partner": "Big Support Co"}
    assert "introduce you to Big Support Co" in plan.step("referral-note").draft
    ledger.steps.record_done("globex-outgrown", "hand-over", {"initiated_by": "us"}, at="2026-06-10")
    plan = ledger.steps.for_client("globex-outgrown")  # we ended it: left, and not asked why by default
    assert (plan.verdict, plan.steps) == (None, ())


def test_record_done_refuses_what_is_not_a_step_or_bad_data(ledger: Ledger) -> None:
    from clientrules.application.next_steps import UnknownStep
    from clientrules.domain.errors import InvalidEvent

    before = ledger.version("acme-late")
    with pytest.raises(UnknownStep, match="has no step 'referral-note' now"):
        ledger.steps.record_done("acme-late", "referral-note", {"partner": "x"}, at=AS_OF)
    with pytest.raises(InvalidEvent, match="outcome"):
        ledger.steps.record_done("acme-late", "meeting", {"topic": "t", "outcome": "great"}, at=AS_OF)
    with pytest.raises(UnknownStep, match="by a date"):
        ledger.steps.record_done("vandelay-breach", "contract", {}, at=AS_OF)
    assert ledger.version("acme-late") == before


def test_erased_clients_drafts_show_no_personal_data(ledger: Ledger) -> None:
    ledger.erase("acme-late")
    ledger.erase("globex-outgrown")
    agenda = ledger.steps.for_client("acme-late", as_of=AS_OF).step("meeting").draft
    referral = ledger.steps.for_client("globex-outgrown", as_of=AS_OF).step("referral-note").draft
    for text in (agenda, referral):
        assert "[erased]" in text and "Acme Wholesale" not in text and "Globex" not in text
    assert "INV-2" in agenda  # not personal: the facts stay


def test_next_json_is_the_documented_object(stories_db: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(stories_db), "next", "acme-late", "--as-of", AS_OF, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"client", "verdict", "steps"} <= set(data) and (data["client"], data["verdict"]) == ("acme-late", "renegotiate")
    for step in data["steps"]:
        assert {"id", "title", "done"} <= set(step) and step["done"] is False
    assert "INV-4" in data["steps"][0]["draft"] and "draft" not in data["steps"][1]


def test_next_as_text_and_its_errors(stories_db: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["--db", str(stories_db), "next", "vandelay-breach", "--as-of", AS_OF])
    assert text.exit_code == 0 and "1. [ ] Fulfil contract C-77 as promised, until 31 December 2026" in text.output
    unknown = runner.invoke(cli, ["--db", str(stories_db), "next", "nobody"])
    assert unknown.exit_code == 1 and unknown.stderr.count("\n") == 1 and "nobody" in unknown.stderr


# --- the drafts in the rule file ------------------------------------------------------


def rules_with(drafts_toml: str) -> str:
    return default_ruleset_text() + "\n[drafts]\n" + drafts_toml


def test_the_default_drafts_fill_for_full_and_empty_histories() -> None:
    drafts = default_drafts()
    for name, text in drafts.templates.items():
        assert check_template(text) == [], name
        for fields in (sample_fields(), empty_fields()):
            assert not LEFTOVERS.search(drafts.fill(name, fields)), name


def test_a_draft_using_an_unknown_field_is_refused_like_an_unknown_fact(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(rules_with('meeting_agenda = "Hello {{ client_nam }}"\n'))
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: drafts: meeting_agenda: line 1: unknown field 'client_nam' (did you mean 'client_name'?)\n"
    )
    for bad, problem in [
        ('greeting = "hi"', "drafts: unknown key 'greeting'"),
        ("notice_days = -1", "notice_days must be a whole number"),
        ('business = "two\\nlines"', "business must be one line"),
        ("ending_note = 3", "ending_note: must be text"),
        ('written_plan = "{% for i in late_invoices %}{{ i.number }}{% endfor %}"', "unknown key 'number'"),
        ('referral_note = "{{ late_invoices[0].id }}"', "cannot be filled for a client with no field set"),
    ]:
        with pytest.raises(RuleSetProblems) as caught:
            parse_ruleset(rules_with(bad + "\n"))
        assert problem in str(caught.value.problems[0]), bad


def test_owner_drafts_are_versioned_with_the_rules(ledger: Ledger) -> None:
    ledger.rules.current()  # version 1: the default playbook
    custom = rules_with(
        'business = "Atelier Marie"\npartner = "Big Support Co"\n'
        'referral_note = "Hi {{ client_name }}, meet {{ partner }}. {{ signature }}"\n'
    )
    assert parse_ruleset(ruleset_to_toml(parse_ruleset(custom))).drafts == parse_ruleset(custom).drafts
    assert ledger.rules.use(custom, note="my drafts").version == 2
    plan = ledger.steps.for_client("globex-outgrown", as_of=AS_OF)
    assert plan.step("referral-note").draft == "Hi Globex, meet Big Support Co. Atelier Marie"
    assert plan.step("referral-note").suggested == {"partner": "Big Support Co"}
    # the other drafts keep their defaults, and version 1 keeps the default referral note
    assert ledger.rules.get(2).ruleset.drafts.templates["meeting_agenda"] == default_drafts().templates["meeting_agenda"]
    assert ledger.rules.get(1).ruleset.drafts == default_drafts()


def test_drafts_command_prints_a_table_rules_check_accepts(stories_db: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(stories_db), "drafts"])
    assert result.exit_code == 0, result.output
    assert set(tomllib.loads(result.stdout)["drafts"]) == {
        "business", "signature", "partner", "notice_days", "meeting_agenda", "written_plan", "check_in", "ending_note",
        "ending_conduct", "ending_breach", "ending_late_payment", "ending_silence", "ending_unprofitable",
        "referral_note",
    }
    path = tmp_path / "rules.toml"
    path.write_text(default_ruleset_text() + "\n" + result.stdout)
    assert CliRunner().invoke(cli, ["rules", "check", str(path)]).exit_code == 0


def test_an_owner_template_that_fails_on_a_client_falls_back_to_the_default(ledger: Ledger) -> None:
    ledger.rules.current()
    # fills for the samples (one late invoice, or none) but not for a client with three
    custom = rules_with(
        'meeting_agenda = "{% if late_invoices|length == 3 %}{{ late_invoices[5].id }}{% endif %}Agenda"\n'
    )
    ledger.rules.use(custom)
    meeting = ledger.steps.for_client("acme-late", as_of=AS_OF).step("meeting")
    assert meeting.draft.startswith("Meeting with Acme Wholesale") and "could not be filled" in meeting.draft_problem


# --- hostile templates ------------------------------------------------------------------

HOSTILE = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ client_name.__class__ }}",
    "{{ client_name.upper() }}",
    "{{ late_invoices.__len__ }}",
    "{{ late_invoices[0].__class__ }}",
    "{{ late_invoices.pop() }}",
    "{{ reasons.append('x') }}",
    "{{ late_invoices[0].items() }}",
    "{{ client_name|attr('__class__') }}",
    "{{ late_invoices|map(attribute='__class__')|list }}",
    "{{ '%s'|format(client_name) }}",
    "{{ '%s' % client_name }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ namespace }}",
    "{{ range(100000) }}",
    "{{ 9 ** 9 ** 9 }}",
    "{% for i in late_invoices recursive %}{{ loop(late_invoices) }}{% endfor %}",
    "{% for a in reasons %}{% for b in reasons %}{% for c in reasons %}x{% endfor %}{% endfor %}{% endfor %}",
    "{% macro boom() %}{{ boom() }}{% endmacro %}{{ boom() }}",
    "{% include 'base.html' %}",
    "{% import 'macros.html' as m %}",
    "{% extends 'base.html' %}",
    "{% set x %}{{ client_name }}{% endset %}",
    "{% filter upper %}x{% endfilter %}",
    "{{ late_invoices[client_name] }}",
    "{{ loop.cycle }}",
    "{{ client_name }",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ 1" + " + 1" * MAX_NESTING + " }}",
    "{{ client_name" + "|upper" * MAX_NESTING + " }}",
    "{% macro twice(s) %}{{ twice(s ~ s) }}{% endmacro %}{{ twice('x') }}",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_templates_are_refused_before_they_run(template: str) -> None:
    problems = check_template(template)
    assert problems and all("\n" not in problem for problem in problems)
    with pytest.raises(RuleSetProblems):
        parse_ruleset(rules_with(f"meeting_agenda = {json.dumps(template)}\n"))


@pytest.mark.parametrize(
    "template", ["{{ 'x' * 100000000 }}", "{{ client_name * 99999999 }}", "{{ reasons * 99999999 }}"]
)
def test_repetition_is_refused_while_filling(template: str) -> None:
    with pytest.raises(DraftError, match="repeating"):
        fill(template, sample_fields())
    with pytest.raises(RuleSetProblems, match="repeating"):
        parse_ruleset(rules_with(f"meeting_agenda = {json.dumps(template)}\n"))


def doubled(start: str, step: str, times: int = 27) -> str:
    return start + step * times


TWO_LISTS = "{% set l = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] %}{% set l = l + l + l + l + l + l + l + l + l + l %}"
#: templates that pass the checks made before filling, and would build gigabytes or run for minutes
OVER_BUDGET = {
    "text doubled 27 times (2 GB)": (doubled('{% set s = "xx" %}', "{% set s = s ~ s %}"), "a text in a draft is at most"),
    "text doubled with +": (doubled('{% set s = "xx" %}', "{% set s = s + s %}"), "a text in a draft is at most"),
    "a list doubled": (doubled("{% set s = reasons %}", "{% set s = s + s %}"), "a list in a draft has at most"),
    "a number squared": (doubled("{% set n = 99 %}", "{% set n = n * n %}"), "a number in a draft is at most"),
    "a float overflowing": ("{{ 1e300 * 1e300 }}", "a number in a draft is at most"),
    "lists of lists": ("{% set l = [reasons, reasons] %}{{ l|sum(start=[]) }}", "a list in a draft cannot hold lists"),
    "nested loops over a list the template builds": (
        TWO_LISTS + "{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}", f"run over {MAX_LOOP_ROUNDS:,} times"
    ),
    "nested loops with a heavy body": (
        TWO_LISTS + "{% for a in l %}{% for b in l %}" + "{% if a + b > 3 and a - 1 < b %}{% endif %}" * 40
        + "{% endfor %}{% endfor %}",
        f"too much work: it reads or builds over {MAX_WORK:,} characters",
    ),
    "a long text read again and again": (
        doubled('{% set s = "' + "x" * 50 + '" %}', "{% set s = s ~ s %}", 8) + TWO_LISTS
        + "{% for a in l %}{% if s|upper|lower == s %}{% endif %}{% endfor %}",
        "too much work",
    ),
    "a long list written out": (
        doubled('{% set s = "' + "x" * 50 + '" %}', "{% set s = s ~ s %}", 8) + "{{ [s, s, s, s, s] }}",
        "the filled draft is too long",
    ),
}


@pytest.mark.parametrize("template, refusal", OVER_BUDGET.values(), ids=OVER_BUDGET.keys())
def test_templates_over_budget_are_refused_with_one_line_at_check_and_at_render(template: str, refusal: str) -> None:
    with pytest.raises(DraftError, match=re.escape(refusal)) as at_render:
        fill(template, sample_fields())
    assert "\n" not in str(at_render.value)
    with pytest.raises(RuleSetProblems) as at_check:
        parse_ruleset(rules_with(f"meeting_agenda = {json.dumps(template)}\n"))
    (problem,) = at_check.value.problems
    assert refusal in problem and "\n" not in problem


def test_the_budget_leaves_room_for_the_default_drafts_with_the_longest_lists() -> None:
    longest = {name: value * MAX_LIST_ITEMS if isinstance(value, list) else value for name, value in sample_fields().items()}
    for name, text in default_drafts().templates.items():
        assert not LEFTOVERS.search(fill(text, longest)), name


def test_rules_check_refuses_the_doubling_template_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(rules_with(f"meeting_agenda = {json.dumps(OVER_BUDGET['text doubled 27 times (2 GB)'][0])}\n"))
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: drafts: meeting_agenda: cannot be filled for a client with every field set: "
        f"a text in a draft is at most {MAX_DRAFT_CHARS:,} characters\n"
    )


def test_size_limits() -> None:
    assert check_template("x" * (MAX_TEMPLATE_CHARS + 1)) == [
        f"too long: {MAX_TEMPLATE_CHARS + 1:,} characters (at most {MAX_TEMPLATE_CHARS:,})"
    ]
    many = dict(sample_fields(), late_invoices=sample_fields()["late_invoices"] * MAX_LIST_ITEMS)
    nested = "{% for a in late_invoices %}{% for b in late_invoices %}" + "y" * 20 + "{% endfor %}{% endfor %}"
    assert check_template(nested) == []
    with pytest.raises(DraftError, match="too long"):
        fill(nested, many)  # 50 x 50 x 20 characters: stopped at the limit, not built whole
    assert len(fill("{% for a in late_invoices %}{{ a.id }}{% endfor %}", many)) < MAX_DRAFT_CHARS


def test_allowed_constructs_fill_as_expected() -> None:
    template = (
        "{% for invoice in late_invoices %}{{ loop.index }}. {{ invoice.id|upper }} {{ invoice['amount'] }}"
        "{% if not loop.last %}, {% endif %}{% endfor %}"
        "{% set first = late_invoices|first %} first={{ first.id }} n={{ late_invoices|length }}"
        " {{ reasons|join('; ') }} {{ silent_days + 1 }} {{ client_name ~ '!' }} {{ late_invoices[0].days_late * 2 }}"
    )
    assert check_template(template) == []
    assert fill(template, sample_fields()) == (
        "1. INV-2 1,000.00 EUR first=INV-2 n=1 payments: invoices paid after their due date 35 Acme Wholesale! 42"
    )


def test_every_field_is_documented_with_keys_for_its_records() -> None:
    for name, doc in FIELDS.items():
        assert doc.meaning, name
        if isinstance(doc.example, list) and doc.example and isinstance(doc.example[0], dict):
            assert doc.keys is not None and set(doc.example[0]) == set(doc.keys), name
    docs = (Path(__file__).resolve().parents[1] / "docs" / "next-steps.md").read_text()
    for name in FIELDS:
        assert f"`{name}`" in docs, name


def test_a_client_with_only_an_onboarding_has_no_steps(tmp_path: Path) -> None:
    with Ledger.open(str(tmp_path / "one.db")) as ledger:
        ledger.record("solo", ClientOnboarded(name="Solo"), "2026-01-01")
        assert ledger.steps.for_client("solo", as_of="2026-02-01").steps == ()
        ledger.record("solo", RelationshipEnded(initiated_by="client"), "2026-01-15")
        (step,) = ledger.steps.for_client("solo", as_of="2026-02-01").steps
        assert (step.id, step.done, step.event_type) == ("exit-survey", False, "SurveyInvited")
        ledger.record("solo", ClientReferredOut(partner="Elsewhere"), "2026-01-16")  # a remedy, but nothing to follow
        assert [s.id for s in ledger.steps.for_client("solo", as_of="2026-02-01").steps] == ["exit-survey"]


@pytest.mark.postgres
def test_steps_on_postgresql(pg_url: str) -> None:
    with Ledger.open(pg_url) as ledger:
        ledger.import_jsonl(str(STORIES))
        assert "INV-4" in ledger.steps.for_client("acme-late", as_of=AS_OF).step("meeting").draft
        ledger.steps.record_done("vandelay-breach", "ending-note", {"initiated_by": "us"}, at="2026-06-02")
        plan = ledger.steps.for_client("vandelay-breach", as_of="2026-06-03")
        assert (plan.verdict, plan.steps) == (None, ())  # we ended it: not asked why by default
