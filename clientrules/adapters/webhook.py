"""A signed webhook: one POST per decision change, signed as :mod:`clientrules.domain.alerts.signature` says.

Headers: ``Content-Type: application/json``, ``X-Clientrules-Timestamp``
(seconds since the epoch), ``X-Clientrules-Signature: sha256=<hex>`` over
``"<timestamp>.<body>"``, and ``X-Clientrules-Delivery`` (the change's id: the
same on every retry, for the receiver to de-duplicate). A 2xx answer is a
delivery; anything else (another status, a redirect, a timeout, a refused
connection) is a failure, retried later by the watcher.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Sequence

import attrs

from clientrules.domain.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, Change, sign
from clientrules.domain.alerts.digest import summary

DELIVERY_HEADER = "X-Clientrules-Delivery"
TIMEOUT_SECONDS = 10.0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as a failure: a POST must not silently turn into a GET elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


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

    def deliver(self, changes: Sequence[Change]) -> list[str | None]:
        outcomes: list[str | None] = []
        for change in changes:
            error = self._post(change)
            outcomes.append(error)
            if error is not None:
                break
        return outcomes

    def _post(self, change: Change) -> str | None:
        body = change_body(change)
        timestamp = int(time.time())
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "clientrules-webhook",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(self.secret, timestamp, body),
                DELIVERY_HEADER: change.id,
            },
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code} from {self.url}"
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return f"cannot reach {self.url}: {reason}"
        return None if 200 <= status < 300 else f"HTTP {status} from {self.url}"
