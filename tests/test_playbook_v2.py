"""Version 2 of the default playbook on stories of its own, at moments before, during and after each
rule's window (time travel), on both backends: hostile clients, incidents against the owner,
repeated rudeness, a minor incident, and our own side slipping."""

from __future__ import annotations

import json

import pytest

from clientrules.ledger import Ledger
from conftest import DATA, STORE_BACKENDS

PLAYBOOK_V1 = (DATA / "default_playbook.v1.toml").read_text()


def line(client: str, type_: str, at: str, **data: object) -> str:
    return json.dumps({"client": client, "type": type_, "at": at, "data": data})


STORIES = "\n".join(
    [
        # a severity-3 harassment against a solo owner: nothing else is wrong
        line("owner-harassed", "ClientOnboarded", "2025-01-10", name="Harassing Ltd"),
        line("owner-harassed", "IncidentReported", "2026-03-02", kind="harassment", against="owner", severity=3),
        # one curt e-mail recorded as abuse of severity 1 at a six-year client worth 9,000 a month
        line("curt-email", "ClientOnboarded", "2020-05-01", name="Old Faithful", monthly_value=9000),
        line("curt-email", "IncidentReported", "2026-03-02", kind="abuse", against="staff", severity=1),
        # two rude e-mails
        line("rude-twice", "ClientOnboarded", "2025-01-10", name="Rude Twice"),
        line("rude-twice", "IncidentReported", "2026-02-01", kind="rude", against="staff"),
        line("rude-twice", "IncidentReported", "2026-03-02", kind="unreasonable_demand", against="owner"),
        # a threat of severity 2 against the owner, and one of severity 1
        line("threat-serious", "ClientOnboarded", "2025-01-10", name="Threat Two"),
        line("threat-serious", "IncidentReported", "2026-03-02", kind="threat", against="owner", severity=2),
        line("threat-minor", "ClientOnboarded", "2025-01-10", name="Threat One"),
        line("threat-minor", "IncidentReported", "2026-03-02", kind="threat", against="owner", severity=1),
        # we missed two deadlines in 90 days
        line("we-missed", "ClientOnboarded", "2025-01-10", name="Let Down"),
        line("we-missed", "DeadlineMissed", "2026-02-01", deliverable="spring catalogue"),
        line("we-missed", "DeadlineMissed", "2026-03-02", deliverable="price list"),
        # we take a week to answer
        line("we-are-slow", "ClientOnboarded", "2025-01-10", name="Kept Waiting"),
        line("we-are-slow", "ClientMessageReceived", "2026-02-20", topic="question about the order"),
        line("we-are-slow", "ReplySent", "2026-02-27"),
        line("we-are-slow", "ClientMessageReceived", "2026-03-01", topic="a change"),
        line("we-are-slow", "ReplySent", "2026-03-04"),
    ]
)

#: (moment, client) -> (verdict, fired) under version 2
EXPECTED_V2 = {
    ("2026-03-01", "owner-harassed"): ("keep", []),
    ("2026-03-02", "owner-harassed"): ("terminate", ["hostile-client", "incident-talk"]),
    ("2026-08-30", "owner-harassed"): ("terminate", ["hostile-client"]),  # 181 days: only the year counts it
    ("2027-03-03", "owner-harassed"): ("keep", []),
    ("2026-03-02", "curt-email"): ("renegotiate", ["incident-talk"]),
    ("2026-03-02", "rude-twice"): ("terminate", ["repeated-incidents", "incident-talk"]),
    ("2026-07-31", "rude-twice"): ("renegotiate", ["incident-talk"]),  # the first is 180 days old: out
    ("2026-03-02", "threat-serious"): ("terminate", ["hostile-client", "incident-talk"]),
    ("2026-03-02", "threat-minor"): ("renegotiate", ["incident-talk"]),
    ("2026-03-01", "we-missed"): ("keep", []),
    ("2026-03-02", "we-missed"): ("renegotiate", ["our-side-slipping"]),
    ("2026-05-02", "we-missed"): ("keep", []),  # the first miss is 90 days old
    ("2026-02-27", "we-are-slow"): ("renegotiate", ["our-side-slipping"]),  # 7 days to reply
    ("2026-03-04", "we-are-slow"): ("renegotiate", ["our-side-slipping"]),  # the median of 7 and 3 days is 5
    ("2026-05-29", "we-are-slow"): ("keep", []),  # the slow reply is over 90 days old; 3 days is fine
}

#: what version 1 decided for the same stories at the incident: what version 2 corrects
EXPECTED_V1 = {
    "owner-harassed": ("keep", []),
    "curt-email": ("terminate", ["abuse-of-staff"]),
    "we-missed": ("keep", []),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stories(request, tmp_path, tmp_path_factory):
    url = STORE_BACKENDS[request.param](request, tmp_path)
    path = tmp_path / "v2-stories.jsonl"
    path.write_text(STORIES + "\n")
    with Ledger.open(url) as ledger:
        ledger.import_jsonl(str(path))
        yield ledger


def test_version_2_decides_each_story_at_each_moment(stories):
    got = {}
    for (moment, client) in EXPECTED_V2:
        (decision,) = stories.decisions.evaluate([client], as_of=moment)
        got[moment, client] = (decision.verdict, list(decision.fired))
    assert got == EXPECTED_V2


def test_a_store_that_keeps_version_1_decides_as_version_1_did(stories):
    stories.rules.use(PLAYBOOK_V1, note="kept")
    got = {}
    for client in EXPECTED_V1:
        (decision,) = stories.decisions.evaluate([client], as_of="2026-03-02")
        got[client] = (decision.verdict, list(decision.fired))
    assert got == EXPECTED_V1


def test_explanations_name_each_incident_and_never_call_rudeness_abuse(stories):
    (decision,) = stories.decisions.evaluate(["rude-twice"], as_of="2026-03-02")
    repeated = decision.reasons[0].sentence
    assert "2 incidents in the last 180 days (at least 2)" in repeated
    assert "rudeness toward your staff on 1 February 2026" in repeated
    assert "an unreasonable demand toward you on 2 March 2026" in repeated
    assert not any("abuse" in reason.sentence or "harass" in reason.sentence for reason in decision.reasons)
    (hostile,) = stories.decisions.evaluate(["owner-harassed"], as_of="2026-03-02")
    assert "harassment (very serious) toward you on 2 March 2026" in hostile.reasons[0].sentence
    (slow,) = stories.decisions.evaluate(["we-are-slow"], as_of="2026-02-27")
    assert "7 median days we took to reply in the last 90 days (at least 5)" in slow.reasons[0].sentence


def test_rules_upgrade_shows_what_the_new_defaults_change_and_adopts_them_only_when_asked(tmp_path):
    import datetime as dt

    from click.testing import CliRunner

    from clientrules.cli.main import cli

    db = str(tmp_path / "kept-v1.db")
    today = dt.date.today()
    story = tmp_path / "curt.jsonl"
    story.write_text(
        line("curt", "ClientOnboarded", (today - dt.timedelta(days=2000)).isoformat(), name="Old Faithful")
        + "\n"
        + line("curt", "IncidentReported", (today - dt.timedelta(days=200)).isoformat(), kind="abuse", against="staff")
        + "\n"
    )
    with Ledger.open(db) as ledger:
        ledger.import_jsonl(str(DATA / "playbook_v1.jsonl"))
        ledger.import_jsonl(str(story))

    def run(*args: str):
        result = CliRunner().invoke(cli, ["--db", db, "rules", "upgrade", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    shown = run()
    assert "From rule-set version 1 to the shipped defaults:" in shown
    assert "rules added:   hostile-client, repeated-incidents, incident-talk, our-side-slipping" in shown
    assert "rules removed: abuse-of-staff" in shown
    assert "curt: terminate -> keep" in shown
    assert "Nothing adopted" in shown
    with Ledger.open(db) as ledger:
        assert ledger.rules.current().version == 1
    assert run("--adopt").endswith("rule-set version 2 is now current (15 rules)\n")
    assert run() == "rule-set version 2 is the shipped default playbook already\n"
