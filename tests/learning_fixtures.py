"""Helpers for the learning-loop tests: the example generator, and ledgers holding generated histories."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import shutil
from pathlib import Path
from types import ModuleType

import attrs

from clientrules import Ledger
from clientrules.domain.events import (
    ClientMessageReceived,
    ClientOnboarded,
    DeadlineMissed,
    Event,
    RelationshipEnded,
    ReplySent,
    SurveyAnswered,
    SurveyInvited,
    WorkLogged,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "learning_history.jsonl"


def generator() -> ModuleType:
    """``examples/generate_history.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_history", REPO / "examples" / "generate_history.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def build_db(path: Path, *, clients: int | None = None) -> Path:
    """A SQLite ledger at ``path`` holding the example (``clients=None``) or a smaller generated history."""
    source = EXAMPLE
    if clients is not None:
        module = generator()
        source = path.with_suffix(".jsonl")
        module.write(module.generate(clients=clients), source)
    with Ledger.open(str(path)) as ledger:
        # the example business has decided with version 1 of the default playbook since 2024 and kept it
        # (version 2's our-side-slipping watches the missed deadlines the example's loop learns to see)
        ledger.import_jsonl(Path(__file__).parent / "data" / "playbook_v1.jsonl")
        ledger.import_jsonl(source)
    return path


def copy_db(template: Path, target: Path) -> str:
    """A private copy of a closed ledger file, so a test can change it."""
    shutil.copyfile(template, target)
    return str(target)


# --- a generated history with a real signal and a censored tail ---------------------------------

#: the history's last day: the at-risk clients' trouble began in the weeks before it
SIGNAL_END = dt.date(2025, 12, 31)


def _day(day: dt.date) -> str:
    return day.isoformat()


def _routine(rng: random.Random, client: str, start: dt.date, end: dt.date) -> list[Event]:
    """Onboarding, monthly work and quick replies, and a deadline missed about once a year (never two in 90 days)."""
    events = [Event.new(client, ClientOnboarded(name=client.title(), monthly_value=1000.0), _day(start))]
    day, last_miss = start + dt.timedelta(days=rng.randrange(3, 20)), None
    while day < end:
        events.append(Event.new(client, WorkLogged(hours=float(rng.randrange(4, 20)), billable=True), _day(day)))
        events.append(Event.new(client, ClientMessageReceived(topic="update"), _day(day)))
        events.append(Event.new(client, ReplySent(topic="update"), _day(min(day + dt.timedelta(days=1), end))))
        if rng.random() < 0.08 and (last_miss is None or (day - last_miss).days > 120):
            events.append(Event.new(client, DeadlineMissed(deliverable="draft"), _day(day)))
            last_miss = day
        day += dt.timedelta(days=rng.randrange(25, 35))
    return events


def _misses(client: str, days: list[dt.date]) -> list[Event]:
    return [Event.new(client, DeadlineMissed(deliverable="launch"), _day(day)) for day in days]


def _leaves(client: str, day: dt.date, reason: str) -> list[Event]:
    invitation = f"inv-{client}"
    return [
        Event.new(client, RelationshipEnded(initiated_by="client"), _day(day)),
        Event.new(client, SurveyInvited(invitation_id=invitation, expires_at=_day(day + dt.timedelta(days=30))), _day(day + dt.timedelta(days=1))),
        Event.new(client, SurveyAnswered(invitation_id=invitation, primary_reason=reason, recommend=4), _day(day + dt.timedelta(days=3))),
    ]


@attrs.frozen
class SignalHistory:
    """A generated history and who is who in it."""

    events: list[Event]
    leavers: tuple[str, ...]
    at_risk: tuple[str, ...]
    clean: tuple[str, ...]
    price_leavers: tuple[str, ...]
    end: dt.date = SIGNAL_END


def signal_history(*, seed: int = 13, leavers: int = 8, at_risk: int = 4, clean: int = 40, price: int = 6) -> SignalHistory:
    """Two years in which missed deadlines precede departures, and some current clients show it only recently.

    * ``leavers`` leave citing missed deadlines, having seen us miss 2 to 4
      deadlines between 40 and 120 days before they left (departures spread over
      the history's first 18 months);
    * ``at_risk`` stay, and saw us miss 2 or 3 deadlines in the last 60 days:
      the censored tail, too recent to know whether they will leave;
    * ``clean`` stay, with a deadline missed about once a year at most;
    * ``price`` leave citing the price, with nothing in their logs to tell them apart.
    """
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    events: list[Event] = []
    names: dict[str, list[str]] = {"leaver": [], "risk": [], "clean": [], "price": []}
    for kind, count in (("leaver", leavers), ("risk", at_risk), ("clean", clean), ("price", price)):
        for index in range(count):
            client = f"{kind}-{index:02d}"
            names[kind].append(client)
            onboarded = start + dt.timedelta(days=rng.randrange(0, 60))
            if kind in ("leaver", "price"):
                departure = dt.date(2024, 8, 1) + dt.timedelta(days=rng.randrange(0, 500))
                events += _routine(rng, client, onboarded, departure - dt.timedelta(days=1))
                if kind == "leaver":
                    events += _misses(client, [departure - dt.timedelta(days=rng.randrange(40, 121)) for _ in range(rng.randrange(2, 5))])
                events += _leaves(client, departure, "missed_deadlines" if kind == "leaver" else "price_too_high")
            else:
                events += _routine(rng, client, onboarded, SIGNAL_END)
                if kind == "risk":
                    events += _misses(client, [SIGNAL_END - dt.timedelta(days=rng.randrange(1, 60)) for _ in range(rng.randrange(2, 4))])
    return SignalHistory(
        events, tuple(names["leaver"]), tuple(names["risk"]), tuple(names["clean"]), tuple(names["price"])
    )
