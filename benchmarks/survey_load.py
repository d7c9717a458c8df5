"""The survey benchmark's load generator: simulated respondents on keep-alive HTTP connections, one thread each.

Each respondent loops until the deadline: ``GET /s/<token>`` of a fresh link
(a new browser session: no cookie), then ``POST`` of a valid answer with the
page's CSRF token and the session cookie it set (expecting the 303 to the
thank-you page). Against the health endpoint it sends ``GET /healthz`` twice
per loop instead. Every request's latency is kept; anything but the expected
status, or a failed connection, is an error.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from typing import Iterator
from urllib.parse import urlencode

import attrs

CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
ANSWERS = {
    "primary_reason": "missed_deadlines",
    "other_reasons": "poor_communication",
    "rating_communication": "2",
    "rating_timeliness": "1",
    "rating_quality": "4",
    "rating_value": "3",
    "recommend": "5",
    "would_return": "maybe",
    "what_to_change": "Tell us early when a deadline slips.",
    "may_contact": "y",
}
TIMEOUT = 30.0


@attrs.define
class Load:
    """What one load process saw."""

    #: by request method
    latencies_ms: dict[str, list[float]] = attrs.field(factory=lambda: {"GET": [], "POST": []})
    errors: list[str] = attrs.field(factory=list)
    round_trips: int = 0
    ran_out_of_links: bool = False

    def all_latencies(self) -> list[float]:
        return [latency for latencies in self.latencies_ms.values() for latency in latencies]


class _Respondent:
    def __init__(self, port: int, load: Load, lock: threading.Lock) -> None:
        self.port = port
        self.load = load
        self.lock = lock
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)

    def request(self, method: str, path: str, expected: int, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes] | None:
        """The response and its body, or None after counting an error."""
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers or {})
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            self._error(f"{method} {path[:12]}: {error!r}")
            return None
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.load.latencies_ms[method].append(elapsed)
        if response.status != expected:
            self._error(f"{method} {path[:12]}: status {response.status}")
            return None
        return response, content

    def _error(self, what: str) -> None:
        with self.lock:
            self.load.errors.append(what)

    def survey_round_trip(self, token: str) -> None:
        answer = self.request("GET", f"/s/{token}", 200)
        if answer is None:
            return
        page, content = answer
        found = CSRF.search(content)
        cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
        if found is None or not cookie:
            self._error("GET: no CSRF token or session cookie in the form page")
            return
        form = urlencode({**ANSWERS, "csrf_token": found.group(1).decode()})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        self.request("POST", f"/s/{token}", 303, body=form, headers=headers)

    def health_round_trip(self) -> None:
        for _ in range(2):
            self.request("GET", "/healthz", 200)


def generate_load(port: int, mode: str, tokens: list[str], respondents: int, start_at: float, seconds: float) -> Load:
    """Run ``respondents`` threads from wall-clock ``start_at`` for ``seconds``; ``mode`` is "survey" or "health"."""
    load = Load()
    lock = threading.Lock()
    links: Iterator[str] = iter(tokens)
    deadline = start_at + seconds

    def respondent() -> None:
        client = _Respondent(port, load, lock)
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < deadline:
            if mode == "health":
                client.health_round_trip()
            else:
                with lock:
                    token = next(links, None)
                if token is None:
                    load.ran_out_of_links = True
                    break
                client.survey_round_trip(token)
            with lock:
                load.round_trips += 1
        client.connection.close()

    threads = [threading.Thread(target=respondent) for _ in range(respondents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load
