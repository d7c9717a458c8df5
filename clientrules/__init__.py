"""clientrules: keep, renegotiate, refer out or terminate clients, and learn from those you lose.

The front door is :class:`Ledger`::

    from clientrules import Ledger, InvoiceIssued

    with Ledger.open("clients.db") as ledger:
        ledger.record("acme", InvoiceIssued(invoice_id="A-1", amount=900.0, due_on="2026-03-31"), "2026-03-01")

Everything a program, the ``clientrules`` command or the web app uses is
importable from here: the ledger and its services' results, the event types,
the errors, the vocabularies pages and commands word things with. The types
to annotate with (the services, the ports, the aliases) are in
:mod:`clientrules.types`. Nothing deeper is public.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clientrules._front import *  # noqa: F403
    from clientrules._front import __all__, __version__

else:  # for type checkers the names are those imported above; a name not exported stays an error

    def __getattr__(name: str) -> Any:
        """A public name, imported on first use rather than with the package: a process that needs only a few
        of the library's modules (the engine's child) starts without loading the rest, half of its start-up."""
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            raise AttributeError(name)  # a module of the package (``from clientrules import wiring``): imported as one
        front = importlib.import_module("clientrules._front")
        if name != "__all__" and name not in front.__all__:
            raise AttributeError(f"module 'clientrules' has no attribute {name!r}")
        value = getattr(front, name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *importlib.import_module("clientrules._front").__all__})
