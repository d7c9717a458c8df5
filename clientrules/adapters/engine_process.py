"""The engine's child process (``python -m clientrules.adapters.engine_process``), started by
:class:`~clientrules.adapters.isolated.IsolatedEngine`: it reads pickled batches of facts on its standard
input and writes the rules fired on its standard output. No module of the library imports this one.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection

from clientrules.adapters.durable_run import DurableRun
from clientrules.domain.errors import EngineError


def serve(reader: Connection, writer: Connection) -> None:
    """The child: read a compiled rule set (:mod:`clientrules.adapters.durable_compile`: plain data), then decide
    each batch of ``(client, values)`` it is sent, until it is sent None or its input closes."""
    run = DurableRun(reader.recv())
    while True:
        try:
            batch = reader.recv()
        except EOFError:
            return
        if batch is None:
            return
        try:
            fired = [run.fired(values, client=client) for client, values in batch]
        except EngineError as error:
            writer.send(("error", str(error)))
        else:
            writer.send(("fired", fired))


def standard_streams() -> tuple[Connection, Connection]:
    """The connections to the parent: standard input and output (what durable-rules prints goes to standard error)."""
    reader, writer = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything durable-rules prints goes to standard error, never into the answers
    return reader, writer


if __name__ == "__main__":
    serve(*standard_streams())
