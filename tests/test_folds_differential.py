"""Differential, at scale, on both backends: decisions from stored folds equal decisions from a full refold.

Seeded random histories grow in rounds; each round appends a batch per client,
part of it back-dated before events already folded and stored, then decides
every client at several moments (before, among and after its events) three
ways: through folds stored by an earlier round and read back by a new
``Decisions`` (another process), through the long-lived ``ledger.decisions``
(its in-memory folds caught up), and from a full refold of the client's
events (``facts_of``) on the same engine. Facts, evidence and decisions must
be equal, in every detail and order. Some rounds damage stored folds or
leave folds of another format behind; they must be rebuilt, never used.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
import random

import pytest

from clientrules import Ledger
from clientrules.application.decisions import Decisions
from clientrules.application.folds import Folds
from clientrules.domain.events import Event, Instant, registry
from clientrules.domain.decisions import Decision
from clientrules.domain.facts import ClientFold, facts_of
from clientrules.ports import StoredFold

SEED = 17
CLIENTS = 80
ROUNDS = 4
MOMENTS_PER_ROUND = 6
START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
SPAN_DAYS = 540


def random_payload(
    rng: random.Random, client: str, invoices: dict[str, Decimal], moment: dt.datetime, paid_at: dict[str, dt.datetime]
) -> tuple[str, dict]:
    """One event of the kinds the facts look at, dense in invoices, payments, voids, remedies, silence and work.

    ``invoices`` holds what is left to pay on each invoice that is not void: payments never exceed it;
    ``paid_at`` the moment of each invoice's latest payment: a void is never dated before it.
    """
    roll = rng.random()
    if roll < 0.16 or not invoices:
        invoice_id = f"{client}-I{len(invoices)}-{rng.randrange(10**6)}"
        amount = rng.choice([100.0, 250.5, 1000.0])
        invoices[invoice_id] = Decimal(repr(amount))
        due = (moment + dt.timedelta(days=rng.choice([0, 10, 30]))).date()
        return "InvoiceIssued", {"invoice_id": invoice_id, "amount": amount, "due_on": due.isoformat()}
    if roll < 0.30:
        invoice_id = rng.choice(sorted(invoices))
        amount = min(Decimal(repr(rng.choice([100.0, 50.25, 1000.0]))), invoices[invoice_id])
        invoices[invoice_id] -= amount
        paid_at[invoice_id] = max(moment, paid_at.get(invoice_id, moment))
        return "PaymentReceived", {"invoice_id": invoice_id, "amount": float(amount)}
    voidable = [invoice_id for invoice_id in invoices if paid_at.get(invoice_id, moment) <= moment]
    if roll < 0.32 and voidable:
        invoices.pop(voidable[-1])
        return "InvoiceVoided", {"invoice_id": voidable[-1]}
    if roll < 0.45:
        return "WorkLogged", {"hours": rng.choice([0.5, 2.0, 4.5, 8.0]), "billable": rng.random() < 0.7}
    if roll < 0.55:
        return "FollowUpSent", {"topic": "x"}
    if roll < 0.60:
        return "ClientReplied", {}
    if roll < 0.66:
        return "ClientMessageReceived", {"topic": "x"}
    if roll < 0.71:
        return "ReplySent", {}
    if roll < 0.76:
        return "ScopeChangeRequested", {"description": "x", "paid": rng.random() < 0.5}
    if roll < 0.82:
        return rng.choice([("MeetingHeld", {"topic": "x", "outcome": "resolved"}), ("PlanAgreed", {"summary": "x"}),
                           ("TermsRenegotiated", {"change": "x"})])
    if roll < 0.87:
        return "IncidentReported", {"kind": rng.choice(["abuse", "rude", "threat"]),
                                    "against": rng.choice(["staff", "owner"])}
    if roll < 0.90:
        return "DeadlineMissed", {"deliverable": "x"}
    if roll < 0.92:
        return rng.choice([("ContractBreached", {"clause": "x"}), ("NeedOutgrown", {"need": "x"})])
    if roll < 0.93:
        return "RelationshipEnded", {"initiated_by": "client"}
    return "ContractSigned", {"contract_id": f"{client}-K"}


class Histories:
    """Every client's growing history: its invoices so far and the latest moment written."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.invoices: dict[str, dict[str, Decimal]] = {}
        self.paid_at: dict[str, dict[str, dt.datetime]] = {}
        self.latest: dict[str, dt.datetime] = {}

    def batch(self, client: str, round_number: int) -> list[Event]:
        """A round's events of ``client``: mostly after its latest, some back-dated to any earlier moment."""
        rng = self.rng
        events = []
        if client not in self.latest:
            onboarded = START + dt.timedelta(days=rng.uniform(0, 120))
            events.append(Event.new(client, registry.decode("ClientOnboarded", {"name": client}), onboarded))
            self.latest[client] = onboarded
            self.invoices[client] = {}
            self.paid_at[client] = {}
        for _ in range(rng.randint(2, 12 + 6 * round_number)):
            if rng.random() < 0.2:  # back-dated: before events already folded (and stored)
                moment = START + dt.timedelta(days=rng.uniform(0, (self.latest[client] - START).days + 1))
            else:
                moment = self.latest[client] + dt.timedelta(days=rng.expovariate(1 / 6), hours=rng.randint(0, 23))
                self.latest[client] = max(self.latest[client], moment)
            if rng.random() < 0.1:  # several events at one moment: their order is the stream's
                moment = self.latest[client]
            type_name, data = random_payload(rng, client, self.invoices[client], moment, self.paid_at[client])
            events.append(Event.new(client, registry.decode(type_name, data), moment))
        return events

    def moments(self, client: str) -> list[Instant]:
        """Moments to decide at: before the first event, among the events, at the newest, and after it."""
        rng = self.rng
        latest = self.latest[client]
        picks = [START - dt.timedelta(days=1), latest, latest + dt.timedelta(days=rng.choice([1, 45, 200]))]
        while len(picks) < MOMENTS_PER_ROUND:
            picks.append(START + dt.timedelta(days=rng.uniform(0, (latest - START).days + 2)))
        return [Instant.from_datetime(moment) for moment in picks]


def damage_some_folds(ledger: Ledger, rng: random.Random, clients: list[str], format: str) -> None:
    """Overwrite a few stored folds: flipped bytes, a fold of another client, another format."""
    tails = {tail.client: tail for tail in ledger.store.read_folds(clients, format=format)}
    stored = [tail.fold for tail in tails.values() if tail.fold is not None]
    assert stored, "earlier rounds stored folds"
    damaged = []
    for fold in rng.sample(stored, min(9, len(stored))):
        kind = rng.randrange(3)
        if kind == 0:
            position = rng.randrange(40, len(fold.data))
            data = fold.data[:position] + ("0" if fold.data[position] != "0" else "1") + fold.data[position + 1:]
            damaged.append(StoredFold(fold.client, fold.version, fold.format, data))
        elif kind == 1:
            other = rng.choice(stored)
            damaged.append(StoredFold(fold.client, fold.version, fold.format, other.data))
        else:
            damaged.append(StoredFold(fold.client, fold.version + 1000, "fold-0/an-old-format", fold.data))
    ledger.store.write_folds(damaged)


def refolded_decision(ledger: Ledger, client: str, events: list[Event], as_of: Instant) -> dict:
    """The decision of a full refold of ``events``: the engine's for a client still here, none for one who left."""
    rules = ledger.rules.current()
    fold = ClientFold()
    fold.apply_all(events)
    status = fold.status(as_of)
    if status.is_left:
        return Decision.for_left(client, status, rules.version, as_of).to_json()
    facts = fold.facts(as_of, grace_days=rules.ruleset.parameters.grace_days)
    return ledger.engines.decide(client, facts, rules).with_status(status).to_json()


def check_round(ledger: Ledger, histories: Histories, clients: list[str]) -> int:
    """Decide every client at its moments three ways; return how many client-moments were compared."""
    rules = ledger.rules.current()
    grace = rules.ruleset.parameters.grace_days
    elsewhere = Decisions(ledger.store, ledger.rules, ledger.engines, folds=Folds(ledger.store, write_after=1), clock=ledger.clock)
    compared = 0
    try:
        events = {client: ledger.events(client) for client in clients}
        moments = {client: histories.moments(client) for client in clients}
        for moment_index in range(MOMENTS_PER_ROUND):
            for client in clients:
                as_of = moments[client][moment_index]
                refolded = facts_of(events[client], as_of, grace_days=grace)
                assert elsewhere.facts(client, as_of, grace_days=grace) == refolded, (client, as_of)
                assert ledger.decisions.facts(client, as_of, grace_days=grace) == refolded, (client, as_of)
                expected = refolded_decision(ledger, client, events[client], as_of)
                (from_store,) = elsewhere.evaluate([client], as_of=as_of)
                (long_lived,) = ledger.decisions.evaluate([client], as_of=as_of)
                assert from_store.to_json() == expected == long_lived.to_json(), (client, as_of)
                compared += 1
        # every client at one moment in one call: the batched read of stored folds
        as_of = Instant.from_datetime(max(histories.latest.values()) + dt.timedelta(days=3))
        batched = {decision.client: decision.to_json() for decision in elsewhere.evaluate(clients, as_of=as_of)}
        for client in clients:
            assert batched[client] == refolded_decision(ledger, client, events[client], as_of)
            compared += 1
    finally:
        elsewhere.close()
    return compared


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_decisions_from_stored_folds_equal_a_full_refold(backend: str, request: pytest.FixtureRequest, tmp_path) -> None:
    from conftest import STORE_BACKENDS

    rng = random.Random(SEED)
    histories = Histories(rng)
    clients = [f"c{n:03d}" for n in range(CLIENTS)]
    compared = 0
    with Ledger.open(STORE_BACKENDS[backend](request, tmp_path)) as ledger:
        for round_number in range(ROUNDS):
            written = [histories.batch(client, round_number) for client in clients]
            turns = [n for n, events in enumerate(written) for _ in events]
            rng.shuffle(turns)  # clients interleaved in the log; each client's events in the order written (its books add up)
            queues = [iter(events) for events in written]
            batches = [next(queues[n]) for n in turns]
            ledger.append(batches)
            if round_number >= 2:
                damage_some_folds(ledger, rng, clients, ledger.folds.format)
            compared += check_round(ledger, histories, clients)
        tails = list(ledger.store.read_folds(clients, format=ledger.folds.format))
        assert all(tail.fold is not None and tail.fold.format == ledger.folds.format for tail in tails)
    assert compared >= 2_000


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_decisions_from_kept_facts_equal_a_full_refold(
    backend: str, request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each evaluation, by a new ``Decisions`` (nothing in memory), at moments that go forward then back, some
    recording their decisions: facts kept by an earlier one are used where they hold and computed again where not;
    some kept facts are damaged."""
    from conftest import STORE_BACKENDS

    from clientrules.application import decisions as decisions_module
    from clientrules.application.kept_facts import KeptFacts
    from clientrules.ports import StoredFacts

    monkeypatch.setattr(decisions_module, "KEPT_FROM_ONE_CALL", 0)  # every call keeps facts, as one over many clients
    rng = random.Random(SEED + 1)
    histories = Histories(rng)
    clients = [f"c{n:03d}" for n in range(CLIENTS // 2)]
    kept_facts_used = 0
    with Ledger.open(STORE_BACKENDS[backend](request, tmp_path)) as ledger:
        kept = KeptFacts(ledger.store)
        holding = kept.holding

        def counted(*args, **kwargs):
            nonlocal kept_facts_used
            found = holding(*args, **kwargs)
            kept_facts_used += len(found)
            return found

        monkeypatch.setattr(kept, "holding", counted)
        for round_number in range(ROUNDS):
            ledger.append([event for client in clients for event in histories.batch(client, round_number)])
            events = {client: ledger.events(client) for client in clients}
            base = max(histories.latest.values())
            for days in (-30, 0.5, 3, 40, 200, 1, 400):
                as_of = Instant.from_datetime(base + dt.timedelta(days=days))
                if days == 1:  # a few kept facts damaged: flipped bytes, another client's
                    stored = kept._store.read_stored_facts(clients, format=kept.format)
                    victims = rng.sample(sorted(stored), min(6, len(stored)))
                    ledger.store.write_stored_facts(
                        [StoredFacts(c, stored[c].version, kept.format, stored[c].data.replace('"version"', '"versio"'))
                         for c in victims[:3]]
                        + [StoredFacts(c, stored[c].version, kept.format, stored[victims[0]].data) for c in victims[3:]]
                    )
                decisions = Decisions(
                    ledger.store, ledger.rules, ledger.engines, folds=Folds(ledger.store), clock=ledger.clock,
                    kept_facts=kept,
                )
                try:
                    evaluated = decisions.evaluate(clients, as_of=as_of, record=days in (0.5, 3))  # recorded, then kept on
                    found = {decision.client: decision.to_json() for decision in evaluated}
                finally:
                    decisions.close()
                for client in clients:
                    assert found[client] == refolded_decision(ledger, client, events[client], as_of), (client, as_of)
    assert kept_facts_used >= len(clients) * ROUNDS
