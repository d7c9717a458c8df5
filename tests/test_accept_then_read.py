"""Accept, then read: whatever a store accepts, by whichever path, every command and page reads back.

Hypothesis generates batches of events of every registered type (system
ones included, so forged ones too) at and beyond every bound: dates and
moments at the ends of the supported years and past them, huge, infinite and
NaN numbers, texts past the event limit, values of the wrong shape, missing
and extra keys. Each goes into the store by one of its paths: the library's
``record``, a JSON Lines import, a CSV import (invoices), or the owner's form
through the web app. A refusal must be one line of a ``ClientRulesError``
with nothing stored (a form answers 400, never 500). Once the batches are in,
everything is read once, over the whole store: evaluate (nobody set aside),
the export and its import, the learning report (text and HTML), a backtest,
the proposals, a watcher pass and its changes, ``db check``, the command
line, and the owner's pages (dashboard, each client, What changed, learning,
invitations, rules).

Each backend lives at one end of the calendar (SQLite by the last day of the
year 8999, PostgreSQL by the first day of the year 1000), with the ledger's
clock there, so that moments at the edge are recorded as today's and the
history spans two years (a backtest replays month by month).
"""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from survey_fixtures import clean_environment, close_app, csrf_token, make_app
from test_events import SAMPLES

from clientrules import ClientRulesError, Instant, Ledger
from clientrules.cli.main import cli
from clientrules.domain.events import registry
from survey_app.event_forms import RECORDABLE

PASSWORD = "a proper owner password"
#: examples per backend, and events per example: enough to meet every bound, cheap enough for CI
EXAMPLES = 20
BATCH = 40
#: each backend's end of the calendar: its clock, the moments its events are recorded at (the edge last)
ERAS = {
    "sqlite": ("8999-12-31T23:59:59Z", ["8998-02-01", "8998-11-15T10:00:00+02:00", "8999-06-30", "8999-12-31T23:59:59Z"]),
    "postgres": ("1001-12-31T12:00:00Z", ["1000-01-01T00:00:00Z", "1000-01-01T10:00:00+09:00", "1000-06-30", "1001-11-15"]),
}
#: moments past either end (in UTC), which no path may store
BEYOND = ["0001-01-01", "0999-12-31T23:59:59Z", "1000-01-01T00:00:00+14:00", "8999-12-31T23:59:59-14:00", "9000-01-01", "9999-12-31"]
DATES = ["1000-01-01", "8999-12-31", "0999-12-31", "9000-01-01", "0001-01-01", "9999-12-31", "2026-02-30", "", "8999-12-15"]
INSTANTS = ["1000-01-01T00:00:00Z", "8999-12-31T23:59:59Z", "8999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z", "x"]
NUMBERS = [
    0, -1, 1, 0.1, -0.0, 1e-300, 3650, 3651, 10**15, 10**16, 2**63, 1.7e308, -1.7e308, 10**400,
    math.inf, -math.inf, math.nan, True, "12", None,
]  # fmt: skip
TEXTS = ["", " ", "x" * 70_000, "é" * 30_000, "\x00", "\ud800", "<script>alert(1)</script>", "a\nb", "{{ 7*7 }}"]
ODD_SHAPES = [None, [], {}, [1, [2, [3]]], {"a": {"b": [1, None]}}, [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
CLIENTS = ["p1", "p2", "p3"]
ODD_CLIENTS = ["", "$rules", "$learning", "$nobody", "x" * 300, "a b"]
SYSTEM_STREAMS = {"RuleSetAdopted": "$rules", "ProposalDecided": "$learning"}


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` four times in five, else ``bad``."""
    return st.integers(0, 4).flatmap(lambda roll: bad if roll == 0 else good)


def _like(base: Any, key: str) -> st.SearchStrategy[Any]:
    """A value for ``key`` where the sample has ``base``: at and beyond the bounds of its kind, or of another shape."""
    odd = st.sampled_from(ODD_SHAPES)
    if isinstance(base, bool):
        mine = st.sampled_from([True, False, "yes", 1])
    elif isinstance(base, (int, float)):
        mine = st.sampled_from(NUMBERS) | st.integers(-(10**20), 10**20) | st.floats()
    elif isinstance(base, str) and key.endswith(("_on", "_at")) or key == "as_of":
        mine = st.sampled_from(DATES + INSTANTS)
    elif isinstance(base, str):
        mine = st.sampled_from(TEXTS) | st.text(max_size=12)
    else:
        mine = st.sampled_from([base, [base], {"rule": base}, [{"rule": None}], ["x" * 70_000]])
    return st.integers(0, 9).flatmap(lambda roll: st.just(base) if roll < 7 else mine if roll < 9 else odd)


@st.composite
def events(draw: st.DrawFn, era: list[str]) -> dict[str, Any]:
    """One event to store: its path, client, moment, type and data."""
    type_name = draw(st.sampled_from(sorted(SAMPLES)))
    data = {key: draw(_like(value, key)) for key, value in SAMPLES[type_name].items()}
    if data and draw(st.integers(0, 4)) == 0:
        del data[draw(st.sampled_from(sorted(data)))]
    if draw(st.integers(0, 4)) == 0:
        data[draw(st.sampled_from(["future_field", "extra", "reasons", "due_on"]))] = draw(st.sampled_from(ODD_SHAPES + DATES))
    default_client = SYSTEM_STREAMS.get(type_name, "p1")
    client = draw(_mostly(st.sampled_from([default_client, *CLIENTS]), st.sampled_from(ODD_CLIENTS)))
    at = draw(_mostly(st.sampled_from(era), st.sampled_from(BEYOND)))
    paths = ["record", "jsonl", "form"] if type_name in RECORDABLE else ["record", "jsonl"]
    return {"path": draw(st.sampled_from(paths)), "client": client, "at": at, "type": type_name, "data": data}


@st.composite
def invoice_rows(draw: st.DrawFn, era: list[str]) -> list[dict[str, str]]:
    """Rows of an Invoice Ninja export (the CSV import), with amounts and dates at and beyond their bounds."""
    day = draw(_mostly(st.sampled_from([moment[:10] for moment in era]), st.sampled_from(BEYOND)))[:10]
    rows = []
    for number in range(draw(st.integers(1, 3))):
        amount = draw(_mostly(st.sampled_from(["640.00", "1,000.50", "0.01"]), st.sampled_from(["0", "-5", "1e308", "inf", "nan", "9" * 40, ""])))
        rows.append({
            "Client Name": draw(_mostly(st.sampled_from(["Gamma GmbH", "p2"]), st.sampled_from(["", "x" * 300]))),
            "Invoice Number": f"N-{uuid.uuid4().hex[:8]}-{number}",
            "Amount": amount,
            "Balance": draw(_mostly(st.sampled_from(["0.00", amount]), st.just("inf"))),
            "Invoice Date": day,
            "Due Date": draw(_mostly(st.just(day), st.sampled_from(DATES))),
            "Status": draw(st.sampled_from(["Paid", "Sent", ""])),
        })  # fmt: skip
    return rows


class Door:
    """Stores events by each path and checks each refusal: one line, a ClientRulesError, nothing stored."""

    def __init__(self, ledger: Ledger, owner: Any, token: str) -> None:
        self.ledger = ledger
        self.owner = owner
        self.token = token
        self.accepted: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    def store(self, event: dict[str, Any]) -> None:
        head = self.ledger.head_position()
        path = event["path"]
        if path == "form":
            stored = self._form(event)
        else:
            try:
                if path == "record":
                    self.ledger.record(event["client"], registry.decode(event["type"], dict(event["data"])), event["at"])
                else:
                    line = json.dumps({k: event[k] for k in ("client", "at", "type", "data")}, ensure_ascii=False)
                    self.ledger.import_jsonl(io.StringIO(line + "\n"))
                stored = True
            except ClientRulesError as error:
                self._check_refusal(error, event, one_line=True)
                stored = False
            except (UnicodeEncodeError, ValueError) as error:
                if path != "jsonl" or "surrogate" not in str(error):  # json.dumps of a lone surrogate: no line to import
                    raise
                stored = False
        self._count(event, stored, head)

    def store_csv(self, rows: list[dict[str, str]]) -> None:
        head = self.ledger.head_position()
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        try:
            self.ledger.import_csv(text.getvalue().encode("utf-8"), preset="invoiceninja")
            stored = True
        except ClientRulesError as error:
            self._check_refusal(error, {"path": "csv", "rows": rows}, one_line=False)
            stored = False
        self._count({"path": "csv"}, stored, head)

    def _form(self, event: dict[str, Any]) -> bool:
        if event["client"] not in CLIENTS or not self.ledger.store.client_version(event["client"]):
            return False  # a form records only for a client the owner sees
        form = {"csrf_token": self.token, "idempotency_key": uuid.uuid4().hex, "at": event["at"][:10]}
        for key, value in event["data"].items():
            form[key.rstrip("_")] = "" if value is None else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        try:
            response = self.owner.post(f"/owner/clients/{event['client']}/record/{event['type']}", data=form)
        except UnicodeEncodeError:
            return False  # a lone surrogate cannot be sent by a browser
        assert response.status_code in (303, 400), (response.status_code, event, response.get_data(as_text=True)[-1500:])
        return response.status_code == 303

    def _check_refusal(self, error: ClientRulesError, event: dict[str, Any], *, one_line: bool) -> None:
        message = str(error)
        assert message.strip() and "Traceback" not in message, event
        if one_line:
            assert "\n" not in message, (message, event)

    def _count(self, event: dict[str, Any], stored: bool, head: int) -> None:
        if stored:
            self.accepted[event["path"]] = self.accepted.get(event["path"], 0) + 1
        else:
            assert self.ledger.head_position() == head, f"refused, yet something was stored: {event}"
            self.refused[event["path"]] = self.refused.get(event["path"], 0) + 1


def _backend(url: str) -> str:
    return "postgres" if url.startswith("postgresql") else "sqlite"


@pytest.mark.slow
def test_whatever_a_store_accepts_every_command_and_page_reads_on_both_backends(store_url, tmp_path, monkeypatch):
    clean_environment(monkeypatch)
    now, era = ERAS[_backend(store_url)]
    clock_at = Instant.parse(now)

    def clock() -> Instant:
        return clock_at

    with Ledger.open(store_url, clock=clock) as ledger:
        ledger.rules.current()
        for client in CLIENTS:
            ledger.record(client, registry.decode("ClientOnboarded", {"name": client.upper()}), era[0])
        ledger.surveys.owner.set_password(PASSWORD)
    app = make_app(store_url, tmp_path, ledger=Ledger.open(store_url, clock=clock))
    try:
        owner = app.test_client()
        token = csrf_token(owner.get("/owner/login").get_data(as_text=True))
        assert owner.post("/owner/login", data={"csrf_token": token, "password": PASSWORD}).status_code == 303
        token = csrf_token(owner.get("/owner/clients/p1/record/ReplySent").get_data(as_text=True))  # the signed-in session's
        door = Door(app.extensions["clientrules"].ledger, owner, token)

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # the store keeps every example's events: shrinking one would mean nothing
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        )
        @given(batch=st.lists(events(era), min_size=BATCH // 2, max_size=BATCH), rows=invoice_rows(era))
        def accept_or_refuse(batch: list[dict[str, Any]], rows: list[dict[str, str]]) -> None:
            for event in batch:
                door.store(event)
            door.store_csv(rows)

        accept_or_refuse()
        assert all(door.accepted.get(path) for path in ("record", "jsonl", "form", "csv")), door.accepted
        assert all(door.refused.get(path) for path in ("record", "jsonl", "form", "csv")), door.refused

        clients = door.ledger.store.client_ids()
        for page in ["/owner/", "/owner/changes/", "/owner/learning/", "/owner/invitations", "/owner/rules"] + [
            f"/owner/clients/{client}" for client in clients if not client.startswith("$")
        ]:
            response = owner.get(page)
            assert response.status_code == 200, (page, response.get_data(as_text=True)[-2000:])
    finally:
        close_app(app)

    with Ledger.open(store_url, clock=clock) as ledger:
        set_aside: list[tuple[str, str]] = []
        decided = list(ledger.iter_evaluate(set_aside=lambda *failed: set_aside.append(failed)))
        assert set_aside == [] and decided
        assert ledger.check() == []
        exported = io.StringIO()
        count = ledger.export_jsonl(exported)
        with Ledger.open("memory:") as again:
            assert again.import_jsonl(io.StringIO(exported.getvalue())).stored == count, "the export imports again"
        report = ledger.learning.report()
        assert report.to_text() and "</html>" in ledger.reports.html(report.to_json())
        assert ledger.learning.backtest().set_aside == ()
        ledger.learning.proposals(with_backtest=False)
        ledger.alerts.once()
        ledger.alerts.changes()
        assert ledger.portfolio.page().set_aside == ()

    runner = CliRunner()
    for command in (["evaluate", "--as-of", now], ["export"], ["db", "check"], ["changes"]):
        result = runner.invoke(cli, ["--db", store_url, *command])
        assert result.exit_code == 0 and "Traceback" not in result.output, (command, result.output[-2000:])
