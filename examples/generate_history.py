"""Generate the learning loop's example: two years of a few hundred clients, with departures and exit surveys.

Deterministic: the same ``--seed`` and ``--clients`` always write the same
file. Run from the repository root::

    python examples/generate_history.py                      # examples/learning_history.jsonl
    python examples/generate_history.py --clients 80 --out small.jsonl

What is planted, so that the learning loop has something real to find:

* **missed deadlines** (the signal): clients who leave and cite
  ``missed_deadlines`` (as their primary or a contributing reason) saw us miss
  two to four deadlines in the four months before they left (most of them more
  than a month before the end). Every other client sees a deadline missed only
  now and then (about one a year), so two within 90 days is rare for them.
* **slow replies**: clients who leave citing ``poor_communication`` waited
  four to twelve days for our answers in their last months (normally 0-2 days).
* **rates too high** (no signal): clients who cite ``price_too_high`` or
  ``found_cheaper`` behaved like everyone else before they left; nothing in
  their logs tells them apart.
* Other departures (needs outgrown and referred out, project finished, late
  payers and silent clients we let go) and retained clients with the usual
  trouble (late payments followed by a meeting and a plan, unbillable hours,
  unpaid scope changes), so the default playbook has something to say too.

Departed clients get a ``SurveyInvited`` a few days after ``RelationshipEnded``
and most of them answer (``SurveyAnswered`` with the same ``invitation_id``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any, Iterator

START = dt.date(2024, 10, 1)
END = dt.date(2026, 9, 30)
DEFAULT_SEED = 20241001
DEFAULT_CLIENTS = 240
DEFAULT_OUT = Path(__file__).with_name("learning_history.jsonl")

#: Archetypes of client, with their share of all clients.
ARCHETYPES = (
    ("retained", 0.53),
    ("retained_late_payer", 0.06),
    ("retained_unprofitable", 0.04),
    ("left_deadlines", 0.10),
    ("left_price", 0.08),
    ("left_slow_replies", 0.04),
    ("left_outgrown", 0.04),
    ("left_finished", 0.05),
    ("let_go_late_payer", 0.03),
    ("let_go_silent", 0.03),
)
#: Share of departed clients who answer the exit survey (silent clients rarely do).
ANSWER_RATE = {"let_go_silent": 0.0, "let_go_late_payer": 0.45, "left_outgrown": 0.6}
#: Event types that may follow the end of the relationship.
AFTER_END = frozenset({"PaymentReceived", "SurveyInvited", "SurveyReminded", "SurveyAnswered"})
#: Base rate of a missed deadline per month, for every client.
BASE_DEADLINE_RATE = 0.02

ADJECTIVES = (
    "amber", "birch", "cobalt", "delta", "ember", "fjord", "granite", "harbor", "indigo", "juniper",
    "kestrel", "lumen", "maple", "north", "opal", "pine", "quartz", "river", "sable", "tidal",
)
NOUNS = (
    "bakery", "bags", "clinic", "design", "farms", "goods", "hotels", "labs", "media", "motors",
    "optics", "press", "studio", "textiles", "tools", "travel", "wines", "works",
)
DELIVERABLES = ("logo revision", "product photos", "catalogue layout", "website update", "sample batch", "campaign draft")
TOPICS = ("invoice question", "delivery date", "new request", "feedback", "meeting time", "brief")

#: Survey answers per archetype: primary reasons and possible contributing reasons.
SURVEY = {
    "left_deadlines": (("missed_deadlines",) * 7 + ("quality", "felt_neglected", "poor_communication"), ("missed_deadlines",)),
    "left_price": (("price_too_high",) * 6 + ("found_cheaper",) * 3, ("price_too_high", "found_cheaper")),
    "left_slow_replies": (("poor_communication",) * 3 + ("felt_neglected",), ("poor_communication", "felt_neglected")),
    "left_outgrown": (("needs_changed",), ("personal_fit",)),
    "left_finished": (("project_finished",), ()),
    "let_go_late_payer": (("personal_fit", "other"), ()),
    "let_go_silent": (("other",), ()),
}
WHAT_TO_CHANGE = {
    "missed_deadlines": (
        "Deliver on the dates you promise. Two launches slipped because of you.",
        "Tell us early when a deadline is at risk instead of on the day.",
        "The work was good but always late.",
    ),
    "price_too_high": (
        "Your rates went up faster than our budget.",
        "Offer a smaller package for clients like us.",
    ),
    "found_cheaper": ("Another studio quoted half the price for the same scope.",),
    "poor_communication": (
        "Answer e-mails in <2 days, not a week later.",
        "We never knew who was handling our account.",
    ),
    "felt_neglected": ("It felt like bigger clients always came first.",),
    "quality": ("The last deliveries needed a lot of corrections.",),
    "needs_changed": ("Nothing; we simply need a bigger agency now.",),
    "project_finished": ("Nothing, it was a pleasure & we may be back.",),
}
#: Ratings (communication, timeliness, quality, value) lowered by a primary reason.
LOW_RATINGS = {
    "missed_deadlines": ("rating_timeliness",),
    "poor_communication": ("rating_communication",),
    "felt_neglected": ("rating_communication", "rating_timeliness"),
    "price_too_high": ("rating_value",),
    "found_cheaper": ("rating_value",),
    "quality": ("rating_quality",),
}
OUR_FAULT = {"missed_deadlines", "poor_communication", "felt_neglected", "quality"}


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


class ClientHistory:
    """The events of one generated client, collected as JSON Lines objects."""

    def __init__(self, rng: random.Random, client: str, archetype: str, onboarded: dt.date, ended: dt.date | None):
        self.rng = rng
        self.client = client
        self.archetype = archetype
        self.onboarded = onboarded
        self.ended = ended
        self.last_day = ended or END
        self.lines: list[tuple[dt.date, int, dict[str, Any]]] = []

    def add(self, day: dt.date, type_name: str, **data: Any) -> None:
        """Add one event; activity drawn past the end of the relationship (or of the history) is dropped."""
        if day > self.last_day and type_name not in AFTER_END:
            return
        line = {"client": self.client, "type": type_name, "at": day.isoformat()}
        if data:
            line["data"] = data
        self.lines.append((day, len(self.lines), line))

    def in_last(self, day: dt.date, span: int) -> bool:
        return self.ended is not None and day > self.ended - days(span)

    def generate(self) -> None:
        rng = self.rng
        value = rng.randrange(8, 120) * 50.0
        self.add(self.onboarded, "ClientOnboarded", name=self.client.replace("-", " ").title(), monthly_value=value)
        if rng.random() < 0.5:
            self.add(self.onboarded, "ContractSigned", contract_id=f"{self.client}-K1")
        self.invoices(value)
        self.work()
        self.messages()
        self.deadlines()
        self.trouble()
        if self.ended is not None:
            self.departure()

    def invoices(self, value: float) -> None:
        rng = self.rng
        late_payer = self.archetype in ("retained_late_payer", "let_go_late_payer")
        day, number = self.onboarded + days(rng.randrange(5, 25)), 1
        while day < self.last_day - days(3):
            invoice_id = f"{self.client}-{number:03d}"
            due = day + days(14)
            self.add(day, "InvoiceIssued", invoice_id=invoice_id, amount=value, due_on=due.isoformat())
            if late_payer and rng.random() < 0.6:
                paid = due + days(rng.randrange(10, 45))
            else:
                paid = due + days(rng.randrange(-8, 6))
            if paid <= END and (self.ended is None or paid <= self.ended + days(60)):
                self.add(max(paid, day), "PaymentReceived", invoice_id=invoice_id, amount=value)
            day, number = day + days(30), number + 1

    def work(self) -> None:
        rng = self.rng
        unprofitable = self.archetype == "retained_unprofitable"
        day = self.onboarded + days(rng.randrange(1, 20))
        while day < self.last_day:
            billable = not (unprofitable and rng.random() < 0.45)
            self.add(day, "WorkLogged", hours=float(rng.randrange(4, 24)), billable=billable)
            if unprofitable and rng.random() < 0.3:
                self.add(day + days(2), "ScopeChangeRequested", description="extra variant", paid=False)
            day += days(rng.randrange(24, 36))

    def messages(self) -> None:
        rng = self.rng
        slow = self.archetype == "left_slow_replies"
        day = self.onboarded + days(rng.randrange(3, 40))
        while day < self.last_day:
            topic = rng.choice(TOPICS)
            self.add(day, "ClientMessageReceived", topic=topic)
            delay = rng.randrange(4, 13) if slow and self.in_last(day, 150) else rng.choice((0, 0, 1, 1, 2))
            if day + days(delay) <= self.last_day:
                self.add(day + days(delay), "ReplySent", topic=topic)
            if rng.random() < 0.25:
                follow = day + days(rng.randrange(3, 12))
                if follow < self.last_day:
                    self.add(follow, "FollowUpSent", topic="assets")
                    self.add(follow + days(rng.randrange(1, 5)), "ClientReplied", topic="assets")
            day += days(rng.randrange(30, 70))

    def deadlines(self) -> None:
        rng = self.rng
        day = self.onboarded + days(30)
        while day < self.last_day:
            if rng.random() < BASE_DEADLINE_RATE:
                self.add(day + days(rng.randrange(0, 30)), "DeadlineMissed", deliverable=rng.choice(DELIVERABLES))
            day += days(30)
        if self.archetype == "left_deadlines":
            count = rng.choice((2, 2, 3, 3, 4)) if rng.random() < 0.85 else 1
            for offset in sorted(rng.sample(range(35, 115), count)):
                self.add(self.ended - days(offset), "DeadlineMissed", deliverable=rng.choice(DELIVERABLES))

    def trouble(self) -> None:
        rng = self.rng
        if self.archetype == "retained_late_payer":
            day = self.onboarded + days(rng.randrange(120, 200))
            if day < END:
                self.add(day, "MeetingHeld", topic="late payments", outcome=rng.choice(("resolved", "unresolved")))
                self.add(day + days(7), "PlanAgreed", summary="pay upfront for new work")
        if self.archetype == "left_price" and rng.random() < 0.5:
            self.add(self.ended - days(rng.randrange(40, 120)), "TermsRenegotiated", change="new rate")
        if self.archetype == "left_outgrown":
            self.add(self.ended - days(rng.randrange(20, 60)), "NeedOutgrown", need="24/7 support")
        if self.archetype == "let_go_silent":
            first = self.ended - days(40)
            for step in range(4):
                self.add(first + days(7 * step), "FollowUpSent", topic="deposit")
        if rng.random() < 0.02:
            self.add(self.onboarded + days(rng.randrange(30, 200)), "IncidentReported", kind="rude", against="owner")

    def departure(self) -> None:
        rng = self.rng
        by_us = self.archetype.startswith("let_go") or self.archetype == "left_outgrown"
        if self.archetype == "left_outgrown":
            self.add(self.ended, "ClientReferredOut", partner="Bigger Agency Ltd")
        self.add(self.ended, "RelationshipEnded", initiated_by="us" if by_us else "client")
        invited = self.ended + days(rng.randrange(1, 6))
        if invited > END:
            return
        invitation_id = f"inv-{rng.getrandbits(64):016x}"
        self.add(invited, "SurveyInvited", invitation_id=invitation_id, expires_at=(invited + days(30)).isoformat())
        if rng.random() > ANSWER_RATE.get(self.archetype, 0.85):
            return
        answered = invited + days(rng.randrange(0, 9))
        if answered > END:
            return
        if answered > invited + days(6):
            self.add(invited + days(6), "SurveyReminded", invitation_id=invitation_id)
        self.add(answered, "SurveyAnswered", invitation_id=invitation_id, **survey_answer(rng, self.archetype))

    def sorted_lines(self) -> list[dict[str, Any]]:
        return [line for _, _, line in sorted(self.lines, key=lambda item: (item[0], item[1]))]


def survey_answer(rng: random.Random, archetype: str) -> dict[str, Any]:
    primaries, contributing = SURVEY[archetype]
    primary = rng.choice(primaries)
    others = sorted({reason for reason in contributing if reason != primary and rng.random() < 0.5})
    if archetype == "left_deadlines" and primary != "missed_deadlines":
        others = sorted({*others, "missed_deadlines"})
    answer: dict[str, Any] = {"primary_reason": primary, "other_reasons": others}
    lowered = {name for reason in (primary, *others) for name in LOW_RATINGS.get(reason, ())}
    for name in ("rating_communication", "rating_timeliness", "rating_quality", "rating_value"):
        if rng.random() < 0.9:
            answer[name] = rng.randrange(1, 3) if name in lowered else rng.randrange(3, 6)
    if rng.random() < 0.9:
        answer["recommend"] = rng.randrange(0, 7) if primary in OUR_FAULT else rng.randrange(5, 11)
    answer["would_return"] = rng.choice(("no", "maybe") if primary in OUR_FAULT else ("yes", "maybe", "no"))
    texts = WHAT_TO_CHANGE.get(primary)
    if texts and rng.random() < 0.7:
        answer["what_to_change"] = rng.choice(texts)
    answer["may_contact"] = rng.random() < 0.6
    return answer


def client_ids(rng: random.Random, count: int) -> Iterator[str]:
    for number in range(1, count + 1):
        yield f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{number:03d}"


def generate(*, seed: int = DEFAULT_SEED, clients: int = DEFAULT_CLIENTS) -> list[dict[str, Any]]:
    """The example history as JSON Lines objects, client by client, each client's events in time order."""
    rng = random.Random(seed)
    names, weights = zip(*ARCHETYPES)
    span = (END - START).days
    lines: list[dict[str, Any]] = []
    for client in client_ids(rng, clients):
        archetype = rng.choices(names, weights)[0]
        onboarded = START + days(rng.randrange(0, span - 200))
        ended = None
        if archetype.startswith(("left", "let_go")):
            earliest = onboarded + days(170)
            if earliest >= END - days(10):
                archetype = "retained"
            else:
                ended = earliest + days(rng.randrange(0, (END - days(10) - earliest).days + 1))
        history = ClientHistory(rng, client, archetype, onboarded, ended)
        history.generate()
        lines.extend(history.sorted_lines())
    return lines


def write(lines: list[dict[str, Any]], out: Path) -> None:
    with out.open("w", encoding="utf-8", newline="\n") as stream:
        stream.write(f"# clientrules learning-loop example, generated by examples/{Path(__file__).name}\n")
        for line in lines:
            stream.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    lines = generate(seed=args.seed, clients=args.clients)
    write(lines, args.out)
    print(f"wrote {len(lines)} events of {args.clients} clients to {args.out}")


if __name__ == "__main__":
    main()
