"""Work run apart (``clientrules.apart``): in a process of its own at a lower priority, stopped on request, and a
crash in it is an error for the caller, not the caller's end."""

from __future__ import annotations

import functools
import os
import threading
import time

import pytest

from clientrules import ClientRulesError, Ledger
from clientrules.apart import NICENESS, run_apart
from clientrules.domain.events import ClientOnboarded, Event, InvoiceIssued

pytestmark = pytest.mark.skipif(not hasattr(os, "nice"), reason="process priorities are a POSIX feature")


def where_and_how_nice(ledger: Ledger, cancelled) -> tuple[int, int]:
    return os.getpid(), os.nice(0)


def until_cancelled(ledger: Ledger, cancelled) -> str:
    deadline = time.monotonic() + 60
    while not cancelled():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return "cancelled"


def deaf(ledger: Ledger, cancelled) -> str:
    time.sleep(60)
    return "never"


def dying(ledger: Ledger, cancelled) -> None:
    os._exit(3)


def refusing(ledger: Ledger, cancelled) -> None:
    raise ClientRulesError("no such rule set")


def one_client(path) -> functools.partial[Ledger]:
    """What opens a new database of one client at ``path``."""
    with Ledger.open(path) as ledger:
        ledger.append([
            Event.new("acme", ClientOnboarded(name="Acme", monthly_value=900.0), "2026-01-05"),
            Event.new("acme", InvoiceIssued(invoice_id="A-1", amount=900.0, due_on="2026-02-01"), "2026-01-05"),
        ])
    return functools.partial(Ledger.open, str(path))


@pytest.fixture
def opener(tmp_path):
    return one_client(tmp_path / "apart.db")


def test_the_work_runs_in_another_process_at_a_lower_priority(opener):
    pid, niceness = run_apart(opener, where_and_how_nice, threading.Event(), name="a test")
    assert pid != os.getpid()
    assert niceness == os.nice(0) + NICENESS


def test_a_stopped_caller_gets_the_answer_of_work_that_stopped_when_told(opener):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert run_apart(opener, until_cancelled, stop, name="a test") == "cancelled"


def test_work_that_does_not_stop_when_told_is_ended(opener, monkeypatch):
    monkeypatch.setattr("clientrules.apart.STOP_SECONDS", 0.2)
    stop = threading.Event()
    stop.set()
    with pytest.raises(ClientRulesError, match=r"^the process for a test ended without finishing \(exit code -15\)$"):
        run_apart(opener, deaf, stop, name="a test")


def test_a_process_that_dies_is_an_error_for_the_caller_which_carries_on(opener):
    with pytest.raises(ClientRulesError, match=r"^the process for a test ended without finishing \(exit code 3\)$"):
        run_apart(opener, dying, threading.Event(), name="a test")
    assert run_apart(opener, where_and_how_nice, threading.Event(), name="a test")[0] != os.getpid()


def test_the_works_own_error_reaches_the_caller_in_its_words(opener):
    with pytest.raises(ClientRulesError, match=r"^no such rule set$"):
        run_apart(opener, refusing, threading.Event(), name="a test")


def test_a_ledger_keeps_its_history_apart_and_reads_it_for_its_own_backtests(opener):
    with opener() as ledger:
        assert ledger.store.read_kept_moments() is None
        assert ledger.keep_history_apart(threading.Event())
        assert ledger.store.read_kept_moments() is not None
        assert ledger.learning.keep_history()  # brought up to date from the store: nothing had moved


def test_keeping_again_apart_this_process_brings_its_moments_up_to_date_and_leaves_writing_them_to_the_other(
    opener, monkeypatch
):
    with opener() as ledger:
        assert ledger.keep_history_apart(threading.Event())
        ledger.append([Event.new("bolt", ClientOnboarded(name="Bolt", monthly_value=500.0), "2026-01-06")])
        written: list[bytes] = []
        write = ledger.store.write_kept_moments
        monkeypatch.setattr(ledger.store, "write_kept_moments", lambda data: written.append(data) or write(data))
        assert ledger.keep_history_apart(threading.Event())
        assert ledger.learning.keep_history()  # kept at the head already: nothing to keep or write
        assert written == []
    with opener() as fresh:
        monkeypatch.setattr(fresh.store, "write_kept_moments", lambda data: written.append(data))
        assert fresh.learning.keep_history()
        assert written == []  # the other process wrote them with Bolt: nothing had moved since


def test_the_moments_kept_apart_are_those_keep_history_keeps(opener, tmp_path):
    """The process apart keeps the moments without deciding at them (its caller does, as it reads them)."""
    with opener() as apart, one_client(tmp_path / "whole.db")() as whole:
        assert apart.learning.keep_moments() and whole.learning.keep_history()
        assert apart.store.read_kept_moments() == whole.store.read_kept_moments()


def test_a_ledger_in_memory_keeps_its_history_in_its_own_process():
    with Ledger.open("memory:") as ledger:
        ledger.append([Event.new("acme", ClientOnboarded(name="Acme", monthly_value=900.0), "2026-01-05")])
        assert ledger.keep_history_apart(threading.Event())
        assert ledger.store.read_kept_moments() is not None
