"""ledger.surveys: invitations, single-use signed links, expiry, reminders, answers (real SQLite files)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from clientrules import ClientOnboarded, ClientRulesError, Ledger, RelationshipEnded, SurveyAnswered, UnknownClient
from clientrules.domain.survey import (
    InvalidAnswers,
    LinkExpired,
    LinkSuperseded,
    LinkUnknown,
    LinkUsed,
    NotEligible,
    OwnerPasswordError,
    SurveyError,
)
from clientrules.domain.survey.links import LinkSigner
from clientrules.config import SECRET_ENV

from survey_fixtures import FULL_ANSWERS, SECRET, Clock, add_departed, naming_token, surveys


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def departed(ledger: Ledger) -> Ledger:
    add_departed(ledger, "acme", email="ann@acme.example")
    add_departed(ledger, "bravo")
    return ledger


def test_only_clients_who_left_are_invited(ledger: Ledger, clock: Clock) -> None:
    ledger.record("stays", ClientOnboarded(name="Stays"), "2026-01-05")
    with pytest.raises(NotEligible, match="no RelationshipEnded event"):
        surveys(ledger, clock).invite("stays")
    with pytest.raises(UnknownClient):
        surveys(ledger, clock).invite("nobody")
    assert ledger.version("stays") == 1


def test_invitation_uses_the_known_address_unless_one_is_given(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    assert service.invite("acme").email == "ann@acme.example"
    assert service.invite("acme", email="bob@acme.example").email == "bob@acme.example"
    assert service.invite("bravo").email is None
    with pytest.raises(SurveyError, match="not an e-mail address"):
        service.invite("bravo", email="x@y.z\nBcc: all@example.com")


def test_invitation_expires_after_thirty_days_by_default(departed: Ledger, clock: Clock) -> None:
    invitation = surveys(departed, clock).invite("acme")
    assert invitation.status == "open"
    assert (invitation.expires_at.utc - invitation.invited_at.utc).days == 30
    assert invitation.url("https://survey.example.com/") == f"https://survey.example.com/s/{invitation.token}"


def test_opening_a_link_changes_nothing(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    invitation = service.invite("acme")
    head = departed.store.head_position()
    for _ in range(3):
        assert service.open(invitation.token).invitation_id == invitation.invitation_id
    assert departed.store.head_position() == head


def test_an_answer_is_stored_once_in_the_clients_stream(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    token = service.invite("acme").token
    event = service.submit(token, FULL_ANSWERS)
    assert event.client == "acme" and event.id.startswith("survey-answer:inv-")
    assert isinstance(event.payload, SurveyAnswered)
    assert event.payload.other_reasons == ["poor_communication", "price_too_high"]
    head = departed.store.head_position()
    with pytest.raises(LinkUsed):
        service.submit(token, {"primary_reason": "quality"})
    with pytest.raises(LinkUsed):
        service.open(token)
    assert departed.store.head_position() == head
    assert [e.id for e in service.answers()] == [event.id]
    assert service.invitations("acme")[0].status == "answered"


def test_concurrent_submissions_of_one_link_store_exactly_one_answer(departed: Ledger, clock: Clock) -> None:
    token = surveys(departed, clock).invite("acme").token
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def submit(reason: str) -> None:
        service = surveys(departed, clock)
        start.wait()
        try:
            service.submit(token, {"primary_reason": reason})
            outcomes.append("stored")
        except LinkUsed:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit, args=(r,)) for r in ["quality", "other"] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["stored"]
    assert len(surveys(departed, clock).answers("acme")) == 1


def test_invalid_answers_name_each_field_and_store_nothing(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    token = service.invite("acme").token
    head = departed.store.head_position()
    with pytest.raises(InvalidAnswers) as caught:
        service.submit(
            token,
            {
                "other_reasons": ["quality", "quality"],
                "rating_value": 6,
                "recommend": True,
                "would_return": "never",
                "what_to_change": "x" * 5_001,
                "may_contact": "yes",
                "favourite_colour": "blue",
            },
        )
    assert set(caught.value.errors) == {
        "primary_reason",
        "other_reasons",
        "rating_value",
        "recommend",
        "would_return",
        "what_to_change",
        "may_contact",
        "favourite_colour",
    }
    assert departed.store.head_position() == head
    assert service.submit(token, {"primary_reason": "quality"}).payload.primary_reason == "quality"


def test_free_text_keeps_its_characters_and_counts_a_line_break_once(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    text = "<script>alert('x')</script>\r\n" + "y" * (5_000 - 28)  # 5,001 characters as sent
    event = service.submit(service.invite("acme").token, {"primary_reason": "other", "what_to_change": text})
    assert event.payload.what_to_change == text.replace("\r\n", "\n")
    assert len(event.payload.what_to_change) == 5_000


def test_blank_free_text_is_no_answer(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    event = service.submit(service.invite("acme").token, {"primary_reason": "other", "what_to_change": "  \n"})
    assert event.payload.what_to_change is None


def test_re_inviting_makes_the_older_link_unusable(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    first = service.invite("acme")
    clock.advance(days=1)
    second = service.invite("acme")
    assert first.token != second.token
    with pytest.raises(LinkSuperseded):
        service.submit(first.token, {"primary_reason": "quality"})
    service.submit(second.token, {"primary_reason": "quality"})
    assert [i.status for i in service.invitations("acme")] == ["superseded", "answered"]


def test_a_link_opened_before_a_re_invitation_or_its_expiry_cannot_store_answers(departed: Ledger, clock: Clock) -> None:
    # the web form opens the link, then hands what it opened to submit instead of reading the client again
    service = surveys(departed, clock)
    opened = service.open_link(service.invite("acme").token)
    clock.advance(days=1)
    service.invite("acme")
    with pytest.raises(LinkSuperseded):
        service.submit(opened, {"primary_reason": "quality"})
    opened = service.open_link(service.invite("bravo").token)
    clock.advance(days=30)
    with pytest.raises(LinkExpired):
        service.submit(opened, {"primary_reason": "quality"})
    assert service.answers() == []


def test_a_link_opened_here_is_refused_once_another_process_answered_or_re_invited(departed: Ledger, clock: Clock) -> None:
    # two services on one database, as a web server and a CLI in another process; the server saw each link open first
    server, elsewhere = surveys(departed, clock), surveys(departed, clock)
    answered_elsewhere = server.invite("acme").token
    server.open_link(answered_elsewhere)
    elsewhere.submit(answered_elsewhere, {"primary_reason": "quality"})
    with pytest.raises(LinkUsed):
        server.open_link(answered_elsewhere)
    superseded = server.invite("bravo").token
    server.open_link(superseded)
    clock.advance(days=1)
    elsewhere.invite("bravo")
    with pytest.raises(LinkSuperseded):
        server.submit(superseded, {"primary_reason": "quality"})
    assert [a.client for a in server.answers()] == ["acme"]


def test_a_client_who_answered_is_not_invited_again_until_they_leave_again(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    service.submit(service.invite("acme").token, {"primary_reason": "quality"})
    with pytest.raises(NotEligible, match="already answered"):
        service.invite("acme")
    clock.advance(days=19)
    departed.record("acme", RelationshipEnded(initiated_by="client"), "2026-11-20")
    assert service.invite("acme").status == "open"


def test_links_expire(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    token = service.invite("acme").token
    clock.advance(days=29, hours=23)
    service.open(token)
    clock.advance(hours=2)
    with pytest.raises(LinkExpired):
        service.submit(token, {"primary_reason": "quality"})
    # the expiry stored with the invitation holds even where links are configured to live longer
    with pytest.raises(LinkExpired):
        surveys(departed, clock, expiry_days=90).open(token)
    assert surveys(departed, clock).invitations("acme")[0].status == "expired"
    assert surveys(departed, clock).answers() == []


def test_forged_tampered_and_foreign_tokens_are_unknown(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    invitation = service.invite("acme")
    token = invitation.token
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    other_secret = surveys(departed, clock, secret="another-secret").invite("bravo").token
    insider = LinkSigner(SECRET, max_age=dt.timedelta(days=30), clock=clock)
    bravo_with_acmes_invitation = naming_token(SECRET, invitation.invitation_id, "bravo", clock.now)
    bad_client_id = naming_token(SECRET, invitation.invitation_id, "../etc", clock.now)
    nobodys_invitation = insider.token("inv-0", clock.now)
    for bad in (tampered, other_secret, bravo_with_acmes_invitation, bad_client_id, nobodys_invitation, "", "not-a-token", "a.b.c"):
        with pytest.raises(LinkUnknown) as caught:
            service.submit(bad, {"primary_reason": "quality"})
        assert "acme" not in str(caught.value) and "bravo" not in str(caught.value)
    assert service.answers() == []


def test_reminders_go_to_open_invitations_not_contacted_for_n_days(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    service.invite("acme")
    answered = service.invite("bravo")
    service.submit(answered.token, {"primary_reason": "quality"})
    assert service.remind(7) == []
    clock.advance(days=7)
    reminded = service.remind(7)
    assert [(i.client, len(i.reminded_at)) for i in reminded] == [("acme", 1)]
    assert service.remind(7) == []  # contacted just now
    clock.advance(days=7)
    assert [len(i.reminded_at) for i in service.remind(7)] == [2]
    clock.advance(days=30)
    assert service.remind(7) == []  # expired
    with pytest.raises(ClientRulesError, match="whole number of days"):
        service.remind(-1)


def test_a_reminder_resends_the_same_link(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    invitation = service.invite("acme")
    clock.advance(days=8)
    assert service.remind(7)[0].token == invitation.token


def test_the_secret_is_generated_once_and_kept_with_the_database(db_url: str, monkeypatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with Ledger.open(db_url) as first:
        add_departed(first, "acme")
        token = first.surveys.invite("acme").token
    with Ledger.open(db_url) as second:
        assert second.surveys.open(token).client == "acme"
    monkeypatch.setenv(SECRET_ENV, "from-the-environment, long enough to sign")
    with Ledger.open(db_url) as third:
        with pytest.raises(LinkUnknown):
            third.surveys.open(token)


def test_owner_password_is_stored_hashed_and_can_be_changed(ledger: Ledger, clock: Clock) -> None:
    owner = surveys(ledger, clock).owner
    assert owner.version() == 0 and owner.check("anything at all") is None
    with pytest.raises(OwnerPasswordError):
        owner.set_password("short")
    assert owner.set_password("correct horse battery") == 1
    assert "correct horse" not in (ledger.store.get_meta("owner_password.1") or "")
    assert owner.check("correct horse battery") == 1
    assert owner.check("wrong password here") is None
    assert owner.set_password("another long password") == 2
    assert owner.check("correct horse battery") is None
    assert owner.check("another long password") == 2


def test_the_questionnaire_offers_every_reason_code_of_the_spec() -> None:
    from clientrules import REASON_CODES
    from clientrules.domain.survey import FIELDS, REASON_LABELS

    assert tuple(REASON_LABELS) == REASON_CODES
    assert REASON_LABELS["felt_neglected"] == "You seemed too busy with other clients"
    assert set(FIELDS) == {
        "primary_reason", "other_reasons", "rating_communication", "rating_timeliness",
        "rating_quality", "rating_value", "recommend", "would_return", "what_to_change", "may_contact",
        "other_reason", "moved_to", "keep_doing", "first_thought_leaving",
    }
    # the second version added three reasons after the first's, whose words stay as they were
    assert REASON_CODES[-3:] == ("budget_cut", "in_house", "contact_changed")
    assert REASON_LABELS["project_finished"] == "The work was done; nothing went wrong"
    assert REASON_LABELS["needs_changed"] == "My needs changed / I outgrew your services"
    from clientrules.domain.learning.reasons import ADVICE

    assert set(ADVICE) == set(REASON_CODES)  # a rule learned from any reason has advice to give


def test_second_version_answers_are_stored_with_their_version_and_new_questions(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    event = service.submit(
        service.invite("acme").token,
        {
            "primary_reason": "in_house",
            "other_reasons": ["budget_cut", "contact_changed"],
            "moved_to": "Our own designer; <b>cheaper</b>",
            "keep_doing": "The weekly summary.\r\nAnd the calls.",
            "first_thought_leaving": "one_to_three_months",
        },
    )
    answer = event.payload
    assert isinstance(answer, SurveyAnswered)
    assert (answer.questionnaire, answer.about, answer.primary_reason) == (2, "leaving", "in_house")
    assert answer.moved_to == "Our own designer; <b>cheaper</b>"
    assert answer.keep_doing == "The weekly summary.\nAnd the calls."
    assert answer.first_thought_leaving == "one_to_three_months"
    assert event.data["questionnaire"] == 2 and "recommend" not in event.data


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"moved_to": "x" * 501}, "moved_to", "under 500 characters (it has 501)"),
        ({"keep_doing": "x" * 5_001}, "keep_doing", "under 5,000 characters"),
        ({"first_thought_leaving": "last_year"}, "first_thought_leaving", "one of the times listed"),
        ({"first_thought_leaving": 3}, "first_thought_leaving", "one of the times listed"),
    ],
)
def test_bad_answers_to_the_new_questions_are_refused_and_nothing_is_stored(
    departed: Ledger, clock: Clock, answers: dict[str, object], field: str, message: str
) -> None:
    service = surveys(departed, clock)
    token = service.invite("acme").token
    head = departed.store.head_position()
    with pytest.raises(InvalidAnswers) as refused:
        service.submit(token, {"primary_reason": "quality", **answers})
    assert message in refused.value.errors[field]
    assert departed.store.head_position() == head


def test_a_first_version_answer_reads_as_it_was() -> None:
    from clientrules.domain.events.jsonl import event_from_json

    line = {
        "client": "acme", "type": "SurveyAnswered", "at": "2025-06-01", "id": "survey-answer:inv-old",
        "data": {"invitation_id": "inv-old", "primary_reason": "needs_changed", "other_reasons": [], "recommend": 3, "may_contact": False},
    }
    event = event_from_json(line)
    answer = event.payload
    assert isinstance(answer, SurveyAnswered)
    assert (answer.questionnaire, answer.about, answer.moved_to, answer.first_thought_leaving) == (None, None, None, None)
    assert event.to_json()["data"] == line["data"]  # written back exactly as it came


def test_a_client_we_ended_with_is_asked_how_working_with_us_was(ledger: Ledger, clock: Clock) -> None:
    from clientrules import NoticeGiven

    ledger.record("ours", ClientOnboarded(name="Ours"), "2026-01-05")
    ledger.record("ours", NoticeGiven(by="us", effective_on=dt.date(2026, 10, 1)), "2026-09-01")
    ledger.record("ours", RelationshipEnded(initiated_by="client"), "2026-10-01")  # recorded later: we gave notice
    add_departed(ledger, "theirs")
    service = surveys(ledger, clock)
    ours, theirs = service.invite("ours", on_purpose=True), service.invite("theirs")
    assert service.open_link(ours.token).about == "working_with_us"
    assert service.open_link(theirs.token).about == "leaving"
    stored = service.submit(ours.token, {"primary_reason": "project_finished"})
    assert isinstance(stored.payload, SurveyAnswered) and stored.payload.about == "working_with_us"


def test_uninvited_lists_departed_clients_not_invited_since_they_left(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    departed.record("stays", ClientOnboarded(name="Stays"), "2026-01-05")
    assert service.uninvited() == ["acme", "bravo"]
    service.invite("acme")
    assert service.uninvited() == ["bravo"]
    clock.advance(days=19)
    departed.record("acme", RelationshipEnded(initiated_by="client"), "2026-11-20")  # came back, left again
    assert service.uninvited() == ["bravo", "acme"]


def test_a_token_names_only_the_invitation_nothing_about_the_client(departed: Ledger, clock: Clock) -> None:
    import base64
    import json

    invitation = surveys(departed, clock).invite("acme", email="ann@acme.example")
    payload = invitation.token.split(".")[0]
    readable = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert json.loads(readable) == invitation.invitation_id  # a random id: no client id, name or address
    assert "acme" not in invitation.token and "ann" not in invitation.token


def test_links_issued_before_tokens_were_opaque_keep_working(departed: Ledger, clock: Clock) -> None:
    service = surveys(departed, clock)
    invitation = service.invite("acme")
    old_link = naming_token(SECRET, invitation.invitation_id, "acme", invitation.invited_at.utc)
    assert service.open(old_link).invitation_id == invitation.invitation_id
    service.submit(old_link, {"primary_reason": "quality"})
    assert [a.client for a in service.answers()] == ["acme"]


def test_a_link_of_an_invitation_imported_from_a_copy_of_the_store_opens(departed: Ledger, clock: Clock, tmp_path) -> None:
    invitation = surveys(departed, clock).invite("acme")
    departed.export_jsonl(tmp_path / "all.jsonl")
    with Ledger.open(str(tmp_path / "copy.db")) as copy:  # the events, without the settings that map invitations
        copy.import_jsonl(tmp_path / "all.jsonl")
        opened = surveys(copy, clock).open(invitation.token)
        assert (opened.client, opened.invitation_id) == ("acme", invitation.invitation_id)


def test_second_version_answers_survive_export_and_import(departed: Ledger, clock: Clock, tmp_path) -> None:
    service = surveys(departed, clock)
    service.submit(
        service.invite("acme").token,
        {"primary_reason": "contact_changed", "moved_to": "Nobody yet", "keep_doing": "Plain invoices",
         "first_thought_leaving": "from_the_start"},
    )
    exported = tmp_path / "events.jsonl"
    departed.export_jsonl(str(exported))
    with Ledger.open(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        copy.import_jsonl(str(exported))
        (answer,) = [e.payload for e in copy.events("acme") if isinstance(e.payload, SurveyAnswered)]
    assert (answer.primary_reason, answer.moved_to, answer.keep_doing, answer.first_thought_leaving) == (
        "contact_changed", "Nobody yet", "Plain invoices", "from_the_start"
    )
    assert (answer.questionnaire, answer.about) == (2, "leaving")


def test_who_is_asked_clients_who_chose_to_leave_once_they_left_and_ours_only_on_purpose(ledger: Ledger, clock: Clock) -> None:
    from clientrules import NoticeGiven

    service = surveys(ledger, clock)
    ledger.record("noticed", ClientOnboarded(name="Noticed"), "2026-01-05")
    ledger.record("noticed", NoticeGiven(by="client", effective_on="2026-12-01"), "2026-10-01")
    ledger.record("ours", ClientOnboarded(name="Ours"), "2026-01-05")
    ledger.record("ours", RelationshipEnded(initiated_by="us"), "2026-10-30")
    with pytest.raises(NotEligible, match="has given notice and leaves on 1 December 2026: invite them once they have left"):
        service.invite("noticed")
    with pytest.raises(NotEligible, match="--on-purpose$") as refused:
        service.invite("ours")
    assert "\n" not in str(refused.value) and "we ended it on 30 October 2026" in str(refused.value)
    assert service.uninvited() == [] and service.invitations() == []
    assert service.invite("ours", on_purpose=True).status == "open"
    (invited,) = [e for e in ledger.events("ours") if e.type == "SurveyInvited"]
    assert invited.payload.ended_by == "us"
    clock.advance(days=30)
    assert service.uninvited() == ["noticed"]
    service.invite("noticed")
    (invited,) = [e for e in ledger.events("noticed") if e.type == "SurveyInvited"]
    assert invited.payload.ended_by == "client"
