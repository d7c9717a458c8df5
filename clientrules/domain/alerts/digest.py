"""The owner's digest of decision changes: one mail with a text and an HTML part, most severe first.

Plain words throughout: verdicts as "terminate" or "refer out", moments as
"1 June 2026" (or as the business writes dates: ``date_format``, see
:mod:`clientrules.domain.events.dates`), each change with the sentences of the rules behind it and
their advice.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from typing import Mapping, Sequence

from clientrules.domain.alerts.change import Change
from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT, plain_date
from clientrules.domain.rules.model import VERDICTS

#: each group's heading, most severe first
HEADINGS = {
    "terminate": "Now: end the relationship",
    "refer_out": "Now: refer them to someone else",
    "renegotiate": "Now: renegotiate",
    "keep": "Now: keep (nothing to do)",
}


def verdict_words(verdict: str | None) -> str:
    """``refer out``; ``no decision yet`` for None."""
    return "no decision yet" if verdict is None else verdict.replace("_", " ")


def summary(change: Change, date_format: str = DEFAULT_DATE_FORMAT) -> str:
    """``was keep, now terminate (1 June 2026)``."""
    when = plain_date(change.at, date_format)
    return f"was {verdict_words(change.from_verdict)}, now {verdict_words(change.to_verdict)} ({when})"


def subject(changes: Sequence[Change]) -> str:
    """``3 clients changed: 1 to terminate, 2 to renegotiate``."""
    counts = [(verdict, sum(c.to_verdict == verdict for c in changes)) for verdict in VERDICTS]
    parts = [f"{count} to {verdict_words(verdict)}" for verdict, count in counts if count]
    noun = "client" if len(changes) == 1 else "clients"
    return f"{len(changes)} {noun} changed: {', '.join(parts)}"


def grouped(changes: Sequence[Change]) -> list[tuple[str, list[Change]]]:
    """The changes by new verdict, most severe first (empty groups left out), each in time order."""
    groups = [(verdict, [c for c in changes if c.to_verdict == verdict]) for verdict in VERDICTS]
    return [(verdict, sorted(members, key=lambda c: c.at.key)) for verdict, members in groups if members]


def digest_text(
    changes: Sequence[Change],
    client_url: str | None,
    names: Mapping[str, str] | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
) -> str:
    """The plain-text part; each client by its name in ``names`` (its id when it has none)."""
    names = names or {}
    lines = [subject(changes), ""]
    for verdict, members in grouped(changes):
        lines += [HEADINGS[verdict], "=" * len(HEADINGS[verdict]), ""]
        for change in members:
            lines.append(f"* {names.get(change.client, change.client)}: {summary(change, date_format)}")
            lines += [f"  - {reason.sentence}" for reason in change.reasons]
            lines += [f"  Advice: {advice}" for advice in change.advice]
            if client_url:
                lines.append(f"  {client_url.format(client=change.client)}")
            lines.append("")
    return "\n".join(lines)


def digest_html(
    changes: Sequence[Change],
    client_url: str | None,
    names: Mapping[str, str] | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
) -> str:
    """The HTML part; each client by its name in ``names`` (its id when it has none), linked with ``client_url``."""
    e = html.escape
    names = names or {}
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(subject(changes))}</title></head>"
        '<body style="font-family: sans-serif; max-width: 40em; margin: 0 auto; padding: 1em">'
        f"<h1 style=\"font-size: 1.3em\">{e(subject(changes))}</h1>"
    ]
    for verdict, members in grouped(changes):
        parts.append(f'<h2 style="font-size: 1.1em">{e(HEADINGS[verdict])}</h2><ul>')
        for change in members:
            name = e(names.get(change.client, change.client))
            if client_url:
                name = f'<a href="{e(client_url.format(client=change.client))}">{name}</a>'
            parts.append(f"<li><p><strong>{name}</strong>: {e(summary(change, date_format))}</p>")
            if change.reasons:
                parts.append("<ul>" + "".join(f"<li>{e(r.sentence)}</li>" for r in change.reasons) + "</ul>")
            parts += [f"<p>Advice: {e(advice)}</p>" for advice in change.advice]
            parts.append("</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def digest_message(
    changes: Sequence[Change],
    *,
    sender: str,
    recipient: str,
    client_url: str | None = None,
    names: Mapping[str, str] | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
) -> EmailMessage:
    """The digest of ``changes`` (at least one) from ``sender`` to ``recipient``.

    ``client_url`` (e.g. ``https://app.example/owner/clients/{client}``) links
    each client to its page; ``names`` gives the clients' names; dates are
    written as ``date_format`` says.
    """
    if not changes:
        raise ValueError("a digest needs at least one change")
    message = EmailMessage()
    message["Subject"] = subject(changes)
    message["From"] = sender
    message["To"] = recipient
    message.set_content(digest_text(changes, client_url, names, date_format))
    message.add_alternative(digest_html(changes, client_url, names, date_format), subtype="html")
    return message
