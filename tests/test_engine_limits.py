"""Whatever validation accepts runs in durable-rules; whatever it refuses names the engine limit it would cross.

Rule sets are generated at and around every limit of
:mod:`clientrules.domain.rules.limits` (and mixed at random), then run with
random finite facts in a child process (``engine_child.py``), so that a crash
of the C engine (heap corruption, a full table) fails one example instead of
killing the test run. The child's answers must also agree with the reference
reading of ``test_engine_differential``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientrules.cli.main import cli
from clientrules.domain.rules import RuleSetProblems, parse_ruleset
from clientrules.domain.rules.limits import (
    COMPARISONS,
    GROUPS_PER_RULE,
    LIMITS,
    RULES,
    RULES_PER_TEST,
    SOURCE_BYTES,
    TESTS_AT_ONCE,
)
from test_engine_differential import fact_values, reference_fired, rulesets

CHILD = Path(__file__).with_name("engine_child.py")
LIMIT_WORDS = tuple(limit.counted for limit in LIMITS)
AROUND = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rule(rule_id: str, *conditions: str, verdict: str | None = "renegotiate") -> str:
    kind = f'verdict = "{verdict}"' if verdict else "signal = true"
    return f'[[rules]]\nid = "{rule_id}"\n{kind}\nwhen = [{", ".join(conditions)}]\n'


def quoted(condition: str) -> str:
    return f'"{condition}"'


def any_of(options: list[str]) -> str:
    return "{ any = [" + ", ".join(map(quoted, options)) + "] }"


# -- rule sets shaped to press on one limit each -------------------------------------------


def same_condition(n: int) -> str:
    """``n`` rules ending on one condition: the engine's table of rules per condition."""
    return "\n".join(rule(f"r{i}", quoted("hours_90d >= 17")) for i in range(n))


def different_thresholds(n: int) -> str:
    """``n`` rules whose first conditions can all hold at once: the engine's stack."""
    return "\n".join(rule(f"r{i}", quoted(f"hours_90d >= {i}")) for i in range(n))


def signal_chain(n: int) -> str:
    """A chain of ``n`` signal rules with no fact condition, then a verdict."""
    tables = [rule("r0", quoted("hours_90d >= 1"), verdict=None)]
    tables += [rule(f"r{i}", quoted(f"signal r{i - 1}"), verdict=None) for i in range(1, n)]
    return "\n".join([*tables, rule("end", quoted(f"signal r{n - 1}"), verdict="terminate")])


def fan_out(n: int) -> str:
    """``n`` rules all matching one signal."""
    tables = [rule("r0", quoted("hours_90d >= 1"), verdict=None)]
    return "\n".join([*tables, *(rule(f"r{i}", quoted("signal r0")) for i in range(1, n + 1))])


def wide_any(n: int) -> str:
    """One rule with an ``any`` of ``n`` options that can all hold."""
    return rule("a", any_of([f"hours_90d >= {i}" for i in range(n)]), verdict="terminate")


def any_of_groups(n: int) -> str:
    """One rule with an ``any`` of ``n`` options of two comparisons: the engine's and/or table."""
    return rule("a", any_of([f"hours_90d >= {i} and late_invoices_12m < {i + 3}" for i in range(n)]))


def many_comparisons(n: int) -> str:
    """Rules of ten comparisons each, ``n`` comparisons in all."""
    return "\n".join(
        rule(f"r{i}", quoted(" and ".join(f"plans_180d != {i * 10 + k}" for k in range(10)))) for i in range(n // 10)
    )


SHAPES = {
    same_condition: (RULES_PER_TEST.allowed - 20, RULES_PER_TEST.breaks_at + 150),
    different_thresholds: (TESTS_AT_ONCE.allowed - 10, TESTS_AT_ONCE.breaks_at + 10),
    signal_chain: (RULES_PER_TEST.allowed - 20, 320),
    fan_out: (RULES_PER_TEST.allowed - 20, RULES_PER_TEST.breaks_at + 20),
    wide_any: (TESTS_AT_ONCE.allowed - 10, 520),
    any_of_groups: (8, GROUPS_PER_RULE.breaks_at // 2 + 2),
    many_comparisons: (COMPARISONS.allowed - 50, COMPARISONS.allowed + 60),
}


def run_in_child(text: str, cases: list[dict]) -> list[list[str]]:
    """The rules fired for each case, decided by durable-rules in a process of its own."""
    done = subprocess.run(
        [sys.executable, str(CHILD)],
        input=json.dumps({"text": text, "cases": cases}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the engine process ended with {done.returncode}: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def check_accepted_runs_or_refused_names_a_limit(text: str, cases: list[dict]) -> bool:
    """True when validation accepted ``text`` (and the engine ran it, agreeing with the reference)."""
    try:
        ruleset = parse_ruleset(text)
    except RuleSetProblems as problems:
        assert all("\n" not in problem for problem in problems.problems)
        assert any(words in problems.problems[0] for words in LIMIT_WORDS), problems.problems[0]
        assert "the rules engine fails at" in problems.problems[0]
        return False
    for values, fired in zip(cases, run_in_child(text, cases)):
        assert set(fired) == reference_fired(ruleset, values), values
    return True


@AROUND
@given(st.sampled_from(sorted(SHAPES, key=lambda shape: shape.__name__)), st.data())
def test_rule_sets_at_and_around_each_limit_run_or_are_refused_naming_it(shape, data):
    low, high = SHAPES[shape]
    n = data.draw(st.integers(low, high), label="size")
    cases = data.draw(st.lists(fact_values(), min_size=1, max_size=6), label="cases")
    cases.append({"hours_90d": 1e6, "late_invoices_12m": 0, "plans_180d": 10**6})  # as many conditions holding as can
    check_accepted_runs_or_refused_names_a_limit(shape(n), cases)


@AROUND
@given(st.lists(rulesets(), min_size=10, max_size=60), st.lists(fact_values(), min_size=1, max_size=6))
def test_large_random_rule_sets_run_or_are_refused_naming_a_limit(parts, cases):
    # random rule sets renamed apart and put together: many shared and different conditions, signals, 'not'
    texts = [re.sub(r"\br(?=\d)", f"p{n}r", text) for n, text in enumerate(parts)]
    check_accepted_runs_or_refused_names_a_limit("\n".join(texts), cases)


@pytest.mark.parametrize(
    ("shape", "accepted", "refused"),
    [
        (same_condition, RULES_PER_TEST.allowed - 1, RULES_PER_TEST.allowed + 1),
        (different_thresholds, TESTS_AT_ONCE.allowed - 1, TESTS_AT_ONCE.allowed + 1),
        (wide_any, TESTS_AT_ONCE.allowed - 2, TESTS_AT_ONCE.allowed + 1),
        (any_of_groups, (GROUPS_PER_RULE.allowed - 4) // 2, (GROUPS_PER_RULE.allowed - 2) // 2),
    ],
)
def test_each_limit_accepts_just_below_and_refuses_just_above(shape, accepted, refused):
    assert check_accepted_runs_or_refused_names_a_limit(shape(accepted), [{"hours_90d": 1e6}])
    assert not check_accepted_runs_or_refused_names_a_limit(shape(refused), [{"hours_90d": 1e6}])


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        (same_condition(401), RULES),  # aborted with free(): invalid size
        (same_condition(350), RULES),
        (signal_chain(300), RULES),  # error 108
        (wide_any(400), TESTS_AT_ONCE),  # aborted
        (wide_any(500), TESTS_AT_ONCE),  # error 303
        ("#" * (SOURCE_BYTES.allowed + 1), SOURCE_BYTES),
    ],
    ids=["401-rules", "350-rules", "chain-300", "any-400", "any-500", "huge-file"],
)
def test_rule_sets_that_crashed_the_engine_are_refused_by_rules_check_naming_the_limit(tmp_path, text, limit):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "l.db"), "rules", "check", "-"], input=text)
    assert result.exit_code == 1
    assert all(line.startswith("error: ") for line in result.stderr.splitlines()), result.stderr
    assert limit.counted in result.stderr and f"at most {limit.allowed} allowed" in result.stderr
