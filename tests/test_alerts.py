"""The watcher (``clientrules watch``, ``ledger.alerts``) on both backends: changes driven by events, by
time and by a new rule set, recorded once; the changes feed; the webhook and the digest through real servers."""

from __future__ import annotations

import datetime as dt
import email
import email.utils
import json
import os
import signal
import subprocess
import sys
import time
from email.message import Message
from typing import Iterator

import psycopg
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from postgres_fixtures import SERVER_URL
from test_mail_smtp import Inbox, free_port
from webhook_receiver import SECRET, Receiver, running_receiver

from clientrules import ClientOnboarded, ContractBreached, FollowUpSent, IncidentReported, Instant, Ledger, NeedOutgrown
from clientrules.application.alerts import FIRST_RETRY_SECONDS, Handler, Watcher
from clientrules.cli.main import cli
from clientrules.domain.alerts import Change
from clientrules.domain.rules.format import default_ruleset_text

DEADLINE_SECONDS = 60


def run(url: str, *args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, ["--db", url, *args], env=env)
    return result


def changes(url: str, *args: str) -> list[dict]:
    result = run(url, "changes", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def at_seconds(seconds: float) -> Instant:
    """The moment ``seconds`` after the epoch: what the watcher's clock says in the delivery tests."""
    return Instant.from_datetime(dt.datetime.fromtimestamp(seconds, dt.timezone.utc))


def onboard(ledger: Ledger, *clients: str, at: str = "2026-01-05") -> None:
    for client in clients:
        ledger.record(client, ClientOnboarded(name=client.title()), at)


def abuse(ledger: Ledger, client: str, at: str) -> None:
    ledger.record(client, IncidentReported(kind="abuse", against="staff", severity=2), at)


@pytest.fixture
def no_delivery_env(monkeypatch) -> None:
    for key in list(os.environ):
        if key.startswith("CLIENTRULES_"):
            monkeypatch.delenv(key)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running_receiver()


# --- what is recorded ------------------------------------------------------------------------


def test_an_abuse_incident_is_listed_once_after_the_next_watch(store_url, no_delivery_env):
    with Ledger.open(store_url) as ledger:
        onboard(ledger, "acme", "globex")
    baseline = run(store_url, "watch", "--once", "--as-of", "2026-02-01")
    assert baseline.exit_code == 0, baseline.output
    assert "baseline set: 2 clients decided, 0 alerted" in baseline.stderr
    assert changes(store_url) == []

    with Ledger.open(store_url) as ledger:
        abuse(ledger, "acme", "2026-02-02T10:00:00Z")
    first = run(store_url, "watch", "--once", "--as-of", "2026-02-03")
    assert first.exit_code == 0, first.output
    assert "acme  keep -> terminate  (hostile-client, incident-talk)" in first.stdout
    [change] = changes(store_url)
    assert {k: change[k] for k in ("client", "at", "from", "to", "fired", "cause")} == {
        "client": "acme",
        "at": "2026-02-03T00:00:00Z",
        "from": "keep",
        "to": "terminate",
        "fired": ["hostile-client", "incident-talk"],
        "cause": "event",
    }
    assert change["id"] and change["reasons"][0]["rule"] == "hostile-client" and change["deliveries"] == []

    again = run(store_url, "watch", "--once", "--as-of", "2026-02-04")
    assert again.exit_code == 0 and again.stdout == ""
    assert changes(store_url) == [change]
    assert changes(store_url, "--client", "globex") == []
    assert changes(store_url, "--since", "2026-02-04") == []


def test_silence_past_the_threshold_is_listed_with_no_new_event_and_only_due_clients_are_decided(store_url):
    with Ledger.open(store_url) as ledger:
        onboard(ledger, *(f"idle-{n}" for n in range(30)), "quiet")
        for day in ("01", "02", "03"):
            ledger.record("quiet", FollowUpSent(topic="renewal"), f"2026-03-{day}T09:00:00Z")
        watcher = ledger.alerts
        assert watcher.once(as_of="2026-03-04")[0].decided == 31
        thirteen_days = watcher.once(as_of="2026-03-15T08:59:59Z")[0]
        assert thirteen_days.changes == ()
        assert thirteen_days.decided == 0  # nobody is due before the 14th day of silence
        fourteen_days = watcher.once(as_of="2026-03-15T09:00:00Z")[0]
        [change] = fourteen_days.changes
        assert (change.client, change.from_verdict, change.to_verdict, change.cause) == ("quiet", "keep", "terminate", "time")
        assert fourteen_days.decided == 1
        assert watcher.once(as_of="2026-03-16")[0].changes == ()
    assert [c["client"] for c in changes(store_url)] == ["quiet"]


def test_a_year_later_the_window_forgets_the_incident_and_the_client_is_back_to_keep(ledger):
    onboard(ledger, "acme", at="2025-01-01")
    abuse(ledger, "acme", "2025-01-10T12:00:00Z")
    watcher = ledger.alerts
    watcher.once(as_of="2025-02-01")
    [calmer] = watcher.once(as_of="2025-07-09T12:00:00Z")[0].changes  # 180 days: no talk needed on top
    assert (calmer.from_verdict, calmer.to_verdict, calmer.fired) == ("terminate", "terminate", ("hostile-client",))
    assert watcher.once(as_of="2026-01-10T11:59:59Z")[0].changes == ()
    [back] = watcher.once(as_of="2026-01-10T12:00:00Z")[0].changes
    assert (back.from_verdict, back.to_verdict, back.fired, back.cause) == ("terminate", "keep", (), "time")


def test_the_baseline_alerts_nothing_unless_asked_and_then_only_clients_not_at_plain_keep(store_url, no_delivery_env):
    with Ledger.open(store_url) as ledger:
        onboard(ledger, "fine", "rude")
        abuse(ledger, "rude", "2026-01-06")
    asked = run(store_url, "watch", "--once", "--as-of", "2026-02-01", "--alert-baseline")
    assert asked.exit_code == 0, asked.output
    assert [(c["client"], c["from"], c["to"], c["cause"]) for c in changes(store_url)] == [
        ("rude", None, "terminate", "baseline")
    ]


def test_a_new_rule_set_version_decides_every_client_again(ledger):
    onboard(ledger, "acme", "globex")
    ledger.record("acme", ContractBreached(clause="7.2"), "2026-01-06")
    watcher = ledger.alerts
    watcher.once(as_of="2026-02-01")
    lenient = default_ruleset_text().replace('when = ["contract_breaches_365d >= 1"]', 'when = ["contract_breaches_365d >= 2"]')
    assert lenient != default_ruleset_text()
    ledger.rules.use(lenient, note="one breach is forgiven")
    report = watcher.once(as_of="2026-02-01")[0]
    assert report.decided == 2
    [change] = report.changes
    assert (change.client, change.to_verdict, change.cause, change.ruleset_version) == ("acme", "keep", "rules", 2)


def test_a_change_of_fired_rules_alone_is_a_change(ledger):
    onboard(ledger, "acme")
    ledger.record("acme", ContractBreached(clause="7.2"), "2026-01-06")
    watcher = ledger.alerts
    watcher.once(as_of="2026-01-07", alert_baseline=True)
    ledger.record("acme", NeedOutgrown(need="a bigger agency"), "2026-01-08")
    [change] = watcher.once(as_of="2026-01-09")[0].changes
    assert (change.from_verdict, change.to_verdict) == ("terminate", "terminate")
    assert set(change.fired) == {"contract-breach", "outgrown"} and change.previous_fired == ("contract-breach",)


# --- watchers ---------------------------------------------------------------------------------


def test_a_second_watcher_is_refused_with_one_line(store_url, no_delivery_env):
    with Ledger.open(store_url) as ledger:
        onboard(ledger, "acme")
        lease = ledger.store.watch_lease()
        try:
            refused = run(store_url, "watch", "--once")
        finally:
            lease.release()
        assert refused.exit_code == 1
        assert refused.stderr.startswith("error: another watcher is running") and refused.stderr.count("\n") == 1
        assert ledger.alerts.checkpoint() is None  # nothing was done
        assert run(store_url, "watch", "--once").exit_code == 0


def test_a_released_postgresql_lease_is_free_the_moment_release_returns(pg_url):
    """Closing the lease's connection alone left its lock held until the server ended the session (12 times in
    1,000, measured): a watcher started right after, as the next ``watch --once`` is, was refused."""
    with Ledger.open(pg_url) as ledger, psycopg.connect(SERVER_URL, autocommit=True) as other_watcher:
        lock = "hashtext('clientrules.watch.' || %s)"
        for _ in range(300):
            ledger.store.watch_lease().release()
            [[free]] = other_watcher.execute(f"SELECT pg_try_advisory_lock({lock})", (ledger.store.schema,)).fetchall()
            assert free
            other_watcher.execute(f"SELECT pg_advisory_unlock({lock})", (ledger.store.schema,))


def follower(url: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "clientrules", "--db", url, "watch", "--interval", "0.3", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_until(condition, what: str, *children: subprocess.Popen) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"waited {DEADLINE_SECONDS} s for {what}"
        for child in children:
            assert child.poll() is None, child.stderr.read()
        time.sleep(0.05)


def test_following_picks_up_new_events_and_stops_cleanly_on_sigterm(store_url, no_delivery_env):
    with Ledger.open(store_url) as ledger:
        onboard(ledger, "acme")
        child = follower(store_url)
        try:
            wait_until(lambda: ledger.alerts.checkpoint() is not None, "the baseline", child)
            abuse(ledger, "acme", "2026-01-06")
            wait_until(lambda: ledger.alerts.changes(), "the change", child)
            child.send_signal(signal.SIGTERM)
            out, err = child.communicate(timeout=DEADLINE_SECONDS)
        finally:
            child.kill()
        assert child.returncode == 0, err
        assert "acme  keep -> terminate" in out and err.rstrip().endswith("stopped")
        assert len(ledger.alerts.changes()) == 1


@pytest.mark.postgres
def test_two_watchers_on_postgres_record_each_change_once_and_the_second_takes_over(pg_url, no_delivery_env):
    clients = [f"c{n}" for n in range(40)]
    with Ledger.open(pg_url) as ledger:
        onboard(ledger, *clients)
        first, second = follower(pg_url), follower(pg_url)
        try:
            wait_until(lambda: ledger.alerts.checkpoint() is not None, "the baseline", first, second)
            for client in clients[:20]:
                abuse(ledger, client, "2026-01-06")
            wait_until(lambda: len(ledger.alerts.changes()) >= 20, "the first 20 changes", first, second)
            # whichever holds the lease is killed: the other one carries on
            for process in (first, second):
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=DEADLINE_SECONDS)
                if process is first:
                    for client in clients[20:30]:
                        abuse(ledger, client, "2026-01-06")
                    wait_until(lambda: len(ledger.alerts.changes()) >= 30, "the changes after a kill")
                    break
            for client in clients[30:]:
                abuse(ledger, client, "2026-01-06")
            wait_until(lambda: len(ledger.alerts.changes()) >= 40, "every change")
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=DEADLINE_SECONDS)
        finally:
            first.kill()
            second.kill()
        recorded = [change.client for change in ledger.alerts.changes()]
        assert sorted(recorded) == sorted(clients)


# --- delivery ---------------------------------------------------------------------------------


def test_each_change_gets_one_signed_post_and_a_failed_one_is_retried_with_backoff(store_url, receiver):
    with Ledger.open(store_url) as ledger:
        onboard(ledger, "acme", "globex", "initech")
        now = [1_000_000.0]
        watcher = Watcher(ledger.store, ledger.decisions, ledger.rules, ledger.engines, clock=lambda: at_seconds(now[0]))
        from clientrules.adapters.webhook import Webhook

        hook = Webhook(receiver.url, SECRET)
        watcher.once(channels=[hook], as_of="2026-02-01")
        abuse(ledger, "acme", "2026-02-02")
        abuse(ledger, "globex", "2026-02-02")
        report, delivered = watcher.once(channels=[hook], as_of="2026-02-03")
        assert (delivered.delivered, delivered.failed) == (2, 0)
        assert sorted(receiver.delivered()) == sorted(change.id for change in report.changes)
        assert all(post.signed for post in receiver.received)
        bodies = {json.loads(post.body)["id"]: json.loads(post.body) for post in receiver.received}
        assert {body["client"] for body in bodies.values()} == {"acme", "globex"}
        assert all(set(body) >= {"id", "client", "at", "from", "to", "fired", "text"} for body in bodies.values())
        assert bodies[report.changes[0].id]["text"].startswith(f"{report.changes[0].client}: was keep, now terminate (3 February 2026). A serious incident toward you")

        receiver.statuses = [500]
        abuse(ledger, "initech", "2026-02-04")
        report, failed = watcher.once(channels=[hook], as_of="2026-02-05")
        [change] = report.changes
        assert (failed.delivered, failed.failed) == (0, 1)
        [row] = watcher.deliveries([change])[change.id]
        assert (row.attempts, row.delivered_at, row.last_error) == (1, None, f"HTTP 500 from {receiver.url}")

        assert watcher.deliver([hook]).delivered == 0  # not yet: the backoff
        now[0] += FIRST_RETRY_SECONDS
        assert watcher.deliver([hook]).delivered == 1
        [row] = watcher.deliveries([change])[change.id]
        assert row.attempts == 2 and row.delivered_at is not None
        posts = [post for post in receiver.received if post.delivery == change.id]
        assert [post.status for post in posts] == [500, 200] and all(post.signed for post in posts)
        assert posts[0].body == posts[1].body  # the same change, the same id: the receiver de-duplicates by it
        assert len(receiver.received) == 4


def test_a_webhook_that_cannot_be_reached_does_not_stop_the_watcher(ledger):
    onboard(ledger, "acme")
    hook_url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    from clientrules.adapters.webhook import Webhook

    watcher = ledger.alerts
    watcher.once(as_of="2026-02-01")
    abuse(ledger, "acme", "2026-02-02")
    report, delivered = watcher.once(channels=[Webhook(hook_url, SECRET, timeout=2)], as_of="2026-02-03")
    assert len(report.changes) == 1 and delivered.failed == 1
    [row] = watcher.deliveries(list(report.changes))[report.changes[0].id]
    assert row.last_error.startswith(f"cannot reach {hook_url}")


def test_the_cli_reads_the_webhook_settings_and_shows_the_delivery_log(db_url, receiver, no_delivery_env):
    env = {"CLIENTRULES_WEBHOOK_URL": receiver.url, "CLIENTRULES_WEBHOOK_SECRET": SECRET}
    with Ledger.open(db_url) as ledger:
        onboard(ledger, "acme")
    assert run(db_url, "watch", "--once", "--as-of", "2026-02-01", env=env).exit_code == 0
    with Ledger.open(db_url) as ledger:
        abuse(ledger, "acme", "2026-02-02")
    done = run(db_url, "watch", "--once", "--as-of", "2026-02-03", env=env)
    assert done.exit_code == 0, done.output
    assert "delivered 1" in done.stderr
    [change] = changes(db_url)
    assert [(d["channel"], d["state"], d["attempts"]) for d in change["deliveries"]] == [("webhook", "delivered", 1)]
    assert receiver.delivered() == [change["id"]]
    table = run(db_url, "changes")
    assert "[webhook delivered]" in table.stdout

    unsigned = run(db_url, "watch", "--once", env={"CLIENTRULES_WEBHOOK_URL": receiver.url})
    assert unsigned.exit_code == 1
    assert unsigned.stderr == "error: CLIENTRULES_WEBHOOK_URL is set but CLIENTRULES_WEBHOOK_SECRET is not: set both\n"


def test_an_embedding_program_gets_each_change_through_its_handler_again_after_a_failure(ledger):
    seen: list[Change] = []
    failures = [RuntimeError("the CRM is down")]

    def push(change: Change) -> None:
        if failures:
            raise failures.pop()
        seen.append(change)

    now = [1_000_000.0]
    watcher = Watcher(ledger.store, ledger.decisions, ledger.rules, ledger.engines, clock=lambda: at_seconds(now[0]))
    crm = Handler("crm", push)
    onboard(ledger, "acme")
    watcher.once(channels=[crm], as_of="2026-02-01")
    abuse(ledger, "acme", "2026-02-02")
    report, delivered = watcher.once(channels=[crm], as_of="2026-02-03")
    assert delivered.failed == 1 and seen == []
    now[0] += FIRST_RETRY_SECONDS
    assert watcher.deliver([crm]).delivered == 1
    assert [c.to_json() for c in seen] == [c.to_json() for c in report.changes]
    [row] = watcher.deliveries(seen)[seen[0].id]
    assert row.last_error == "RuntimeError: the CRM is down" and row.delivered_at is not None


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def parts(message: Message) -> dict[str, str]:
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()}


def test_the_owner_digest_arrives_by_smtp_grouped_by_severity_in_plain_words(db_url, smtp_inbox, no_delivery_env):
    controller, inbox = smtp_inbox
    env = {
        "CLIENTRULES_DIGEST_TO": "owner@studio.example",
        "CLIENTRULES_MAIL_SERVER": "127.0.0.1",
        "CLIENTRULES_MAIL_PORT": str(controller.port),
        "CLIENTRULES_MAIL_FROM": "Studio <hello@studio.example>",
        "CLIENTRULES_BUSINESS_NAME": "Harbour Café Studio",
        "CLIENTRULES_BASE_URL": "https://app.studio.example/",
    }
    with Ledger.open(db_url) as ledger:
        onboard(ledger, "acme", "globex")
    assert run(db_url, "watch", "--once", "--as-of", "2026-02-01", env=env).exit_code == 0
    assert inbox.messages == []  # the baseline alerts nothing
    with Ledger.open(db_url) as ledger:
        ledger.record("globex", NeedOutgrown(need="a bigger agency"), "2026-02-02")
        abuse(ledger, "acme", "2026-02-02")
    done = run(db_url, "watch", "--once", "--as-of", "2026-02-03", env=env)
    assert done.exit_code == 0, done.output
    [(sender, recipients, message)] = inbox.messages
    assert recipients == ["owner@studio.example"] and "hello@studio.example" in sender
    assert message["Subject"] == "2 clients changed: 1 to terminate, 1 to refer out"
    assert email.utils.parseaddr(str(message["From"])) == ("Harbour Café Studio", "hello@studio.example")
    assert message["Message-ID"].endswith("@studio.example>")
    assert abs(email.utils.parsedate_to_datetime(message["Date"]).timestamp() - time.time()) < 3600
    found = parts(message)
    assert set(found) == {"text/plain", "text/html"}
    text = found["text/plain"]
    assert text.index("Now: end the relationship") < text.index("Acme: was keep, now terminate (3 February 2026)")
    assert text.index("Acme") < text.index("Now: refer them to someone else") < text.index("Globex: was keep, now refer out")
    assert "A serious incident toward you or your people" in text and "Advice: " in text
    assert "_" not in text.replace("https://app.studio.example/owner/clients/", "")
    assert '<a href="https://app.studio.example/owner/clients/acme">Acme</a>' in found["text/html"]
    assert [d["state"] for c in changes(db_url) for d in c["deliveries"]] == ["delivered", "delivered"]
    assert run(db_url, "watch", "--once", "--as-of", "2026-02-04", env=env).exit_code == 0
    assert len(inbox.messages) == 1  # nothing new: no second mail


def test_a_daily_digest_gathers_the_changes_until_its_hour(ledger, tmp_path):
    from clientrules.adapters.digest_mail import MailDigest
    from clientrules.adapters.mail import OutboxMailer

    outbox = tmp_path / "outbox"
    digest = MailDigest("owner@studio.example", "hello@studio.example", OutboxMailer(outbox), hour=7)
    now = [dt.datetime(2026, 2, 3, 9, 0, tzinfo=dt.timezone.utc).timestamp()]
    watcher = Watcher(ledger.store, ledger.decisions, ledger.rules, ledger.engines, clock=lambda: at_seconds(now[0]))
    onboard(ledger, "acme", "globex")
    watcher.once(channels=[digest], as_of="2026-02-01")
    abuse(ledger, "acme", "2026-02-02")
    assert watcher.once(channels=[digest], as_of="2026-02-03")[1].delivered == 0
    abuse(ledger, "globex", "2026-02-03")
    now[0] += 6 * 3600
    assert watcher.once(channels=[digest], as_of="2026-02-03T15:00:00Z")[1].delivered == 0
    assert not outbox.exists()
    now[0] = dt.datetime(2026, 2, 4, 7, 0, tzinfo=dt.timezone.utc).timestamp()  # the next day at 07:00 UTC
    assert watcher.deliver([digest]).delivered == 2
    [mail] = outbox.glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes())
    assert message["Subject"] == "2 clients changed: 2 to terminate"


def test_bad_input_gets_one_line_and_changes_nothing(db_url, no_delivery_env, tmp_path):
    missing = run(db_url, "watch", "--once")
    assert missing.exit_code == 1 and missing.stderr.startswith("error: no database at") and missing.stderr.count("\n") == 1
    with Ledger.open(db_url) as ledger:
        onboard(ledger, "acme")
    for args in (["watch", "--interval", "0"], ["watch", "--as-of", "yesterday"], ["changes", "--since", "2026-13-01"]):
        usage = run(db_url, *args)
        assert usage.exit_code == 2 and "Traceback" not in usage.output, args
    bad_client = run(db_url, "changes", "--client", "no spaces allowed")
    assert bad_client.exit_code == 1 and bad_client.stderr.startswith("error: ") and bad_client.stderr.count("\n") == 1
    bad_hour = run(db_url, "watch", "--once", env={"CLIENTRULES_DIGEST_TO": "owner@studio.example", "CLIENTRULES_DIGEST_HOUR": "25"})
    assert bad_hour.stderr == "error: CLIENTRULES_DIGEST_HOUR='25' is not a whole number from 0 to 23\n"
    with Ledger.open(db_url) as ledger:
        assert ledger.alerts.checkpoint() is None
