"""Adapters at the edge: the SQLite and PostgreSQL stores, the durable-rules engine, mail and report rendering.

Each one implements a port of :mod:`clientrules.ports` with a real technology.
"""
