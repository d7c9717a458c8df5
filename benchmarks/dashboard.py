"""The owner's dashboard on a large portfolio: ``GET /owner/`` against ``GET /healthz`` of the same server.

A real server, ``clientrules serve`` (waitress) in a process of its own, on a
database of ``dashboard_clients`` clients (~8 events each), one logged-in
owner on loopback asking one page after another: the default view (needs
attention first), a search, a filter and a later page, in turn. The first
request starts deciding every client in the background (the page says how
far it has come) and the benchmark waits until they all are; the time until
then is reported apart, in the notes.

Then the server is stopped and started again, and its first ``GET /owner/``
is timed against the warm dashboard: it must answer from the standings kept
in the database, not decide every client again.

Then, on the same warm server, once its log says it kept the history for rule
previews (it does at the start, in the background, and again after something
new is recorded; the time it took is reported in the notes), the owner
previews a rule change (one threshold of the default rules lowered) and the
time until the whole preview is there is timed: its first answer sends the
owner to the preview's page, which says how far it has come while the
preview is made in the background, and the benchmark asks for it until it is made. Then the first ``GET
/owner/learning/`` is timed: the report is built in the background, and the
first answer says how far it has come.

Then a rule change is adopted (as the owner does from the preview) and the
first request after it is timed against the warm dashboard: it must answer
with the standings it has while every client is decided again in the
background, not wait for them.
"""

from __future__ import annotations

import html
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
from benchmarks.survey import start_server, wait_until_history_kept
from clientrules import Ledger
from clientrules.domain.events.jsonl import event_from_json

NAME = "dashboard"
PASSWORD = "dashboard benchmark owner"
#: the views asked for in turn
VIEWS = ("/owner/", "/owner/?q=c0001", "/owner/?verdict=renegotiate", "/owner/?sort=value&page=3")
#: what the dashboard says while every client is decided for the first time
FIRST_TIME = "Deciding every client for the first time"
#: the rule whose threshold the previewed change lowers, and what its preview page says while it is made
PREVIEWED_RULE = "chronic-late-payer"
PREVIEW_MADE_MEANWHILE = "Working out"
#: what the learning page says while its report is built
REPORT_BUILT_MEANWHILE = "history for this report"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_DESCRIPTION = re.compile(r'name="description" value="([^"]*)"')
_ADVICE = re.compile(r'<textarea[^>]*name="advice"[^>]*>(.*?)</textarea>', re.S)


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
        #: where the last answer sent the browser, if it did
        self.location = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8")
        self.location = response.getheader("Location") or ""
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
        status, _ = self.request("POST", "/owner/login", urlencode({"csrf_token": _token(page), "password": PASSWORD}))
        if status != 303:
            raise RuntimeError(f"the owner could not log in ({status})")


def _token(page: str) -> str:
    token = _TOKEN.search(page)
    if token is None:
        raise RuntimeError("the page has no CSRF token")
    return token.group(1)


def preview_a_rule_change(browser: Browser) -> tuple[float, float]:
    """Preview the default rules with one threshold lowered, as the owner does from the rule's page: the
    milliseconds until the first answer and until the whole preview is there."""
    path = f"/owner/rules/{PREVIEWED_RULE}/edit"
    _, page = browser.request("GET", path)
    description, advice = _DESCRIPTION.search(page), _ADVICE.search(page)
    if description is None or advice is None:
        raise RuntimeError(f"{path} has no description or advice box")
    form = {"csrf_token": _token(page), "enabled": "yes", "thresholds-0": "2",
            "description": html.unescape(description.group(1)), "advice": html.unescape(advice.group(1))}
    started = time.perf_counter()
    status, answer = browser.request("POST", path, urlencode(form))
    first = (time.perf_counter() - started) * 1000
    if status == 303:
        location = browser.location
        status, answer = browser.request("GET", location)
        while PREVIEW_MADE_MEANWHILE in answer:
            time.sleep(0.1)
            status, answer = browser.request("GET", location)
    if status != 200 or "Adopt as version" not in answer:
        raise RuntimeError(f"the preview of a rule change answered {status} without the preview")
    return first, (time.perf_counter() - started) * 1000


def first_learning_answer(browser: Browser) -> tuple[float, float]:
    """The milliseconds until the learning page's first answer, and until its report is built."""
    started = time.perf_counter()
    first = browser.timed_get("/owner/learning/")
    while REPORT_BUILT_MEANWHILE in browser.request("GET", "/owner/learning/")[1]:
        time.sleep(0.5)
    return first, (time.perf_counter() - started) * 1000


def run(context: Context) -> list[Row]:
    scale = context.scale
    database = context.workdir / "dashboard.db"
    in_fresh_process(make_portfolio, database, scale.dashboard_clients)
    log = context.workdir / "dashboard-server.log"
    server, port = start_server(database, log)
    try:
        browser = Browser(port)
        browser.log_in()
        first = wait_until_decided(browser)
        history_kept = wait_until_history_kept(log)
        dashboard = [browser.timed_get(VIEWS[n % len(VIEWS)]) for n in range(scale.dashboard_requests)]
        health = [browser.timed_get("/healthz") for _ in range(scale.dashboard_requests)]
        preview_first, preview = preview_a_rule_change(browser)
        learning_first, learning_built = first_learning_answer(browser)
    finally:
        server.terminate()
        server.wait(timeout=30)
    server, port = start_server(database, log)
    try:
        browser = Browser(port)
        browser.log_in()
        after_start = browser.timed_get("/owner/")
        if FIRST_TIME in browser.request("GET", "/owner/")[1]:
            raise RuntimeError("the dashboard decided every client again after a start")
        adopt_a_rule_change(database)
        after_adoption = browser.timed_get("/owner/")
    finally:
        server.terminate()
        server.wait(timeout=30)
    notes = (f"{scale.dashboard_requests} requests each, one after another on one connection; views in turn: "
             f"{', '.join(VIEWS)}; dashboard p95 {statistics.quantiles(dashboard, n=20)[-1]:.1f} ms; "
             f"every client decided the first time (in the background, progress shown) in {first:,.0f} ms")
    return [
        Row(NAME, f"dashboard at {scale.dashboard_clients:,} clients, median",
            "GET /owner/ (totals per verdict, search, filter, order, a page of 50), logged in, waitress on loopback",
            Figure(statistics.median(dashboard), "ms"), "GET /healthz, same server", Figure(statistics.median(health), "ms"),
            Target("<=", 100.0, "ours"), notes=notes),
        Row(NAME, f"dashboard at {scale.dashboard_clients:,} clients, first answer after a start",
            "GET /owner/ first after the server was started again (standings kept in the database)",
            Figure(after_start, "ms"), "the warm GET /owner/ median, same server", Figure(statistics.median(dashboard), "ms"),
            Target("<=", 10.0), notes="one request, to a server started again on the same database"),
        Row(NAME, f"dashboard at {scale.dashboard_clients:,} clients, first answer after a rule adoption",
            "GET /owner/ just after a new rule-set version was adopted (standings refreshed in the background)",
            Figure(after_adoption, "ms"), "the warm GET /owner/ median, same server", Figure(statistics.median(dashboard), "ms"),
            Target("<=", 10.0), notes="one request"),
        Row(NAME, f"rule preview at {scale.dashboard_clients:,} clients",
            "POST of a rule's page with one threshold lowered, until the whole preview (today's decisions that change, "
            "the backtest over the stored history) is there, on a server that kept the history for previews; made in "
            "the background, its page asked for every 0.1 s",
            Figure(preview, "ms"), "GET /healthz, same server", Figure(statistics.median(health), "ms"),
            Target("<=", 3000.0, "ours"),
            notes=f"first answer (sent to the preview's page, progress shown) in {preview_first:,.0f} ms; the server's log "
                  f"said it {history_kept}"),
        Row(NAME, f"learning page at {scale.dashboard_clients:,} clients, first answer",
            "GET /owner/learning/ first on a server that has not built its report (built in the background, progress shown)",
            Figure(learning_first, "ms"), "GET /healthz, same server", Figure(statistics.median(health), "ms"),
            Target("<=", 2000.0, "ours"), notes=f"the report was built in {learning_built:,.0f} ms, asked for every 0.5 s"),
    ]


def wait_until_decided(browser: Browser) -> float:
    """Ask for the dashboard until every client was decided the first time; the milliseconds it took."""
    started = time.perf_counter()
    while FIRST_TIME in browser.request("GET", "/owner/")[1]:
        time.sleep(0.5)
    return (time.perf_counter() - started) * 1000


def adopt_a_rule_change(path: Path) -> None:
    """Adopt the current rules with one threshold changed, as the owner does from the preview."""
    with Ledger.open(path) as ledger:
        source = ledger.rules.current().ruleset.source
        ledger.rules.use(source.replace("late_invoices_12m >= 3", "late_invoices_12m >= 2"), note="benchmark")
