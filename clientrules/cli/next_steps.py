"""``clientrules next CLIENT``: the next steps for a client's decision, with drafts; ``clientrules drafts``."""

from __future__ import annotations

import json
import textwrap

import click
import tomli_w

from clientrules import DRAFT_NAMES, Instant, NextSteps, default_drafts
from clientrules.cli.context import ctx_ledger
from clientrules.cli.decisions import AS_OF

WIDTH = 88


@click.command("next")
@click.argument("client", metavar="CLIENT")
@AS_OF
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: client, verdict, as_of, steps.")
def next_command(client: str, as_of: Instant | None, as_json: bool) -> None:
    """Show what to do next about CLIENT's decision, step by step, with drafts ready to copy.

    A step is ticked once the event it asks for is recorded (MeetingHeld,
    PlanAgreed, TermsRenegotiated, ClientReferredOut, RelationshipEnded,
    SurveyInvited). The drafts come from the [drafts] table of the current rule
    set ('clientrules drafts' prints it).
    """
    plan = ctx_ledger(create=False).steps.for_client(client, as_of=as_of)
    if as_json:
        click.echo(json.dumps(plan.to_json(), indent=1, ensure_ascii=False))
    else:
        click.echo(describe(plan))


def describe(plan: NextSteps) -> str:
    """The steps as text: one numbered line each, why, and the draft indented."""
    standing = "left" if plan.verdict is None else plan.verdict.replace("_", " ")
    lines = [f"{plan.client}: {standing} (as of {plan.as_of.text})"]
    if not plan.steps:
        lines.append("  Nothing to do: they have left." if plan.verdict is None else "  Nothing to do: no rule asks for a step.")
    for number, step in enumerate(plan.steps, start=1):
        mark = "x" if step.done else " "
        done = f" (done {step.done_on.date.isoformat()})" if step.done_on else ""
        lines.append(f"{number:>3}. [{mark}] {step.title}{done}")
        lines.extend(textwrap.wrap(step.why, WIDTH, initial_indent=" " * 9, subsequent_indent=" " * 9))
        if step.draft_problem:
            lines.append(f"         note: {step.draft_problem}")
        if step.draft and not step.done:
            lines.append("         draft:")
            lines.extend(f"           | {line}".rstrip() for line in step.draft.strip("\n").splitlines())
    return "\n".join(lines)


@click.command("drafts")
@click.option("--defaults", is_flag=True, help="Print the drafts shipped with the library instead.")
def drafts_command(defaults: bool) -> None:
    """Print the [drafts] table in use (every key, defaults filled in), to copy into a rule file and edit."""
    drafts = default_drafts() if defaults else ctx_ledger(create=False).rules.current().ruleset.drafts
    drafts = drafts or default_drafts()
    settings = drafts.settings
    table = {
        "business": settings.business,
        "signature": settings.signature,
        "partner": settings.partner,
        "notice_days": settings.notice_days,
        **{name: drafts.templates[name] for name in DRAFT_NAMES},
    }
    click.echo(tomli_w.dumps({"drafts": table}, multiline_strings=True), nl=False)


commands: list[click.Command] = [next_command, drafts_command]
