"""Every event type renders everywhere: one event of each registered type, system ones included, on every page.

A client holding one event of each type (and the watcher's own
``DecisionChanged`` with its reasons) is shown on its page, the dashboard,
What changed, the learning page and the report, on both backends; no view
assumes the shape of a value.
"""

from __future__ import annotations

import re

import pytest
from survey_fixtures import clean_environment, close_app, csrf_token, make_app
from test_events import SAMPLES

from clientrules import Ledger
from clientrules.domain.events import LEARNING_STREAM, registry

PASSWORD = "a proper owner password"
#: types that live in a system stream or are written by an operation of their own
ELSEWHERE = {"RuleSetAdopted", "ProposalDecided", "PersonalDataErased"}
PAGES = ["/owner/", "/owner/clients/every", "/owner/changes/", "/owner/learning/", "/owner/invitations", "/owner/rules"]


@pytest.mark.slow
def test_one_event_of_every_type_renders_on_every_page_on_both_backends(store_url, tmp_path, monkeypatch):
    clean_environment(monkeypatch)
    with Ledger.open(store_url) as ledger:
        ledger.rules.current()  # rule-set version 1, which the decision events refer to
        for day, (type_name, data) in enumerate(SAMPLES.items(), start=1):
            if type_name not in ELSEWHERE:
                ledger.record("every", registry.decode(type_name, dict(data)), f"2026-01-{day:02d}")
        ledger.record(LEARNING_STREAM, registry.decode("ProposalDecided", dict(SAMPLES["ProposalDecided"])), "2026-02-01")
        ledger.alerts.once(as_of="2026-02-02")  # the watcher's baseline: its DecisionChanged, reasons and all
        ledger.record("other", registry.decode("ContractBreached", {"clause": "9"}), "2026-02-03")
        ledger.alerts.once(as_of="2026-02-04")
        ledger.erase("other")
        ledger.surveys.owner.set_password(PASSWORD)
        assert {event.type for event in ledger.events("every")} >= set(SAMPLES) - ELSEWHERE
        assert ledger.alerts.changes(), "the watcher recorded a change to show"
    app = make_app(store_url, tmp_path)
    try:
        owner = app.test_client()
        token = csrf_token(owner.get("/owner/login").get_data(as_text=True))
        assert owner.post("/owner/login", data={"csrf_token": token, "password": PASSWORD}).status_code == 303
        for page in [*PAGES, "/owner/clients/other"]:
            response = owner.get(page)
            assert response.status_code == 200, (page, response.get_data(as_text=True)[-2000:])
            assert "Something went wrong" not in response.get_data(as_text=True), page
        page = owner.get("/owner/clients/every").get_data(as_text=True)
        assert re.search(r"Decision changed|changed", page), "the timeline shows the watcher's change"
    finally:
        close_app(app)
    with Ledger.open(store_url) as ledger:  # the report as a file (``clientrules report --html``)
        assert "</html>" in ledger.reports.html(ledger.learning.report().to_json())
