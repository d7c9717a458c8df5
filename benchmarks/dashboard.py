"""The owner's dashboard on a large portfolio: ``GET /owner/`` against ``GET /healthz`` of the same server.

A real server, ``clientrules serve`` (waitress) in a process of its own, on a
database of ``dashboard_clients`` clients (~8 events each), one logged-in
owner on loopback asking one page after another: the default view (needs
attention first), a search, a filter and a later page, in turn. The first
request decides every client (the standings are then kept up to date
incrementally); it is reported apart, in the notes.

Then a rule change is adopted (as the owner does from the preview) and the
first request after it is timed against the warm dashboard: it must answer
with the standings it has while every client is decided again in the
background, not wait for them.
"""

from __future__ import annotations

import http.client
import re
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.history import history
from benchmarks.measure import in_fresh_process
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from benchmarks.survey import start_server
from clientrules import Ledger
from clientrules.domain.events.jsonl import event_from_json

NAME = "dashboard"
PASSWORD = "dashboard benchmark owner"
#: the views asked for in turn
VIEWS = ("/owner/", "/owner/?q=c0001", "/owner/?verdict=renegotiate", "/owner/?sort=value&page=3")
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def make_portfolio(path: Path, clients: int) -> None:
    """A database of ``clients`` clients with ~8 events each, and the owner's password."""
    with Ledger.open(path) as ledger:
        ledger.append([event_from_json(line) for line in history(clients, clients * 8, long_every=0)])
        ledger.surveys.owner.set_password(PASSWORD)


class Browser:
    """One keep-alive connection with the owner's session cookie."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8")
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text

    def timed_get(self, path: str) -> float:
        started = time.perf_counter()
        status, _ = self.request("GET", path)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return elapsed

    def log_in(self) -> None:
        _, page = self.request("GET", "/owner/login")
        token = _TOKEN.search(page)
        if token is None:
            raise RuntimeError("the login page has no CSRF token")
        status, _ = self.request("POST", "/owner/login", urlencode({"csrf_token": token.group(1), "password": PASSWORD}))
        if status != 303:
            raise RuntimeError(f"the owner could not log in ({status})")


def run(context: Context) -> list[Row]:
    scale = context.scale
    database = context.workdir / "dashboard.db"
    in_fresh_process(make_portfolio, database, scale.dashboard_clients)
    server, port = start_server(database, context.workdir / "dashboard-server.log")
    try:
        browser = Browser(port)
        browser.log_in()
        first = browser.timed_get("/owner/")
        dashboard = [browser.timed_get(VIEWS[n % len(VIEWS)]) for n in range(scale.dashboard_requests)]
        health = [browser.timed_get("/healthz") for _ in range(scale.dashboard_requests)]
        adopt_a_rule_change(database)
        after_adoption = browser.timed_get("/owner/")
    finally:
        server.terminate()
        server.wait(timeout=30)
    notes = (f"{scale.dashboard_requests} requests each, one after another on one connection; views in turn: "
             f"{', '.join(VIEWS)}; dashboard p95 {statistics.quantiles(dashboard, n=20)[-1]:.1f} ms; "
             f"the first request (every client decided) {first:,.0f} ms")
    return [
        Row(NAME, f"dashboard at {scale.dashboard_clients:,} clients, median",
            "GET /owner/ (totals per verdict, search, filter, order, a page of 50), logged in, waitress on loopback",
            Figure(statistics.median(dashboard), "ms"), "GET /healthz, same server", Figure(statistics.median(health), "ms"),
            Target("<=", 100.0, "ours"), notes=notes),
        Row(NAME, f"dashboard at {scale.dashboard_clients:,} clients, first answer after a rule adoption",
            "GET /owner/ just after a new rule-set version was adopted (standings refreshed in the background)",
            Figure(after_adoption, "ms"), "the warm GET /owner/ median, same server", Figure(statistics.median(dashboard), "ms"),
            Target("<=", 10.0), notes="one request"),
    ]


def adopt_a_rule_change(path: Path) -> None:
    """Adopt the current rules with one threshold changed, as the owner does from the preview."""
    with Ledger.open(path) as ledger:
        source = ledger.rules.current().ruleset.source
        ledger.rules.use(source.replace("late_invoices_12m >= 3", "late_invoices_12m >= 2"), note="benchmark")
