"""The durable-rules adapter: a rule set compiled (:mod:`clientrules.adapters.durable_compile`) and run
(:mod:`clientrules.adapters.durable_run`, which says how it keeps durable-rules within what it survives) in this
process, one client at a time.
"""

from __future__ import annotations

from typing import Any, Sequence

from clientrules.adapters.durable_compile import answers_name, compile_rules
from clientrules.adapters.durable_run import DurableRun
from clientrules.domain.decisions.model import Decision
from clientrules.domain.decisions.reasons import FactsLike, build_decision
from clientrules.domain.rules.model import RuleSet


class DurableEngine:
    """Decides for one client at a time with durable-rules, under one rule-set version.

    ``ruleset_version`` is a :class:`~clientrules.application.rule_versions.RuleSetVersion`
    (anything with ``version`` and ``ruleset``) or a bare :class:`RuleSet`
    (a draft: decisions then carry version 0). Safe to share between threads.
    """

    #: the name its answers are kept under (see :class:`~clientrules.ports.EngineAnswersStore`)
    answers_name = staticmethod(answers_name)

    def __init__(self, ruleset_version: Any) -> None:
        if isinstance(ruleset_version, RuleSet):
            self.ruleset, self.version = ruleset_version, 0
        else:
            self.ruleset, self.version = ruleset_version.ruleset, ruleset_version.version
        #: the rule set on durable-rules
        self.run = DurableRun(compile_rules(self.ruleset, self.version))

    def decide(self, client: str, facts: FactsLike) -> Decision:
        """The decision for ``client`` from its ``facts`` (``values``, ``evidence``, ``as_of``)."""
        return build_decision(client, self.ruleset, self.version, facts, self.fired(facts, client=client))

    def fired_batch(self, requests: Sequence[tuple[str, FactsLike]]) -> list[list[str]]:
        """:meth:`fired` for many ``(client, facts)``, one after the other."""
        return [self.fired(facts, client=client) for client, facts in requests]

    def fired(self, facts: FactsLike, *, client: str = "") -> list[str]:
        """Only the ids of the rules that fire for ``facts``, in firing order."""
        return self.run.fired(facts.values, client=client)

    def close(self) -> None:
        """Free the compiled durable-rules ruleset (it is rebuilt if the engine is used again)."""
        self.run.close()

    def __enter__(self) -> DurableEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
