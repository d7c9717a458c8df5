"""Deliveries with deadlines, through real sockets and real processes: a receiver that dribbles its answer is
cut off at the deadline (webhook and SMTP), a held post neither stalls the passes nor outlives SIGTERM, each
post is marked delivered as it succeeds (a watcher killed mid-batch posts again only the one it had not
marked), and a webhook on a private address is warned of."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from typing import Iterator

import pytest
from webhook_receiver import SECRET

from clientrules import ClientOnboarded, ContractBreached, Ledger

from clientrules.adapters.mail import MailError, SmtpMailer
from clientrules.adapters.webhook import DELIVERY_HEADER, Webhook

AS_OF = "2026-06-01"
WAIT_SECONDS = 60


class SlowReceiver:
    """A socket server that reads each request whole, then answers the first ``answered`` at once with 200
    and, for the others, only starts an answer: one header line every half second, ``lines`` times at most,
    or nothing at all (``lines=0``) until the client hangs up."""

    def __init__(self, *, answered: int = 0, lines: int = 0, greeting: bytes = b"HTTP/1.1 200 OK\r\n") -> None:
        self.answered = answered
        self.lines = lines
        self.greeting = greeting
        self.posted: list[str] = []
        self.held = threading.Event()
        self.lines_sent = 0
        self.hung_up = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            delivery = self._read_request(connection) if self.greeting.startswith(b"HTTP") else ""
            with self._lock:
                self.posted.append(delivery)
                answer_now = len(self.posted) <= self.answered
            if answer_now:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.held.set()
            try:
                connection.sendall(self.greeting)
                for _ in range(self.lines):
                    time.sleep(0.5)
                    connection.sendall(b"X-Still-Thinking: yes\r\n" if self.greeting.startswith(b"HTTP") else b"220-wait\r\n")
                    self.lines_sent += 1
                connection.settimeout(WAIT_SECONDS)
                while connection.recv(4096):
                    pass
            except OSError:
                pass
            self.hung_up.set()

    @staticmethod
    def _read_request(connection: socket.socket) -> str:
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line
        )
        length = int(headers.get("Content-Length", "0"))
        while len(body) < length:
            body += connection.recv(4096)
        return headers.get(DELIVERY_HEADER, "")

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("CLIENTRULES_")}


def breaches(ledger: Ledger, count: int) -> list[str]:
    """``count`` clients who breach their contract after the baseline: a change each."""
    ledger.record("first", ClientOnboarded(name="First"), "2026-01-01")
    ledger.alerts.once(as_of=AS_OF)
    clients = [f"c{n:02d}" for n in range(count)]
    for client in clients:
        ledger.record(client, ClientOnboarded(name=client), "2026-05-01")
        ledger.record(client, ContractBreached(clause="4.1"), "2026-05-02")
    return clients


def wait_until(condition, what: str, child: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT_SECONDS} s for {what}"
        assert child is None or child.poll() is None, child.stderr.read() if child and child.stderr else ""
        time.sleep(0.02)


def watch(url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "clientrules", "--db", url, "watch", "--as-of", AS_OF, *extra]


def follower(url: str, receiver: SlowReceiver, environment: dict[str, str]) -> subprocess.Popen:
    """A following ``clientrules watch`` posting to ``receiver`` (``environment`` gets its settings)."""
    environment.update(
        CLIENTRULES_WEBHOOK_URL=receiver.url, CLIENTRULES_WEBHOOK_SECRET=SECRET, CLIENTRULES_WEBHOOK_ALLOW_PRIVATE="1"
    )
    return subprocess.Popen(
        watch(url, "--interval", "0.3"), env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def test_a_receiver_that_dribbles_its_headers_is_cut_off_at_the_deadline(db_url: str) -> None:
    receiver = SlowReceiver(lines=60)  # 30 seconds of header lines, each well within any socket timeout
    try:
        with Ledger.open(db_url) as ledger:
            breaches(ledger, 1)
            _, delivered = ledger.alerts.once(channels=[Webhook(receiver.url, SECRET, timeout=1.0)], as_of=AS_OF)
            assert (delivered.delivered, delivered.failed) == (0, 1)
            (rows,) = ledger.alerts.deliveries(ledger.alerts.changes()).values()
            assert rows[0].last_error == f"no answer from {receiver.url} within 1 seconds"
            assert rows[0].delivered_at is None  # retried later
        assert receiver.hung_up.wait(WAIT_SECONDS)
        assert receiver.lines_sent < 60, "the post waited for the whole dribble"
    finally:
        receiver.close()


def test_an_smtp_server_that_dribbles_its_greeting_is_cut_off_at_the_deadline() -> None:
    server = SlowReceiver(lines=60, greeting=b"220-hello\r\n")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Digest"
    try:
        with pytest.raises(MailError, match="no answer within 1 seconds"):
            SmtpMailer("127.0.0.1", server.port, timeout=1.0).send(message, reference="digest")
        assert server.hung_up.wait(WAIT_SECONDS)
        assert server.lines_sent < 60, "the mail waited for the whole dribble"
    finally:
        server.close()


def test_a_held_post_neither_stalls_the_passes_nor_outlives_sigterm(db_url: str, environment) -> None:
    receiver = SlowReceiver()  # never answers
    try:
        with Ledger.open(db_url) as ledger:
            breaches(ledger, 1)
            child = follower(db_url, receiver, environment)
            try:
                assert receiver.held.wait(WAIT_SECONDS), "nothing was posted"
                ledger.record("late", ClientOnboarded(name="Late"), "2026-05-01")
                ledger.record("late", ContractBreached(clause="2"), "2026-05-02")
                wait_until(lambda: {c.client for c in ledger.alerts.changes()} == {"c00", "late"}, "the next pass", child)
                assert not receiver.hung_up.is_set()  # the first post is still held: the pass did not wait for it
                child.send_signal(signal.SIGTERM)
                # the webhook's own deadline is 10 s: stopping sooner means the held post was left behind
                assert child.wait(timeout=5) == 0
                assert child.stderr.read().rstrip().endswith("stopped")
            finally:
                child.kill()
                child.wait()
            rows = [row for rows in ledger.alerts.deliveries(ledger.alerts.changes()).values() for row in rows]
            assert not any(row.delivered_at for row in rows)  # nothing was answered, so nothing is marked
    finally:
        receiver.close()


def test_a_watcher_killed_mid_batch_posts_again_only_what_it_had_not_marked(db_url: str, environment) -> None:
    receiver = SlowReceiver(answered=4)  # four posts answered, the fifth held until the watcher dies
    try:
        with Ledger.open(db_url) as ledger:
            breaches(ledger, 10)
            child = follower(db_url, receiver, environment)
            assert receiver.held.wait(WAIT_SECONDS), "the fifth post never came"
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stderr.close()
            first_run = list(receiver.posted)
            changes = ledger.alerts.changes()
            marked = {c.id for c in changes if all(r.delivered_at for r in ledger.alerts.deliveries([c])[c.id])}
            assert marked == set(first_run[:4]), "each post answered is marked as it succeeds"
            receiver.answered = 100
            completed = subprocess.run(
                watch(db_url, "--once"), env=environment, capture_output=True, text=True, timeout=WAIT_SECONDS
            )
            assert completed.returncode == 0, completed.stderr
            posted_twice = {delivery for delivery in receiver.posted if receiver.posted.count(delivery) > 1}
            assert posted_twice == {first_run[4]} and not posted_twice & marked
            assert set(receiver.posted) == {change.id for change in changes}
            logged = ledger.alerts.deliveries(changes)
            assert all(row.delivered_at for rows in logged.values() for row in rows)
    finally:
        receiver.close()


def test_a_webhook_on_a_private_address_is_warned_of_unless_allowed(db_url: str, environment) -> None:
    with Ledger.open(db_url) as ledger:
        ledger.record("first", ClientOnboarded(name="First"), "2026-01-01")
    environment.update(CLIENTRULES_WEBHOOK_URL="http://localhost:9/hooks", CLIENTRULES_WEBHOOK_SECRET=SECRET)
    warned = subprocess.run(watch(db_url, "--once"), env=environment, capture_output=True, text=True)
    assert warned.returncode == 0, warned.stderr
    first_line = warned.stderr.splitlines()[0]
    assert first_line.startswith("warning: CLIENTRULES_WEBHOOK_URL points at ")
    assert "127.0.0.1" in first_line or "::1" in first_line
    assert "CLIENTRULES_WEBHOOK_ALLOW_PRIVATE=1" in first_line
    environment["CLIENTRULES_WEBHOOK_ALLOW_PRIVATE"] = "1"
    allowed = subprocess.run(watch(db_url, "--once"), env=environment, capture_output=True, text=True)
    assert allowed.returncode == 0 and "warning" not in allowed.stderr, allowed.stderr
    for public in ("http://93.184.215.14/hooks", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hooks"):
        assert Webhook(public, SECRET).private_address() is None
    for private in ("http://10.1.2.3/", "http://192.168.0.9/", "http://169.254.169.254/latest", "http://[::1]:80/"):
        assert Webhook(private, SECRET).private_address() is not None, private


@pytest.fixture
def stalling_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The name ``stalling.invalid`` is asked of a resolver that answers only once the test is over: whether it
    was asked, and whether it answered."""
    stalled, released, answered = threading.Event(), threading.Event(), threading.Event()
    resolve = socket.getaddrinfo

    def stalling(host, *args, **kwargs):
        if host == "stalling.invalid":
            stalled.set()
            released.wait(WAIT_SECONDS)
            answered.set()
            raise socket.gaierror("released")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalling)
    yield stalled, answered
    released.set()


def test_a_resolver_that_stalls_is_left_behind_at_the_deadline(db_url: str, stalling_resolver) -> None:
    """The webhook's host name is resolved within the same deadline: a resolver that never answers fails the post
    (retried later) while it is still stalled, instead of holding the watcher."""
    stalled, answered = stalling_resolver
    url = "http://stalling.invalid/hooks"
    with Ledger.open(db_url) as ledger:
        breaches(ledger, 1)
        _, delivered = ledger.alerts.once(channels=[Webhook(url, SECRET, timeout=1.0)], as_of=AS_OF)
        assert stalled.is_set() and not answered.is_set(), "the post gave up while the resolver was still stalled"
        assert (delivered.delivered, delivered.failed) == (0, 1)
        (rows,) = ledger.alerts.deliveries(ledger.alerts.changes()).values()
        assert rows[0].last_error == f"no answer from {url} within 1 seconds" and rows[0].delivered_at is None


@pytest.mark.parametrize("use_ssl", [False, True])
def test_an_smtp_servers_name_that_never_resolves_fails_the_mail_at_the_deadline(use_ssl, stalling_resolver) -> None:
    """The mail server's name is resolved within the same deadline as the conversation (in plain SMTP and over
    TLS from the start): a resolver that never answers fails the mail while it is still stalled."""
    stalled, answered = stalling_resolver
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Digest"
    with pytest.raises(MailError, match="through stalling.invalid: no answer within 1 seconds"):
        SmtpMailer("stalling.invalid", 25, use_ssl=use_ssl, timeout=1.0).send(message, reference="digest")
    assert stalled.is_set() and not answered.is_set(), "the mail gave up while the resolver was still stalled"
