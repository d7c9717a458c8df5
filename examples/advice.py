"""Print the advice of each decision that ``clientrules evaluate --json`` writes to standard input.

``make demo`` pipes the demo's decisions through it::

    clientrules --db demo.db evaluate --as-of 2026-06-01 --json | python examples/advice.py
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


def advice_lines(decisions: list[dict[str, Any]]) -> list[str]:
    """One line per client: its verdict and the advice of the rules that fired (``keep`` needs none).

    A client who left has no verdict; a client who is leaving says when.
    """
    width = max((len(decision["client"]) for decision in decisions), default=0)
    lines = []
    for decision in decisions:
        if decision["verdict"] is None:
            lines.append(f"{decision['client']:<{width}}  {'LEFT':<11}  Gone since {decision['effective_on']}: nothing to decide.")
            continue
        advice = " ".join(decision["advice"])
        if decision["status"] == "leaving":
            leaving = f"They leave on {decision['effective_on']}: end well (clientrules next {decision['client']})."
            advice = f"{advice} {leaving}" if advice else leaving
        advice = advice or "Nothing to do: no warning sign."
        lines.append(f"{decision['client']:<{width}}  {decision['verdict'].upper():<11}  {advice}")
    return lines


def main(source: TextIO = sys.stdin) -> None:
    for line in advice_lines(json.load(source)):
        print(line)


if __name__ == "__main__":
    main()
