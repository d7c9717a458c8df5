"""The composition root's adapters: every store, engine, mailer, alert channel and renderer is built here.

:class:`~clientrules.ledger.Ledger` builds the services on what this module
builds, and nothing else in the library constructs an adapter. Each adapter
is imported when it is first built, so a command that needs no PostgreSQL,
no chart and no mail template does not load psycopg, matplotlib or Jinja.

Besides the adapters a ledger uses, the database's own upkeep starts here:
:func:`migrate_database` and :func:`database_status` (``clientrules db
migrate`` and ``db status``) open a store without migrating it first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import attrs

from clientrules.adapters.clock import system_clock
from clientrules.adapters.isolated import IsolatedEngine
from clientrules.adapters.store import open_store
from clientrules.adapters.store.memory import URL as MEMORY_URL
from clientrules.application.evaluation_queue import WorkQueue
from clientrules.application.kept_answers import KeptAnswers
from clientrules.config import Settings, database_url
from clientrules.domain.errors import ClientRulesError, StoreError
from clientrules.domain.events import Clock
from clientrules.domain.survey import Invitation
from clientrules.ports import EngineFactory, EventStore

if TYPE_CHECKING:  # what only some commands use is imported when they first build it
    from clientrules.adapters.mail import InvitationMail
    from clientrules.adapters.report import ReportRenderer
    from clientrules.application.alerts import Channel

#: the engine of production: durable-rules in a child process of its own
DEFAULT_ENGINE: EngineFactory = IsolatedEngine
#: the clock of production
SYSTEM_CLOCK: Clock = system_clock


def kept_answers(opened: EventStore, factory: EngineFactory) -> KeptAnswers | None:
    """The engine's answers kept in ``opened``, for an engine that names them (durable-rules, in its own process or
    in this one); an engine of any other kind keeps none."""
    name_of = getattr(factory, "answers_name", None)
    return None if name_of is None else KeptAnswers(opened, name_of)


def is_postgres(url: str | os.PathLike[str]) -> bool:
    """Whether ``url`` names a PostgreSQL database (else a SQLite file)."""
    return os.fspath(url).startswith(("postgresql://", "postgres://"))


def in_memory(url: str) -> bool:
    """Whether ``url`` names a store in this process's memory (which no other process can open)."""
    return url == MEMORY_URL


def store(url: str | os.PathLike[str], *, create: bool = True) -> EventStore:
    """The store at ``url`` (see :func:`clientrules.adapters.store.open_store`), created and migrated if need be."""
    return open_store(url, create=create)


def invitation_mail(settings: Settings, database_url: str) -> InvitationMail:
    """Survey mail as ``settings`` describe it: SMTP, else the outbox folder found from ``database_url``."""
    from clientrules.adapters.mail import InvitationMail

    return InvitationMail.from_settings(settings, database_url=database_url)


def delete_outbox_copies(settings: Settings, database_url: str, invitations: Iterable[Invitation]) -> list[Path]:
    """Delete the outbox files of the mail sent for ``invitations``; those deleted."""
    from clientrules.adapters.mail import delete_outbox_copies as delete, outbox_folder

    return delete(outbox_folder(settings.outbox, database_url), invitations)


def alert_channels(
    settings: Settings, database_url: str, names: Callable[[Iterable[str]], Mapping[str, str]]
) -> list[Channel]:
    """The delivery channels of decision changes ``settings`` configure: the webhook, the owner's digest
    (which calls clients by the ``names`` found for them)."""
    channels: list[Channel] = []
    if settings.webhook_url:
        from clientrules.adapters.webhook import Webhook

        if not settings.webhook_secret:
            raise ClientRulesError("CLIENTRULES_WEBHOOK_URL is set but CLIENTRULES_WEBHOOK_SECRET is not: set both")
        channels.append(Webhook(settings.webhook_url, settings.webhook_secret))
    if settings.digest_to:
        from clientrules.adapters.digest_mail import MailDigest

        base_url = settings.base_url
        mail = invitation_mail(settings, database_url)
        channels.append(
            MailDigest(
                settings.digest_to,
                str(mail.sender.from_header),
                mail.mailer,
                client_url=f"{base_url.rstrip('/')}/owner/clients/{{client}}" if base_url else None,
                hour=settings.digest_hour,
                names=names,
                date_format=settings.date_format,
            )
        )
    return channels


def alert_warnings(settings: Settings) -> list[str]:
    """What to warn about in the delivery settings: a webhook that posts to a loopback or private address
    (unless ``CLIENTRULES_WEBHOOK_ALLOW_PRIVATE`` says it is meant to)."""
    if not settings.webhook_url or settings.webhook_allow_private:
        return []
    from clientrules.adapters.webhook import Webhook

    address = Webhook(settings.webhook_url, settings.webhook_secret or "").private_address()
    if address is None:
        return []
    return [
        f"CLIENTRULES_WEBHOOK_URL points at {address}, a loopback or private address: decision changes will be "
        "posted inside this network (set CLIENTRULES_WEBHOOK_ALLOW_PRIVATE=1 if that is meant)"
    ]


def report_renderer() -> ReportRenderer:
    """The learning report's renderer (HTML and charts)."""
    from clientrules.adapters.report import ReportRenderer

    return ReportRenderer()


def work_queue(opened: EventStore) -> WorkQueue:
    """The queue ``clientrules worker`` processes share: PostgreSQL only, else a :class:`StoreError`."""
    if not is_postgres(opened.url):
        raise StoreError("the evaluation queue needs a PostgreSQL database")
    from clientrules.adapters.store.postgres import PostgresStore
    from clientrules.adapters.store.postgres_queue import PostgresWorkQueue

    assert isinstance(opened, PostgresStore), "a postgresql:// URL opens a PostgresStore"
    return PostgresWorkQueue(opened)


@attrs.frozen
class Migration:
    """What ``db migrate`` did: the migrations applied now (none: the schema was up to date)."""

    backend: str
    where: str
    schema: str | None
    applied: tuple[int, ...]
    latest: int


@attrs.frozen
class PendingMigration:
    version: int
    description: str


@attrs.frozen
class QueueStatus:
    """The evaluation queue of a PostgreSQL database: clients waiting, how far it is filled, those set aside."""

    pending: int
    checkpoint: int
    failed: tuple[tuple[str, str], ...]


@attrs.frozen
class DatabaseStatus:
    """What ``db status`` shows: the backend, the schema's migrations, the last position, the evaluation queue."""

    backend: str
    where: str
    schema: str | None
    applied: tuple[int, ...]
    pending: tuple[PendingMigration, ...]
    #: None while migrations are pending (the tables may not be there yet)
    head_position: int | None
    queue: QueueStatus | None


def migrate_database(url: str | None = None) -> Migration:
    """Create the schema at ``url`` (None: :func:`~clientrules.config.database_url`) or apply its pending
    migrations (safe to run again, and from several hosts)."""
    url = database_url() if url is None else url
    if not is_postgres(url):
        store(url).close()  # a SQLite file is created and upgraded when opened
        return Migration("SQLite", url, None, (), 0)
    from clientrules.adapters.store import postgres_schema
    from clientrules.adapters.store.postgres import PostgresStore

    opened = PostgresStore(url, migrate=False)
    try:
        applied = opened.migrate()
    finally:
        opened.close()
    return Migration("PostgreSQL", opened.where, opened.schema, tuple(applied), postgres_schema.LATEST)


def database_status(url: str | None = None) -> DatabaseStatus:
    """The state of the database at ``url`` (None: :func:`~clientrules.config.database_url`), read without
    changing it (a missing SQLite file is a :class:`StoreError`)."""
    url = database_url() if url is None else url
    if not is_postgres(url):
        opened = store(url, create=False)
        try:
            return DatabaseStatus("SQLite", url, None, (), (), opened.head_position(), None)
        finally:
            opened.close()
    from clientrules.adapters.store import postgres_schema
    from clientrules.adapters.store.postgres import PostgresStore
    from clientrules.adapters.store.postgres_queue import PostgresWorkQueue

    postgres = PostgresStore(url, migrate=False)
    try:
        applied = postgres.applied_migrations()
        pending = tuple(
            PendingMigration(m.version, m.description) for m in postgres_schema.MIGRATIONS if m.version not in applied
        )
        head = queue = None
        if not pending:
            head = postgres.head_position()
            waiting = PostgresWorkQueue(postgres)
            queue = QueueStatus(waiting.pending(), waiting.checkpoint(), tuple(waiting.failed()))
        return DatabaseStatus(
            "PostgreSQL", postgres.where, postgres.schema, tuple(applied), pending, head, queue
        )
    finally:
        postgres.close()
