"""Concurrency across processes, on both backends: writers racing on the same clients, followers reading
every event by position, and web server processes taking the same survey link at once."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from store_checks import assert_consistent
from survey_fixtures import FULL_FORM, add_departed, csrf_token

from clientrules import ConcurrencyError, Ledger, SurveyAnswered
from clientrules.domain.events import Event, WorkLogged
from clientrules.adapters.store import open_store

WRITERS = 4
FOLLOWERS = 2
#: appends per writer: SQLite's are fast enough that fewer would hardly overlap
APPENDS_PER_WRITER = {"sqlite": 300, "postgres": 60}
STREAMS = ("shared-a", "shared-b", "shared-c")
POSTERS = 16


def _write(url: str, writer: int, appends: int, start: multiprocessing.Barrier, results: multiprocessing.Queue) -> None:
    """Append one or two events at a time with the expected version, re-reading and retrying on conflict."""
    store = open_store(url)
    appended = []  # (stream, version reached, ids)
    conflicts = 0
    start.wait()
    for number in range(appends):
        stream = STREAMS[number % len(STREAMS)] if number % 4 else f"own-{writer}"  # all on the same client at once
        ids = [f"w{writer}-{number}-{part}" for part in range(1 + number % 2)]
        while True:
            expected = store.client_version(stream)
            events = [Event.new(stream, WorkLogged(hours=1.0, billable=True), "2026-03-01", id=i) for i in ids]
            try:
                result = store.append(events, expected_version=expected)
            except ConcurrencyError:
                conflicts += 1
                continue
            assert result.version == expected + len(ids)
            appended.append((stream, result.version, ids))
            break
    store.close()
    results.put(("writer", writer, appended, conflicts))


def _follow(url: str, follower: int, total: int, start: multiprocessing.Barrier, results: multiprocessing.Queue) -> None:
    """Follow every stream with ``iter_all`` from a checkpoint, in small batches, until ``total`` events were seen."""
    store = open_store(url)
    seen: list[tuple[int, str]] = []
    start.wait()
    deadline = time.monotonic() + 120
    while len(seen) < total and time.monotonic() < deadline:
        checkpoint = seen[-1][0] if seen else 0
        seen.extend((event.position, event.id) for event in store.iter_all(after_position=checkpoint, batch=7))
    store.close()
    results.put(("follower", follower, seen, None))


@pytest.mark.slow
def test_writer_processes_lose_no_update_and_followers_see_every_event_once_in_order(store_url):
    open_store(store_url).close()  # create or migrate once, before the processes race
    appends = APPENDS_PER_WRITER["postgres" if store_url.startswith("postgresql:") else "sqlite"]
    total = WRITERS * sum(1 + number % 2 for number in range(appends))
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(WRITERS + FOLLOWERS), context.Queue()  # every process open, then all at once
    processes = [context.Process(target=_follow, args=(store_url, f, total, start, results)) for f in range(FOLLOWERS)]
    processes += [context.Process(target=_write, args=(store_url, w, appends, start, results)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    written = {report[1]: report[2] for report in reports if report[0] == "writer"}
    conflicts = sum(report[3] for report in reports if report[0] == "writer")
    print(f"{WRITERS} writers, {conflicts} conflicts retried")
    all_ids = sorted(i for appended in written.values() for _, _, ids in appended for i in ids)
    assert len(all_ids) == total == len(set(all_ids))  # each process's successful appends add up
    for follower in (report for report in reports if report[0] == "follower"):
        positions = [position for position, _ in follower[2]]
        assert positions == list(range(1, total + 1))  # nothing skipped, duplicated or out of order
        assert sorted(event_id for _, event_id in follower[2]) == all_ids

    store = open_store(store_url)
    try:
        stored = assert_consistent(store)  # positions 1..N, every client's versions 1..n
        assert len(stored) == total
        # no lost update: every acknowledged append is there, at the versions it was acknowledged with
        by_id = {e.id: e for e in stored}
        for appended in written.values():
            for stream, version, ids in appended:
                assert [(by_id[i].client, by_id[i].version) for i in ids] == [
                    (stream, version - len(ids) + 1 + k) for k in range(len(ids))
                ]
    finally:
        store.close()


def _serve(url: str, tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """``clientrules serve`` in a process of its own on a free port."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CLIENTRULES_")}
    environment["CLIENTRULES_OUTBOX"] = str(tmp_path / "outbox")
    server = subprocess.Popen(
        [sys.executable, "-m", "clientrules", "--db", url, "serve", "--port", "0", "--threads", "8"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    for line in server.stderr:
        found = re.search(r" on http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return server, int(found.group(1))
    raise AssertionError(f"clientrules serve did not start (exit {server.wait()})")


def _request(port: int, method: str, path: str, body: str | None = None, cookie: str = "") -> tuple[int, str, str]:
    """Status, page and session cookie of one request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(), (response.getheader("Set-Cookie") or "").partition(";")[0]
    finally:
        connection.close()


@pytest.mark.slow
def test_one_survey_link_posted_at_once_to_two_server_processes_stores_one_answer(store_url, tmp_path):
    with Ledger.open(store_url) as ledger:
        add_departed(ledger, "acme")
        path = "/s/" + ledger.surveys.invite("acme").token
    servers = [_serve(store_url, tmp_path) for _ in range(2)]
    try:
        forms = []
        for poster in range(POSTERS):  # each poster a browser of its own: a session cookie and its form's token
            status, page, cookie = _request(servers[poster % 2][1], "GET", path)
            assert status == 200
            forms.append((cookie, urlencode({**FULL_FORM, "csrf_token": csrf_token(page)}, doseq=True)))
        answers: list[tuple[int, str]] = []
        start = threading.Barrier(POSTERS)

        def post(poster: int) -> None:
            cookie, body = forms[poster]
            start.wait()
            status, page, _ = _request(servers[(poster + 1) % 2][1], "POST", path, body, cookie)
            answers.append((status, page))

        threads = [threading.Thread(target=post, args=(poster,)) for poster in range(POSTERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait(timeout=30)
            server.stderr.close()
    assert sorted(status for status, _ in answers) == [303] + [410] * (POSTERS - 1)
    assert all("You have already answered" in page for status, page in answers if status == 410)
    with Ledger.open(store_url) as ledger:
        stored = [event for event in assert_consistent(ledger.store) if isinstance(event.payload, SurveyAnswered)]
    assert [(event.client, event.payload.primary_reason) for event in stored] == [("acme", "missed_deadlines")]
