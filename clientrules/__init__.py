"""clientrules: keep, renegotiate, refer out or terminate clients, and learn from those you lose.

The front door is :class:`Ledger`::

    from clientrules import Ledger, InvoiceIssued

    with Ledger.open("clients.db") as ledger:
        ledger.record("acme", InvoiceIssued(invoice_id="A-1", amount=900.0, due_on="2026-03-31"), "2026-03-01")
"""

from importlib.metadata import PackageNotFoundError, version as _version

from clientrules import events
from clientrules.errors import (
    ClientRulesError,
    ConcurrencyError,
    InvalidEvent,
    InvalidInput,
    InvalidRuleSet,
    StoreError,
    UnknownClient,
)
from clientrules.events import *  # noqa: F403
from clientrules.events import __all__ as _event_names
from clientrules.ledger import Ledger
from clientrules.store import AppendResult, ClientSummary, EventStore, open_store

try:
    __version__ = _version("clientrules")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AppendResult",
    "ClientRulesError",
    "ClientSummary",
    "ConcurrencyError",
    "EventStore",
    "InvalidEvent",
    "InvalidInput",
    "InvalidRuleSet",
    "Ledger",
    "StoreError",
    "UnknownClient",
    "__version__",
    "events",
    "open_store",
    *_event_names,
]
