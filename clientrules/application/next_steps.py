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
from typing import Any, Iterable, Mapping

import attrs

from clientrules.application.decisions import Decisions
from clientrules.application.rule_versions import RuleVersions
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Clock, Event, Instant, Moment, check_client_id, moment_or_now, registry
from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT
from clientrules.domain.events.types import DATA_KEY
from clientrules.domain.money import DEFAULT_CURRENCY, DEFAULT_NUMBER_FORMAT
from clientrules.domain.next_steps import CHECK_IN_TOPIC, NextSteps, Step, after_steps, derive_steps, follow_through_from
from clientrules.ports import EventStreams


#: what a step sets itself in the event that marks it done, by event type (ending a client: we ended it;
#: a check-in: the follow-up that says so)
STEP_PRESETS: Mapping[str, Mapping[str, Any]] = {
    "RelationshipEnded": {"initiated_by": "us"},
    "FollowUpSent": {"topic": CHECK_IN_TOPIC},
}


class UnknownStep(ClientRulesError):
    """The client has no such step as of now, or it cannot be marked done with an event."""


class MissingAnswers(ClientRulesError):
    """The event that marks a step done needs answers that were not given; ``missing`` names their fields."""

    def __init__(self, missing: Iterable[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(f"the step needs an answer for {', '.join(self.missing)}: nothing was recorded")


@attrs.frozen
class StepAnswers:
    """The fields the owner fills in to mark a step done (those of its event the step does not set itself)."""

    required: tuple[str, ...]
    optional: tuple[str, ...]


class NextStepsService:
    """Next steps for the clients of one ledger. Safe to share between threads (it keeps no state)."""

    def __init__(
        self,
        streams: EventStreams,
        decisions: Decisions,
        rules: RuleVersions,
        *,
        clock: Clock,
        currency: str = DEFAULT_CURRENCY,
        date_format: str = DEFAULT_DATE_FORMAT,
        number_format: str = DEFAULT_NUMBER_FORMAT,
    ) -> None:
        """``currency``: the business's, for amounts of clients and invoices that name none; ``date_format``
        and ``number_format``: how the steps and drafts write dates and amounts."""
        self._streams = streams
        self._currency = currency
        self._date_format = date_format
        self._number_format = number_format
        self._decisions = decisions
        self._rules = rules
        self._clock = clock

    def for_client(self, client: str, *, as_of: Moment | None = None) -> NextSteps:
        """``client``'s next steps as of ``as_of`` (default: now), under the current rule-set version.

        When the decision is now *keep* because the owner acted (a meeting, a
        plan, new terms, a referral in the last 180 days), the steps follow the
        decision reached just before that first action, so the list moves on
        as steps are done instead of vanishing.
        """
        check_client_id(client)
        moment = moment_or_now(as_of, self._clock)
        version = self._rules.current()
        (decision,) = self._decisions.evaluate([client], as_of=moment, ruleset=version)
        grace_days = version.ruleset.parameters.grace_days
        events = self._streams.read_client(client, until=moment)
        status = self._decisions.status(client, moment)
        if status.is_left:
            return after_steps(client, status, events, as_of=moment, date_format=self._date_format)
        if status.is_leaving:
            facts = self._decisions.facts(
                client, moment, grace_days=grace_days, portfolio_value=self._decisions.portfolio_value(moment)
            )
            return derive_steps(
                decision, decision, facts, events, version.ruleset,
                as_of=moment, status=status, business_currency=self._currency,
                date_format=self._date_format, number_format=self._number_format,
            )
        situation, situation_moment = decision, moment
        start = follow_through_from(events, moment) if decision.verdict == "keep" else None
        if start is not None:
            before = Instant.from_datetime(start.utc - dt.timedelta(microseconds=1))
            (earlier,) = self._decisions.evaluate([client], as_of=before, ruleset=version)
            if earlier.verdict != "keep":
                situation, situation_moment = earlier, before
        facts = self._decisions.facts(
            client, situation_moment, grace_days=grace_days,
            portfolio_value=self._decisions.portfolio_value(situation_moment),
        )
        return derive_steps(
            decision, situation, facts, events, version.ruleset,
            as_of=moment, business_currency=self._currency,
            date_format=self._date_format, number_format=self._number_format,
        )

    def answers(self, step: Step) -> StepAnswers:
        """What marking ``step`` done asks of the owner (nothing for a step done by a date or the exit survey)."""
        if step.event_type is None or step.event_type == "SurveyInvited":
            return StepAnswers((), ())
        preset = STEP_PRESETS.get(step.event_type, {})
        fields = [
            (str(field.metadata.get(DATA_KEY, field.name)), field.default is attrs.NOTHING)
            for field in attrs.fields(registry.payload_type(step.event_type))
            if field.name != "extra"
        ]
        return StepAnswers(
            required=tuple(key for key, required in fields if required and key not in preset),
            optional=tuple(key for key, required in fields if not required and key not in preset),
        )

    def record_done(
        self,
        client: str,
        step_id: str,
        data: Mapping[str, Any],
        *,
        at: Moment | None = None,
    ) -> Event:
        """Record the event that marks step ``step_id`` done, with ``data`` as its fields; return it as stored.

        The step must be one of the client's steps now and be done by an event
        (not by a date, and not the exit survey, which is sent by ``ledger.surveys.invite``).
        What the step sets itself (:data:`STEP_PRESETS`) is added to ``data``.
        A required answer left out or blank raises :class:`MissingAnswers`;
        bad ``data`` raises :class:`~clientrules.domain.errors.InvalidEvent`
        naming the field; either way nothing is stored.
        """
        moment = moment_or_now(at, self._clock, field="at")
        plan = self.for_client(client, as_of=moment)
        try:
            step = plan.step(step_id)
        except KeyError:
            known = ", ".join(step.id for step in plan.steps) or "none"
            raise UnknownStep(f"client {client!r} has no step {step_id!r} now (its steps: {known})") from None
        if step.event_type is None or step.event_type == "SurveyInvited":
            how = "invite them to the exit survey" if step.event_type else "it is done by a date or by the invoices"
            raise UnknownStep(f"step {step_id!r} is not marked done with an event here: {how}")
        missing = [key for key in self.answers(step).required if data.get(key) in (None, "")]
        if missing:
            raise MissingAnswers(missing)
        fields = {**STEP_PRESETS.get(step.event_type, {}), **data}
        event = Event.new(client, registry.decode(step.event_type, fields), moment)
        result = self._streams.append([event])
        return result.stored_event(event)
