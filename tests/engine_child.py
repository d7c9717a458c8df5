"""The process tests/test_engine_limits.py runs a rule set in, so that a crash of the engine fails one example only.

``python engine_child.py`` reads ``{"text": TOML, "cases": [{fact: value}, ...]}``
as JSON on stdin, reads the rule set with ``parse_ruleset`` (validation
included) and writes the ids of the rules fired for each case as a JSON list of
lists on stdout. A rule set validation refuses is a test error (exit 3).
"""

from __future__ import annotations

import json
import sys

from clientrules.adapters.durable import DurableEngine
from clientrules.domain.events import Instant
from clientrules.domain.facts import Facts
from clientrules.domain.rules import RuleSetProblems, parse_ruleset

AS_OF = Instant.parse("2026-06-01")


def main() -> int:
    request = json.load(sys.stdin)
    try:
        ruleset = parse_ruleset(request["text"])
    except RuleSetProblems as problems:
        print(problems, file=sys.stderr)
        return 3
    with DurableEngine(ruleset) as engine:
        fired = [engine.fired(Facts(as_of=AS_OF, values=values, evidence={})) for values in request["cases"]]
    json.dump(fired, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
