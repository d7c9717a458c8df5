"""The run's shared data: the generated history as a JSON Lines file and as an imported SQLite database.

Made once per run in the work directory, by whichever benchmark needs them first.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.history import history, write_jsonl
from benchmarks.scale import Context
from clientrules import Ledger


def _stem(context: Context) -> str:
    return f"history-{context.scale.history_clients}-{context.scale.history_events}"


def history_file(context: Context) -> Path:
    """The shared history as a JSON Lines file (what ``clientrules import`` reads)."""
    path = context.workdir / f"{_stem(context)}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        write_jsonl(history(context.scale.history_clients, context.scale.history_events), partial)
        partial.rename(path)
    return path


def history_db(context: Context) -> Path:
    """The shared history imported into a SQLite ledger."""
    path = context.workdir / f"{_stem(context)}.db"
    if not path.exists():
        partial = context.workdir / "partial.db"
        with Ledger.open(partial) as ledger:
            ledger.import_jsonl(history_file(context))
        keep_as_history_db(context, partial)
    return path


def keep_as_history_db(context: Context, imported: Path) -> None:
    """Keep a closed ledger that imported :func:`history_file` as the shared database (unless there is one)."""
    path = context.workdir / f"{_stem(context)}.db"
    if path.exists():
        imported.unlink()
    else:
        imported.rename(path)
