"""The condition mini-language of rule files: a small strict grammar, never ``eval``.

::

    condition  := comparison ("and" comparison)*  |  ["not"] "signal" RULE-ID
    comparison := FACT OPERATOR VALUE
    OPERATOR   := "<" | "<=" | ">" | ">=" | "==" | "!="
    VALUE      := a number (3, 0.25, -1) | true | false

A rule file therefore cannot run code: anything else is refused with a
message saying what was expected. A number is 0 or between 0.0001 and 10^15
in size: the engine reads no exponent (Python writes 0.00001 as ``1e-05``)
and compares whole numbers in 64 bits.
"""

from __future__ import annotations

import re

from clientrules.domain.rules.model import OPERATORS, Comparison, FactValue, SignalCondition

_SIGNAL = re.compile(r"(?P<negated>not\s+)?signal\s+(?P<name>\S+)")
_COMPARISON = re.compile(r"(?P<fact>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>[<>=!]+)\s*(?P<value>\S+)")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_AND = re.compile(r"\s+and\s+")
RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: the sizes a number in a condition may have (besides 0)
SMALLEST_VALUE, LARGEST_VALUE = 0.0001, 10**15


class ConditionError(ValueError):
    """A condition string does not follow the grammar (the message says why)."""


def parse_value(text: str) -> FactValue:
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.fullmatch(text):
        value = float(text) if "." in text else int(text)
        if value and not SMALLEST_VALUE <= abs(value) <= LARGEST_VALUE:
            raise ConditionError(f"{text[:40]!r} is out of range (0, or 0.0001 to 10^15 in size)")
        return value
    raise ConditionError(f"{text!r} is not a value (a number such as 3 or 0.25, or true/false)")


def parse_comparison(text: str) -> Comparison:
    match = _COMPARISON.fullmatch(text.strip())
    if match is None:
        raise ConditionError(
            f"cannot read {text.strip()!r}: expected <fact> <operator> <value>, e.g. 'late_invoices_12m >= 3'"
        )
    op = match["op"]
    if op not in OPERATORS:
        raise ConditionError(f"bad operator {op!r} in {text.strip()!r} (use one of {' '.join(OPERATORS)})")
    return Comparison(match["fact"], op, parse_value(match["value"]))


def parse_comparisons(text: str) -> tuple[Comparison, ...]:
    """A group of comparisons joined by ``and``."""
    if not text.strip():
        raise ConditionError("empty condition")
    return tuple(parse_comparison(part) for part in _AND.split(text.strip()))


def parse_signal(text: str) -> SignalCondition | None:
    """``signal X`` / ``not signal X``, or None when ``text`` is not a signal condition."""
    match = _SIGNAL.fullmatch(text.strip())
    if match is None:
        return None
    name = match["name"]
    if not RULE_ID.fullmatch(name):
        raise ConditionError(f"{name!r} is not a rule id (lower-case letters, digits and '-')")
    return SignalCondition(name, negated=bool(match["negated"]))
