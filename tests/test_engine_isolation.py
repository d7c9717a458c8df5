"""A native crash of durable-rules ends only the engine's own process: callers get a clean error and go on.

The crash is real: the engine's child process is killed (SIGKILL from the
test), or made to abort as a heap corruption does (SIGABRT) when asked about
one client (an engine factory whose child is ``aborting_engine.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
from aborting_engine import factory
from click.testing import CliRunner
from conftest import STORIES
from survey_fixtures import add_departed, clean_environment, close_app, make_app

from clientrules import Ledger
from clientrules.domain.errors import EngineError
from clientrules.adapters.isolated import IsolatedEngine
from clientrules.application.evaluation_queue import run_worker
from clientrules.cli.context import CliState
from clientrules.cli.main import cli
from clientrules.domain.events import Instant
from clientrules.domain.facts import Facts

AS_OF = "2026-07-01"
DOOMED = "sauvage-bags"  # a client of the stories


def facts(**values) -> Facts:
    return Facts(as_of=Instant.parse(AS_OF), values=values, evidence={})


def test_a_killed_engine_is_a_clean_error_naming_the_version_and_the_next_call_starts_a_new_one(ledger):
    version = ledger.rules.current()
    with IsolatedEngine(version) as engine:
        assert engine.fired(facts(late_invoices_12m=0)) == engine.fired(facts(late_invoices_12m=0))
        os.kill(engine.pid, signal.SIGKILL)
        with pytest.raises(EngineError, match=rf"rule-set version {version.version} \(it was killed by SIGKILL\)"):
            engine.fired(facts(late_invoices_12m=0))
        assert engine.fired(facts(late_invoices_12m=5)) == IsolatedEngine(version).fired(facts(late_invoices_12m=5))


#: engines whose child process aborts when asked about ``DOOMED``
ABORTING = factory(DOOMED)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_evaluate_sets_aside_the_client_the_engine_dies_on_with_one_line_and_decides_the_others(store_url, workers):
    with Ledger.open(store_url) as ledger:
        ledger.import_jsonl(STORIES)
        others = sorted(client.client for client in ledger.clients() if client.client != DOOMED)
    arguments = ["--db", store_url, "evaluate", "--as-of", AS_OF, "--workers", workers]
    result = CliRunner().invoke(cli, arguments, obj=CliState(engine_factory=ABORTING))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert sorted(line.split()[0] for line in result.stdout.splitlines()[1:] if not line.startswith(" ")) == others
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith(f"error: client {DOOMED} was set aside, the others were decided")
    assert "rule-set version 1 (it was killed by SIGABRT: free(): invalid size (simulated))" in error


def test_the_postgresql_worker_sets_aside_the_client_the_engine_dies_on_and_records_the_others(pg_url):
    with Ledger.open(pg_url, engine_factory=ABORTING) as ledger:
        ledger.import_jsonl(STORIES)
        clients = len(ledger.clients())
        report = run_worker(ledger.evaluation_queue(), once=True)
        assert (report.evaluated, report.failed) == (clients - 1, 1)
        assert [d.client for d in ledger.decisions.recorded(DOOMED)] == []


def test_the_web_app_answers_healthz_and_survey_links_and_shows_a_clean_page_when_the_engine_dies(
    db_url, tmp_path, monkeypatch
):
    from test_web_security import PASSWORD, log_in

    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.import_jsonl(STORIES)
        add_departed(ledger, "left-us")
        link = ledger.surveys.invite("left-us").url("")
        ledger.surveys.owner.set_password(PASSWORD)
    for doomed, status in ((DOOMED, 200), ("*", 503)):  # one client's crash sets it aside; everyone's: no decisions
        fresh = str(tmp_path / f"{status}.db")  # a copy with no standings kept from the round before
        shutil.copyfile(db_url, fresh)
        app = make_app(fresh, tmp_path, ledger=Ledger.open(fresh, engine_factory=factory(doomed)))
        try:
            owner = app.test_client()
            assert log_in(owner).status_code == 303
            for _ in range(2):  # the engine dies each time; the server goes on
                page = owner.get("/owner/")
                assert page.status_code == status
                text = page.get_data(as_text=True)
                assert "Traceback" not in text and "SIGABRT" not in text
                if status == 200:
                    assert "1 client could not be decided" in text
                else:
                    assert "Decisions are unavailable for now" in text
                assert app.test_client().get("/healthz").status_code == 200
                assert app.test_client().get(link).status_code == 200
        finally:
            close_app(app)


def test_the_engine_process_loads_durable_rules_and_the_module_that_runs_it_not_the_library() -> None:
    """The child starts while the first clients are read: what it imports is what its start costs."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, clientrules.adapters.engine_process;"
         " print(' '.join(sorted(m for m in sys.modules if m.startswith('clientrules'))))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert set(loaded) == {"clientrules", "clientrules.adapters", "clientrules.adapters.durable_run",
                           "clientrules.adapters.engine_process", "clientrules.domain", "clientrules.domain.errors"}


def test_the_engine_process_runs_this_clientrules_whatever_folder_it_is_started_from(ledger, tmp_path, monkeypatch):
    """``-m`` puts the working folder first on the child's module path: a ``clientrules`` there is not the one run."""
    decoy = tmp_path / "clientrules"
    decoy.mkdir()
    (decoy / "__init__.py").write_text('raise ImportError("not the clientrules that started the engine")\n')
    monkeypatch.chdir(tmp_path)
    with IsolatedEngine(ledger.rules.current()) as engine:
        assert engine.fired(facts(contract_breaches_365d=1)) == ["contract-breach"]
