"""``clientrules serve`` keeps watch by itself: with only the app running (a real process), a client whose
decision changes is on What changed and in the owner's digest (a real SMTP server); it shares the watch lease
with ``clientrules watch``, so the two never both process; ``--no-watch`` leaves watching to others."""

from __future__ import annotations

import datetime as dt
import email.utils
import http.cookiejar
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest
from survey_fixtures import csrf_token
from test_alerts import smtp_inbox  # noqa: F401  (the real SMTP server fixture)
from test_mail_smtp import free_port

from clientrules import ClientOnboarded, IncidentReported, Ledger

PASSWORD = "watching owner password"
DEADLINE_SECONDS = 60
#: how often serve's watcher looks at the clock; new events wake it at once
INTERVAL = "0.5"
#: What changed lists the last 90 days: the story happens this month
DAY = [(dt.date.today() - dt.timedelta(days=days)).isoformat() for days in range(30)]


def environment(**settings: str) -> dict[str, str]:
    """This machine's environment without its ``CLIENTRULES_*`` settings, plus ``settings``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CLIENTRULES_")}, **settings}


def digest_environment(port: int, **settings: str) -> dict[str, str]:
    """:func:`environment` with the owner's digest mailed to owner@studio.example, from Harbour Café Studio
    <hello@studio.example>, through the SMTP server on ``port``."""
    return environment(
        CLIENTRULES_DIGEST_TO="owner@studio.example",
        CLIENTRULES_MAIL_SERVER="127.0.0.1",
        CLIENTRULES_MAIL_PORT=str(port),
        CLIENTRULES_MAIL_FROM="hello@studio.example",
        CLIENTRULES_BUSINESS_NAME="Harbour Café Studio",
        **settings,
    )


class Served:
    """``clientrules serve`` in a child process, and an owner logged in to it."""

    def __init__(self, db_url: str, *extra: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        command = [sys.executable, "-m", "clientrules", "--db", db_url, "serve", "--port", str(self.port), *extra]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        wait_until(self.answers, "serve to answer", self)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("/healthz"), timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def get(self, path: str) -> str:
        with self.opener.open(self.url(path), timeout=30) as response:
            return response.read().decode()

    def log_in(self) -> None:
        token = csrf_token(self.get("/owner/login"))
        form = urllib.parse.urlencode({"csrf_token": token, "password": PASSWORD}).encode()
        with self.opener.open(self.url("/owner/login"), data=form, timeout=30) as response:
            assert response.url.endswith("/owner/"), "logged in"

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode()

    def stop(self) -> str:
        """Stop it as Ctrl-C does; what it wrote on stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=DEADLINE_SECONDS)
        return self.stderr()


def wait_until(condition, what: str, served: Served) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert served.process.poll() is None, f"serve stopped: {served.stderr()}"
        assert time.monotonic() < deadline, f"waited {DEADLINE_SECONDS} s for {what}: {served.stderr()}"
        time.sleep(0.1)


def watch_once(db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clientrules", "--db", db_url, "watch", "--once"],
        env=environment(), capture_output=True, text=True, timeout=DEADLINE_SECONDS,
    )


@pytest.fixture
def shop(db_url: str) -> str:
    """A database with two clients and an owner password."""
    with Ledger.open(db_url) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme Trading"), DAY[20])
        ledger.record("globex", ClientOnboarded(name="Globex"), DAY[20])
        ledger.surveys.owner.set_password(PASSWORD)
    return db_url


def test_with_only_serve_running_a_change_is_on_what_changed_and_in_the_digest(shop, smtp_inbox):  # noqa: F811
    controller, inbox = smtp_inbox
    served = Served(shop, "--watch-interval", INTERVAL, env=digest_environment(controller.port))
    try:
        served.log_in()
        with Ledger.open(shop) as ledger:
            wait_until(lambda: ledger.alerts.checkpoint() is not None, "the first look at every client", served)
            assert "No client's decision changed" in served.get("/owner/changes/")
            assert watch_once(shop).returncode != 0  # serve's watcher holds the lease: a second one is refused
            ledger.record("acme", IncidentReported(kind="abuse", against="staff", severity=3), DAY[2])
        wait_until(lambda: "/owner/clients/acme" in served.get("/owner/changes/"), "the change on What changed", served)
        wait_until(lambda: inbox.messages, "the digest", served)
    finally:
        log = served.stop()
    assert served.process.returncode == 0, log
    [(_, recipients, message)] = inbox.messages
    assert recipients == ["owner@studio.example"] and message["Subject"].startswith("1 client changed")
    assert email.utils.parseaddr(str(message["From"])) == ("Harbour Café Studio", "hello@studio.example")
    assert message["Message-ID"].endswith("@studio.example>")
    assert abs(email.utils.parsedate_to_datetime(message["Date"]).timestamp() - time.time()) < 3600
    assert "1 changed of" in log  # the watcher said what it did on serve's stderr


def test_serve_waits_while_a_separate_watcher_runs_and_takes_over_when_it_stops(shop):
    watcher = subprocess.Popen(
        [sys.executable, "-m", "clientrules", "--db", shop, "watch", "--interval", INTERVAL],
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    served = None
    try:
        with Ledger.open(shop) as ledger:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while ledger.alerts.checkpoint() is None:
                assert watcher.poll() is None and time.monotonic() < deadline, watcher.stderr
                time.sleep(0.1)
            served = Served(shop, "--watch-interval", INTERVAL, env=environment())
            ledger.record("acme", IncidentReported(kind="abuse", against="staff", severity=3), DAY[2])
            wait_until(lambda: len(ledger.alerts.changes()) == 1, "the separate watcher's change", served)
            watcher.send_signal(signal.SIGTERM)
            out, _ = watcher.communicate(timeout=DEADLINE_SECONDS)
            assert "acme  keep -> terminate" in out  # the separate watcher recorded it, serve waited
            ledger.record("globex", IncidentReported(kind="abuse", against="staff", severity=3), DAY[1])
            wait_until(lambda: len(ledger.alerts.changes()) == 2, "serve's watcher to take over", served)
            assert [change.client for change in ledger.alerts.changes()] == ["acme", "globex"]  # each once
    finally:
        watcher.kill()
        if served is not None:
            served.stop()


def test_serve_with_no_watch_leaves_the_lease_to_a_watcher_run_apart(shop):
    served = Served(shop, "--no-watch", env=environment())
    try:
        served.log_in()
        assert "Nothing is being watched yet" in served.get("/owner/changes/")
        done = watch_once(shop)
        assert done.returncode == 0, done.stderr  # the lease was free
        assert "No client's decision changed" in served.get("/owner/changes/")
    finally:
        served.stop()
