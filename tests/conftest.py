"""Fixtures shared by every test module: databases on real files, the shared scenarios, store backends."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

from clientrules import Ledger
from postgres_fixtures import fresh_schema_url, pg_url  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[1]


#: the data the tests read: the story clients' events and their expected decisions per playbook version
DATA = REPO / "tests" / "data"
STORIES = DATA / "stories.jsonl"


def require_server(reason: str) -> None:
    """Skip the test where a server it needs is missing, but fail in CI (env ``CI`` set), where it must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def run_in_threads(work: Callable[[int], None], count: int) -> list[BaseException]:
    """Run ``work(0)`` ... ``work(count - 1)`` in threads at once, until all end; what they raised."""
    errors: list[BaseException] = []

    def guarded(number: int) -> None:
        try:
            work(number)
        except BaseException as error:  # returned to the test, which asserts there is none
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture
def stories_path() -> Path:
    """``tests/data/stories.jsonl``: the events of the story clients."""
    return STORIES


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite database file that does not exist yet."""
    return str(tmp_path / "clientrules.db")


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A fresh ledger in memory, for what does not test storage (the store contract runs on every backend)."""
    with Ledger.open("memory:") as opened:
        yield opened


@pytest.fixture
def file_ledger(db_url: str) -> Iterator[Ledger]:
    """A ledger on a fresh SQLite file: for what reads it again by its path (the CLI, another process)."""
    with Ledger.open(db_url) as opened:
        yield opened


def _sqlite_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


#: backend name -> how to get the URL of a fresh, empty store of that backend
STORE_BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": _sqlite_store_url,
    "postgres": fresh_schema_url,
}


@pytest.fixture(params=sorted(STORE_BACKENDS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty store, once per backend (tests/test_store_contract.py runs on each)."""
    return STORE_BACKENDS[request.param](request, tmp_path)
