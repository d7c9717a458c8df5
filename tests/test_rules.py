"""Rule-set files: the default playbook, the condition grammar, and every validation error."""

from __future__ import annotations

import pytest

from clientrules.domain.decisions.words import describe_rule_changes
from clientrules.domain.errors import InvalidRuleSet
from clientrules.domain.rules.edits import edit_rule
from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.rules import (
    AnyOf,
    Comparison,
    RuleSetProblems,
    SignalCondition,
    default_ruleset_text,
    parse_ruleset,
    ruleset_to_toml,
)

PLAYBOOK_IDS = [
    "contract-breach",
    "chronic-late-payer",
    "late-payer-first-talk",
    "late-payer-after-remedy",
    "gone-silent",
    "silent-valued-client",
    "silent-client",
    "hostile-client",
    "repeated-incidents",
    "incident-talk",
    "our-side-slipping",
    "unprofitable",
    "unprofitable-no-plan",
    "unprofitable-despite-plan",
    "outgrown",
]


def one_rule(*lines: str, rule_id: str = "r") -> str:
    """A rule set of one verdict rule built from TOML lines of its table."""
    body = "\n".join(lines)
    return f'[[rules]]\nid = "{rule_id}"\n{body}\n'


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(RuleSetProblems) as caught:
        parse_ruleset(text)
    return caught.value.problems


def test_default_playbook_has_the_playbook_rules_and_thresholds():
    ruleset = parse_ruleset(default_ruleset_text())
    assert [rule.id for rule in ruleset.rules] == PLAYBOOK_IDS
    assert ruleset.parameters.grace_days == 7
    assert ruleset.rule("chronic-late-payer").signal
    assert ruleset.rule("chronic-late-payer").when == (Comparison("late_invoices_12m", ">=", 3),)
    assert ruleset.rule("silent-client").when == (
        SignalCondition("gone-silent"),
        SignalCondition("silent-valued-client", negated=True),
    )
    unprofitable = ruleset.rule("unprofitable").when[0]
    assert unprofitable == AnyOf(
        (
            (Comparison("hours_90d", ">=", 10), Comparison("unbillable_share_90d", ">=", 0.25)),
            (Comparison("unpaid_scope_changes_90d", ">=", 3),),
        )
    )
    verdicts = {rule.id: rule.verdict for rule in ruleset.rules}
    assert verdicts["hostile-client"] == verdicts["repeated-incidents"] == "terminate"
    assert verdicts["incident-talk"] == verdicts["our-side-slipping"] == "renegotiate"
    assert verdicts["outgrown"] == "refer_out"
    assert verdicts["silent-valued-client"] == "renegotiate"
    assert ruleset.source == default_ruleset_text()


def test_default_playbook_uses_only_catalogue_facts():
    ruleset = parse_ruleset(default_ruleset_text())
    used = {name for rule in ruleset.rules for name in rule.facts_used}
    assert used <= set(FACTS)


def test_stages_put_negating_rules_after_the_signal_they_negate():
    stages = parse_ruleset(default_ruleset_text()).stages()
    assert stages["silent-client"] == 1
    assert stages["silent-valued-client"] == 0
    assert {stage for rule, stage in stages.items() if rule != "silent-client"} == {0}


def test_toml_round_trip_gives_the_same_rules():
    ruleset = parse_ruleset(default_ruleset_text())
    again = parse_ruleset(ruleset_to_toml(ruleset))
    assert again.rules == ruleset.rules
    assert again.parameters == ruleset.parameters


def test_conditions_accept_every_operator_numbers_and_booleans():
    text = one_rule(
        'verdict = "keep"',
        'when = ["tenure_days < 1", "tenure_days <= 2", "tenure_days > -3", "hours_90d >= 0.5",'
        ' "plans_180d == 0", "plans_180d != 4", "relationship_ended == true"]',
    )
    rule = parse_ruleset(text).rule("r")
    assert [str(c) for c in rule.when] == [
        "tenure_days < 1",
        "tenure_days <= 2",
        "tenure_days > -3",
        "hours_90d >= 0.5",
        "plans_180d == 0",
        "plans_180d != 4",
        "relationship_ended == true",
    ]
    assert rule.enabled and rule.salience == 0


def test_and_inside_a_condition_string_is_several_conditions():
    rule = parse_ruleset(one_rule('verdict = "keep"', 'when = ["tenure_days >= 1 and plans_180d == 0"]')).rule("r")
    assert rule.when == (Comparison("tenure_days", ">=", 1), Comparison("plans_180d", "==", 0))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['verdict = "keep"', 'when = ["late_invoice_12m >= 3"]'], "unknown fact 'late_invoice_12m' (did you mean 'late_invoices_12m'?)"),
        (['verdict = "keep"', 'when = ["tenure_days => 3"]'], "bad operator '=>'"),
        (['verdict = "keep"', 'when = ["tenure_days = 3"]'], "bad operator '='"),
        (['verdict = "keep"', 'when = ["tenure_days >= three"]'], "'three' is not a value"),
        (['verdict = "keep"', 'when = ["__import__(\'os\').system(\'true\')"]'], "cannot read"),
        (['verdict = "keep"', 'when = ["relationship_ended >= 1"]'], "is true or false; compare it with == or !="),
        (['verdict = "keep"', 'when = ["relationship_ended == 1"]'], "is true or false, not a number"),
        (['verdict = "keep"', 'when = ["tenure_days == true"]'], "is a number, not true or false"),
        (['verdict = "keep"', 'when = ["tenure_days >= 3.5"]'], "is a whole number"),
        # values the engine cannot be given as they are (durable-rules misreads 1e-05; 64-bit whole numbers; infinity)
        (['verdict = "keep"', 'when = ["hours_90d >= 0.00001"]'], "'0.00001' is out of range"),
        (['verdict = "keep"', 'when = ["tenure_days >= 10000000000000000"]'], "'10000000000000000' is out of range"),
        (['verdict = "keep"', 'when = ["hours_90d < -' + "9" * 400 + '.0"]'], "is out of range (0, or 0.0001 to 10^15"),
        (['verdict = "fire"', 'when = ["tenure_days >= 3"]'], "verdict 'fire' is not one of terminate, refer_out, renegotiate, keep"),
        (['when = ["tenure_days >= 3"]'], "gives neither a verdict"),
        (['verdict = "keep"', "signal = true", 'when = ["tenure_days >= 3"]'], "has both a verdict and signal = true"),
        (['verdict = "keep"', 'when = ["tenure_days >= 3"]', "enabeld = false"], "unknown key 'enabeld' (did you mean 'enabled'?)"),
        (['verdict = "keep"', 'when = ["tenure_days >= 3"]', 'enabled = "no"'], "enabled must be true or false"),
        (['verdict = "keep"', 'when = ["tenure_days >= 3"]', "salience = 5000"], "salience must be a whole number"),
        (['verdict = "keep"', "when = []"], "when must be a non-empty list"),
        (['verdict = "keep"', 'when = "tenure_days >= 3"'], "when must be a non-empty list"),
        (['verdict = "keep"', 'when = [{ any = ["tenure_days >= 3"] }]'], "'any' must list at least two"),
        (['verdict = "keep"', 'when = [{ any = ["tenure_days >= 3", "signal x"] }]'], "'any' holds fact conditions only"),
        (['verdict = "keep"', "when = [3]"], "is not a condition"),
        (['verdict = "keep"', 'when = ["signal nowhere"]'], "unknown signal 'nowhere'"),
        (['verdict = "keep"', 'when = ["signal Bad_Name"]'], "is not a rule id"),
    ],
)
def test_each_problem_names_the_rule_and_says_what_is_wrong(lines, expected):
    problems = problems_of(one_rule(*lines))
    assert len(problems) == 1, problems
    assert problems[0].startswith("rule 'r': ")
    assert expected in problems[0]


def test_a_rule_without_id_is_named_by_its_position():
    problems = problems_of('[[rules]]\nverdict = "keep"\nwhen = ["tenure_days >= 1"]\n')
    assert problems == ("rule #1: needs an id of lower-case letters, digits and '-' (e.g. id = \"late-payer\")",)


def test_duplicate_ids_are_refused():
    text = one_rule('verdict = "keep"', 'when = ["tenure_days >= 1"]') * 2
    assert problems_of(text) == ("rule 'r': the id is used by 2 rules",)


def test_cycles_among_signals_are_refused_including_through_negation():
    text = (
        one_rule("signal = true", 'when = ["signal b"]', rule_id="a")
        + one_rule("signal = true", 'when = ["not signal a"]', rule_id="b")
        + one_rule('verdict = "keep"', 'when = ["signal a"]', rule_id="c")
    )
    assert problems_of(text) == ("rule 'a': signals form a cycle: a -> b -> a",)
    assert problems_of(one_rule('verdict = "keep"', 'when = ["not signal r"]')) == (
        "rule 'r': signals form a cycle: r -> r",
    )


def test_a_disabled_rule_cannot_be_matched_by_an_enabled_one():
    base = one_rule("signal = true", 'when = ["tenure_days >= 1"]', "enabled = false", rule_id="s")
    negated = problems_of(base + one_rule('verdict = "keep"', 'when = ["not signal s"]'))
    assert negated == (
        "rule 'r': not signal s refers to rule 's', which is disabled: 'not signal' would always hold",
    )
    positive = problems_of(base + one_rule('verdict = "keep"', 'when = ["signal s"]'))
    assert "the rule could never fire" in positive[0]
    # disabling the dependent rule too is fine
    parse_ruleset(
        base
        + one_rule('verdict = "keep"', 'when = ["signal s"]', "enabled = false")
        + one_rule('verdict = "keep"', 'when = ["tenure_days >= 1"]', rule_id="other")
    )


def test_a_rule_set_without_an_enabled_verdict_rule_is_refused():
    assert problems_of(one_rule('verdict = "keep"', 'when = ["tenure_days >= 1"]', "enabled = false")) == (
        "rule set: no enabled rule gives a verdict, so every client would be kept",
    )


def test_parameters_and_top_level_keys_are_checked():
    rule = one_rule('verdict = "keep"', 'when = ["tenure_days >= 1"]')
    assert problems_of("[parameters]\ngrace_days = -1\n" + rule) == (
        "parameters: grace_days must be a whole number of days from 0 to 365",
    )
    assert problems_of("[parameters]\ngrace_dys = 3\n" + rule) == (
        "parameters: unknown key 'grace_dys' (did you mean 'grace_days'?)",
    )
    assert problems_of('titel = "x"\n' + rule)[0].startswith("rule set: unknown key 'titel'")
    assert parse_ruleset("[parameters]\ngrace_days = 10\n" + rule).parameters.grace_days == 10


def test_not_toml_and_empty_rule_sets_are_refused():
    assert problems_of("[[rules]\nid=")[0].startswith("not valid TOML: ")
    assert problems_of("x = " + "[" * 5000 + "]" * 5000) == ("not valid TOML: arrays or tables nested too deeply",)
    assert problems_of("")[0] == "rule set: there are no rules ([[rules]] tables)"


def test_all_problems_are_reported_and_the_error_is_one_line():
    text = one_rule('verdict = "keep"', 'when = ["nope >= 1"]', rule_id="a") + one_rule(
        'verdict = "keep"', 'when = ["tenure_days == false"]', rule_id="b"
    )
    with pytest.raises(InvalidRuleSet) as caught:
        parse_ruleset(text)
    assert len(caught.value.problems) == 2
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("invalid rule set: rule 'a': unknown fact 'nope'")
    assert message.endswith("(and 1 more problem)")


def test_rule_changes_are_told_in_sentences_and_layout_is_no_change() -> None:
    before = parse_ruleset(default_ruleset_text())
    assert describe_rule_changes(before, parse_ruleset("# a comment\n" + default_ruleset_text())) == []
    fewer = parse_ruleset(edit_rule(before, "chronic-late-payer", thresholds=[2]))
    assert describe_rule_changes(before, fewer) == [
        "‘They pay late again and again’ now needs at least 2 late invoices in the last 12 months instead of 3."
    ]
    off = parse_ruleset(edit_rule(before, "outgrown", enabled=False))
    outgrown = before.rule("outgrown").description
    assert describe_rule_changes(before, off) == [f"‘{outgrown}’ turned off."]
    assert describe_rule_changes(off, before) == [f"‘{outgrown}’ turned back on."]
