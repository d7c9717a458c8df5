"""What the commands share: the ``--db`` choice and the ledger opened from it, once per invocation."""

from __future__ import annotations

import attrs
import click

from clientrules.ledger import Ledger


@attrs.define
class CliState:
    """The root command's options, kept on the click context (``ctx.obj``)."""

    db: str | None = None
    ledger: Ledger | None = None


def ctx_ledger(*, create: bool = True) -> Ledger:
    """The ledger of ``--db`` (else ``$CLIENTRULES_DB``, else ``./clientrules.db``), opened on first use.

    Commands that only read pass ``create=False``: on a SQLite file that does
    not exist they fail with a clear error instead of creating an empty database.
    The ledger is closed when the command ends.
    """
    context = click.get_current_context()
    state = context.ensure_object(CliState)
    if state.ledger is None:
        state.ledger = Ledger.open(state.db, create=create)
        context.find_root().call_on_close(state.ledger.close)
    return state.ledger
