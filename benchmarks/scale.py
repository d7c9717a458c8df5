"""How big each benchmark runs: the full run (a few minutes on 2 cores) and the smoke run (seconds)."""

from __future__ import annotations

from pathlib import Path

import attrs


@attrs.frozen
class Scale:
    name: str
    #: the shared history: the bulk import, evaluation and workers read it
    history_clients: int
    history_events: int
    append_events: int
    rebuild_events: int
    incremental_events: int
    incremental_appends: int
    memory_clients: tuple[int, int]
    memory_events_per_client: int
    #: clients of each store the history-length benchmark compares (~8 and ~160 events each)
    length_clients: int
    survey_seconds: float
    survey_clients: int
    survey_links: int
    #: PostgreSQL: the clients whose events are appended (10 each), the clients evaluated (~50 events each: long
    #: enough a run for a process's start not to count), the clients of the worker queue
    postgres_clients: int
    postgres_evaluate_clients: int
    postgres_queue_clients: int
    #: the owner's dashboard: clients in the portfolio, requests timed
    dashboard_clients: int
    dashboard_requests: int
    #: the watcher: clients in the database, and clients touched by new events before a pass
    watch_clients: int
    watch_touched: int
    #: invoice rows of the CSV export the csv_import benchmark reads
    csv_import_rows: int
    rounds: int


FULL = Scale(
    name="full",
    history_clients=20_000,
    history_events=1_000_000,
    append_events=5_000,
    rebuild_events=1_000,
    incremental_events=10_000,
    incremental_appends=200,
    memory_clients=(10_000, 100_000),
    memory_events_per_client=8,
    length_clients=1_500,
    survey_seconds=30.0,
    survey_clients=20,
    survey_links=20_000,
    postgres_clients=1_000,
    postgres_evaluate_clients=5_000,
    postgres_queue_clients=10_000,
    dashboard_clients=5_000,
    dashboard_requests=200,
    watch_clients=100_000,
    watch_touched=1_000,
    csv_import_rows=100_000,
    rounds=3,
)

SMOKE = Scale(
    name="smoke",
    history_clients=200,
    history_events=12_000,
    append_events=100,
    rebuild_events=1_000,
    incremental_events=1_000,
    incremental_appends=5,
    memory_clients=(100, 1_000),
    memory_events_per_client=8,
    length_clients=30,
    survey_seconds=1.0,
    survey_clients=4,
    survey_links=2_000,
    postgres_clients=50,
    postgres_evaluate_clients=50,
    postgres_queue_clients=50,
    dashboard_clients=200,
    dashboard_requests=20,
    watch_clients=500,
    watch_touched=20,
    csv_import_rows=2_000,
    rounds=1,
)


@attrs.frozen
class Context:
    """What every benchmark gets: its sizes, a work directory shared by the run, the PostgreSQL server if any."""

    scale: Scale
    workdir: Path
    postgres_url: str | None = None
