"""Event stores: the interface (:mod:`clientrules.ports`) and its backends, chosen by URL."""

from __future__ import annotations

import os

from clientrules.domain.errors import StoreError
from clientrules.ports import AppendResult, ClientSummary, EventStore

__all__ = ["AppendResult", "ClientSummary", "EventStore", "open_store"]


def open_store(url: str | os.PathLike[str], *, create: bool = True) -> EventStore:
    """Open the event store at ``url``.

    * a file path or ``sqlite:///path`` (``sqlite:////absolute/path``), optionally
      ``?synchronous=full``: the embedded SQLite store, created on first use
      unless ``create`` is false;
    * ``postgresql://user@host/dbname``: the PostgreSQL store;
    * ``memory:``: a new, empty store in this process's memory (:mod:`~clientrules.adapters.store.memory`).
    """
    text = os.fspath(url)
    if text == "memory:":
        from clientrules.adapters.store.memory import MemoryStore

        return MemoryStore()
    if text.startswith(("postgresql://", "postgres://")):
        try:
            from clientrules.adapters.store.postgres import PostgresStore
        except ModuleNotFoundError as error:
            raise StoreError(f"PostgreSQL support is not available ({error})") from None
        return PostgresStore(text)
    scheme, separator, _ = text.partition("://")
    if separator and scheme != "sqlite":
        raise StoreError(f"unknown database URL scheme {scheme!r} (use a path, sqlite:///path or postgresql://...)")
    from clientrules.adapters.store.sqlite import SqliteStore

    return SqliteStore(text, create=create)
