"""The library's front door and its composition root: :class:`Ledger` builds every service on the adapters.

``Ledger.open(url)`` opens a store (SQLite or PostgreSQL, by
URL) through :mod:`clientrules.wiring`, which builds every adapter, and hands
each service the ports it needs and the one clock: ``ledger.decisions``,
``ledger.rules``, ``ledger.surveys``, ``ledger.learning``, and the others
below. Nothing else in the library builds a service.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterable, Iterator, cast

from clientrules import wiring
from clientrules.apart import run_apart
from clientrules.application.decisions import Decisions
from clientrules.application.engines import Engines
from clientrules.application.evaluation_queue import EvaluationQueue
from clientrules.application.folds import Folds
from clientrules.application.kept_facts import KeptFacts
from clientrules.application.portfolio import Portfolio
from clientrules.application.rule_versions import RuleVersions
from clientrules.application.survey_mail import SurveyMail
from clientrules.application.surveys import Surveys, shared_secret
from clientrules.application.system_streams import SystemEventGuard, check_store
from clientrules.config import SECRET_ENV, Settings, database_url, load_settings
from clientrules.domain.decisions import Decision
from clientrules.domain.errors import ClientRulesError, InvalidEvent, InvalidInput, UnknownClient
from clientrules.domain.events import (
    Clock,
    Event,
    Moment,
    Payload,
    PersonalDataErased,
    as_instant,
    check_client_id,
    moment_or_now,
)
from clientrules.domain.events.jsonl import LineNumbers, iter_events, iter_lines, write_events
from clientrules.domain.privacy import Erasure
from clientrules.parallel import iter_evaluate_parallel
from clientrules.ports import AppendResult, ClientSummary, EngineFactory, EventStore, InvitationSender

if TYPE_CHECKING:  # the services a deciding process never uses are imported when first asked for
    from clientrules.adapters.report import ReportRenderer
    from clientrules.application.alerts import Channel, Watcher
    from clientrules.application.csv_import import CsvImportResult, CsvImports
    from clientrules.application.learning import Learning
    from clientrules.application.next_steps import NextStepsService
    from clientrules.application.rule_changes import RuleChanges

Source = str | os.PathLike[str] | IO[bytes] | IO[str]


class Ledger:
    """Every client's append-only event stream, and what the library derives from them.

    ::

        with Ledger.open("clients.db") as ledger:
            ledger.record("acme", InvoiceIssued(invoice_id="A-1", amount=900.0, due_on="2026-03-31"), "2026-03-01")
            ledger.events("acme")

    ``settings`` (default: :func:`clientrules.config.load_settings`, read when
    first needed), ``engine_factory`` (default: durable-rules in a child
    process, :class:`~clientrules.adapters.isolated.IsolatedEngine`) and
    ``clock`` (default: the system's; every service asks it for "now") are the
    seams for embedding and tests.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        settings: Settings | None = None,
        engine_factory: EngineFactory = wiring.DEFAULT_ENGINE,
        clock: Clock = wiring.SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.clock = clock
        self._settings = settings
        self._engine_factory = engine_factory
        self.engines = Engines(engine_factory, kept=wiring.kept_answers(store, engine_factory))

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        settings: Settings | None = None,
        engine_factory: EngineFactory = wiring.DEFAULT_ENGINE,
        clock: Clock = wiring.SYSTEM_CLOCK,
    ) -> Ledger:
        """Open the ledger at ``url`` (see :func:`clientrules.adapters.store.open_store`; None: :func:`clientrules.config.database_url`).

        With ``create=False`` a SQLite file that does not exist is an error
        instead of a new, empty database.
        """
        opened = wiring.store(database_url() if url is None else url, create=create)
        return cls(opened, settings=settings, engine_factory=engine_factory, clock=clock)

    @property
    def url(self) -> str:
        return self.store.url

    @functools.cached_property
    def settings(self) -> Settings:
        """The settings given, else those of the environment."""
        return self._settings if self._settings is not None else load_settings()

    def with_settings(self, settings: Settings) -> Ledger:
        """This ledger's store, engines and clock under other ``settings`` (the web app's, which its config may override)."""
        ledger = Ledger(self.store, settings=settings, engine_factory=self._engine_factory, clock=self.clock)
        ledger.engines = self.engines
        return ledger

    @functools.cached_property
    def signing_secret(self) -> str:
        """The secret that signs survey links (and the web app's sessions): ``CLIENTRULES_SECRET_KEY``, else the database's own."""
        return shared_secret(self.store, self.settings.secret_key, origin=SECRET_ENV)

    # --- the services -----------------------------------------------------------

    @functools.cached_property
    def mail(self) -> InvitationSender:
        """Survey mail as the settings describe it: SMTP, else the outbox folder (:mod:`clientrules.adapters.mail`)."""
        return wiring.invitation_mail(self.settings, self.url)

    @functools.cached_property
    def surveys(self) -> Surveys:
        """Exit-survey invitations and answers (:class:`clientrules.application.surveys.Surveys`)."""
        return Surveys(
            self.store, secret=self.signing_secret, expiry_days=self.settings.survey_expiry_days, clock=self.clock
        )

    @functools.cached_property
    def survey_mail(self) -> SurveyMail:
        """Invite and remind, each link mailed as it is made (:class:`clientrules.application.survey_mail.SurveyMail`)."""
        return SurveyMail(self.surveys, self.mail)

    @functools.cached_property
    def rules(self) -> RuleVersions:
        """Rule-set versions: current, use, versions, get (:class:`clientrules.application.rule_versions.RuleVersions`)."""
        return RuleVersions(self.store, clock=self.clock)

    @functools.cached_property
    def rule_changes(self) -> RuleChanges:
        """Preview a change to the rules, then adopt it (:class:`clientrules.application.rule_changes.RuleChanges`)."""
        from clientrules.application.rule_changes import RuleChanges

        return RuleChanges(self.decisions, self.rules, self.learning, clock=self.clock)

    @functools.cached_property
    def folds(self) -> Folds:
        """Each client's fold at its latest version, kept in the store (:class:`clientrules.application.folds.Folds`)."""
        return Folds(self.store)

    @functools.cached_property
    def decisions(self) -> Decisions:
        """Evaluate, record and explain decisions (:class:`clientrules.application.decisions.Decisions`)."""
        return Decisions(
            self.store, self.rules, self.engines, folds=self.folds, clock=self.clock, kept_facts=KeptFacts(self.store)
        )

    def iter_evaluate(
        self,
        clients: Iterable[str] | None = None,
        *,
        as_of: Moment | None = None,
        record: bool = False,
        workers: int = 1,
        set_aside: Callable[[str, str], None] | None = None,
    ) -> Iterator[Decision]:
        """:meth:`Decisions.iter_evaluate <clientrules.application.decisions.Decisions.iter_evaluate>`, spread
        over ``workers`` processes (the same decisions, in the same order); a client that cannot be decided
        goes to ``set_aside(client, reason)`` and the others are decided (without it, its error is raised)."""
        if workers < 1:
            raise ClientRulesError("workers must be 1 or more")
        if workers == 1:
            yield from self.decisions.iter_evaluate(clients, as_of=as_of, record=record, set_aside=set_aside)
            return
        if wiring.in_memory(self.url):
            raise ClientRulesError("a ledger in memory cannot be shared with other processes: evaluate it with one worker")
        moment = moment_or_now(as_of, self.clock)
        version = self.rules.current()
        chosen = self.decisions.clients_to_decide(clients, moment)  # before any process decides or records
        yield from iter_evaluate_parallel(
            self, self._opener(), chosen, workers=workers, moment=moment, version=version, record=record,
            set_aside=set_aside,
        )

    def _opener(self) -> Callable[[], Ledger]:
        """What opens this ledger again in another process (it pickles)."""
        return functools.partial(
            Ledger.open, self.url, settings=self._settings, engine_factory=self._engine_factory, clock=self.clock
        )

    def evaluation_queue(self) -> EvaluationQueue:
        """The queue that ``clientrules worker`` processes share (PostgreSQL only; else a :class:`~clientrules.domain.errors.StoreError`)."""
        return EvaluationQueue(wiring.work_queue(self.store), self.decisions, self.rules, clock=self.clock)

    @functools.cached_property
    def steps(self) -> NextStepsService:
        """Next steps with drafts: for_client, record_done (:class:`clientrules.application.next_steps.NextStepsService`)."""
        from clientrules.application.next_steps import NextStepsService

        return NextStepsService(
            self.store, self.decisions, self.rules,
            clock=self.clock, currency=self.settings.currency,
            date_format=self.settings.date_format, number_format=self.settings.number_format,
        )

    @functools.cached_property
    def portfolio(self) -> Portfolio:
        """Every client's standing, kept up to date (:class:`clientrules.application.portfolio.Portfolio`)."""
        return Portfolio(self.store, self.rules, self.engines, decisions=self.decisions, clock=self.clock)

    @functools.cached_property
    def alerts(self) -> Watcher:
        """The watcher of decision changes: passes, delivery, the changes feed (:class:`clientrules.application.alerts.Watcher`)."""
        from clientrules.application.alerts import Watcher

        return Watcher(self.store, self.decisions, self.rules, self.engines, clock=self.clock)

    def alert_channels(self) -> list[Channel]:
        """Where decision changes are delivered, as the settings say: the webhook, the owner's digest."""
        return wiring.alert_channels(self.settings, self.url, self.portfolio.names)

    def alert_warnings(self) -> list[str]:
        """What a watcher should warn about at start-up in the delivery settings, one line each (none: all well)."""
        return wiring.alert_warnings(self.settings)

    @functools.cached_property
    def learning(self) -> Learning:
        """The learning loop: report, proposals, accept, reject, backtest (:class:`clientrules.application.learning.Learning`)."""
        from clientrules.application.learning import Learning

        return Learning(
            self.store, self.rules, self.engines, clock=self.clock, portfolio_values=self.decisions.portfolio_values,
            latest_folds=self.folds.iter_latest,
        )

    def keep_history_apart(self, stop: threading.Event) -> bool:
        """:meth:`learning.keep_history <clientrules.application.learning.Learning.keep_history>`, its folding
        done in a process of its own at a lower priority (:mod:`clientrules.apart`): what a server runs beside its
        pages. This process then reads the moments kept there from the store (about a second for 20,000 clients,
        where folding them takes ten or more), or brings those it kept last up to date (folding only the clients
        changed since), without writing them again, and decides the current rules at them, ready for its next
        backtest. Stopped soon after ``stop`` is set (False). A ledger in memory keeps them in this process; a
        crash in the other process raises :class:`~clientrules.domain.errors.ClientRulesError` here."""
        if wiring.in_memory(self.url):
            return self.learning.keep_history(cancelled=stop.is_set)
        if not run_apart(self._opener(), _keep_moments, stop, name="keeping the history for rule previews"):
            return False
        return self.learning.keep_history(cancelled=stop.is_set, store=False)

    @functools.cached_property
    def reports(self) -> ReportRenderer:
        """The learning report as HTML and charts (:class:`clientrules.adapters.report.ReportRenderer`)."""
        return wiring.report_renderer()

    def check(self) -> list[str]:
        """Every broken invariant of the system streams and every client that cannot be decided, one line each
        (empty: all is well; ``clientrules db check``)."""
        problems = check_store(self.store)
        if problems:  # the clients are decided under the current rule set: first it must be sound
            return problems
        undecidable: list[tuple[str, str]] = []
        for _ in self.decisions.iter_evaluate(set_aside=lambda *failed: undecidable.append(failed)):
            pass
        return [
            f"client {client!r} cannot be decided ({reason}); to repair: record an event that compensates for "
            "the wrong one (an InvoiceVoided for a wrong invoice, say); history is never edited"
            for client, reason in undecidable
        ]

    # --- writing ------------------------------------------------------------------

    def record(
        self,
        client: str,
        payload: Payload,
        at: Moment,
        *,
        id: str | None = None,
        expected_version: int | None = None,
    ) -> Event:
        """Append one event to ``client``'s stream and return it as stored (with version and position).

        ``expected_version`` (0 for a new client) makes the append fail with
        :class:`~clientrules.domain.errors.ConcurrencyError` if another writer got
        there first. Recording an ``id`` that is stored already changes
        nothing and returns the stored event.
        """
        event = Event.new(client, payload, at, id=id)
        SystemEventGuard(self.store).check_alone(event)
        result = self.store.append([event], expected_version=expected_version)
        if result.stored:
            return result.stored_event(event)
        return next(e for e in self.store.read_client(client) if e.id == event.id)

    def append(self, events: Iterable[Event], *, expected_version: int | None = None) -> AppendResult:
        """Append ``events`` in one transaction (all or none); ids stored already are skipped.

        Events of the system streams are checked as an import checks them
        (:mod:`clientrules.application.system_streams`).
        """
        guard = SystemEventGuard(self.store)
        return self.store.append(guard.checked(events), expected_version=expected_version)

    def import_jsonl(self, source: Source) -> AppendResult:
        """Import a JSON Lines document (``docs/events.md``) in one transaction.

        ``source`` is a path, ``"-"`` for standard input, or a binary or text
        file object. The document is read one line at a time, so its size is
        not limited by memory; a bad line raises
        :class:`~clientrules.domain.errors.InvalidInput` with its line number and
        nothing is stored; so does an event that would break the client's books
        (:mod:`clientrules.domain.money`). Events whose id is stored already are counted in
        ``already_present``, so importing a file again is a no-op. Events of
        the system streams must be as the API writes them, and rule-set
        versions must continue this store's own
        (:mod:`clientrules.application.system_streams`): otherwise nothing is stored.
        """
        guard = SystemEventGuard(self.store)
        numbers = LineNumbers()
        with _lines_of(source) as lines:
            try:
                return self.store.append(guard.checked(iter_events(lines, check=guard, numbers=numbers), each=False))
            except InvalidEvent as refusal:  # the store's door or the books refused an event: name its line
                line = None if refusal.event_id is None else numbers.of(refusal.event_id)
                if line is None:
                    raise
                raise InvalidInput(line, str(refusal)) from None

    @functools.cached_property
    def csv_imports(self) -> CsvImports:
        """Imports of CSV exports (:class:`clientrules.application.csv_import.CsvImports`)."""
        from clientrules.application.csv_import import CsvImports

        return CsvImports(
            self.store,
            currency=self.settings.currency,
            payment_terms_days=self.settings.payment_terms_days,
            clock=self.clock,
        )

    def import_csv(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        preset: str | None = None,
        mapping: str | os.PathLike[str] | None = None,
        dry_run: bool = False,
    ) -> CsvImportResult:
        """Import a CSV export (a path, or its bytes) by ``preset``, by the ``mapping`` file, else by its recognised header.

        All or nothing: a bad row raises :class:`~clientrules.domain.importing.ImportRefused`
        with one line per problem, and nothing is stored; with ``dry_run`` nothing is stored either.
        Importing the same file again stores nothing (``docs/importing.md``).
        """
        mapping_text = None if mapping is None else _read_text(mapping, "utf-8")
        data = source if isinstance(source, bytes) else _read_bytes(source)
        text = _decode(data, "utf-8")
        chosen = self.csv_imports.mapping(text, preset_name=preset, mapping_text=mapping_text, origin=str(mapping or ""))
        if chosen.encoding.replace("-", "").casefold() not in ("utf8", "utf8sig"):
            text = _decode(data, chosen.encoding)
        return self.csv_imports.run(text, chosen, dry_run=dry_run)

    def erase(self, client: str, *, requested_by: str | None = None) -> Erasure:
        """Erase ``client``'s personal data: destroy its key and record ``PersonalDataErased``.

        From then on the client's names, e-mail addresses, notes, reasons and
        free-text answers read as erased (``"[erased]"``; an e-mail address as
        None) everywhere: reads, exports, reports, the web app. Every other field
        stays, so its facts, decisions and statistics do not change. Calling it
        again changes nothing. ``requested_by`` (who asked; not encrypted: no
        personal data there) is recorded with the event. See
        :class:`~clientrules.domain.privacy.Erasure` for what it could not erase.
        """
        check_client_id(client)
        if not self.store.client_version(client):
            raise UnknownClient(client)
        erasure = Event.new(client, PersonalDataErased(requested_by=requested_by), self.clock())
        erased = self.store.erase(erasure)
        surveys: Surveys | None = self.__dict__.get("surveys")  # built, it may remember links; building it writes
        if surveys is not None:
            surveys.forget(client)
        return erased

    def delete_outbox_copies(self, client: str) -> list[Path]:
        """Delete the copies of ``client``'s survey mail in the outbox folder (after an erasure); those deleted."""
        return wiring.delete_outbox_copies(self.settings, self.url, self.surveys.invitations(client))

    # --- reading ------------------------------------------------------------------

    def events(self, client: str, *, until: Moment | None = None) -> list[Event]:
        """``client``'s events in time order (``at``, then append order); only those at or before ``until``."""
        return self.store.read_client(client, until=None if until is None else as_instant(until, field="until"))

    def head_position(self) -> int:
        """The global position of the newest event of any stream (0: none): it changes whenever anything is recorded."""
        return self.store.head_position()

    def version(self, client: str) -> int:
        """``client``'s current version: the number of events in its stream."""
        return self.store.client_version(client)

    def clients(self) -> list[ClientSummary]:
        """Every client (system streams excluded) with its event count and first and last activity."""
        return self.store.clients()

    def export_jsonl(self, out: str | os.PathLike[str] | IO[str], *, client: str | None = None) -> int:
        """Write events as JSON Lines to ``out`` (a text file object, a path, or ``"-"`` for stdout).

        Each stream's events are in time order, streams in the order their first
        event was stored; ids are included so that ``import`` of the output is a
        no-op on this ledger and rebuilds it elsewhere. Returns the number written.
        """
        if client is not None and not self.store.client_version(client):
            raise UnknownClient(client)
        streams = [client] if client is not None else self._streams()
        with _text_output(out) as stream:
            return sum(write_events(self.store.read_client(name), stream) for name in streams)

    def _streams(self) -> list[str]:
        """Every stream, system ones included, in the order its first event was stored."""
        order: dict[str, None] = {}
        for event in self.store.iter_all():
            order.setdefault(event.client)
        return list(order)

    # --- lifetime -----------------------------------------------------------------

    def close(self) -> None:
        """Close the engines and the store."""
        self.engines.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.url!r})"


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise ClientRulesError(f"cannot read {os.fspath(path)}: {error.strerror}") from None


def _read_text(path: str | os.PathLike[str], encoding: str) -> str:
    return _decode(_read_bytes(path), encoding, os.fspath(path))


def _decode(data: bytes, encoding: str, name: str = "the file") -> str:
    try:
        return data.decode(encoding)
    except LookupError:
        raise ClientRulesError(f"{encoding!r} is not an encoding Python knows (such as utf-8 or cp1252)") from None
    except UnicodeDecodeError as error:
        raise ClientRulesError(
            f"{name} is not {encoding} text (byte {error.start + 1}): set [csv] encoding in a mapping file"
        ) from None


@contextlib.contextmanager
def _lines_of(source: Source) -> Iterator[Iterable[bytes] | Iterable[str]]:
    if source == "-":
        yield iter_lines(sys.stdin.buffer)
    elif isinstance(source, (str, os.PathLike)):
        try:
            file = open(source, "rb")
        except OSError as error:
            raise ClientRulesError(f"cannot read {os.fspath(source)}: {error.strerror}") from None
        with file:
            yield iter_lines(file)
    elif isinstance(source, io.TextIOBase):
        yield source
    else:
        yield iter_lines(cast(IO[bytes], source))  # text streams are TextIOBase, read above


@contextlib.contextmanager
def _text_output(out: str | os.PathLike[str] | IO[str]) -> Iterator[IO[str]]:
    if out == "-":
        yield sys.stdout
    elif isinstance(out, (str, os.PathLike)):
        try:
            file = open(out, "w", encoding="utf-8", newline="\n")
        except OSError as error:
            raise ClientRulesError(f"cannot write {os.fspath(out)}: {error.strerror}") from None
        with file:
            yield file
    else:
        yield out


def _keep_moments(ledger: Ledger, cancelled: Callable[[], bool]) -> bool:
    """The work :meth:`Ledger.keep_history_apart` hands its process: the moments, into the store (the caller
    decides at them when it reads them)."""
    return ledger.learning.keep_moments(cancelled=cancelled)


__all__ = ["Ledger"]
