"""The owner's page of recent decision changes (login required): what changed since they last looked.

Lists what the watcher (inside ``clientrules serve``, or ``clientrules watch``) recorded, newest first, each
change linked to its client, with its reasons and how it was delivered. The
newest change the owner was shown is kept in their session: those recorded
after it are marked new.
"""

from __future__ import annotations

from flask import Blueprint, render_template, session
from flask.typing import ResponseReturnValue

from clientrules import DeliveryRow, verdict_words
from survey_app.security import login_required
from survey_app.state import app_state
from survey_app.watching import kept_watch

changes = Blueprint("changes", __name__, url_prefix="/owner/changes")

#: how far back the page looks
RECENT_DAYS = 90
#: the id of the newest change the owner was shown: those after it are new to them
LAST_SEEN = "changes_last_seen"
CHANNEL_WORDS = {"webhook": "the webhook", "digest": "the mail digest"}


def delivery_words(row: DeliveryRow) -> str:
    """``Sent to the webhook``, ``Not sent yet to the mail digest (2 tries; last problem: ...)...``."""
    channel = CHANNEL_WORDS.get(row.channel, row.channel)
    if row.delivered_at:
        return f"Sent to {channel}"
    if row.attempts:
        tries = "1 try" if row.attempts == 1 else f"{row.attempts} tries"
        return f"Not sent yet to {channel} ({tries}; last problem: {row.last_error}); it will be tried again"
    return f"Waiting to be sent to {channel}"


@changes.route("/")
@login_required
def recent() -> ResponseReturnValue:
    ledger = app_state().ledger
    found = ledger.alerts.recent(days=RECENT_DAYS)
    ids = [change.id for change in found]
    last_seen = session.get(LAST_SEEN)
    new = set() if last_seen is None else set(ids[ids.index(last_seen) + 1 :] if last_seen in ids else ids)
    session[LAST_SEEN] = ids[-1] if ids else ""  # "": looked, and there was nothing to see
    return render_template(
        "owner/changes.html",
        changes=found[::-1],
        deliveries=ledger.alerts.deliveries(found),
        watching=ledger.alerts.checkpoint() is not None,
        watch=kept_watch(),
        new=new,
        recent_days=RECENT_DAYS,
        verdict_words=verdict_words,
        delivery_words=delivery_words,
    )
