"""The cyclic garbage collector held off while a batch is decided: counted across threads, restored as it was."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from clientrules import Ledger
from clientrules.application.collector import collector_held
from clientrules.domain.events import Event, WorkLogged


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_held_while_a_block_runs_and_enabled_after_even_when_it_raises() -> None:
    with collector_held():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_held():
        raise ValueError("a batch that fails")
    assert gc.isenabled()


def test_enabled_again_only_when_the_last_of_overlapping_holds_ends() -> None:
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_held():
            first_in.set()
            second_done.wait(10)
            seen.append(gc.isenabled())  # the other thread's hold ended; this one still holds

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(10)
    with collector_held():
        pass
    second_done.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_a_program_that_turned_the_collector_off_keeps_it_off() -> None:
    gc.disable()
    with collector_held():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_no_collection_runs_while_stored_events_are_read_back(store_url) -> None:
    """Events read back are objects in no cycle: the collector is held while the rows become events, on every
    backend, and enabled again afterwards."""
    events = [Event.new("acme", WorkLogged(hours=1.5, billable=True), f"2026-03-01T00:00:{n % 60:02d}Z")
              for n in range(3_000)]
    while_decoding: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        frame = sys._getframe()
        while phase == "start" and frame is not None:
            if frame.f_code.co_name == "_decoded":
                while_decoding.append(info["generation"])
            frame = frame.f_back

    with Ledger.open(store_url) as ledger:
        ledger.append(events)
        gc.callbacks.append(note)
        try:
            read = ledger.events("acme")
        finally:
            gc.callbacks.remove(note)
    assert len(read) == 3_000
    assert while_decoding == []
    assert gc.isenabled()
