"""A real local HTTP server that receives webhooks, checks their signatures, and answers as told."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import attrs

from clientrules.adapters.webhook import DELIVERY_HEADER
from clientrules.domain.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = "whsec-test-secret"


@attrs.define
class Received:
    """One POST: the change id it carried, its raw body, and whether its signature was right."""

    delivery: str
    body: bytes
    signed: bool
    status: int


class Receiver:
    """Keeps every POST; answers each with the next of ``statuses`` (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[Received] = []
        self.statuses = list(statuses or [])
        self._lock = threading.Lock()
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (a crash test kills it): nothing was delivered
                    return
                signed = verify(
                    SECRET,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                    now=time.time(),
                )
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(Received(self.headers.get(DELIVERY_HEADER, ""), body, signed, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clientrules"

    def delivered(self) -> list[str]:
        """The change ids of the POSTs answered with a 2xx."""
        with self._lock:
            return [r.delivery for r in self.received if 200 <= r.status < 300]


def running_receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(statuses)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
