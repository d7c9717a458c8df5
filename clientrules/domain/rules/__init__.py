"""Rules as data: the rule-set file format, its validation, and the default playbook (pure: no I/O).

Rule-set versions (stored as events) live in :mod:`clientrules.application.rule_versions`.
"""

from clientrules.domain.rules.format import default_ruleset_text, parse_ruleset, ruleset_to_toml
from clientrules.domain.rules.model import (
    SEVERITY,
    VERDICTS,
    AnyOf,
    Comparison,
    Condition,
    Parameters,
    Rule,
    RuleSet,
    SignalCondition,
    most_severe,
)
from clientrules.domain.rules.validation import RuleSetProblems

__all__ = [
    "SEVERITY",
    "VERDICTS",
    "AnyOf",
    "Comparison",
    "Condition",
    "Parameters",
    "Rule",
    "RuleSet",
    "RuleSetProblems",
    "SignalCondition",
    "default_ruleset_text",
    "most_severe",
    "parse_ruleset",
    "ruleset_to_toml",
]
