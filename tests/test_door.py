"""One validation at the door: every path that stores an event holds it to what every reader relies on.

An event the API, an import, an owner's form or the library's own writers
would store is one an import of its export accepts, and one every command and
page can read: dates in the supported years, amounts whose sums stay finite,
plain JSON values, system events in the shape the system writes them, and an
export line of at most 64 KiB. What the door refuses leaves nothing stored.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from clientrules import (
    ClientOnboarded,
    DecisionChanged,
    InvoiceIssued,
    Ledger,
    NoticeGiven,
    PlanAgreed,
    ProposalDecided,
    SurveyInvited,
    WorkLogged,
)
from clientrules.domain.errors import InvalidEvent, InvalidInput
from clientrules.domain.events import Instant
from clientrules.domain.events.types import MAX_AMOUNT

FAR_DATES = [dt.date(9999, 12, 31), dt.date(1, 1, 1), dt.date(999, 12, 31), dt.date(9000, 1, 1)]


def a_change(**fields: object) -> DecisionChanged:
    values: dict[str, object] = dict(
        to_verdict="terminate", fired=["contract-breach"], ruleset_version=1, as_of="2026-05-01", cause="event"
    )
    values.update(fields)
    return DecisionChanged(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("day", FAR_DATES, ids=str)
def test_a_date_outside_the_years_is_refused_whichever_way_it_is_given(ledger: Ledger, day: dt.date):
    ledger.record("someone", ClientOnboarded(name="Someone"), "2026-01-01")
    payloads = [
        lambda: InvoiceIssued(invoice_id="i-1", amount=10.0, due_on=day),
        lambda: InvoiceIssued(invoice_id="i-1", amount=10.0, due_on=day.isoformat()),
        lambda: InvoiceIssued(invoice_id="i-1", amount=10.0, due_on="2026-02-01", issued_on=day),
        lambda: NoticeGiven(by="client", effective_on=day),
        lambda: PlanAgreed(summary="weekly call", review_on=day),
    ]
    for build in payloads:
        with pytest.raises(InvalidEvent, match="outside the years 1000 to 8999"):
            ledger.record("someone", build(), "2026-01-02")
    with pytest.raises(InvalidEvent, match="outside the years"):
        ledger.record("someone", ClientOnboarded(name="Someone"), dt.datetime.combine(day, dt.time(), dt.timezone.utc))
    assert ledger.version("someone") == 1


def test_an_instant_built_by_hand_outside_the_years_is_refused(ledger: Ledger):
    far = Instant("9999-12-31", 253_402_214_400_000_000)  # microseconds from 1970 to then
    with pytest.raises(InvalidEvent, match="at: '9999-12-31' is outside the years"):
        ledger.record("someone", ClientOnboarded(name="Someone"), far)
    with pytest.raises(InvalidEvent, match="at: must be a moment"):
        ledger.record("someone", ClientOnboarded(name="Someone"), Instant("2026-01-02", dt.datetime(2026, 1, 2)))  # type: ignore[arg-type]
    assert ledger.version("someone") == 0


def test_amounts_are_capped_so_that_every_sum_over_a_client_stays_finite(ledger: Ledger):
    with pytest.raises(InvalidEvent, match="hours: must be a number of at most 1,000,000,000,000,000"):
        ledger.record("o3", WorkLogged(hours=1.7e308, billable=True), "2026-01-02")
    for day in range(1, 4):
        ledger.record("o3", WorkLogged(hours=MAX_AMOUNT, billable=True), f"2026-01-0{day}")
    (decision,) = ledger.decisions.evaluate(["o3"], as_of="2026-01-05")
    assert decision.verdict in {"keep", "renegotiate", "refer_out", "terminate"}


@pytest.mark.parametrize(
    "extra, problem",
    [
        ({"n": float("nan")}, "data.n: must be a finite number"),
        ({"n": 10**400}, "data.n: is a number too large"),
        ({"s": "\ud800"}, "data.s: is not valid Unicode"),
        ({"k": {1: 2}}, "data.k: has the key 1"),
        ({"when": {1, 2}}, "data.when: is a set, not a JSON value"),
        ({"deep": json.loads("[" * 40 + "]" * 40)}, "nests lists and objects more than 32 deep"),
    ],
    ids=["nan", "huge-int", "surrogate", "int-key", "set", "deep"],
)
def test_values_an_import_could_not_read_back_are_refused_through_the_api(ledger: Ledger, extra, problem):
    with pytest.raises(InvalidEvent, match=problem):
        ledger.record("someone", ClientOnboarded(name="Someone", extra=extra), "2026-01-01")
    assert ledger.version("someone") == 0


def test_a_value_the_store_refuses_is_refused_by_import_with_its_line(ledger: Ledger):
    good = [
        json.dumps({"client": f"c-{n}", "type": "ClientOnboarded", "at": "2026-01-01", "data": {"name": "C"}})
        for n in range(1_200)
    ]
    bad = json.dumps({"client": "c-1", "type": "WorkLogged", "at": "2026-01-02", "data": {"hours": 1, "billable": True, "n": 10**400}})
    with pytest.raises(InvalidInput) as refused:
        ledger.import_jsonl(io.StringIO("\n".join([*good, bad]) + "\n"))
    assert refused.value.line == 1_201 and "data.n: is a number too large" in str(refused.value)
    assert ledger.clients() == []


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"reasons": [{"rule": ["a", "list"]}]}, "reasons: reason 1: 'rule' must be the id of a rule"),
        ({"reasons": [{"rule": "r", "facts": {"x": [1]}}]}, "'facts' must map fact names to numbers"),
        ({"reasons": [{"rule": "r", "evidence": "ev-1"}]}, "'evidence' must be a list of event ids"),
        ({"reasons": [{"rule": "r", "verdict": "destroy"}]}, "'verdict' must be one of"),
        ({"to_verdict": "destroy"}, "to_verdict: 'destroy' is not one of"),
        ({"as_of": "next tuesday"}, "as_of: 'next tuesday' is not an ISO 8601 date"),
        ({"as_of": "9999-12-31"}, "as_of: '9999-12-31' is outside the years"),
    ],
    ids=["rule-list", "facts", "evidence", "reason-verdict", "verdict", "as-of", "as-of-far"],
)
def test_a_forged_decision_change_is_refused_by_the_api_and_by_import_with_its_line(ledger: Ledger, fields, problem):
    with pytest.raises(InvalidEvent, match=problem):
        a_change(**fields)
    data = {"to_verdict": "terminate", "fired": [], "ruleset_version": 1, "as_of": "2026-05-01", "cause": "event", **fields}
    lines = [
        json.dumps({"client": "c-1", "type": "ClientOnboarded", "at": "2026-01-01", "data": {"name": "C"}}),
        json.dumps({"client": "c-1", "type": "DecisionChanged", "at": "2026-05-01", "data": data}),
    ]
    with pytest.raises(InvalidInput) as refused:
        ledger.import_jsonl(io.StringIO("\n".join(lines) + "\n"))
    assert refused.value.line == 2 and problem in str(refused.value)
    assert ledger.clients() == []


def test_other_forged_system_events_are_refused_as_the_system_would_not_write_them():
    with pytest.raises(InvalidEvent, match="expires_at: 'soon' is not an ISO 8601"):
        SurveyInvited(invitation_id="inv-1", expires_at="soon")
    with pytest.raises(InvalidEvent, match="rule: 'when' must be a list"):
        ProposalDecided(proposal_id="p-1", outcome="rejected", evidence="{}", rule={"id": "r", "when": 5})


def test_a_client_active_at_the_end_of_the_years_leaves_learning_and_backtests_working(ledger: Ledger):
    ledger.record("early", ClientOnboarded(name="Early"), "2026-01-01")
    ledger.record("late", ClientOnboarded(name="Late"), "8999-12-15")
    assert ledger.learning.report() is not None
    assert ledger.learning.backtest() is not None
    assert ledger.learning.proposals().pending == ()


# --- the remaining one-line errors --------------------------------------------------


def cli_run(*args: str, input: str | None = None):
    from click.testing import CliRunner

    from clientrules.cli.main import cli

    return CliRunner().invoke(cli, list(args), input=input)


def assert_one_line_refusal(result, *expected: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(lines) == 1 and all(text in lines[0] for text in expected), result.output


@pytest.mark.parametrize("interval", ["nan", "inf", "-inf", "0", "1e400"])
def test_watch_interval_is_a_finite_positive_number_of_seconds(db_url: str, interval: str):
    assert_one_line_refusal(cli_run("--db", db_url, "watch", "--interval", interval), "--interval")
    assert_one_line_refusal(cli_run("--db", db_url, "worker", "--idle-exit", "nan"), "--idle-exit")


def test_a_json_line_with_a_key_twice_is_refused_with_its_line(db_url: str):
    good = '{"client": "a", "type": "ClientOnboarded", "at": "2026-01-01", "data": {"name": "A"}}'
    twice = '{"client": "a", "type": "ClientOnboarded", "at": "2026-01-01", "data": {"name": "A", "name": "B"}}'
    result = cli_run("--db", db_url, "import", "-", input=f"{good}\n{twice}\n")
    assert_one_line_refusal(result, "line 2:", "the key 'name' appears twice")
    result = cli_run("--db", db_url, "import", "-", input=good.replace('"client": "a"', '"client": "a", "client": "b"') + "\n")
    assert_one_line_refusal(result, "line 1:", "the key 'client' appears twice")
    with Ledger.open(db_url) as ledger:
        assert ledger.clients() == []


def test_a_day_count_threshold_the_calendar_cannot_reach_is_refused_and_never_scheduled(db_url: str, tmp_path):
    from clientrules.domain.facts import ClientFold
    from clientrules.domain.facts.schedule import MAX_DAY_COUNT, next_change
    from clientrules.domain.rules import default_ruleset_text

    far = tmp_path / "far.toml"
    far.write_text(default_ruleset_text().replace("tenure_days >= 365", "tenure_days >= 3000000"))
    assert_one_line_refusal(cli_run("--db", db_url, "rules", "check", str(far)), "tenure_days >= 3000000", "counts days")
    assert_one_line_refusal(cli_run("--db", db_url, "rules", "use", str(far)), "counts days")
    fold = ClientFold()
    with Ledger.open(db_url) as ledger:
        ledger.record("old", ClientOnboarded(name="Old"), "2026-01-01")
        for event in ledger.events("old"):
            fold.apply(event)
    after = Instant.parse("2026-06-01")
    assert next_change(fold, after, grace_days=7, ages={"tenure_days": (3_000_000.0, MAX_DAY_COUNT)}) is None


def test_a_huge_rule_file_is_refused_before_it_is_read(db_url: str, tmp_path):
    huge = tmp_path / "huge.toml"
    with huge.open("w") as file:
        file.write("# " + "x" * 4_000_000 + "\n")
    for command in (["rules", "check"], ["rules", "use"], ["backtest", "--rules"]):
        assert_one_line_refusal(cli_run("--db", db_url, *command, str(huge)), "longer than 256 KiB")


@pytest.mark.parametrize(
    "args, expected",
    [
        (("evaluate", "--as-of", "9999-12-31T23:59:59-14:00"), "outside the years"),
        (("survey", "remind", "--after-days", "99999999"), "--after-days"),
    ],
)
def test_far_moments_and_counts_on_the_command_line_get_one_line(db_url: str, args, expected):
    assert_one_line_refusal(cli_run("--db", db_url, *args), expected)
