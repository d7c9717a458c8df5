"""The next-steps service (``ledger.steps``): what to do about a client's decision, with the drafts filled.

::

    plan = ledger.steps.for_client("acme-late", as_of="2026-06-01")
    plan.next.title, plan.next.draft           # the first step not done, and its draft to copy
    ledger.steps.record_done("acme-late", "meeting", {"topic": "late invoices", "outcome": "resolved"})

The steps come from :func:`clientrules.domain.next_steps.derive_steps`; the
drafts from the current rule set's ``[drafts]`` table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from clientrules.application.decisions import Decisions
from clientrules.application.rule_versions import RuleVersions
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Event, Instant, as_instant, check_client_id, registry
from clientrules.domain.next_steps import NextSteps, derive_steps, follow_through_from
from clientrules.ports import EventStreams


class UnknownStep(ClientRulesError):
    """The client has no such step as of now, or it cannot be marked done with an event."""


class NextStepsService:
    """Next steps for the clients of one ledger. Safe to share between threads (it keeps no state)."""

    def __init__(self, streams: EventStreams, decisions: Decisions, rules: RuleVersions) -> None:
        self._streams = streams
        self._decisions = decisions
        self._rules = rules

    def for_client(self, client: str, *, as_of: Instant | dt.datetime | dt.date | str | None = None) -> NextSteps:
        """``client``'s next steps as of ``as_of`` (default: now), under the current rule-set version.

        When the decision is now *keep* because the owner acted (a meeting, a
        plan, new terms, a referral in the last 180 days), the steps follow the
        decision reached just before that first action, so the list moves on
        as steps are done instead of vanishing.
        """
        check_client_id(client)
        moment = Instant.now() if as_of is None else as_instant(as_of, field="as_of")
        version = self._rules.current()
        (decision,) = self._decisions.evaluate([client], as_of=moment, ruleset=version)
        grace_days = version.ruleset.parameters.grace_days
        events = self._streams.read_client(client, until=moment)
        situation, situation_moment = decision, moment
        start = follow_through_from(events, moment) if decision.verdict == "keep" else None
        if start is not None:
            before = Instant.from_datetime(start.utc - dt.timedelta(microseconds=1))
            (earlier,) = self._decisions.evaluate([client], as_of=before, ruleset=version)
            if earlier.verdict != "keep":
                situation, situation_moment = earlier, before
        facts = self._decisions.facts(client, situation_moment, grace_days=grace_days)
        return derive_steps(decision, situation, facts, events, version.ruleset, as_of=moment)

    def record_done(
        self,
        client: str,
        step_id: str,
        data: Mapping[str, Any],
        *,
        at: Instant | dt.datetime | dt.date | str | None = None,
    ) -> Event:
        """Record the event that marks step ``step_id`` done, with ``data`` as its fields; return it as stored.

        The step must be one of the client's steps now and be done by an event
        (not by a date, and not the exit survey, which is sent by ``ledger.surveys.invite``).
        Bad ``data`` raises :class:`~clientrules.domain.errors.InvalidEvent` naming the field; nothing is stored.
        """
        moment = Instant.now() if at is None else as_instant(at, field="at")
        plan = self.for_client(client, as_of=moment)
        try:
            step = plan.step(step_id)
        except KeyError:
            known = ", ".join(step.id for step in plan.steps) or "none"
            raise UnknownStep(f"client {client!r} has no step {step_id!r} now (its steps: {known})") from None
        if step.event_type is None or step.event_type == "SurveyInvited":
            how = "invite them to the exit survey" if step.event_type else "it is done by a date or by the invoices"
            raise UnknownStep(f"step {step_id!r} is not marked done with an event here: {how}")
        event = Event.new(client, registry.decode(step.event_type, dict(data)), moment)
        result = self._streams.append([event])
        return result.stored_event(event)
