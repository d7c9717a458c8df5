"""The engine's child process (``python -m clientrules.adapters.engine_process``), started by
:class:`~clientrules.adapters.isolated.IsolatedEngine`: it reads pickled batches of facts on its standard
input and writes the rules fired on its standard output. No module of the library imports this one.
"""

from __future__ import annotations

import os
import sys
import types
from multiprocessing.connection import Connection

from clientrules.adapters.durable import DurableEngine, EngineError
from clientrules.adapters.isolated import ABORT_ON_CLIENT_ENV


def _serve(reader: Connection, writer: Connection, *, abort_on: str | None = None) -> None:
    """The child: read ``(version, ruleset)``, then decide each batch of ``(client, values)`` it is sent,
    until it is sent None or its input closes (``abort_on``: see :data:`ABORT_ON_CLIENT_ENV`)."""
    version, ruleset = reader.recv()
    engine = DurableEngine(types.SimpleNamespace(version=version, ruleset=ruleset))
    while True:
        try:
            batch = reader.recv()
        except EOFError:
            return
        if batch is None:
            return
        if abort_on is not None and any(client == abort_on for client, _ in batch):
            print("free(): invalid size (simulated)", file=sys.stderr, flush=True)
            os.abort()
        try:
            fired = [engine.fired(types.SimpleNamespace(values=values), client=client) for client, values in batch]
        except EngineError as error:
            writer.send(("error", str(error)))
        else:
            writer.send(("fired", fired))


if __name__ == "__main__":
    _input, _output = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything durable-rules prints goes to standard error, never into the answers
    _serve(_input, _output, abort_on=os.environ.get(ABORT_ON_CLIENT_ENV))
