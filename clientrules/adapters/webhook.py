"""A signed webhook: one POST per decision change, signed as :mod:`clientrules.domain.alerts.signature` says.

Headers: ``Content-Type: application/json``, ``X-Clientrules-Timestamp``
(seconds since the epoch), ``X-Clientrules-Signature: sha256=<hex>`` over
``"<timestamp>.<body>"``, and ``X-Clientrules-Delivery`` (the change's id: the
same on every retry, for the receiver to de-duplicate). A 2xx answer is a
delivery; anything else (another status, a redirect, a timeout, a refused
connection) is a failure, retried later by the watcher.

Each post has a total deadline (:data:`TIMEOUT_SECONDS`) covering the
host's name resolution, the connection, the request, the status and the
headers (:mod:`clientrules.adapters.deadline`): a stalled resolver or a
receiver that dribbles its answer cannot hold the watcher longer.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import time
from typing import Iterator, Sequence
from urllib.parse import urlsplit

import attrs

from clientrules.domain.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, Change, sign
from clientrules.domain.alerts.digest import summary
from clientrules.adapters.deadline import Deadline, ResolutionTimeout, connect_to_any, resolve

DELIVERY_HEADER = "X-Clientrules-Delivery"
TIMEOUT_SECONDS = 10.0


def change_body(change: Change) -> bytes:
    """The webhook body of ``change``: its JSON (:meth:`Change.to_json`) and ``text``, the change in words
    (what a Slack incoming webhook shows), compact, UTF-8."""
    text = " ".join([f"{change.client}: {summary(change)}.", *(reason.sentence for reason in change.reasons)])
    return json.dumps({**change.to_json(), "text": text}, separators=(",", ":"), ensure_ascii=False).encode()


@attrs.frozen
class Webhook:
    """A :class:`~clientrules.application.alerts.Channel` posting each change to ``url``, signed with ``secret``.

    It stops at the first failure, so an endpoint that is down costs one
    timeout per delivery round, not one per change.
    """

    url: str
    secret: str = attrs.field(repr=False)
    timeout: float = TIMEOUT_SECONDS
    name: str = "webhook"

    def first_attempt(self, now: float) -> float:
        return now

    def deliver(self, changes: Sequence[Change]) -> Iterator[str | None]:
        for change in changes:
            error = self._post(change)
            yield error
            if error is not None:
                return

    def private_address(self) -> str | None:
        """The loopback, private or link-local address the URL's host names, if it names one (none: public)."""
        host = urlsplit(self.url).hostname or ""
        try:
            found = {str(info[4][0]) for info in resolve(host, 0, self.timeout)}
        except OSError:
            return None
        for address in sorted(found):
            parsed = ipaddress.ip_address(address.split("%")[0])
            if parsed.is_private or parsed.is_loopback or parsed.is_link_local or parsed.is_reserved:
                return address
        return None

    def _post(self, change: Change) -> str | None:
        """None once the receiver answered with a 2xx (a redirect is a failure: a POST must not turn into a GET
        elsewhere), else why not."""
        body = change_body(change)
        timestamp = int(time.time())
        parts = urlsplit(self.url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.hostname or "", parts.port, timeout=self.timeout)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "clientrules-webhook",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            DELIVERY_HEADER: change.id,
        }
        try:
            with Deadline(self.timeout, lambda: connection.sock) as deadline:
                try:
                    port = parts.port or connection.default_port
                    addresses = resolve(parts.hostname or "", port, deadline.left())
                    # the connection keeps the host's name (for Host and TLS) and connects to what was resolved
                    connection._create_connection = lambda *_: connect_to_any(addresses, deadline.left())  # type: ignore[attr-defined]
                    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                    connection.request("POST", target, body, headers)
                    status = connection.getresponse().status
                except ResolutionTimeout:
                    return f"no answer from {self.url} within {self.timeout:g} seconds"
                except (OSError, http.client.HTTPException) as error:
                    failure: str | None = f"cannot reach {self.url}: {error}"
                else:
                    failure = None if 200 <= status < 300 else f"HTTP {status} from {self.url}"
        finally:
            connection.close()
        if deadline.passed:  # even with a status: headers cut short end as if they were complete
            return f"no answer from {self.url} within {self.timeout:g} seconds"
        return failure
