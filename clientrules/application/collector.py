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
