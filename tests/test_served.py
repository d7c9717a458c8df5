"""``clientrules serve`` as a real process behind a (simulated) reverse proxy: forwarded headers believed only
with ``CLIENTRULES_TRUSTED_PROXIES``, the login lockout per client address, and hostile rule previews that leave
the server answering."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
from survey_fixtures import csrf_token

from clientrules import ClientOnboarded, Ledger
from clientrules.domain.rules import default_ruleset_text

PASSWORD = "a proper owner password"
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def owner_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("served") / "served.db"
    with Ledger.open(str(db)) as ledger:
        ledger.record("acme", ClientOnboarded(name="Acme"), "2026-01-01")
        ledger.surveys.owner.set_password(PASSWORD)
    return db


class Served:
    """A running ``clientrules serve`` on a free port."""

    def __init__(self, db: Path, **settings: str) -> None:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("CLIENTRULES_")}
        environment.update(settings)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clientrules", "--db", str(db), "serve", "--port", "0"],
            stderr=subprocess.PIPE, text=True, env=environment,
        )
        lines: list[str] = []
        while not any("serving" in line for line in lines):
            line = self.process.stderr.readline()
            assert line, f"serve exited: {lines}"
            lines.append(line)
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", lines[-1]).group(1))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=WAIT_SECONDS)


class Browser:
    """One client of the server: keeps its session cookie; sends what a proxy in front would add."""

    def __init__(self, served: Served, **forwarded: str) -> None:
        self.port = served.port
        self.headers = {f"X-Forwarded-{key.title()}": value for key, value in forwarded.items()}
        self.cookie = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT_SECONDS)
        headers = {**self.headers, **({"Cookie": self.cookie} if self.cookie else {})}
        body = None
        if form is not None:
            from urllib.parse import urlencode

            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        text = response.read().decode()
        received = {key.lower(): value for key, value in response.getheaders()}
        if "set-cookie" in received:
            self.cookie = received["set-cookie"].split(";")[0]
        connection.close()
        return response.status, received, text

    def log_in(self, password: str) -> int:
        _, _, page = self.request("GET", "/owner/login")
        status, _, _ = self.request("POST", "/owner/login", {"csrf_token": csrf_token(page), "password": password})
        return status


@pytest.fixture
def behind_proxy(owner_db: Path, tmp_path: Path) -> Iterator[Served]:
    db = tmp_path / "served.db"
    db.write_bytes(owner_db.read_bytes())
    served = Served(db, CLIENTRULES_TRUSTED_PROXIES="1")
    yield served
    served.stop()


def test_behind_a_trusted_proxy_the_session_cookie_is_secure_over_https(behind_proxy: Served) -> None:
    _, headers, _ = Browser(behind_proxy, proto="https", **{"for": "203.0.113.7"}).request("GET", "/owner/login")
    assert "; Secure" in headers["set-cookie"]
    _, headers, _ = Browser(behind_proxy, proto="http", **{"for": "203.0.113.7"}).request("GET", "/owner/login")
    assert "Secure" not in headers["set-cookie"]


def test_behind_a_trusted_proxy_the_lockout_is_per_client_address(behind_proxy: Served) -> None:
    guesser = Browser(behind_proxy, **{"for": "203.0.113.66"})
    assert [guesser.log_in("wrong guess") for _ in range(5)] == [400] * 5
    assert guesser.log_in(PASSWORD) == 429  # this address is locked out, even with the right password
    assert Browser(behind_proxy, **{"for": "198.51.100.20"}).log_in(PASSWORD) == 303  # the owner is not


def test_without_trusted_proxies_forwarded_headers_are_not_believed(owner_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    db.write_bytes(owner_db.read_bytes())
    served = Served(db)
    try:
        _, headers, _ = Browser(served, proto="https").request("GET", "/owner/login")
        assert "Secure" not in headers["set-cookie"]
        for n in range(5):
            assert Browser(served, **{"for": f"203.0.113.{n}"}).log_in("wrong guess") == 400
        assert Browser(served, **{"for": "198.51.100.20"}).log_in(PASSWORD) == 429  # one address: the proxy's
    finally:
        served.stop()


HOSTILE_DRAFT = '{% set s = "xx" %}' + "{% set s = s ~ s %}" * 27 + "{{ s }}"


def test_hostile_rule_previews_leave_the_server_answering(behind_proxy: Served) -> None:
    owner = Browser(behind_proxy)
    assert owner.log_in(PASSWORD) == 303
    _, _, rules_page = owner.request("GET", "/owner/rules")
    candidate = default_ruleset_text() + f"\n[drafts]\nmeeting_agenda = {json.dumps(HOSTILE_DRAFT)}\n"
    answers: list[int] = []

    def preview() -> None:
        status, _, _ = owner.request(
            "POST", "/owner/rules/adopt", {"csrf_token": csrf_token(rules_page), "candidate": candidate, "note": ""}
        )
        answers.append(status)

    previews = [threading.Thread(target=preview) for _ in range(4)]
    for thread in previews:
        thread.start()
    health = []
    while any(thread.is_alive() for thread in previews) or len(health) < 3:
        status, _, body = Browser(behind_proxy).request("GET", "/healthz")
        health.append((status, body.strip()))
    for thread in previews:
        thread.join()
    assert answers == [400] * 4  # each refused, nothing adopted
    assert set(health) == {(200, "ok")}
