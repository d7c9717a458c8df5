"""The server's own threads (the watcher, the history kept for previews): started with it, stopped with it."""

from __future__ import annotations

import threading

#: how long stopping waits for the work under way to reach a point where it can stop
STOP_SECONDS = 10.0


class BackgroundThread:
    """A daemon thread running :meth:`_run` until :meth:`stop`; ``_stop`` is set when it should end."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_SECONDS)

    def _run(self) -> None:
        raise NotImplementedError
