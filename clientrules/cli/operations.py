"""Operations commands: ``db migrate``, ``db status``, ``db check`` and ``worker``."""

from __future__ import annotations

import click

from clientrules.cli.context import CliState, ctx_ledger
from clientrules.config import database_url
from clientrules.ledger import Ledger
from clientrules.adapters.store import open_store
from clientrules.application.evaluation_queue import DEFAULT_BATCH, run_worker
from clientrules.application.system_streams import REPAIR, check_store
from clientrules.domain.errors import ClientRulesError


def _db_url() -> str:
    state = click.get_current_context().find_object(CliState)
    return (state.db if state is not None else None) or database_url()


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


@click.group("db")
def db_group() -> None:
    """Create, upgrade and inspect the database schema."""


@db_group.command("migrate")
def db_migrate() -> None:
    """Create the schema or apply pending migrations (safe to run again, and from several hosts at once)."""
    url = _db_url()
    if not _is_postgres(url):
        open_store(url).close()  # a SQLite file is created and upgraded when opened
        click.echo(f"SQLite database {url} is up to date")
        return
    from clientrules.adapters.store import postgres_schema
    from clientrules.adapters.store.postgres import PostgresStore

    store = PostgresStore(url, migrate=False)
    try:
        applied = store.migrate()
    finally:
        store.close()
    if applied:
        click.echo(f"schema {store.schema}: applied migration {', '.join(map(str, applied))}")
    else:
        click.echo(f"schema {store.schema} is up to date (version {postgres_schema.LATEST})")


@db_group.command("status")
def db_status() -> None:
    """Show the backend, the schema version and pending migrations, the last position and the evaluation queue."""
    url = _db_url()
    if not _is_postgres(url):
        store = open_store(url, create=False)
        try:
            click.echo(f"backend: SQLite {url}\nlast position: {store.head_position()}")
        finally:
            store.close()
        return
    from clientrules.adapters.store import postgres_schema
    from clientrules.adapters.store.postgres import PostgresStore

    store = PostgresStore(url, migrate=False)
    try:
        applied = store.applied_migrations()
        pending = [m for m in postgres_schema.MIGRATIONS if m.version not in applied]
        click.echo(f"backend: PostgreSQL {store.where}, schema {store.schema}")
        click.echo(f"migrations applied: {', '.join(map(str, applied)) or 'none'}")
        for migration in pending:
            click.echo(f"pending migration {migration.version}: {migration.description}  (run: clientrules db migrate)")
        if not pending:
            click.echo(f"last position: {store.head_position()}")
            queue = Ledger(store).evaluation_queue()
            click.echo(f"evaluation queue: {queue.pending()} clients, filled up to position {queue.checkpoint()}")
            for client, error in queue.failed():
                click.echo(f"set aside until its next event: {client}: {error}")
    finally:
        store.close()


@click.command("worker")
@click.option("--batch", type=click.IntRange(1, 100_000), default=DEFAULT_BATCH, show_default=True, metavar="N",
              help="Clients claimed and recorded per transaction.")
@click.option("--once", is_flag=True, help="Stop when nothing is left to claim.")
@click.option("--idle-exit", "idle_exit", type=click.FloatRange(0, 365 * 86_400), metavar="SECONDS",
              help="Stop after SECONDS without work. [default: run until stopped]")
def worker_command(batch: int, once: bool, idle_exit: float | None) -> None:
    """Re-evaluate and record clients whose history changed, sharing the work with other workers.

    Needs a PostgreSQL database. Run any number of workers on any hosts: each
    changed client is decided and recorded once, by one worker; a worker that
    is stopped or killed mid-batch leaves its clients to the others.
    """
    if not _is_postgres(_db_url()):
        raise click.UsageError("the worker needs a PostgreSQL database (--db postgresql://...)")
    report = run_worker(
        ctx_ledger().evaluation_queue(), batch=batch, once=once, idle_exit=idle_exit, progress=lambda line: click.echo(line, err=True)
    )
    set_aside = f"; {report.failed} set aside (see db status)" if report.failed else ""
    click.echo(f"evaluated and recorded {report.evaluated} clients in {report.batches} batches{set_aside}")


commands: list[click.Command] = [db_group, worker_command]


@db_group.command("check")
def db_check() -> None:
    """Verify the system streams: rule-set versions dense and valid, only system events in '$' streams.

    Prints 'ok' and exits 0, or one line per problem with how to repair it and exits 1.
    """
    ledger = ctx_ledger(create=False)
    problems = check_store(ledger.store)
    if not problems:
        click.echo(f"ok: the system streams of {ledger.url} hold what the library writes")
        return
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    raise ClientRulesError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found; {REPAIR}")
