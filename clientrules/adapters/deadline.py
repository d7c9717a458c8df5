"""A total deadline on a conversation over a socket (a webhook post, an SMTP session).

A socket's own timeout bounds each wait, not the whole: a receiver that
sends one header line every few seconds never lets a read time out. The
:class:`Deadline` shuts the socket down when the time is up, which ends any
read or write blocked on it, so the conversation fails at the deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Callable

Sockets = Callable[[], "socket.socket | None"]


class Deadline:
    """``with Deadline(seconds, sockets):`` shuts ``sockets()`` (the socket in use, once there is one) down after
    ``seconds``; :attr:`passed` says whether it did."""

    def __init__(self, seconds: float, sockets: Sockets) -> None:
        self.seconds = seconds
        self._sockets = sockets
        self._done = threading.Event()
        self._watch = threading.Thread(target=self._cut_when_due, name="deadline", daemon=True)
        self.passed = False

    def __enter__(self) -> Deadline:
        self._started = time.monotonic()
        self._watch.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._done.set()
        self._watch.join()

    def left(self) -> float:
        """Seconds left (at least a little, for a socket timeout)."""
        return max(self.seconds - (time.monotonic() - self._started), 0.001)

    def _cut_when_due(self) -> None:
        while not self._done.wait(min(self.left(), 0.05) if not self.passed else 0.05):
            if time.monotonic() - self._started >= self.seconds:
                self.passed = True
                connection = self._sockets()
                if connection is not None:
                    try:
                        connection.shutdown(socket.SHUT_RDWR)
                    except OSError:  # already closed
                        pass
                    return
