"""The public questionnaire of the web app: personal links, single use, accessible form, headers, errors."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from clientrules import Ledger, SurveyAnswered
from clientrules.cli.main import cli
from clientrules.config import SettingsError
from clientrules.domain.survey import FIELDS
from survey_fixtures import (
    FULL_FORM,
    Clock,
    add_departed,
    clean_environment,
    close_app,
    csrf_token,
    make_app,
    surveys,
)


@pytest.fixture
def app(db_url: str, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        add_departed(ledger, "acme", email="ann@acme.example")
        add_departed(ledger, "bravo")
    app = make_app(db_url, tmp_path)
    yield app
    close_app(app)


def invite(app, client: str = "acme", *, on_purpose: bool = False) -> str:
    """The path of a fresh invitation's link."""
    return "/s/" + app.extensions["clientrules"].ledger.surveys.invite(client, on_purpose=on_purpose).token


def answers_in(db_url: str) -> list:
    with Ledger.open(db_url) as ledger:
        return [e for e in ledger.store.read_all() if isinstance(e.payload, SurveyAnswered)]


def post_form(client, path: str, form: dict, **overrides):
    html = client.get(path).get_data(as_text=True)
    return client.post(path, data={**form, "csrf_token": csrf_token(html), **overrides})


def test_a_link_printed_by_the_cli_works_in_the_app(db_url: str, tmp_path: Path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        add_departed(ledger, "acme")
    printed = CliRunner().invoke(cli, ["--db", db_url, "survey", "invite", "acme", "--base-url", "https://s.example"])
    assert printed.exit_code == 0, printed.output
    link = printed.stdout.strip()
    assert link.startswith("https://s.example/s/")
    app = make_app(db_url, tmp_path)
    try:
        client = app.test_client()
        path = link.removeprefix("https://s.example")
        page = client.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert csrf_token(html)
        for name in FIELDS:
            assert f'name="{name}"' in html, name
        for code in ("missed_deadlines", "felt_neglected", "project_finished", "other"):
            assert f'value="{code}"' in html
        assert client.post(path, data={**FULL_FORM, "csrf_token": csrf_token(html)}).status_code == 303
        (answer,) = answers_in(db_url)
        assert answer.client == "acme"
        assert answer.payload.rating_timeliness == 1 and answer.payload.may_contact is True
        assert answer.payload.other_reasons == ["poor_communication", "price_too_high"]
        second = client.post(path, data={**FULL_FORM, "primary_reason": "quality", "csrf_token": csrf_token(html)})
        assert second.status_code == 410
        assert "already answered" in second.get_data(as_text=True)
        assert [a.payload.primary_reason for a in answers_in(db_url)] == ["missed_deadlines"]
    finally:
        close_app(app)


def test_opening_the_link_many_times_uses_nothing_up(app, db_url: str) -> None:
    client = app.test_client()
    path = invite(app)
    for _ in range(3):
        assert client.get(path).status_code == 200
    assert answers_in(db_url) == []
    assert post_form(client, path, FULL_FORM).status_code == 303


def test_each_link_gets_a_page_of_its_own(app) -> None:
    # the blank page is rendered once; each link's path, session token and expiry date are its own
    first, second = app.test_client(), app.test_client()
    first_path = invite(app, "acme")
    second_path = invite(app, "bravo")
    first_html, second_html = first.get(first_path).get_data(as_text=True), second.get(second_path).get_data(as_text=True)
    assert f'action="{first_path}"' in first_html and first_path not in second_html
    assert f'action="{second_path}"' in second_html and second_path not in first_html
    assert csrf_token(first_html) != csrf_token(second_html)
    expires = app.extensions["clientrules"].ledger.surveys.invitations("acme")[-1].expires_at.date
    assert f"This link works until {expires.day} {expires:%B %Y}." in first_html
    assert "{{" not in first_html + second_html
    assert post_form(second, second_path, FULL_FORM).status_code == 303


def test_submitting_redirects_to_a_thank_you_page(app) -> None:
    client = app.test_client()
    response = post_form(client, invite(app), FULL_FORM)
    assert response.headers["Location"] == "/thanks"
    assert "Thank you" in client.get("/thanks").get_data(as_text=True)


def test_concurrent_posts_of_one_link_store_exactly_one_answer(app, db_url: str) -> None:
    path = invite(app)
    clients = [app.test_client() for _ in range(6)]
    forms = [{**FULL_FORM, "csrf_token": csrf_token(c.get(path).get_data(as_text=True))} for c in clients]
    statuses: list[int] = []
    start = threading.Barrier(len(clients))

    def submit(client, form) -> None:
        start.wait()
        statuses.append(client.post(path, data=form).status_code)

    threads = [threading.Thread(target=submit, args=pair) for pair in zip(clients, forms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303] + [410] * 5
    assert len(answers_in(db_url)) == 1


@pytest.mark.parametrize("token", [None, "", "forged-token-value"])
def test_a_post_without_the_right_csrf_token_is_refused(app, db_url: str, token: str | None) -> None:
    client = app.test_client()
    path = invite(app)
    client.get(path)
    data = dict(FULL_FORM) if token is None else {**FULL_FORM, "csrf_token": token}
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert answers_in(db_url) == []


def test_a_csrf_token_of_another_session_is_refused(app, db_url: str) -> None:
    path = invite(app)
    stolen = csrf_token(app.test_client().get(path).get_data(as_text=True))
    victim = app.test_client()
    victim.get(path)
    assert victim.post(path, data={**FULL_FORM, "csrf_token": stolen}).status_code == 400
    assert answers_in(db_url) == []


def test_missing_and_bad_answers_are_shown_beside_their_fields(app, db_url: str) -> None:
    client = app.test_client()
    path = invite(app)
    response = post_form(
        client, path, {"rating_value": "9", "what_to_change": "x" * 5_001, "other_reasons": ["quality"]}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert answers_in(db_url) == []
    assert 'role="alert"' in html and "Please choose the main reason." in html
    # each error is tied to its group or control
    assert re.search(r'<fieldset[^>]*aria-describedby="primary_reason-error"', html)
    assert 'id="primary_reason-error"' in html
    assert re.search(r'<fieldset[^>]*aria-describedby="rating_value-error"', html)
    assert re.search(r'<textarea[^>]*aria-describedby="what_to_change-hint what_to_change-error"[^>]*aria-invalid="true"', html)
    # what was entered is kept
    assert 'value="quality" checked' in html


def test_the_form_is_accessible_and_fits_a_phone(app) -> None:
    html = app.test_client().get(invite(app)).get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<html lang="en">' in html
    fieldsets = re.findall(r"<fieldset", html)
    legends = re.findall(r"<legend", html)
    assert len(fieldsets) == len(legends) >= 8
    for control_id in re.findall(r'<(?:input|textarea)[^>]* id="([^"]+)"', html):
        if control_id != "csrf_token":
            assert f'<label for="{control_id}"' in html or f'<label class="question-label" for="{control_id}"' in html, control_id
    # one script, the app's own file (keeps unsent answers on the device); none inline
    assert re.findall(r"<script[^>]*>[^<]*", html) == ['<script src="/static/keep-answers.js">']


def test_expired_link_gets_a_clear_page(db_url: str, tmp_path: Path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        add_departed(ledger, "acme")
        last_month = Clock(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31))
        old = surveys(ledger, last_month, secret=ledger.signing_secret).invite("acme")
    app = make_app(db_url, tmp_path, CLIENTRULES_OWNER_EMAIL="owner@studio.example")
    try:
        client = app.test_client()
        for response in (client.get(f"/s/{old.token}"), client.post(f"/s/{old.token}", data=FULL_FORM)):
            assert response.status_code == 410
            page = response.get_data(as_text=True)
            assert "This link has expired" in page and "write to owner@studio.example" in page
            assert "410" not in page and "HTTP" not in page
        assert answers_in(db_url) == []
    finally:
        close_app(app)


def test_superseded_unknown_and_tampered_links_get_clear_pages(app, db_url: str) -> None:
    client = app.test_client()
    old = invite(app)
    new = invite(app)
    superseded = client.get(old)
    assert superseded.status_code == 410 and "newer link" in superseded.get_data(as_text=True)
    tampered = new[:-2] + ("xy" if not new.endswith("xy") else "yz")
    for path in (tampered, "/s/nonsense", "/s/" + "A" * 500):
        for response in (client.get(path), client.post(path, data=FULL_FORM)):
            html = response.get_data(as_text=True)
            assert response.status_code == 404
            assert "This link does not work" in html
            assert "acme" not in html and "bravo" not in html and "Traceback" not in html
            assert "Set-Cookie" not in response.headers
    assert answers_in(db_url) == []
    assert client.get(new).status_code == 200


def test_free_text_is_stored_as_written_and_never_rendered_as_markup(app, db_url: str) -> None:
    client = app.test_client()
    path = invite(app)
    script = '<script>alert("owned")</script>'
    response = post_form(client, path, {"what_to_change": script})  # no main reason: the form comes back
    assert script not in response.get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in response.get_data(as_text=True)
    post_form(client, path, {**FULL_FORM, "what_to_change": script})
    assert answers_in(db_url)[0].payload.what_to_change == script


def test_every_response_carries_the_security_headers(app) -> None:
    client = app.test_client()
    for response in (client.get(invite(app)), client.get("/s/unknown"), client.get("/owner/login"), client.get("/static/style.css")):
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "default-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(invite(app)).headers["Cache-Control"] == "no-store"


def test_the_health_endpoint_answers_ok_without_a_session(app) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"
    assert "Set-Cookie" not in response.headers and response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_pages_and_methods_get_friendly_pages(app) -> None:
    client = app.test_client()
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)
    assert client.delete(invite(app)).status_code == 405


def test_an_unexpected_error_shows_no_traceback(app) -> None:
    path = invite(app)
    app.extensions["clientrules"].ledger.close()  # the database is gone from under the app
    response = app.test_client().get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "Traceback" not in html and "clientrules.db" not in html


def test_the_survey_speaks_for_the_business(db_url: str, tmp_path: Path, monkeypatch) -> None:
    clean_environment(monkeypatch)
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    with Ledger.open(db_url) as ledger:
        add_departed(ledger, "acme")
    app = make_app(db_url, tmp_path, CLIENTRULES_BUSINESS_NAME="Harbour & Co", CLIENTRULES_BUSINESS_LOGO=str(logo),
                   CLIENTRULES_ACCENT_COLOUR="#7a1f5c")
    try:
        client = app.test_client()
        page = client.get(invite(app)).get_data(as_text=True)
        assert '<span class="brand-name">Harbour &amp; Co</span>' in page and 'src="/brand/logo"' in page
        assert "worked with Harbour &amp; Co" in page and "<title>Why did we part ways? · Harbour &amp; Co</title>" in page
        assert 'href="/brand.css"' in page
        assert client.get("/brand.css").get_data(as_text=True) == ":root { --accent: #7a1f5c; }\n"
        image = client.get("/brand/logo")
        assert (image.status_code, image.mimetype) == (200, "image/svg+xml")
    finally:
        close_app(app)
    for key, value in (("CLIENTRULES_ACCENT_COLOUR", "red; } body { display: none"), ("CLIENTRULES_BUSINESS_LOGO", "/etc/passwd"),
                       ("CLIENTRULES_OWNER_EMAIL", "owner@x.example\r\nBcc: eve@evil.example")):
        with pytest.raises(SettingsError, match=key):
            make_app(db_url, tmp_path, **{key: value})


def test_the_second_questionnaire_folds_its_optional_questions_and_says_who_reads_them(app, db_url: str) -> None:
    client = app.test_client()
    path = invite(app)
    html = client.get(path).get_data(as_text=True)
    assert "<h1>Why did we part ways?</h1>" in html
    assert "Who reads your answers" in html and "deleted with it if you ask us to forget you" in html
    # the reasons first, open; every optional question after them inside a closed fold
    reasons_end = html.index('name="other_reason"')
    assert html.count("<details") == 3 and "<details class=\"fold\" open" not in html
    assert all(html.index(f'name="{name}"') > reasons_end for name in ("moved_to", "keep_doing", "first_thought_leaving"))
    for code in ("budget_cut", "in_house", "contact_changed"):
        assert f'value="{code}"' in html
    response = post_form(
        client, path, {"primary_reason": "budget_cut", "moved_to": "<script>x</script>", "keep_doing": "Calls",
                       "first_thought_leaving": "over_three_months"}
    )
    assert response.status_code == 303
    (answer,) = answers_in(db_url)
    assert (answer.payload.moved_to, answer.payload.first_thought_leaving) == ("<script>x</script>", "over_three_months")


def test_a_fold_with_a_refused_answer_comes_back_open(app) -> None:
    client = app.test_client()
    path = invite(app)
    response = post_form(client, path, {"primary_reason": "quality", "moved_to": "x" * 501})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.count("<details class=\"fold\" open>") == 1
    assert "Please keep this under 500 characters (it has 501)." in html


def test_a_client_we_ended_with_is_asked_how_working_with_us_was(db_url: str, tmp_path: Path, monkeypatch) -> None:
    from clientrules import ClientOnboarded, RelationshipEnded

    clean_environment(monkeypatch)
    with Ledger.open(db_url) as ledger:
        ledger.record("ours", ClientOnboarded(name="Ours"), "2026-01-05")
        ledger.record("ours", RelationshipEnded(initiated_by="us"), "2026-10-30")
    app = make_app(db_url, tmp_path)
    try:
        client = app.test_client()
        path = invite(app, "ours", on_purpose=True)
        html = client.get(path).get_data(as_text=True)
        assert "<h1>How was working with us?</h1>" in html and "Why did we part ways" not in html
        assert "Looking back, what describes working with us best?" in html
        assert 'name="first_thought_leaving"' not in html  # they did not choose to leave
        assert post_form(client, path, {"primary_reason": "project_finished"}).status_code == 303
        (answer,) = answers_in(db_url)
        assert answer.payload.about == "working_with_us"
    finally:
        close_app(app)
