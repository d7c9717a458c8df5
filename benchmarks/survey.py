"""The exit-survey form under load: GET + POST round trips of 20 respondents for 30 s, against the health endpoint.

A real server, ``clientrules serve`` (waitress, its default 4 threads) in a
process of its own, on a database of departed clients invited up front (one
fresh link per round trip), once it has kept the history for rule previews
(its first work in the background, which would otherwise fall in the first
phase only). The load comes from two other processes
(:mod:`benchmarks.survey_load`) on loopback: first ``GET /healthz`` (a static
reply of the same app, two per round trip) for the same time with the same
number of respondents, then the questionnaire. Latency per request, p50 and p95.
"""

from __future__ import annotations

import multiprocessing
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.history import END, history
from benchmarks.measure import in_fresh_process
from benchmarks.results import Figure, Row, Target
from benchmarks.scale import Context
from benchmarks.survey_load import Load, generate_load
from clientrules import Event, Ledger, RelationshipEnded
from clientrules.domain.events.jsonl import event_from_json
from survey_app.keeping import KEPT

NAME = "survey"
LOAD_PROCESSES = 2
SERVING = re.compile(r"on http://127\.0\.0\.1:(\d+)/")


def invite_departed(path: Path, clients: int) -> list[str]:
    """A database of ``clients`` departed clients (~8 events each), each invited once; their link tokens.

    The portfolio's standings are decided and kept, as any server's first start
    leaves them: the server that starts on it reads them back instead of deciding
    every client in the background while the health endpoint is measured."""
    with Ledger.open(path) as ledger:
        events = [event_from_json(line) for line in history(clients, clients * 8, long_every=0)]
        ended = {event.client for event in events}
        events += [Event.new(client, RelationshipEnded(initiated_by="client"), END) for client in ended]
        ledger.append(events)
        tokens = [ledger.surveys.invite(client).token for client in sorted(ended)]
        ledger.portfolio.standings()
        return tokens


def start_server(path: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """``clientrules serve`` on a free port; its messages go to ``log`` (a pipe nobody reads would block it).

    Without its watcher: the pages are measured alone, not beside the watcher's first look at every client."""
    command = [sys.executable, "-m", "clientrules", "--db", str(path), "serve", "--port", "0", "--no-watch"]
    with log.open("w") as stderr:
        server = subprocess.Popen(command, stderr=stderr)
    deadline = time.monotonic() + 60
    while server.poll() is None and time.monotonic() < deadline:
        found = SERVING.search(log.read_text())
        if found:
            return server, int(found.group(1))
        time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"clientrules serve did not start listening: {log.read_text()[-500:]}")


def wait_until_history_kept(log: Path) -> str:
    """Wait until the server's log says it kept the history for rule previews; what it said."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        said = [line for line in log.read_text().splitlines() if KEPT in line]
        if said:
            return said[0]
        time.sleep(0.2)
    raise RuntimeError(f"the server did not keep the history for rule previews: {log.read_text()[-500:]}")


def phase(port: int, mode: str, tokens: list[str], respondents: int, seconds: float) -> Load:
    """Load from :data:`LOAD_PROCESSES` processes at once; their results merged."""
    shares = [tokens[n::LOAD_PROCESSES] for n in range(LOAD_PROCESSES)]
    threads = [respondents // LOAD_PROCESSES + (n < respondents % LOAD_PROCESSES) for n in range(LOAD_PROCESSES)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=LOAD_PROCESSES, mp_context=context) as pool:
        pool.submit(time.sleep, 0).result()  # the processes are up before the start time is set
        start_at = time.time() + 1.0
        futures = [
            pool.submit(generate_load, port, mode, share, count, start_at, seconds)
            for share, count in zip(shares, threads)
        ]
        loads = [future.result() for future in futures]
    merged = Load()
    for load in loads:
        for method, latencies in load.latencies_ms.items():
            merged.latencies_ms[method] += latencies
        merged.errors += load.errors
        merged.round_trips += load.round_trips
        merged.ran_out_of_links |= load.ran_out_of_links
    return merged


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def summary(load: Load, seconds: float) -> str:
    latencies = load.all_latencies()
    if not latencies:
        return "no request completed"
    by_method = "".join(
        f", {method} p95 {percentile(values, 0.95):.1f} ms" for method, values in load.latencies_ms.items() if values
    )
    return (f"{len(latencies):,} requests ({len(latencies) / seconds:,.0f}/s), "
            f"{load.round_trips:,} round trips, p50 {percentile(latencies, 0.5):.1f} ms, "
            f"p95 {percentile(latencies, 0.95):.1f} ms{by_method}, max {max(latencies):.0f} ms, "
            f"{len(load.errors)} errors")


def run(context: Context) -> list[Row]:
    scale = context.scale
    database = context.workdir / "survey.db"
    tokens = in_fresh_process(invite_departed, database, scale.survey_links)
    log = context.workdir / "survey-server.log"
    server, port = start_server(database, log)
    try:
        wait_until_history_kept(log)  # the server's first background work, over before either phase
        health = phase(port, "health", [], scale.survey_clients, scale.survey_seconds)
        survey = phase(port, "survey", tokens, scale.survey_clients, scale.survey_seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if survey.ran_out_of_links:
        raise RuntimeError(f"the respondents used all {len(tokens):,} links before the time was up: invite more")
    if not survey.all_latencies() or not health.all_latencies():
        raise RuntimeError(f"no request completed (survey: {survey.errors[:3]}, health: {health.errors[:3]})")
    notes = (f"{scale.survey_clients} respondents, {scale.survey_seconds:g} s each; "
             f"survey: {summary(survey, scale.survey_seconds)}; health: {summary(health, scale.survey_seconds)}")
    if survey.errors:
        notes += f"; first errors: {survey.errors[:3]}"
    measures = (f"GET of a fresh personal link + POST of a valid answer with its CSRF token, "
                f"{scale.survey_clients} concurrent respondents on loopback, waitress (clientrules serve)")
    return [
        Row(NAME, "survey form p95 latency", measures, Figure(percentile(survey.all_latencies(), 0.95), "ms"),
            "GET /healthz, same load", Figure(percentile(health.all_latencies(), 0.95), "ms"), Target("<=", 2.0),
            notes=notes),
        Row(NAME, "survey form errors", measures, Figure(len(survey.errors), "errors"),
            "GET /healthz, same load", Figure(len(health.errors), "errors"), Target("<=", 0, "ours"),
            notes="any status but 200 (GET) or 303 (POST), or a failed connection"),
    ]
