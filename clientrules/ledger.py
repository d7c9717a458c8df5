"""The application service: a client ledger over an event store (the library's front door).

``Ledger`` is what the CLI, the web app and embedding developers call. Each
capability lives in its own module and hangs off the ledger as a property
(``ledger.decisions``, ``ledger.rules``, ``ledger.surveys``, ``ledger.learning``).
"""
