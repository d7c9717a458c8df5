"""ledger.decisions and ledger.rules on a real SQLite ledger: evaluate, record, explain, versions, time travel."""

from __future__ import annotations

import pickle

import pytest
from conftest import run_in_threads

from clientrules.application.decisions import Decisions
from clientrules.application.folds import Folds
from clientrules.domain.errors import ClientRulesError, ConcurrencyError, InvalidEvent, UnknownClient
from clientrules.domain.events import (
    ClientOnboarded,
    ContractBreached,
    DecisionRecorded,
    InvoiceIssued,
    MeetingHeld,
    NeedOutgrown,
    PaymentReceived,
    RULES_STREAM,
)
from clientrules.ledger import Ledger
from clientrules.domain.rules import RuleSetProblems, default_ruleset_text, parse_ruleset
from clientrules.application.rule_versions import RuleSetVersion, UnknownRuleSetVersion


def late_invoice(ledger: Ledger, client: str, number: int, due_on: str, paid_at: str) -> None:
    """An invoice due on ``due_on`` and paid in full at ``paid_at`` (late when that is > 7 days after)."""
    ledger.record(client, InvoiceIssued(invoice_id=f"{client}-{number}", amount=100.0, due_on=due_on), "2025-01-01")
    ledger.record(client, PaymentReceived(invoice_id=f"{client}-{number}", amount=100.0), paid_at)


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(str(tmp_path / "clients.db")) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme"), "2025-01-01")
        late_invoice(ledger, "acme", 1, "2026-01-10", "2026-02-01")
        late_invoice(ledger, "acme", 2, "2026-02-10", "2026-03-01")
        late_invoice(ledger, "acme", 3, "2026-03-10", "2026-04-01")
        ledger.record("globex", ClientOnboarded(name="Globex"), "2025-06-01")
        ledger.record("globex", NeedOutgrown(need="24/7 support"), "2026-03-01")
        yield ledger


def test_evaluate_every_client_with_the_current_version(ledger):
    decisions = {d.client: d for d in ledger.decisions.evaluate(as_of="2026-05-01")}
    assert decisions["acme"].verdict == "renegotiate"
    assert decisions["acme"].fired == ("chronic-late-payer", "late-payer-first-talk")
    assert decisions["globex"].verdict == "refer_out"
    assert {d.ruleset_version for d in decisions.values()} == {1}
    assert decisions["acme"].as_of.text == "2026-05-01"


def test_reasons_name_the_events_behind_them(ledger):
    (decision,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-01")
    invoice_events = {e.id for e in ledger.events("acme") if e.type in ("InvoiceIssued", "PaymentReceived")}
    chronic, first_talk = decision.reasons
    assert chronic.facts == {"late_invoices_12m": 3}
    assert set(chronic.evidence) <= invoice_events and chronic.evidence
    # a rule's evidence includes that of the signals it matched
    assert set(chronic.evidence) <= set(first_talk.evidence)


def test_a_decision_comes_back_whole_from_another_process(ledger):
    """What ``evaluate --workers`` sends between processes: pickled, reasons and all."""
    decisions = ledger.decisions.evaluate(as_of="2026-05-01")
    assert any(decision.reasons for decision in decisions)
    back = pickle.loads(pickle.dumps(decisions, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == decisions
    assert [decision.to_json() for decision in back] == [decision.to_json() for decision in decisions]


def test_time_travel_only_counts_events_up_to_the_moment(ledger):
    # as of 2026-03-15 the third invoice (due 03-10) is not yet more than 7 days late
    (before,) = ledger.decisions.evaluate(["acme"], as_of="2026-03-15")
    assert before.verdict == "keep" and before.fired == ()
    (after,) = ledger.decisions.evaluate(["acme"], as_of="2026-03-18T00:00:00Z")
    assert after.verdict == "renegotiate"
    # a client whose history starts after the moment is not evaluated at all
    assert [d.client for d in ledger.decisions.evaluate(as_of="2025-03-01")] == ["acme"]


def test_a_remedy_then_another_late_invoice_terminates(ledger):
    ledger.record("acme", MeetingHeld(topic="payments", outcome="resolved"), "2026-04-05")
    (talked,) = ledger.decisions.evaluate(["acme"], as_of="2026-04-20")
    assert talked.verdict == "keep" and talked.fired == ("chronic-late-payer",)
    late_invoice(ledger, "acme", 4, "2026-04-10", "2026-05-01")
    (again,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-02")
    assert again.verdict == "terminate"
    assert again.fired == ("chronic-late-payer", "late-payer-after-remedy")


def test_record_appends_a_decision_event_naming_its_version(ledger):
    decisions = ledger.decisions.evaluate(as_of="2026-05-01", record=True)
    assert len(decisions) == 2
    recorded = ledger.decisions.recorded("acme")
    assert len(recorded) == 1
    payload = recorded[0].payload
    assert isinstance(payload, DecisionRecorded)
    assert (payload.verdict, payload.fired, payload.ruleset_version, payload.as_of) == (
        "renegotiate",
        ["chronic-late-payer", "late-payer-first-talk"],
        1,
        "2026-05-01",
    )
    assert [reason["rule"] for reason in payload.reasons] == payload.fired
    # a recorded decision does not change the facts it came from
    (again,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-01")
    assert again.fired == tuple(payload.fired)


def test_a_new_rule_set_version_takes_effect_at_once_and_old_decisions_keep_theirs(ledger, tmp_path):
    (old,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-01", record=True)
    stricter = default_ruleset_text().replace('"late_invoices_12m >= 3"', '"late_invoices_12m >= 4"')
    adopted = ledger.rules.use(stricter, note="more patience")
    assert adopted.version == 2 and ledger.rules.current().version == 2
    (new,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-01")
    assert (new.verdict, new.ruleset_version) == ("keep", 2)
    # another ledger on the same database (another process) sees version 2 too
    with Ledger.open(ledger.url) as other:
        assert other.decisions.evaluate(["acme"], as_of="2026-05-01")[0].ruleset_version == 2
    # the recorded decision is re-explained with its own version and moment
    event_id = ledger.decisions.recorded("acme")[0].id
    explanation = ledger.decisions.explain("acme", decision=event_id)
    assert explanation.decision.ruleset_version == 1
    assert explanation.decision.verdict == old.verdict == "renegotiate"
    assert explanation.decision.as_of.text == "2026-05-01"
    assert explanation.agrees_with_record is True
    assert f"re-explaining decision {event_id}" in explanation.to_text()


def test_re_explaining_notices_back_dated_events(ledger):
    ledger.decisions.evaluate(["globex"], as_of="2026-05-01", record=True)
    ledger.record("globex", ContractBreached(clause="5.1"), "2026-04-01")  # learned later, dated before
    event_id = ledger.decisions.recorded("globex")[0].id
    explanation = ledger.decisions.explain("globex", decision=event_id)
    assert explanation.recorded.verdict == "refer_out"
    assert explanation.decision.verdict == "terminate"
    assert explanation.agrees_with_record is False
    assert "events dated before its moment were added later" in explanation.to_text()


def test_explain_shows_the_chain_and_what_came_close(ledger):
    text = ledger.decisions.explain("acme", as_of="2026-03-15").to_text()
    assert text.startswith("acme as of 2026-03-15, rule-set version 1: KEEP")
    assert "No rule fired" in text
    assert "chronic-late-payer (signal): 2 late invoices in the last 12 months of the 3 needed" in text
    assert "late-payer-first-talk -> renegotiate: needs chronic-late-payer, which did not fire" in text
    assert "contract-breach" not in text  # nothing of it was met: not close
    fired = ledger.decisions.explain("acme", as_of="2026-05-01")
    text = fired.to_text()
    assert "1. chronic-late-payer (signal): They pay late again and again: 3 late invoices" in text
    assert "2. late-payer-first-talk -> renegotiate" in text
    assert "Advice:" in text
    assert fired.to_json()["near_misses"] == []


def test_facts_are_folded_incrementally(ledger):
    class CountingStore:
        """The real store, counting the events it hands out."""

        def __init__(self, store):
            self._store = store
            self.read = 0

        def read_client(self, client, **kwargs):
            events = self._store.read_client(client, **kwargs)
            self.read += len(events)
            return events

        def read_folds(self, clients, **kwargs):
            for tail in self._store.read_folds(clients, **kwargs):
                self.read += len(tail.events)
                yield tail

        def __getattr__(self, name):
            return getattr(self._store, name)

    store = CountingStore(ledger.store)
    decisions = Decisions(store, ledger.rules, ledger.engines, folds=Folds(store), clock=ledger.clock)
    decisions.evaluate(["acme"], as_of="2026-05-01")
    # acme's 7 events alone: no rule reads revenue_share, the one fact that needs every client's fold
    assert store.read == 7
    ledger.record("acme", MeetingHeld(topic="payments", outcome="resolved"), "2026-04-05")
    (decision,) = decisions.evaluate(["acme"], as_of="2026-05-01")
    assert store.read == 7 + 1  # only the new event was read
    assert decision.fired == ("chronic-late-payer",)
    elsewhere = Decisions(store, ledger.rules, ledger.engines, folds=Folds(store), clock=ledger.clock)  # another process: the fold stored by the first evaluate, then the new event
    assert elsewhere.evaluate(["acme"], as_of="2026-05-01") == [decision]
    assert store.read == 7 + 1 + 1
    # a rule on revenue_share: every other client is read too, for the portfolio's value
    share = RuleSetVersion(0, parse_ruleset(default_ruleset_text() + SHARE_RULE))
    (shared,) = Decisions(store, ledger.rules, ledger.engines, folds=Folds(store), clock=ledger.clock).evaluate(
        ["acme"], as_of="2026-05-01", ruleset=share
    )
    others = sum(len(ledger.store.read_client(c)) for c in ledger.store.client_ids() if c != "acme")
    assert store.read == 7 + 1 + 1 + 1 + others and others > 0
    assert shared.fired == ("chronic-late-payer", "big-share")


SHARE_RULE = """
[[rules]]
id = "big-share"
verdict = "keep"
when = ["revenue_share >= 0"]
"""


def test_unknown_and_invalid_clients(ledger):
    with pytest.raises(UnknownClient):
        ledger.decisions.evaluate(["nobody"])
    with pytest.raises(InvalidEvent):
        ledger.decisions.evaluate(["not a client id!"])
    with pytest.raises(UnknownClient):
        ledger.decisions.explain("nobody")


def test_rule_set_versions_are_an_append_only_stream(ledger):
    assert ledger.rules.current().version == 1
    assert ledger.rules.current().note == "default playbook"
    with pytest.raises(RuleSetProblems):
        ledger.rules.use("[[rules]]\nid = 'x'\n")
    assert ledger.store.client_version(RULES_STREAM) == 1  # nothing stored
    ledger.rules.use(default_ruleset_text(), note="same again", expected_version=1)
    with pytest.raises(ConcurrencyError):
        ledger.rules.use(default_ruleset_text(), expected_version=1)
    versions = ledger.rules.versions()
    assert [(v.version, v.note) for v in versions] == [(1, "default playbook"), (2, "same again")]
    assert ledger.rules.get(1).ruleset.source == default_ruleset_text()
    with pytest.raises(UnknownRuleSetVersion, match="there is no rule-set version 9"):
        ledger.rules.get(9)
    assert "$rules" not in [summary.client for summary in ledger.clients()]


def test_a_rule_set_too_large_for_one_exported_line_is_refused(ledger, tmp_path):
    padding = [
        f'[[rules]]\nid = "pad-{n}"\nsignal = true\ndescription = "{"x" * 1000}"\nwhen = ["tenure_days == {n}"]\n'
        for n in range(1, 100)
    ]
    with pytest.raises(RuleSetProblems, match=r"^invalid rule set: rule set: too large to keep: .* bytes as an event"):
        ledger.rules.use(default_ruleset_text() + "".join(padding))
    assert ledger.store.client_version(RULES_STREAM) == 1  # nothing stored
    ledger.rules.use(default_ruleset_text() + "".join(padding[:30]), note="a third of it fits")
    ledger.export_jsonl(tmp_path / "all.jsonl")
    with Ledger.open(str(tmp_path / "copy.db")) as copy:  # export then import still rebuilds the ledger
        copy.import_jsonl(tmp_path / "all.jsonl")
        assert copy.rules.current().note == "a third of it fits"


def test_a_draft_rule_set_can_be_tried_but_not_recorded(ledger):
    draft = parse_ruleset(default_ruleset_text().replace('verdict = "refer_out"', 'verdict = "terminate"'))
    trial = RuleSetVersion(version=0, ruleset=draft)
    (decision,) = ledger.decisions.evaluate(["globex"], as_of="2026-05-01", ruleset=trial)
    assert (decision.verdict, decision.ruleset_version) == ("terminate", 0)
    with pytest.raises(ClientRulesError, match="only decisions of an adopted rule-set version"):
        ledger.decisions.evaluate(["globex"], as_of="2026-05-01", ruleset=trial, record=True)


def test_grace_days_of_the_rule_set_reach_the_facts(ledger):
    patient = default_ruleset_text().replace("grace_days = 7", "grace_days = 30")
    ledger.rules.use(patient, note="30 days of grace")
    # every acme invoice was paid 19-22 days after due: on time with 30 days of grace
    (decision,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-01")
    assert (decision.verdict, decision.fired, decision.ruleset_version) == ("keep", (), 2)


def test_many_versions_in_one_process_stay_correct(ledger):
    for threshold in (1, 2, 3, 4, 5, 6):
        text = default_ruleset_text().replace('"late_invoices_12m >= 3"', f'"late_invoices_12m >= {threshold}"')
        ledger.rules.use(text)
        (decision,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-01")
        assert decision.verdict == ("renegotiate" if threshold <= 3 else "keep"), threshold
    # old versions (their engines were freed from the cache) are rebuilt on demand
    (again,) = ledger.decisions.evaluate(["acme"], as_of="2026-05-01", ruleset=ledger.rules.get(2))
    assert again.verdict == "renegotiate" and again.ruleset_version == 2


def test_threads_share_one_ledger_decisions(ledger):
    expected = [d.to_json() for d in ledger.decisions.evaluate(as_of="2026-05-01")]
    results = []

    def work(_: int) -> None:
        for _ in range(30):
            results.append([d.to_json() for d in ledger.decisions.evaluate(as_of="2026-05-01")])

    assert run_in_threads(work, 4) == []
    assert len(results) == 120 and all(result == expected for result in results)


def test_every_catalogue_fact_has_plain_words():
    from clientrules.domain.decisions.words import FACT_WORDS
    from clientrules.domain.facts import FACTS

    assert set(FACT_WORDS) == set(FACTS)


def test_concurrent_adoptions_without_an_expected_version_all_get_their_own_version(ledger):
    ledger.rules.current()

    def adopt(worker: int) -> None:
        with Ledger.open(ledger.url) as own:
            for n in range(5):
                own.rules.use(default_ruleset_text(), note=f"{worker}-{n}")

    assert run_in_threads(adopt, 4) == []
    versions = ledger.rules.versions()
    assert [v.version for v in versions] == list(range(1, 22))
    assert sorted(v.note for v in versions[1:]) == sorted(f"{w}-{n}" for w in range(4) for n in range(5))


def test_counts_of_one_read_in_the_singular():
    from clientrules.domain.decisions.words import describe_value

    assert describe_value("late_invoices_12m", 1) == "1 late invoice in the last 12 months"
    assert describe_value("late_invoices_12m", 2) == "2 late invoices in the last 12 months"
    assert describe_value("tenure_days", 1) == "1 day as a client"
    assert describe_value("unbillable_share_90d", 0.25) == "0.25 share of unbillable hours in the last 90 days"
    assert describe_value("remedy_since_first_late", True) == "a meeting, plan or new terms since the first late invoice: yes"
