"""The learning page, the HTML report and the text report speak plain words: no reason code, fact name,
ISO date or quarter code is visible unless the owner opens the details."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from clientrules import ClientOnboarded, Ledger, RelationshipEnded, SurveyAnswered, SurveyInvited
from clientrules.adapters.report.html import render_html
from clientrules.domain.learning.report import DETAILS_HEADING
from survey_fixtures import clean_environment, close_app, csrf_token, make_app
from tests.learning_fixtures import build_db

PASSWORD = "learning words owner password"
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
QUARTER = re.compile(r"\b\d{4}-Q[1-4]\b")
#: a rule file's text: a table header or a key = value line
RULE_FILE = re.compile(r"\[\[rules\]\]|^\s*(?:id|verdict|when|advice)\s*=", re.M)


class VisibleText(HTMLParser):
    """The text a reader sees with every fold closed: inside a ``details`` only its ``summary``."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0  # depth of elements whose text is not shown (head, script, style, folded content)
        self._stack: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "input", "link", "meta", "hr"):
            return
        folded = self._stack and self._stack[-1][0] == "details" and tag != "summary"
        hides = tag in ("head", "script", "style", "template") or bool(folded) or ("class", "visually-hidden") in attrs
        self._stack.append((tag, hides))
        self._hidden += hides

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            name, hides = self._stack.pop()
            self._hidden -= hides
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def code_like(text: str) -> list[str]:
    return [*SNAKE_CASE.findall(text), *ISO_DATE.findall(text), *QUARTER.findall(text), *RULE_FILE.findall(text)]


def test_the_scanner_sees_what_is_visible_only() -> None:
    html = (
        "<p>Deadlines were missed (missed_deadlines) on 2026-04-01</p><details><summary>The figures behind it</summary>"
        "<p>deadlines_missed_90d &gt;= 2 in 2026-Q2</p></details><span class='visually-hidden'>x_y</span>"
    )
    assert code_like(visible_text(html)) == ["missed_deadlines", "2026-04-01"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = build_db(tmp_path_factory.mktemp("learning-words") / "ledger.db", clients=60)
    with Ledger.open(str(db)) as ledger:
        ledger.surveys.owner.set_password(PASSWORD)
        for client, by in (("went-in-house", "client"), ("we-ended", "us")):
            ledger.record(client, ClientOnboarded(name=client.replace("-", " ").title(), monthly_value=800.0), "2025-02-03")
            ledger.record(client, RelationshipEnded(initiated_by=by), "2026-03-02")
            ledger.record(client, SurveyInvited(invitation_id=f"inv-{client}", expires_at="2026-04-01"), "2026-03-03")
        ledger.record(
            "went-in-house",
            SurveyAnswered(
                invitation_id="inv-went-in-house", primary_reason="in_house", other_reasons=["budget_cut"], questionnaire=2,
                about="leaving", moved_to="our_own team since 2026-01-01", keep_doing="Plain <b>invoices</b>",
                first_thought_leaving="one_to_three_months", recommend=8,
            ),
            "2026-03-04",
        )  # fmt: skip
        ledger.record(
            "we-ended",
            SurveyAnswered(invitation_id="inv-we-ended", primary_reason="project_finished", about="working_with_us"),
            "2026-03-04",
        )
    return db


@pytest.fixture(scope="module")
def data(db: Path) -> dict:
    with Ledger.open(str(db)) as ledger:
        return ledger.learning.report().to_json()


def without_client_text(text: str, data: dict) -> str:
    """``text`` without what clients wrote (their words are theirs, shown as written)."""
    for group in data["told"]:
        for field in ("what_to_change", "keep_doing", "moved_to"):
            for item in group[field]:
                text = text.replace(" ".join(item["text"].split()), "")
    return text


def test_the_text_report_speaks_words_above_its_details(data: dict) -> None:
    from clientrules.domain.learning.report import Report

    text = Report(data).to_text()
    words, details = text.split(DETAILS_HEADING)
    assert code_like(without_client_text(words, data)) == []
    assert "in_house" in details and "deadlines_missed_90d" in details  # the codes are there for checking
    assert "Our budget was cut, or the business closed" in words or "We brought the work in-house" in words
    assert "Would they recommend us?" in words and "NPS" not in text
    assert re.search(r"We ended [0-9,]+ relationships? ourselves", words)


def test_the_html_report_speaks_words_outside_the_folds(data: dict) -> None:
    html = render_html(data)
    assert code_like(without_client_text(visible_text(html), data)) == []
    assert "Plain &lt;b&gt;invoices&lt;/b&gt;" in html and "NPS" not in html


@pytest.fixture
def owner(db: Path, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    copy = tmp_path / "ledger.db"
    copy.write_bytes(db.read_bytes())
    app = make_app(str(copy), tmp_path)
    client = app.test_client()
    token = csrf_token(client.get("/owner/login").get_data(as_text=True))
    assert client.post("/owner/login", data={"csrf_token": token, "password": PASSWORD}).status_code == 303
    yield client
    close_app(app)


def test_the_learning_page_speaks_words_outside_the_folds(owner, data: dict) -> None:
    html = owner.get("/owner/learning/").get_data(as_text=True)
    text = visible_text(html)
    assert code_like(without_client_text(text, data)) == [], text
    assert "What we learned from clients who left" in text and "Add this rule" in text
    assert "Accept" not in text and "NPS" not in text
    for sentence in data["in_words"]["summary"]:
        assert sentence in text
    assert len(re.findall(r'\bid="csrf_token"', html)) == 0  # several forms: no repeated id


def test_each_proposal_says_whom_it_would_flag_today(owner, data: dict) -> None:
    html = owner.get("/owner/learning/").get_data(as_text=True)
    assert data["proposals"]
    for proposal in data["proposals"]:
        assert proposal["words"]["flags_count"] in html
        for name in proposal["at_risk_names"][:25]:
            assert f"<li>{name}</li>" in html


def test_the_text_report_writes_out_25_answers_and_counts_the_rest(data: dict) -> None:
    import copy

    from clientrules.domain.learning.report import Report

    many = copy.deepcopy(data)
    item = {"client": "went-in-house", "answered_on": "2026-03-04", "text": "Same again"}
    many["told"] = [{"code": "in_house", "label": "We brought the work in-house", "what_to_change": [item] * 30,
                     "keep_doing": [], "moved_to": []}]  # fmt: skip
    words = Report(many).to_text().split(DETAILS_HEADING)[0]
    assert words.count("Same again") == 25 and "and 5 more answers (report --json lists them all)" in words
