"""Operations commands: ``db migrate``, ``db status``, ``db check`` and ``worker``."""

from __future__ import annotations

import click

from clientrules import (
    DEFAULT_BATCH,
    REPAIR,
    ClientRulesError,
    database_status,
    database_url,
    is_postgres,
    migrate_database,
    run_worker,
)
from clientrules.cli.context import CliState, Seconds, ctx_ledger


def _db() -> str | None:
    state = click.get_current_context().find_object(CliState)
    return state.db if state is not None else None


@click.group("db")
def db_group() -> None:
    """Create, upgrade and inspect the database schema."""


@db_group.command("migrate")
def db_migrate() -> None:
    """Create the schema or apply pending migrations (safe to run again, and from several hosts at once)."""
    done = migrate_database(_db())
    if done.schema is None:
        click.echo(f"SQLite database {done.where} is up to date")
    elif done.applied:
        click.echo(f"schema {done.schema}: applied migration {', '.join(map(str, done.applied))}")
    else:
        click.echo(f"schema {done.schema} is up to date (version {done.latest})")


@db_group.command("status")
def db_status() -> None:
    """Show the backend, the schema version and pending migrations, the last position and the evaluation queue."""
    status = database_status(_db())
    if status.schema is None:
        click.echo(f"backend: SQLite {status.where}\nlast position: {status.head_position}")
        return
    click.echo(f"backend: PostgreSQL {status.where}, schema {status.schema}")
    click.echo(f"migrations applied: {', '.join(map(str, status.applied)) or 'none'}")
    for migration in status.pending:
        click.echo(f"pending migration {migration.version}: {migration.description}  (run: clientrules db migrate)")
    if status.queue is not None:
        click.echo(f"last position: {status.head_position}")
        click.echo(f"evaluation queue: {status.queue.pending} clients, filled up to position {status.queue.checkpoint}")
        for client, error in status.queue.failed:
            click.echo(f"set aside until its next event: {client}: {error}")


@click.command("worker")
@click.option("--batch", type=click.IntRange(1, 100_000), default=DEFAULT_BATCH, show_default=True, metavar="N",
              help="Clients claimed and recorded per transaction.")
@click.option("--once", is_flag=True, help="Stop when nothing is left to claim.")
@click.option("--idle-exit", "idle_exit", type=Seconds(0, 365 * 86_400), metavar="SECONDS",
              help="Stop after SECONDS without work. [default: run until stopped]")
def worker_command(batch: int, once: bool, idle_exit: float | None) -> None:
    """Re-evaluate and record clients whose history changed, sharing the work with other workers.

    Needs a PostgreSQL database. Run any number of workers on any hosts: each
    changed client is decided and recorded once, by one worker; a worker that
    is stopped or killed mid-batch leaves its clients to the others.
    """
    if not is_postgres(_db() or database_url()):
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
    problems = ledger.check()
    if not problems:
        click.echo(f"ok: the system streams of {ledger.url} hold what the library writes, and every client can be decided")
        return
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    found = f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found"
    if all("to repair:" in problem for problem in problems):  # clients that cannot be decided: each says how
        raise ClientRulesError(f"{found}; each says how to repair it")
    raise ClientRulesError(f"{found}; {REPAIR}")
