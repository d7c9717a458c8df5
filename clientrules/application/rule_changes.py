"""Changing the rules with a look first (``ledger.rule_changes``): a preview of a change, then its adoption.

A preview says what the change does before anything is adopted: the lines
of the rule file it changes, the clients whose decision today it turns, and
the backtest over the stored history (departures caught and false alarms,
before and after). A client that cannot be decided is set aside (named with why) and every
other client is previewed. A change the rule set cannot take raises
:class:`~clientrules.domain.rules.validation.RuleSetProblems` with every
problem, as ``clientrules rules check`` lists them.
"""

from __future__ import annotations

import difflib
from typing import Callable, Sequence

import attrs

from clientrules.application.decisions import Decisions
from clientrules.application.learning import Learning
from clientrules.application.progress import Tracker
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.domain.decisions.words import describe_rule_changes
from clientrules.domain.events import Clock
from clientrules.domain.learning.backtest import Backtest
from clientrules.domain.rules import default_ruleset_text, parse_ruleset, ruleset_to_toml
from clientrules.domain.rules.edits import add_rule, edit_rule
from clientrules.domain.rules.model import FactValue


@attrs.frozen
class ChangedDecision:
    """A client whose decision today the change turns from ``before`` to ``after``."""

    client: str
    before: str
    after: str


@attrs.frozen
class RulePreview:
    """What adopting ``text`` instead of the ``current`` version would change."""

    current: RuleSetVersion
    #: the candidate rule file
    text: str
    #: the rule file's changed lines, as a unified diff without its two header lines
    diff: tuple[str, ...]
    #: today's decisions the change turns, in the order clients were first recorded
    changed: tuple[ChangedDecision, ...]
    backtest: Backtest
    #: what changes, one plain sentence each ("'Outgrown' turned off")
    sentences: tuple[str, ...] = ()
    #: (client, why) of each client that could not be decided today or in the backtest, left out of the preview
    set_aside: tuple[tuple[str, str], ...] = ()

    @property
    def unchanged(self) -> bool:
        """The candidate is the current rule set, word for word."""
        return self.text.strip() == self.current.ruleset.source.strip()

    @property
    def rules_added(self) -> tuple[str, ...]:
        """Ids of the candidate's rules the current version does not have."""
        now = {rule.id for rule in self.current.ruleset.rules}
        return tuple(rule.id for rule in parse_ruleset(self.text).rules if rule.id not in now)

    @property
    def rules_removed(self) -> tuple[str, ...]:
        """Ids of the current version's rules the candidate does not have."""
        then = {rule.id for rule in parse_ruleset(self.text).rules}
        return tuple(rule.id for rule in self.current.ruleset.rules if rule.id not in then)


class RuleChanges:
    """Previews of rule changes, and their adoption as a new rule-set version."""

    def __init__(self, decisions: Decisions, rules: RuleVersions, learning: Learning, *, clock: Clock) -> None:
        self._decisions = decisions
        self._rules = rules
        self._learning = learning
        self._clock = clock

    def preview_tracker(self) -> Tracker:
        """A count for :meth:`preview` to advance: every client replayed over the stored history."""
        return self._learning.backtest_tracker()

    def preview(
        self, text: str, tracker: Tracker | None = None, *, turned_today: Callable[[int], None] | None = None
    ) -> RulePreview:
        """The preview of adopting the rule file ``text``; ``tracker`` (see :meth:`preview_tracker`) counts
        the clients replayed over the stored history, most of the work, and ``turned_today`` is told how many
        of today's decisions the change turns as soon as that is known, before the replay."""
        current = self._rules.current()
        candidate = RuleSetVersion(0, parse_ruleset(text))
        now = self._clock()
        set_aside: dict[str, str] = {}

        compared = self._decisions.iter_compare([current, candidate], as_of=now, set_aside=set_aside.__setitem__)
        changed = tuple(
            ChangedDecision(before.client, before.reached, after.reached)
            for before, after in compared
            if before.verdict and before.reached != after.reached  # a client who has left has no verdict
        )
        if turned_today is not None:
            turned_today(len(changed))
        diff = difflib.unified_diff(  # both in the standard layout: only real changes show
            ruleset_to_toml(current.ruleset).splitlines(), ruleset_to_toml(candidate.ruleset).splitlines(),
            lineterm="", n=2,
        )
        backtest = self._learning.backtest(text, label="with the change", tracker=tracker)
        sentences = self.sentences(text)
        for client, reason in backtest.set_aside:
            set_aside.setdefault(client, reason)
        return RulePreview(current, text, tuple(diff)[2:], changed, backtest, sentences, tuple(set_aside.items()))

    def sentences(self, text: str) -> tuple[str, ...]:
        """What adopting the rule file ``text`` changes, one plain sentence each (at once: nothing is decided)."""
        return tuple(describe_rule_changes(self._rules.current().ruleset, parse_ruleset(text)))

    def edited(
        self,
        rule_id: str,
        *,
        thresholds: Sequence[FactValue] | None = None,
        enabled: bool | None = None,
        advice: str | None = None,
        description: str | None = None,
    ) -> str:
        """The rule file of the current version with rule ``rule_id`` changed (see :func:`~clientrules.domain.rules.edits.edit_rule`)."""
        current = self._rules.current().ruleset
        return edit_rule(current, rule_id, thresholds=thresholds, enabled=enabled, advice=advice, description=description)

    def added(self, *, fact: str, op: str, value: FactValue, verdict: str, description: str, advice: str = "") -> str:
        """The rule file of the current version with the rule ``fact op value`` giving ``verdict`` added."""
        current = self._rules.current().ruleset
        return add_rule(current, fact=fact, op=op, value=value, verdict=verdict, description=description, advice=advice)

    def preview_edit(
        self,
        rule_id: str,
        *,
        thresholds: Sequence[FactValue] | None = None,
        enabled: bool | None = None,
        advice: str | None = None,
        description: str | None = None,
    ) -> RulePreview:
        """The preview of changing rule ``rule_id`` of the current version (see :meth:`edited`)."""
        return self.preview(self.edited(rule_id, thresholds=thresholds, enabled=enabled, advice=advice, description=description))

    def preview_addition(
        self, *, fact: str, op: str, value: FactValue, verdict: str, description: str, advice: str = ""
    ) -> RulePreview:
        """The preview of adding the rule ``fact op value`` giving ``verdict`` to the current version."""
        return self.preview(self.added(fact=fact, op=op, value=value, verdict=verdict, description=description, advice=advice))

    def preview_return(self, version: int) -> RulePreview:
        """The preview of adopting the rules of version ``version`` again."""
        return self.preview(self._rules.get(version).ruleset.source)

    def on_defaults(self) -> bool:
        """The current version is the default playbook this library ships, word for word."""
        return self._rules.current().ruleset.source.strip() == default_ruleset_text().strip()

    def defaults_text(self) -> str:
        """The rule file of the default playbook this library ships."""
        return default_ruleset_text()

    def preview_defaults(self) -> RulePreview:
        """The preview of adopting the default playbook this library ships (a store keeps the rules it
        adopted until its owner moves on to new defaults on purpose)."""
        return self.preview(default_ruleset_text())

    def adopt_defaults(self, *, expected_version: int | None = None) -> RuleSetVersion:
        """Adopt the shipped default playbook as the next version."""
        text = default_ruleset_text()
        return self._rules.use(text, note=f"new defaults: {parse_ruleset(text).description}", expected_version=expected_version)

    def adopt(self, text: str, *, note: str, expected_version: int | None = None) -> RuleSetVersion:
        """Adopt ``text`` as the next version (see :meth:`~clientrules.application.rule_versions.RuleVersions.use`)."""
        return self._rules.use(text, note=note, expected_version=expected_version)
