"""Learning-loop commands: ``report``, ``proposals [accept|reject ID]`` and ``backtest``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from clientrules import ClientRulesError, describe_backtest, proposals_text
from clientrules.cli.context import ctx_ledger, read_rule_file
from clientrules.types import Learning


#: where ``proposals --horizon-days`` leaves its value for ``accept`` and ``reject``
HORIZON_KEY = "clientrules.learning.horizon_days"
horizon_option = click.option(
    "--horizon-days",
    type=click.IntRange(30, 3650),
    metavar="DAYS",
    help="How long after a warning a client who stays counts as a false alarm (default 180; see docs/learning.md).",
)


def _learning(horizon_days: int | None) -> Learning:
    learning = ctx_ledger(create=False).learning
    return learning if horizon_days is None else learning.with_horizon(horizon_days)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=1, ensure_ascii=False))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ClientRulesError(f"cannot write {path}: {error.strerror}") from None


@click.command("report")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (stable keys: see clientrules.domain.learning.report).")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="FILE",
    help="Write the report as one self-contained HTML page with charts (prints well).",
)
@horizon_option
def report_command(as_json: bool, html_file: Path | None, horizon_days: int | None) -> None:
    """The learning report: why clients left, what their logs showed before, and the rule changes it proposes."""
    if as_json and html_file:
        raise click.UsageError("choose one of --json and --html")
    report = _learning(horizon_days).report()
    if as_json:
        _echo_json(report.to_json())
    elif html_file is not None:
        ledger = ctx_ledger(create=False)
        _write(html_file, ledger.reports.html(report.to_json(), date_format=ledger.settings.date_format))
        click.echo(f"wrote {html_file}", err=True)
    else:
        click.echo(report.to_text(), nl=False)


@click.group("proposals", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the proposals as JSON.")
@horizon_option
@click.pass_context
def proposals_group(ctx: click.Context, as_json: bool, horizon_days: int | None) -> None:
    """Rule changes learned from exit surveys, each with its backtest; accept or reject them by ID (or readable ID)."""
    if ctx.invoked_subcommand is not None:
        ctx.meta[HORIZON_KEY] = horizon_days
        return
    proposals = _learning(horizon_days).proposals()
    data = proposals.to_json()
    if as_json:
        _echo_json(data)
    else:
        for line in proposals_text(data):
            click.echo(line)


@proposals_group.command("accept")
@click.argument("proposal_id", metavar="ID")
@click.option("--note", help="Why, kept with the new rule-set version.")
@click.pass_context
def accept_command(ctx: click.Context, proposal_id: str, note: str | None) -> None:
    """Apply the proposal: the rule set with the change becomes a new version."""
    version = _learning(ctx.meta.get(HORIZON_KEY)).accept(proposal_id, note=note)
    click.echo(f"accepted {proposal_id}: rule-set version {version.version} is now current")


@proposals_group.command("reject")
@click.argument("proposal_id", metavar="ID")
@click.pass_context
def reject_command(ctx: click.Context, proposal_id: str) -> None:
    """Reject the proposal: it is recorded, and comes back only once its evidence has grown by half."""
    _learning(ctx.meta.get(HORIZON_KEY)).reject(proposal_id)
    click.echo(f"rejected {proposal_id}")


@click.command("backtest")
@click.option(
    "--rules",
    "rules_file",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="A rule-set file to compare with the current version (default: the current version alone).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@horizon_option
def backtest_command(rules_file: Any, as_json: bool, horizon_days: int | None) -> None:
    """Replay every client's history month by month under the current rules and FILE, side by side."""
    text = None
    if rules_file is not None:
        text = read_rule_file(rules_file)
    label = f"candidate ({Path(rules_file.name).name})" if rules_file is not None else "candidate"
    result = _learning(horizon_days).backtest(text, label=label)
    if as_json:
        _echo_json(result.to_json())
    else:
        for line in describe_backtest(result):
            click.echo(line)


commands: list[click.Command] = [report_command, proposals_group, backtest_command]
