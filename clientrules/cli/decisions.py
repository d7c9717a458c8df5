"""Decision commands: ``evaluate``, ``explain`` and ``rules show|check|use|upgrade|versions``."""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Iterable

import click

from clientrules import Decision, Instant, InvalidEvent, RuleSetProblems, parse_ruleset, plain_date
from clientrules.cli.context import ctx_ledger, read_rule_file

#: processes evaluate may start
MAX_WORKERS = 64
#: a rule-set version number as an option: no store holds more versions
VERSION_NUMBER = click.IntRange(1, 2**31 - 1)


class MomentType(click.ParamType[Instant]):
    """WHEN: a date (00:00 UTC) or a date-time with an offset, as event times are written."""

    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Instant:
        if isinstance(value, Instant):
            return value
        try:
            return Instant.parse(value, field="as_of")
        except InvalidEvent as error:
            self.fail(str(error).removeprefix("as_of: "), param, ctx)


AS_OF = click.option(
    "--as-of",
    "as_of",
    type=MomentType(),
    help="Decide as of WHEN (2026-06-01 or 2026-06-01T09:30:00+02:00); only events at or before it count. "
    "[default: now]",
)


@click.command("evaluate")
@click.argument("clients", metavar="[CLIENT]...", nargs=-1)
@AS_OF
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of decisions.")
@click.option("--record", is_flag=True, help="Append each decision to its client's history.")
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=1,
    show_default=True,
    metavar="N",
    help="Spread the clients over N processes (the same decisions, in the same order).",
)
def evaluate_command(
    clients: tuple[str, ...], as_of: Instant | None, as_json: bool, record: bool, workers: int
) -> None:
    """Decide keep, renegotiate, refer_out or terminate for CLIENTs (default: every client).

    The decision is the most severe verdict of the rules that fired, under the
    current rule-set version; the table says why under each client, rule by rule ('explain'
    gives the whole chain). With --record each decision is stored as a
    DecisionRecorded event, naming the rule-set version that made it.
    """
    set_aside: list[tuple[str, str]] = []
    decisions = ctx_ledger(create=False).iter_evaluate(
        list(clients) or None, as_of=as_of, record=record, workers=workers, set_aside=lambda *failed: set_aside.append(failed)
    )
    if as_json:
        _print_json_array(decision.to_json() for decision in decisions)
    else:
        _print_decisions(decisions, clients, record)
    for client, reason in set_aside:
        click.echo(f"error: client {client} was set aside, the others were decided: {reason} ('clientrules db check' says how to repair it)", err=True)
    if set_aside:
        sys.exit(1)


def _print_decisions(decisions: Iterable[Decision], clients: tuple[str, ...], record: bool) -> None:
    count = 0
    for decision in decisions:  # streamed: constant memory however many clients
        if count == 0:
            width = max(len("client"), *(len(c) for c in clients)) if clients else 22
            click.echo(f"{'client':<{width}}  {'verdict':<11}  fired")
        count += 1
        if decision.verdict is None:
            left_on = f"left on {plain_date(decision.effective_on)}" if decision.effective_on else "left"
            click.echo(f"{decision.client:<{width}}  {left_on}")
            continue
        fired = ", ".join(decision.fired) or "-"
        leaving = f" (leaving on {plain_date(decision.effective_on)})" if decision.effective_on else ""
        click.echo(f"{decision.client:<{width}}  {decision.verdict:<11}  {fired}{leaving}")
        for reason in decision.reasons:
            click.echo(f"{'':<{width}}  - {reason.sentence}")
    if count == 0:
        click.echo("no clients")
        return
    summary = f"{count} clients as of {decision.as_of.text}, rule-set version {decision.ruleset_version}"
    click.echo(summary + ("; decisions recorded" if record else ""), err=True)


def _print_json_array(items: Iterable[dict[str, Any]]) -> None:
    """One JSON array, written element by element."""
    click.echo("[", nl=False)
    for number, item in enumerate(items):
        click.echo(("," if number else "") + "\n" + json.dumps(item, indent=1), nl=False)
    click.echo("\n]")


@click.command("explain")
@click.argument("client", metavar="CLIENT")
@AS_OF
@click.option(
    "--decision",
    "decision",
    metavar="EVENT_ID",
    help="Re-explain a recorded decision (its DecisionRecorded event id) with its own rule-set version and moment.",
)
@click.option(
    "--why-not", "why_not", metavar="RULE", multiple=True, help="Also say why RULE did not fire (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain_command(
    client: str, as_of: Instant | None, decision: str | None, why_not: tuple[str, ...], as_json: bool
) -> None:
    """Explain CLIENT's decision: every rule that fired and why, and the rules that came close."""
    if decision is not None and as_of is not None:
        raise click.UsageError("--decision uses the recorded moment; do not give --as-of with it")
    explanation = ctx_ledger(create=False).decisions.explain(client, as_of=as_of, decision=decision)
    answers = {rule_id: explanation.why_not(rule_id) for rule_id in why_not}
    if as_json:
        click.echo(json.dumps({**explanation.to_json(), "why_not": answers}, indent=1))
        return
    click.echo(explanation.to_text())
    if answers:
        click.echo("\nWhy not:")
        for answer in answers.values():
            click.echo(f"  - {answer}")


@click.group("rules")
def rules_group() -> None:
    """Show, check and adopt rule-set versions."""


@rules_group.command("show")
@click.option("--version", "version", type=VERSION_NUMBER, metavar="N", help="Show version N. [default: current]")
def rules_show(version: int | None) -> None:
    """Print the TOML text of the current (or --version N) rule set."""
    rules = ctx_ledger(create=False).rules
    chosen = rules.get(version) if version is not None else rules.current()
    click.echo(chosen.ruleset.source, nl=not chosen.ruleset.source.endswith("\n"))


@rules_group.command("check")
@click.argument("file", type=click.File("r", encoding="utf-8"), metavar="FILE")
def rules_check(file: IO[str]) -> None:
    """Validate a rule-set FILE ('-' for standard input) without adopting it; exit 1 with every problem."""
    try:
        ruleset = parse_ruleset(read_rule_file(file))
    except RuleSetProblems as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    enabled = len(ruleset.enabled_rules)
    click.echo(f"ok: {len(ruleset.rules)} rules ({enabled} enabled)")


@rules_group.command("use")
@click.argument("file", type=click.File("r", encoding="utf-8"), metavar="FILE")
@click.option("--note", metavar="TEXT", help="Why this version (shown by 'rules versions').")
@click.option(
    "--expected-version",
    type=VERSION_NUMBER,
    metavar="N",
    help="Fail unless the current version is N (someone else adopted one in between).",
)
def rules_use(file: IO[str], note: str | None, expected_version: int | None) -> None:
    """Validate a rule-set FILE and adopt it as a new version, which becomes current."""
    adopted = ctx_ledger().rules.use(read_rule_file(file), note=note, expected_version=expected_version)
    click.echo(f"rule-set version {adopted.version} is now current ({len(adopted.ruleset.rules)} rules)")


@rules_group.command("upgrade")
@click.option("--adopt", is_flag=True, help="Adopt the shipped defaults as a new version after showing what changes.")
def rules_upgrade(adopt: bool) -> None:
    """Show what the default playbook shipped with this release would change, and adopt it with --adopt.

    A database keeps the rule set it adopted; new defaults never replace it on
    their own. This lists the rules added and removed, the clients whose
    decision today would change, and the backtest on the stored history.
    """
    changes = ctx_ledger(create=False).rule_changes
    preview = changes.preview_defaults()
    if preview.unchanged:
        click.echo(f"rule-set version {preview.current.version} is the shipped default playbook already")
        return
    click.echo(f"From rule-set version {preview.current.version} to the shipped defaults:")
    click.echo(f"  rules added:   {', '.join(preview.rules_added) or '-'}")
    click.echo(f"  rules removed: {', '.join(preview.rules_removed) or '-'}")
    click.echo(f"  decisions today that change: {len(preview.changed)}")
    for changed in preview.changed:
        click.echo(f"    {changed.client}: {changed.before} -> {changed.after}")
    now, then = preview.backtest.current, preview.backtest.candidate
    click.echo(
        f"  on the stored history: departures warned of {len(now.flagged)} -> {len(then.flagged)}, "
        f"false alarms {len(now.false_alarms)} -> {len(then.false_alarms)}"
    )
    if not adopt:
        click.echo("Nothing adopted. Run 'clientrules rules upgrade --adopt' to adopt the shipped defaults.")
        return
    adopted = changes.adopt_defaults(expected_version=preview.current.version)
    click.echo(f"rule-set version {adopted.version} is now current ({len(adopted.ruleset.rules)} rules)")


@rules_group.command("versions")
def rules_versions() -> None:
    """List the rule-set versions: number, when adopted, rules, note."""
    versions = ctx_ledger(create=False).rules.versions()
    click.echo(f"{'version':>7}  {'adopted at':<25}  {'rules':>5}  note")
    for entry in versions:
        current = "*" if entry is versions[-1] else " "
        adopted = entry.adopted_at.text if entry.adopted_at else "-"
        rules = f"{len(entry.ruleset.enabled_rules)}/{len(entry.ruleset.rules)}"
        click.echo(f"{entry.version:>6}{current}  {adopted:<25}  {rules:>5}  {entry.note or ''}")


commands: list[click.Command] = [evaluate_command, explain_command, rules_group]
