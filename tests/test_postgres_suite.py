"""Other areas' tests run again on PostgreSQL: the ledger API (tests/test_ledger.py), the ledger CLI
(tests/test_cli_ledger.py) and the shared stories (tests/test_scenarios.py).

The test functions are imported, so pytest collects them here too, with this
module's fixtures: ``db_url`` (also behind the shared ``ledger`` fixture) is a
fresh PostgreSQL schema, and ``db`` the stories imported into one. A test added
there that takes ``ledger`` or ``db_url`` belongs in these lists.
"""

from __future__ import annotations

import pytest

from clientrules.ledger import Ledger
from postgres_fixtures import fresh_schema_url
from test_cli_ledger import (  # noqa: F401 (the tests themselves)
    test_a_bad_line_is_one_error_line_and_nothing_is_stored,
    test_clients_lists_counts_and_last_activity,
    test_export_of_one_client,
    test_history_is_a_readable_timeline,
    test_import_reads_standard_input,
    test_import_reports_stored_and_already_present,
    test_import_then_export_reproduces_the_stories,
    test_unknown_clients_are_one_error_line,
    test_usage_errors_exit_2,
)
from test_ledger import (  # noqa: F401
    test_a_bad_line_after_many_good_ones_stores_nothing,
    test_a_bad_line_in_the_middle_stores_nothing,
    test_an_export_imported_elsewhere_exports_identically,
    test_events_until_a_moment,
    test_export_is_in_time_order_per_client_in_order_of_first_event,
    test_export_of_an_unknown_client_is_an_error,
    test_identical_lines_without_ids_are_distinct_events,
    test_import_of_a_missing_file_is_one_clear_error,
    test_import_reads_text_and_binary_file_objects,
    test_import_stores_the_stories_then_re_import_is_a_no_op,
    test_import_then_export_round_trips_the_stories,
    test_non_ascii_text_round_trips,
    test_record_refuses_bad_values_naming_the_field,
    test_record_returns_the_stored_event,
    test_recording_a_stored_id_again_changes_nothing,
    test_two_ledgers_on_one_file_conflict_on_the_expected_version,
    test_unknown_data_keys_survive_import_and_export,
)
from test_scenarios import (  # noqa: F401
    STORIES,
    test_named_clients_only,
    test_stories_through_the_api,
    test_stories_through_the_cli_json,
)


@pytest.fixture
def db_url(pg_url: str) -> str:
    return pg_url


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest) -> str:
    url = fresh_schema_url(request)
    with Ledger.open(url) as ledger:
        ledger.import_jsonl(str(STORIES))
    return url
