"""Rule-set files: TOML text to a validated :class:`RuleSet`, and back.

TOML because owners edit these files by hand: comments are allowed, there is
no indentation to get wrong and no implicit typing (YAML reads ``no`` as false
and ``1e3`` as a string), and Python reads it with the standard ``tomllib``.
The layout::

    [parameters]
    grace_days = 7

    [[rules]]
    id = "late-payer-first-talk"
    description = "Pays late again and again, and nobody has talked to them yet"
    verdict = "renegotiate"            # or: signal = true
    when = ["signal chronic-late-payer", "remedy_since_first_late == false"]
    advice = "contact them, find the cause, offer a payment plan"
    enabled = true                     # default true
    salience = 0                       # default 0; higher fires first

``when`` lists conditions that must all hold: strings in the grammar of
:mod:`clientrules.domain.rules.conditions`, or ``{ any = ["a >= 1", "b >= 2 and c < 3"] }``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import tomli_w

from clientrules.domain.drafts import read_drafts
from clientrules.domain.rules.conditions import (
    RULE_ID,
    ConditionError,
    parse_comparisons,
    parse_signal,
)
from clientrules.domain.rules.limits import source_size_problem
from clientrules.domain.rules.model import (
    VERDICTS,
    AnyOf,
    Condition,
    Parameters,
    Rule,
    RuleSet,
)
from clientrules.domain.rules.validation import RuleSetProblems, check_ruleset
from clientrules.domain.suggestions import did_you_mean

TOP_KEYS = ("description", "parameters", "rules", "drafts")
PARAMETER_KEYS = ("grace_days",)
RULE_KEYS = ("id", "description", "verdict", "signal", "when", "advice", "enabled", "salience")
MAX_SALIENCE = 1000
MAX_GRACE_DAYS = 365


def default_ruleset_text() -> str:
    """The TOML text of the default playbook shipped with the library (``docs/rules.md``)."""
    return resources.files("clientrules.domain.rules").joinpath("default_playbook.toml").read_text("utf-8")


def parse_ruleset(text: str) -> RuleSet:
    """Read and validate a rule set; raise :class:`RuleSetProblems` listing every problem found."""
    too_large = source_size_problem(text)
    if too_large:
        raise RuleSetProblems([too_large])
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleSetProblems([f"not valid TOML: {error}"]) from None
    except RecursionError:
        raise RuleSetProblems(["not valid TOML: arrays or tables nested too deeply"]) from None
    problems: list[str] = []
    reader = _Reader(problems)
    ruleset = reader.ruleset(document, text)
    if not problems:
        problems.extend(check_ruleset(ruleset))
    if problems:
        raise RuleSetProblems(problems)
    return ruleset


def ruleset_to_toml(ruleset: RuleSet) -> str:
    """The rule set as TOML text that :func:`parse_ruleset` reads back to an equal rule set."""
    document: dict[str, Any] = {}
    if ruleset.description:
        document["description"] = ruleset.description
    document["parameters"] = {"grace_days": ruleset.parameters.grace_days}
    document["rules"] = [_rule_document(rule) for rule in ruleset.rules]
    if ruleset.drafts is not None and ruleset.drafts.written:
        document["drafts"] = dict(ruleset.drafts.written)
    return tomli_w.dumps(document, multiline_strings=True)


def _rule_document(rule: Rule) -> dict[str, Any]:
    document: dict[str, Any] = {"id": rule.id}
    if rule.description:
        document["description"] = rule.description
    if rule.signal:
        document["signal"] = True
    else:
        document["verdict"] = rule.verdict
    document["when"] = [_condition_document(c) for c in rule.when]
    if rule.advice:
        document["advice"] = rule.advice
    if not rule.enabled:
        document["enabled"] = False
    if rule.salience:
        document["salience"] = rule.salience
    return document


def _condition_document(condition: Condition) -> str | dict[str, list[str]]:
    if isinstance(condition, AnyOf):
        return {"any": [" and ".join(map(str, option)) for option in condition.options]}
    return str(condition)


class _Reader:
    """Turns the TOML document into model values, noting every structural problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def unknown_keys(self, where: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                self.problems.append(f"{where}: unknown key {key!r}{did_you_mean(key, allowed)}")

    def ruleset(self, document: dict[str, Any], text: str) -> RuleSet:
        self.unknown_keys("rule set", document, TOP_KEYS)
        description = document.get("description", "")
        if not isinstance(description, str):
            self.problems.append("rule set: description must be a string")
            description = ""
        parameters = self.parameters(document.get("parameters", {}))
        tables = document.get("rules", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.problems.append("rule set: 'rules' must be an array of tables ([[rules]])")
            tables = []
        if not tables:
            self.problems.append("rule set: there are no rules ([[rules]] tables)")
        rules = [self.rule(index, table) for index, table in enumerate(tables, start=1)]
        return RuleSet(
            rules=tuple(rule for rule in rules if rule is not None),
            parameters=parameters,
            source=text,
            description=description,
            drafts=read_drafts(document.get("drafts"), self.problems),
        )

    def parameters(self, table: object) -> Parameters:
        if not isinstance(table, dict):
            self.problems.append("parameters: must be a table ([parameters])")
            return Parameters()
        self.unknown_keys("parameters", table, PARAMETER_KEYS)
        grace_days = table.get("grace_days", Parameters().grace_days)
        if isinstance(grace_days, bool) or not isinstance(grace_days, int) or not 0 <= grace_days <= MAX_GRACE_DAYS:
            self.problems.append(f"parameters: grace_days must be a whole number of days from 0 to {MAX_GRACE_DAYS}")
            return Parameters()
        return Parameters(grace_days=grace_days)

    def rule(self, index: int, table: dict[str, Any]) -> Rule | None:
        before = len(self.problems)
        rule_id = table.get("id")
        if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            where = f"rule #{index}"
            self.problems.append(
                f"{where}: needs an id of lower-case letters, digits and '-' (e.g. id = \"late-payer\")"
            )
        else:
            where = f"rule {rule_id!r}"
        self.unknown_keys(where, table, RULE_KEYS)

        verdict = table.get("verdict")
        signal = table.get("signal", False)
        if not isinstance(signal, bool):
            self.problems.append(f"{where}: signal must be true or false")
        elif verdict is None and not signal:
            self.problems.append(f"{where}: gives neither a verdict (verdict = ...) nor a signal (signal = true)")
        elif verdict is not None and signal:
            self.problems.append(f"{where}: has both a verdict and signal = true; choose one")
        if verdict is not None and verdict not in VERDICTS:
            self.problems.append(f"{where}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")

        text_fields = {key: table.get(key, "") for key in ("advice", "description")}
        for key, value in text_fields.items():
            if not isinstance(value, str):
                self.problems.append(f"{where}: {key} must be a string")
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            self.problems.append(f"{where}: enabled must be true or false")
        salience = table.get("salience", 0)
        if isinstance(salience, bool) or not isinstance(salience, int) or abs(salience) > MAX_SALIENCE:
            self.problems.append(
                f"{where}: salience must be a whole number from {-MAX_SALIENCE} to {MAX_SALIENCE}"
            )
        when = self.conditions(where, table.get("when"))
        if len(self.problems) > before:
            return None
        assert isinstance(rule_id, str), "an id that is not a string was noted as a problem above"
        return Rule(
            id=rule_id,
            when=when,
            verdict=verdict,
            signal=signal,
            advice=text_fields["advice"],
            description=text_fields["description"],
            enabled=enabled,
            salience=salience,
        )

    def conditions(self, where: str, items: object) -> tuple[Condition, ...]:
        if not isinstance(items, list) or not items:
            self.problems.append(f"{where}: when must be a non-empty list of conditions")
            return ()
        conditions: list[Condition] = []
        for item in items:
            try:
                conditions.extend(self.condition(item))
            except ConditionError as error:
                self.problems.append(f"{where}: {error}")
        return tuple(conditions)

    def condition(self, item: object) -> tuple[Condition, ...]:
        if isinstance(item, str):
            signal = parse_signal(item)
            return (signal,) if signal is not None else parse_comparisons(item)
        if isinstance(item, dict) and set(item) == {"any"}:
            options = item["any"]
            if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
                raise ConditionError("'any' must list at least two condition strings")
            if any(parse_signal(option) for option in options):
                raise ConditionError("'any' holds fact conditions only; signals go directly in 'when'")
            return (AnyOf(tuple(parse_comparisons(option) for option in options)),)
        raise ConditionError(
            f"{str(item)[:60]!r} is not a condition: use a string such as 'late_invoices_12m >= 3' "
            "or a table { any = [...] }"
        )

