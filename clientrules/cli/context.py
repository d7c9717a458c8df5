"""What the commands share: the ``--db`` choice and the ledger opened from it, once per invocation."""

from __future__ import annotations

import gc
import math
from typing import IO, Any

import attrs
import click

from clientrules import MAX_RULESET_BYTES, ClientRulesError, Ledger
from clientrules.types import EngineFactory


@attrs.define
class CliState:
    """The root command's options, kept on the click context (``ctx.obj``).

    A test passes its own (``CliRunner().invoke(cli, args, obj=CliState(engine_factory=...))``)
    to run the commands on another engine.
    """

    db: str | None = None
    engine_factory: EngineFactory | None = None
    opened: Ledger | None = None
    #: the command runs in a process of its own (the console script's): see :meth:`freeze_what_lives_on`
    owns_process: bool = False

    def freeze_what_lives_on(self) -> None:
        """In a process of its own (:attr:`owns_process`), freeze everything made so far for Python's garbage
        collector (``gc.freeze``): what lives as long as the command (the imports, a server's app) is then walked by
        no later collection of a long command. A program running the command itself is left as it is."""
        if self.owns_process:
            gc.freeze()

    def ledger(self, *, create: bool = True) -> Ledger:
        """The ledger of ``--db`` (else ``$CLIENTRULES_DB``, else ``./clientrules.db``), opened on first use.

        Commands that only read pass ``create=False``: on a SQLite file that does
        not exist they fail with a clear error instead of creating an empty database.
        The ledger is closed when the command ends.
        """
        if self.opened is None:
            if self.engine_factory is None:
                self.opened = Ledger.open(self.db, create=create)
            else:
                self.opened = Ledger.open(self.db, create=create, engine_factory=self.engine_factory)
            click.get_current_context().find_root().call_on_close(self.opened.close)
        return self.opened


def ctx_ledger(*, create: bool = True) -> Ledger:
    """The ledger of the running command (see :meth:`CliState.ledger`)."""
    return click.get_current_context().ensure_object(CliState).ledger(create=create)


class Seconds(click.FloatRange):
    """A number of seconds in a range: finite (``nan`` passes click's own range check, and ``inf`` never ends)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        super().__init__(low, high)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value} is not a number of seconds from {self.min:g} to {self.max:g}.", param, ctx)
        return seconds


def read_rule_file(file: IO[str]) -> str:
    """A rule-set file's text, read no further than the longest one allowed (a huge file is refused unread)."""
    try:
        text = file.read(MAX_RULESET_BYTES + 1)
    except UnicodeDecodeError:
        raise ClientRulesError(f"{file.name} is not UTF-8 text") from None
    if len(text) > MAX_RULESET_BYTES:
        raise ClientRulesError(
            f"{file.name} is longer than {MAX_RULESET_BYTES // 1024} KiB: more than {MAX_RULESET_BYTES} bytes of rule-file text, "
            f"at most {MAX_RULESET_BYTES} allowed"
        )
    return text
