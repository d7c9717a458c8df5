"""An engine child that aborts, as a heap corruption makes durable-rules abort, when asked about one client.

``python aborting_engine.py CLIENT`` serves like ``clientrules.adapters.engine_process``
until a batch names CLIENT; :func:`factory` builds engines whose child it is.
"""

from __future__ import annotations

import functools
import os
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from clientrules.adapters.engine_process import serve, standard_streams
from clientrules.adapters.isolated import IsolatedEngine

SCRIPT = Path(__file__).resolve()


def factory(doomed: str) -> Any:
    """An engine factory (picklable: worker processes get it too) whose children abort on ``doomed`` (``*``: on anyone)."""
    return functools.partial(IsolatedEngine, command=(sys.executable, str(SCRIPT), doomed))


class _Doomed:
    """The parent's connection, which aborts the process when a batch names the doomed client."""

    def __init__(self, reader: Connection, doomed: str) -> None:
        self._reader = reader
        self._doomed = doomed

    def recv(self) -> Any:
        received = self._reader.recv()
        if isinstance(received, list) and any(self._doomed in (client, "*") for client, _ in received):
            print("free(): invalid size (simulated)", file=sys.stderr, flush=True)
            os.abort()
        return received


if __name__ == "__main__":
    reader, writer = standard_streams()
    serve(_Doomed(reader, sys.argv[1]), writer)
