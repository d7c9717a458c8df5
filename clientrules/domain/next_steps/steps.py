"""Next steps: what to do about a decision, derived from its verdict, the rules that fired and the history (pure).

The steps follow the practitioners' order. To *renegotiate*: a meeting (with
an agenda listing the evidence), new terms where money or scope is the
problem, then a written plan with a review date; if the meeting found no
resolution, an ending. A long-standing client gone quiet gets a short check-in
instead of a meeting. To *terminate*: line up replacement work first for a key
account (phased out, not cut), look at our own side ("did we do our part?"),
give the notice the contract asks for, settle what is owed, then the ending
note of the situation (:mod:`~clientrules.domain.next_steps.situations`). To
*refer out*: a referral note, then the hand-over. Once the client has left:
the exit-survey invitation.

A step is done when the event it asks for was recorded since the problem began
(the earliest event the decision cites): ``MeetingHeld``, ``TermsRenegotiated``,
``PlanAgreed``, ``RelationshipEnded``, ``ClientReferredOut``, ``SurveyInvited``;
a contract step shows while the contract runs, a settling step is done once no
invoice is open. ``NextSteps.to_json()`` is a contract (CLI ``next --json``):
``client``, ``verdict``, ``as_of``, ``steps``, each step with ``id``, ``title``,
``done``, ``why``, ``event_type``, ``done_on`` and, where it has one, ``draft``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import attrs

from clientrules.domain.decisions.model import Decision
from clientrules.domain.events import ClientOnboarded, Event, Instant, MeetingHeld
from clientrules.domain.facts import Facts
from clientrules.domain.facts.status import ClientStatus
from clientrules.domain.drafts import DraftError, Drafts, default_drafts
from clientrules.domain.drafts.fields import FieldValue
from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT, plain_date
from clientrules.domain.money import DEFAULT_CURRENCY, DEFAULT_NUMBER_FORMAT
from clientrules.domain.next_steps.fields import TALK_ONLY, draft_fields
from clientrules.domain.next_steps.notice import PHASE_OUT_NOTICE_DAYS
from clientrules.domain.next_steps.our_part import our_shortfalls
from clientrules.domain.next_steps.situations import ending_situation, situations_of
from clientrules.domain.rules.model import RuleSet

#: the ending note of each situation (:mod:`~clientrules.domain.next_steps.situations`); any other: ``ending_note``
ENDING_DRAFTS: Mapping[str, str] = {
    "conduct": "ending_conduct",
    "breach": "ending_breach",
    "late_payment": "ending_late_payment",
    "silence": "ending_silence",
    "unprofitable": "ending_unprofitable",
}
#: the topic of the follow-up that records a check-in sent (set by the step itself)
CHECK_IN_TOPIC = "checking in"
#: events that show the owner acted on a decision: a keep after one of them follows that decision through
REMEDIES = ("MeetingHeld", "PlanAgreed", "TermsRenegotiated", "ClientReferredOut")


@attrs.frozen
class Step:
    """One thing to do, whether it is done, and the draft to use for it."""

    id: str
    title: str
    why: str
    done: bool = False
    #: the event that marks it done (None: it is done by a date or by the facts)
    event_type: str | None = None
    done_on: Instant | None = None
    #: the filled draft, ready to copy
    draft: str | None = None
    #: why the owner's own template could not be used (the default draft was filled instead)
    draft_problem: str | None = None
    #: fields of the event to record, filled in advance from the history (e.g. the partner's name)
    suggested: Mapping[str, str] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "done": self.done,
            "why": self.why,
            "event_type": self.event_type,
            "done_on": self.done_on.date.isoformat() if self.done_on else None,
        }
        if self.draft is not None:
            data["draft"] = self.draft
        if self.draft_problem is not None:
            data["draft_problem"] = self.draft_problem
        if self.suggested:
            data["suggested"] = dict(self.suggested)
        return data


@attrs.frozen
class NextSteps:
    """The steps for one client as of ``as_of``, in order; ``verdict`` is the decision as of then
    (None for a client who has left: its steps are the after-steps only)."""

    client: str
    verdict: str | None
    as_of: Instant
    steps: tuple[Step, ...]

    @property
    def next(self) -> Step | None:
        """The first step not done yet (None when all are done or there is none)."""
        return next((step for step in self.steps if not step.done), None)

    def step(self, step_id: str) -> Step:
        """The step with that id (``KeyError`` when there is none)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "verdict": self.verdict,
            "as_of": self.as_of.text,
            "steps": [step.to_json() for step in self.steps],
        }


def follow_through_from(events: Sequence[Event], as_of: Instant, *, within_days: int = 180) -> Instant | None:
    """The first remedy (a meeting, plan, new terms or referral) of the last ``within_days`` days, if any.

    When the decision is now *keep*, the decision just before that moment is the
    one the owner is still following through (a meeting held, a plan not written yet).
    """
    horizon = as_of.key - within_days * 86_400_000_000
    remedies = [e for e in events if e.type in REMEDIES and horizon < e.at.key <= as_of.key]
    return min((event.at for event in remedies), default=None)


def derive_steps(
    decision: Decision,
    situation: Decision,
    facts: Facts,
    events: Iterable[Event],
    ruleset: RuleSet,
    *,
    as_of: Instant,
    business_currency: str = DEFAULT_CURRENCY,
    status: ClientStatus | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
    number_format: str = DEFAULT_NUMBER_FORMAT,
) -> NextSteps:
    """The next steps for ``decision``'s client as of ``as_of``.

    A client *leaving* (``status``: a notice runs) gets the wind-down instead:
    the final invoice, what is still owed, our obligations until the
    effective date, and the hand-over. A client who has left gets
    :func:`after_steps` (call it instead: a left client has no decision to follow).

    ``situation`` is the decision the steps follow: ``decision`` itself, or an
    earlier one still being followed through (see :func:`follow_through_from`);
    ``facts`` are the facts it was reached from. The drafts are those of
    ``ruleset`` (the defaults stand in for an owner template that cannot be
    filled), and its rules' descriptions word why each step is there (for the
    owner: the drafts, which the client reads, never use them). Dates and amounts are written as
    ``date_format`` and ``number_format`` say.
    """
    history = [event for event in events if event.at <= as_of]
    defaults = default_drafts()
    drafts = ruleset.drafts or defaults
    descriptions = {rule.id: rule.description for rule in ruleset.rules}
    fields = draft_fields(
        situation, facts, history, drafts.settings,
        as_of=as_of, business_currency=business_currency, date_format=date_format, number_format=number_format,
    )
    builder = _Builder(situation, history, fields, drafts, defaults, descriptions, as_of=as_of, date_format=date_format)
    verdict = situation.verdict
    if status is not None and status.is_leaving:
        builder.wind_down(status)
        return NextSteps(decision.client, decision.verdict, as_of, tuple(builder.steps))
    if verdict == "renegotiate":
        builder.renegotiate()
    elif verdict == "terminate":
        builder.terminate()
    elif verdict == "refer_out":
        builder.refer_out()
    builder.exit_survey()
    return NextSteps(decision.client, decision.verdict, as_of, tuple(builder.steps))


class _Builder:
    """Collects the steps of one situation in order, filling their drafts and ticking those done."""

    def __init__(
        self,
        situation: Decision,
        history: list[Event],
        fields: dict[str, FieldValue],
        drafts: Drafts,
        defaults: Drafts,
        descriptions: Mapping[str, str],
        *,
        as_of: Instant,
        date_format: str,
    ) -> None:
        self.history = history
        self.as_of = as_of
        self.date_format = date_format
        self.fields = fields
        self.drafts = drafts
        self.defaults = defaults
        self.name = str(fields["client_name"])
        cited = {i for reason in situation.reasons if reason.verdict == situation.verdict for i in reason.evidence}
        moments = [event.at for event in history if event.id in cited]
        self.since = min(moments, default=situation.as_of)
        verdict_reasons = [reason for reason in situation.reasons if reason.verdict == situation.verdict]
        self.reasons = [descriptions.get(reason.rule) or reason.sentence for reason in verdict_reasons]
        self.why = "; ".join(self.reasons) + "."
        self.situations = situations_of(situation, {event.id: event for event in history})
        self.advice = " ".join(_texts(fields["advice"]))
        self.steps: list[Step] = []

    def first(self, event_type: str, *, after: Instant | None = None, topic: str | None = None) -> Event | None:
        """The first ``event_type`` event since the problem began (or ``after``), with ``topic`` when one is given."""
        since = self.since if after is None else after
        return next(
            (
                e for e in self.history
                if e.type == event_type and e.at >= since and (topic is None or getattr(e.payload, "topic", None) == topic)
            ),
            None,
        )

    def add(
        self,
        step_id: str,
        title: str,
        why: str,
        *,
        event_type: str | None = None,
        draft: str | None = None,
        done: bool | None = None,
        after: Instant | None = None,
        topic: str | None = None,
        suggested: Mapping[str, str] | None = None,
    ) -> None:
        """Add a step; done when given, else when ``event_type`` was recorded since the problem began (or ``after``)."""
        done_by = self.first(event_type, after=after, topic=topic) if event_type else None
        text, problem = self.fill(draft) if draft else (None, None)
        self.steps.append(
            Step(
                id=step_id,
                title=title,
                why=why,
                done=done_by is not None if done is None else done,
                event_type=event_type,
                done_on=done_by.at if done_by else None,
                draft=text,
                draft_problem=problem,
                suggested={key: value for key, value in (suggested or {}).items() if value},
            )
        )

    def fill(self, name: str) -> tuple[str, str | None]:
        """Draft ``name`` filled, and why the owner's own template had to give way to the default (None when it did not)."""
        try:
            return self.drafts.fill(name, self.fields), None
        except DraftError as error:
            if self.drafts.templates[name] == self.defaults.templates[name]:
                raise
            return self.defaults.fill(name, self.fields), f"your {name.replace('_', ' ')} could not be filled: {error}"

    def renegotiate(self) -> None:
        if self.situations == ("silence",):
            self.check_in()
            return
        if "our_side" in self.situations:
            self.our_part(ending=False)
        options = _texts(self.fields["options"])
        self.add(
            "meeting",
            f"Set a meeting with {self.name} to talk it through",
            f"{self.why} Many clients work out an agreement once they see the effort.",
            event_type="MeetingHeld",
            draft="meeting_agenda",
            suggested={"topic": "; ".join(self.reasons)},
        )
        if options and options[0] != TALK_ONLY:
            self.add(
                "new-terms",
                f"Agree new terms: {options[0]}",
                "The problem is money or scope; new terms make the fix concrete (not always a higher price).",
                event_type="TermsRenegotiated",
                suggested={"change": options[0]},
            )
        self.add(
            "written-plan",
            f"Put the plan in writing, to review on {self.fields['review_on']}",
            "A written plan (or SOP) names who does what, including what we must stop doing.",
            event_type="PlanAgreed",
            draft="written_plan",
        )
        meeting = self.first("MeetingHeld")
        if meeting is None or self.first("PlanAgreed"):
            return
        if isinstance(meeting.payload, MeetingHeld) and meeting.payload.outcome == "unresolved":
            self.replacement_work()
            self.our_part()
            self.ending(f"The meeting of {plain_date(meeting.at, self.date_format)} found no resolution: thank them and part ways.")

    def check_in(self) -> None:
        """A long-standing client gone quiet: a short, warm message asking how they are, not a meeting."""
        self.add(
            "check-in",
            f"Send {self.name} a short, warm check-in",
            f"{self.why} A long-standing client who goes quiet may be busy or embarrassed about something: "
            "ask kindly how they are, without an agenda.",
            event_type="FollowUpSent",
            draft="check_in",
            topic=CHECK_IN_TOPIC,
        )

    def terminate(self) -> None:
        self.replacement_work()
        self.our_part()
        self.contract()
        self.settle_accounts()
        self.ending(f"{self.why} {self.advice or 'Thank them and part politely.'}")

    def replacement_work(self) -> None:
        """A key account is phased out: replacement work is lined up before the notice goes."""
        if not self.fields["phase_out"]:
            return
        self.add(
            "replacement-work",
            "Line up replacement work before giving notice",
            f"{self.name} brings a large share of the monthly revenue: phase them out, not cut them off. "
            f"Find the work that replaces theirs first; the notice is at least {PHASE_OUT_NOTICE_DAYS} days.",
            done=False,
        )

    def our_part(self, *, ending: bool = True) -> None:
        """Did we do our part? Our missed deadlines, slow replies and agreed terms never applied, when there are any.

        Before an ending it is a check; when our side is the problem itself, it comes before the talk.
        """
        shortfalls = our_shortfalls(self.history, self.as_of, self.date_format)
        if not shortfalls or any(step.id == "our-part" for step in self.steps):
            return
        listed = "; ".join(shortfalls) + "."
        if ending:
            title = "Did we do our part? Check our side before ending it"
            why = (f"Before ending it, look at what we did not do: {listed} Put right what is ours; "
                   "it may change the decision, and it changes how the ending is worded.")
        else:
            title = "Fix our side first, then talk to them"
            why = f"We are letting them down: {listed} Put that right before the meeting, and say so in it."
        self.add("our-part", title, why, done=False)

    def settle_accounts(self) -> None:
        """What is owed on either side: overdue, not yet due, and deposits, three different things."""
        parts = [
            f"{self.fields['overdue_total']} is overdue" if self.fields["overdue_total"] else "",
            f"{self.fields['not_yet_due_total']} is invoiced and not due yet" if self.fields["not_yet_due_total"] else "",
            f"a deposit of {self.fields['deposit_outstanding']} was asked for and never arrived"
            if self.fields["deposit_outstanding"] else "",
            f"deposits of {self.fields['deposits_received']} were received" if self.fields["deposits_received"] else "",
        ]
        if not any(parts):
            return
        self.add(
            "settle-accounts",
            "Settle what is still owed, on both sides",
            _sentence("; ".join(part for part in parts if part)) + ": agree how each is settled before the end.",
            done=not self.fields["open_invoices"],
        )

    def contract(self) -> None:
        if not self.fields["contract_in_force"]:
            return
        contract_id = self.fields["contract_id"]
        ends_on, last_day, days = self.fields["contract_ends_on"], self.fields["last_day_of_work"], self.fields["notice_days"]
        if self.fields["contract_auto_renews"]:
            title = f"Send notice that contract {contract_id} will not be renewed, by {self.fields['notice_by']}"
            why = (f"Contract {contract_id} renews on its own unless notice reaches them {days} days before its term "
                   f"ends: sent by {self.fields['notice_by']}, it ends on {last_day}. Fulfil it until then.")
        elif ends_on:
            title = f"Fulfil contract {contract_id} as promised, until {ends_on}"
            why = f"Contract {contract_id} runs until {ends_on}: it is rarely worth court; fulfil it, then end it."
        else:
            title = f"Give the {days} days' notice of contract {contract_id}: last day {last_day}"
            why = (f"Contract {contract_id} has no end date: it ends {days} days after notice, so a notice sent "
                   f"today makes {last_day} the last day.")
        self.add("contract", title, why, done=False)

    def ending(self, why: str) -> None:
        situation = ending_situation(self.situations)
        firm = situation == "conduct"
        self.add(
            "ending-note",
            f"Send {self.name} {'a short, firm ending note in writing' if firm else 'a polite ending note'} "
            f"(last day of work: {self.fields['last_day_of_work']})",
            why,
            event_type="RelationshipEnded",
            draft=ENDING_DRAFTS.get(situation, "ending_note"),
        )

    def refer_out(self) -> None:
        partner = self.fields["partner"] or "a company that fits them better"
        need = self.fields["outgrown_need"]
        self.add(
            "referral-note",
            f"Refer {self.name} to {partner}",
            (f"They now need {need}. " if need else "")
            + "Referring them keeps their goodwill; stretching ourselves rarely does.",
            event_type="ClientReferredOut",
            draft="referral_note",
            suggested={"partner": str(self.fields["partner"])},
        )
        self.add(
            "hand-over",
            "Hand over the work, then end it on good terms",
            "Share their files and where each piece of work stands, so the new company starts well.",
            event_type="RelationshipEnded",
        )

    def wind_down(self, status: ClientStatus) -> None:
        """The steps of a client leaving on ``status.on``: nothing new to decide, promises to keep."""
        last_day = plain_date(status.on, self.date_format) if status.on else "the day the notice ends"
        who = "They gave notice" if status.client_chose else "We gave notice"
        given = status.decided_on
        since = Instant.parse(given.isoformat()) if given else None
        self.add(
            "final-invoice",
            f"Send {self.name} the final invoice for the work up to {last_day}",
            f"{who}; the relationship ends on {last_day}. Invoice everything done until then in one final invoice.",
            event_type="InvoiceIssued",
            after=since,
        )
        if self.fields["open_invoices"]:
            owed = self.fields["owed_to_us"]
            self.add(
                "settle-accounts",
                "Settle what is still owed before the last day",
                f"{str(owed).capitalize() if owed else 'Some invoices'} still open: agree how each is settled before {last_day}.",
                done=False,
            )
        self.add(
            "obligations",
            f"Keep every promise until {last_day}",
            "Deliver what the contract and the notice still require, on time: how we end is what they remember.",
            done=False,
        )
        self.add(
            "hand-over",
            f"Hand over the work and files by {last_day}",
            "Share their files, access and where each piece of work stands, so nothing is left hanging.",
            done=False,
        )

    def exit_survey(self) -> None:
        ended = [event for event in self.history if event.type == "RelationshipEnded"]
        if not ended:
            return
        self.add(
            "exit-survey",
            f"Ask {self.name} why: invite them to the exit survey",
            "Every lost client is a lesson: their answers show what to improve.",
            event_type="SurveyInvited",
            after=ended[-1].at,
        )


def _sentence(text: str) -> str:
    """``text`` with its first letter a capital (and nothing else changed: ``EUR`` stays)."""
    return text[:1].upper() + text[1:]


def after_steps(
    client: str, status: ClientStatus, events: Iterable[Event], *, as_of: Instant, date_format: str = DEFAULT_DATE_FORMAT
) -> NextSteps:
    """The steps of a client who has left as of ``as_of``: the exit survey when the client chose to
    leave (clients we ended with are invited only on purpose, so they get no step); dates as ``date_format`` writes them."""
    history = [event for event in events if event.at <= as_of]
    if not status.client_chose or status.on is None:
        return NextSteps(client, None, as_of, ())
    names = [e.payload.name for e in history if isinstance(e.payload, ClientOnboarded)]
    left = Instant.parse(status.on.isoformat())
    invited = next((e for e in history if e.type == "SurveyInvited" and e.at >= left), None)
    step = Step(
        id="exit-survey",
        title=f"Ask {names[-1] if names else client} why: invite them to the exit survey",
        why=f"They chose to leave and left on {plain_date(status.on, date_format)}: their answers show what to improve.",
        done=invited is not None,
        event_type="SurveyInvited",
        done_on=invited.at if invited else None,
    )
    return NextSteps(client, None, as_of, (step,))


def _texts(value: FieldValue) -> list[str]:
    """A list field's items as texts."""
    return [str(item) for item in value] if isinstance(value, list) else []
