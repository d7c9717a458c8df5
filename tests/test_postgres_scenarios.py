"""The shared stories' tests (tests/test_scenarios.py), run again on PostgreSQL.

The test functions are imported, so pytest collects them here too; they get
this module's ``db`` fixture: the stories imported into a fresh PostgreSQL schema.
"""

from __future__ import annotations

import pytest

from clientrules.ledger import Ledger
from postgres_fixtures import fresh_schema_url
from test_scenarios import (  # noqa: F401 (the tests themselves)
    STORIES,
    test_named_clients_only,
    test_stories_through_the_api,
    test_stories_through_the_cli_json,
)


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest) -> str:
    url = fresh_schema_url(request)
    with Ledger.open(url) as ledger:
        ledger.import_jsonl(str(STORIES))
    return url
