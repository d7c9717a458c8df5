"""A rule set compiled for durable-rules: plain data, all that a process running the engine needs of it.

:func:`compile_rules` turns a :class:`RuleSet` into durable-rules rules (their patterns and priorities, and what
each one's action does) and the kinds of the facts they read; :class:`~clientrules.adapters.durable_run.DurableRun`
runs them, in this process or in the engine's own (:mod:`clientrules.adapters.engine_process`), which therefore
loads durable-rules and that module only. How the rules are laid out (the catch-all ``$settled`` rule, the stages
that stratify ``not signal X``) is explained in :mod:`clientrules.adapters.durable_run`.
"""

from __future__ import annotations

import functools
import json
from importlib.metadata import version as release_of
from pathlib import Path
from typing import Any, TypedDict

from clientrules.domain.facts.catalogue import FACTS
from clientrules.domain.facts.stored import checksum
from clientrules.domain.rules.model import AnyOf, Comparison, Rule, RuleSet
from clientrules.ports import VersionedRuleSet

#: durable-rules' native code, the module a process running the engine imports (its rulesets are state of that process)
NATIVE_MODULE = "durable_rules_engine"
#: durable-rules' salience: lower fires first. Owner salience (higher first) maps into this band.
_PRI_BASE = 10_000
_ADVANCE_PRI = 1_000_000
_SETTLED_PRI = 2_000_000
SETTLED = "$settled"
_OPERATORS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}


class CompiledRule(TypedDict):
    """One durable-rules rule: its patterns (``all``), its priority (``pri``), and what its action does: the rule id
    it records as fired (``fires``, None: none) and the fact it asserts (``asserts``, None: none)."""

    all: list[dict[str, Any]]
    pri: int
    fires: str | None
    asserts: dict[str, Any] | None


class CompiledRules(TypedDict):
    """A rule set as durable-rules runs it: plain data (a dict), so that it pickles without the library's classes."""

    version: int
    rules: dict[str, CompiledRule]
    #: the facts the rules read, each with the Python type its value must have
    kinds: dict[str, type]
    #: whether a rule negates a signal, so that each session asserts stage 0 after the facts
    stratified: bool
    #: the catch-all rule that matches every client's facts and fires last
    settled: str


def compile_rules(ruleset: RuleSet, version: int) -> CompiledRules:
    """``ruleset`` (its enabled rules) compiled for durable-rules, under rule-set ``version``."""
    stages = ruleset.stages()
    matched_signals = ruleset.matched_signals()
    rules: dict[str, CompiledRule] = {}
    for rule in ruleset.enabled_rules:
        stage = stages[rule.id]
        patterns: list[dict[str, Any]] = []
        if stage:
            patterns.append({"stage": {"$and": [{"t": "stage"}, {"n": stage}]}})
        patterns.append({"facts": facts_pattern(rule)})
        for index, condition in enumerate(rule.signal_conditions):
            key = f"not{index}$not" if condition.negated else f"signal{index}"
            patterns.append({key: _signal_pattern(condition.name)})
        signal = {"t": "signal", "name": rule.id} if rule.id in matched_signals else None
        rules[rule.id] = {"all": patterns, "pri": _PRI_BASE - rule.salience, "fires": rule.id, "asserts": signal}
    last_stage = max(stages.values(), default=0)
    for stage in range(1, last_stage + 1):
        rules[f"$advance-{stage}"] = {
            "all": [{"stage": {"$and": [{"t": "stage"}, {"n": stage - 1}]}}],
            "pri": _ADVANCE_PRI + stage,
            "fires": None,
            "asserts": {"t": "stage", "n": stage},
        }
    rules[SETTLED] = {"all": [{"facts": {"t": "facts"}}], "pri": _SETTLED_PRI, "fires": SETTLED, "asserts": None}
    facts_used = {name for rule in ruleset.enabled_rules for name in rule.facts_used}
    return {
        "version": version,
        "rules": rules,
        "kinds": {name: FACTS[name].kind for name in sorted(facts_used)},
        "stratified": last_stage > 0,
        "settled": SETTLED,
    }


def answers_name(version: VersionedRuleSet) -> str:
    """A name for what durable-rules answers under ``version``, as :class:`~clientrules.ports.EngineAnswersStore`
    keeps it: the checksum of the rules compiled, of the code that compiles and runs them, and of durable-rules'
    release. Answers kept under one name are the engine's for any process that computes the same."""
    compiled = json.dumps(compile_rules(version.ruleset, version.version), sort_keys=True, default=lambda kind: kind.__name__)
    return checksum(f"{_engine_code()}\n{compiled}")


@functools.cache
def _engine_code() -> str:
    here = Path(__file__)
    code = "".join(path.read_text() for path in (here, here.with_name("durable_run.py")))
    return f"durable-rules {release_of('durable_rules')}\n{checksum(code)}"


def _comparison(comparison: Comparison) -> dict[str, Any]:
    if comparison.op == "==":
        return {comparison.fact: comparison.value}
    return {_OPERATORS[comparison.op]: {comparison.fact: comparison.value}}


def _all_of(expressions: list[dict[str, Any]]) -> dict[str, Any]:
    return expressions[0] if len(expressions) == 1 else {"$and": expressions}


def facts_pattern(rule: Rule) -> dict[str, Any]:
    """The durable-rules expression matching the client's facts fact for ``rule``'s comparisons."""
    expressions: list[dict[str, Any]] = [{"t": "facts"}]
    for condition in rule.when:
        if isinstance(condition, Comparison):
            expressions.append(_comparison(condition))
        elif isinstance(condition, AnyOf):
            expressions.append(
                {"$or": [_all_of([_comparison(c) for c in option]) for option in condition.options]}
            )
    return _all_of(expressions)


def _signal_pattern(name: str) -> dict[str, Any]:
    return {"$and": [{"t": "signal"}, {"name": name}]}
