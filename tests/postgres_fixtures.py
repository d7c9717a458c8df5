"""The PostgreSQL server for tests: a fresh schema per test in the ``test`` database, dropped afterwards.

The server is ``$CLIENTRULES_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Where it does not answer, tests
that need it are skipped with the reason; in CI (env ``CI`` set) they fail.
"""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

SERVER_URL = os.environ.get("CLIENTRULES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def server_problem() -> str | None:
    """Why the test server cannot be used, or None when it answers."""
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return " ".join(str(error).split())


def fresh_schema_url(request: pytest.FixtureRequest, tmp_path: Path | None = None) -> str:
    """The URL of an empty schema of its own for this test, dropped when the test ends."""
    from conftest import require_server

    problem = server_problem()
    if problem:
        require_server(f"PostgreSQL at {SERVER_URL} does not answer ({problem})")
    schema = f"test_{uuid.uuid4().hex[:16]}"

    def drop() -> None:
        with psycopg.connect(SERVER_URL, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

    request.addfinalizer(drop)
    separator = "&" if "?" in SERVER_URL else "?"
    return f"{SERVER_URL}{separator}schema={schema}"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL store URL with a schema of its own (created on first open, dropped afterwards)."""
    return fresh_schema_url(request)
