"""Rule-set versions: an append-only stream ``$rules`` of ``RuleSetAdopted`` events (``ledger.rules``).

Version ``n`` is the ``n``-th event of the stream and holds the full TOML text
of the rule set. Version 1 is the default playbook, adopted the first time a
version is needed. The newest version is the current one; every process sees
a new version on its next read (no restart).

A stream damaged before imports were checked (an event that is no rule set,
a rule set that no longer validates, a version number that disagrees with its
place) never stops the other versions from working: only asking for a
damaged version fails, with one line saying how to repair it
(``clientrules db check`` lists them all).
"""

from __future__ import annotations

import threading

import attrs

from clientrules.domain.errors import ClientRulesError, ConcurrencyError
from clientrules.domain.events import Clock, Event, Instant
from clientrules.domain.events.jsonl import MAX_LINE_BYTES, event_line
from clientrules.domain.events.system import RULES_STREAM, RuleSetAdopted
from clientrules.domain.rules.format import default_ruleset_text, parse_ruleset
from clientrules.domain.rules.model import RuleSet
from clientrules.domain.rules.validation import RuleSetProblems
from clientrules.ports import EventStore

DEFAULT_NOTE = "default playbook"


class UnknownRuleSetVersion(ClientRulesError):
    """No rule-set version has that number."""


@attrs.frozen
class RuleSetVersion:
    """One adopted rule set: its number, the rules, when and why it was adopted."""

    version: int
    ruleset: RuleSet
    adopted_at: Instant | None = None
    note: str | None = None
    event_id: str | None = None


class RuleVersions:
    """The rule-set versions of one store: read, adopt, list."""

    def __init__(self, store: EventStore, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._known: dict[int, RuleSetVersion] = {}
        #: versions the stream holds but that cannot be used, and why
        self._unusable: dict[int, str] = {}
        self._lock = threading.Lock()

    def current(self) -> RuleSetVersion:
        """The newest version (the default playbook becomes version 1 if there is none yet)."""
        head = self._store.client_version(RULES_STREAM)
        if head == 0:
            return self._adopt_default()
        return self.get(head)

    def get(self, version: int) -> RuleSetVersion:
        """Version ``version`` (raises :class:`UnknownRuleSetVersion` when there is no such version)."""
        if version not in self._known:
            self._load()
        if version == 1 and not self._known and not self._unusable:
            return self._adopt_default()
        if version in self._unusable:
            raise UnknownRuleSetVersion(
                f"rule-set version {version} cannot be used: {self._unusable[version]}; "
                "adopt a valid rule set with 'clientrules rules use FILE'"
            )
        try:
            return self._known[version]
        except KeyError:
            newest = max((*self._known, *self._unusable), default=0)
            raise UnknownRuleSetVersion(
                f"there is no rule-set version {version} (the newest is {newest})"
            ) from None

    def versions(self) -> list[RuleSetVersion]:
        """Every version, oldest first (at least version 1)."""
        if self._store.client_version(RULES_STREAM) == 0:
            self._adopt_default()
        self._load()
        return [self._known[n] for n in sorted(self._known)]

    def use(
        self, text: str, *, note: str | None = None, expected_version: int | None = None
    ) -> RuleSetVersion:
        """Validate ``text`` and adopt it as the next version, which becomes current.

        With ``expected_version`` the adoption fails with
        :class:`~clientrules.domain.errors.ConcurrencyError` unless the current
        version is that one (someone else adopted a version in between).
        """
        parse_ruleset(text)  # validate before anything is stored
        while True:
            # usable or not, the new version goes after the newest (the default playbook being the first)
            current = self._store.client_version(RULES_STREAM) or self._adopt_default().version
            if expected_version is not None and expected_version != current:
                raise ConcurrencyError(RULES_STREAM, expected_version, current)
            try:
                return self._append(current + 1, text, note)
            except ConcurrencyError:
                if expected_version is not None:
                    raise
                # another process adopted a version in between: this one goes after it

    def _adopt_default(self) -> RuleSetVersion:
        try:
            return self._append(1, default_ruleset_text(), DEFAULT_NOTE)
        except ConcurrencyError:  # another process adopted it first
            return self.get(1)

    def _append(self, version: int, text: str, note: str | None) -> RuleSetVersion:
        event = Event.new(RULES_STREAM, RuleSetAdopted(version=version, source=text, note=note), self._clock())
        size = len(event_line(event).encode("utf-8"))
        if size > MAX_LINE_BYTES:  # export would write a line that import refuses
            raise RuleSetProblems(
                [f"rule set: too large to keep: {size:,} bytes as an event with its note (at most {MAX_LINE_BYTES:,})"]
            )
        self._store.append([event], expected_version=version - 1)
        return self.get(version)

    def _load(self) -> None:
        with self._lock:
            after = max((*self._known, *self._unusable), default=0)
            for event in self._store.read_client(RULES_STREAM, after_version=after):
                version, payload = event.version or 0, event.payload
                if not isinstance(payload, RuleSetAdopted):
                    self._unusable[version] = f"the event in its place is a {payload.TYPE}"
                    continue
                try:
                    ruleset = parse_ruleset(payload.source)
                except RuleSetProblems as problems:
                    self._unusable[version] = problems.problems[0]
                    continue
                self._known[version] = RuleSetVersion(
                    version=version, ruleset=ruleset, adopted_at=event.at, note=payload.note, event_id=event.id
                )
