"""Application services: decisions, rule versions, surveys, learning and workers.

Each service receives the ports it needs (:mod:`clientrules.ports`), never a
concrete store or engine and never the :class:`~clientrules.Ledger`.
"""
