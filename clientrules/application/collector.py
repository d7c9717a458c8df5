"""Work that makes many objects in no cycle, run with Python's cyclic garbage collector held off.

A batch of decisions makes many short-lived objects (facts, standings,
decisions and their reasons) in no reference cycle: each is freed as soon as
it is dropped. The cyclic collector still walks them, and every object the
process holds, each time enough are made: about a tenth of an evaluation's
time, freeing nothing. So a batch runs with the collector held off, and it
runs again afterwards on whatever cycles were made meanwhile. Events read
back from a store are made the same way.

The collector is one per process: holds are counted across threads, and it is
enabled again when the last batch held ends, only if it was enabled when the
first began (a program that turned it off keeps it off).

A process forked to decide beside its caller starts with a copy of
everything the caller holds, shared with it until either writes to it; the
copy's collector would walk all of it, writing to each object it looks at, so
the two would end up with a page of their own for every page of the caller's
objects. Forked with the caller's objects frozen, the copy's collector walks
only what the copy makes.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator

_lock = threading.Lock()
_holds = 0
_was_enabled = False


@contextlib.contextmanager
def collector_held() -> Iterator[None]:
    """Run the block with the cyclic garbage collector held off (see the module)."""
    global _holds, _was_enabled
    with _lock:
        if _holds == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holds += 1
    try:
        yield
    finally:
        with _lock:
            _holds -= 1
            if _holds == 0 and _was_enabled:
                gc.enable()


@contextlib.contextmanager
def caller_frozen_while_forking() -> Iterator[None]:
    """Fork in the block with the caller's objects out of the copies' collector's reach (see the module).

    They are frozen (:func:`gc.freeze`) for the block and thawed right after it in the caller; the copies keep them
    frozen. A program that froze objects of its own (the ``clientrules`` command does) is left as it is: thawing
    would undo its freeze, so only what it froze stays out of the copies' reach.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
