"""A total deadline on a conversation over a socket (a webhook post, an SMTP session).

A socket's own timeout bounds each wait, not the whole: a receiver that
sends one header line every few seconds never lets a read time out. The
:class:`Deadline` shuts the socket down when the time is up, which ends any
read or write blocked on it, so the conversation fails at the deadline.
Name resolution has no socket to shut: :func:`resolve` asks for the
addresses in a thread of its own and waits for them only as long as the
deadline leaves (a stalled resolver is left behind, never waited for).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Callable

Sockets = Callable[[], "socket.socket | None"]
#: what :func:`socket.getaddrinfo` gives for each address: family, type, protocol, canonical name, socket address
AddressInfo = tuple[Any, ...]


class ResolutionTimeout(OSError):
    """The host's addresses did not come within the time given."""


def resolve(host: str, port: int, seconds: float) -> list[AddressInfo]:
    """The TCP addresses of ``host``, as :func:`socket.getaddrinfo` finds them, within ``seconds``
    (else :class:`ResolutionTimeout`; a resolver's own error is raised as it is)."""
    found: list[AddressInfo] = []
    failed: list[OSError] = []

    def look_up() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as error:
            failed.append(error)

    looking = threading.Thread(target=look_up, name="resolve", daemon=True)
    looking.start()
    looking.join(seconds)
    if looking.is_alive():
        raise ResolutionTimeout(f"{host} was not resolved within {seconds:g} seconds")
    if failed:
        raise failed[0]
    return found


def connect_to_any(addresses: list[AddressInfo], timeout: float) -> socket.socket:
    """A connected socket to the first of ``addresses`` that answers (the last error if none does)."""
    error: OSError = OSError("no address to connect to")
    for family, kind, protocol, _, address in addresses:
        connection = socket.socket(family, kind, protocol)
        try:
            connection.settimeout(timeout)
            connection.connect(address)
            return connection
        except OSError as refused:
            connection.close()
            error = refused
    raise error


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
