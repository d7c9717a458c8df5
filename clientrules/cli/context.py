"""What the commands share: the ``--db`` choice and the ledger opened from it, once per invocation."""

from __future__ import annotations

import attrs
import click

from clientrules import Ledger
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
