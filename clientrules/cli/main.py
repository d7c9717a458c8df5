"""The ``clientrules`` command: the root group, its global options, and the commands of each area.

Each area keeps its commands in ``clientrules/cli/<area>.py``, exposing
``commands: list[click.Command]``; an area is imported only when one of its
commands runs (or ``--help`` lists them), so ``clientrules evaluate`` loads
neither the web app nor the report's charts. Other packages add commands
through the ``clientrules.commands`` entry-point group (the web app's
``serve`` does), loaded the same way.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Sequence

import click

from clientrules import ClientRulesError
from clientrules.cli.context import CliState

#: the entry-point group whose objects (click commands) join the root group
PLUGIN_GROUP = "clientrules.commands"
#: each command's name and the area module (``clientrules.cli.<area>``) that defines it
AREAS = {
    "import": "ledger",
    "export": "ledger",
    "history": "ledger",
    "clients": "ledger",
    "erase": "ledger",
    "survey": "survey",
    "owner": "survey",
    "evaluate": "decisions",
    "explain": "decisions",
    "rules": "decisions",
    "report": "learning",
    "proposals": "learning",
    "backtest": "learning",
    "facts": "facts",
    "db": "operations",
    "worker": "operations",
    "next": "next_steps",
    "drafts": "next_steps",
    "watch": "alerts",
    "changes": "alerts",
}


class ClientRulesGroup(click.Group):
    """The root group: commands loaded when needed, and the library's errors as one line, ``error: ...``, exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*AREAS, *(plugin.name for plugin in entry_points(group=PLUGIN_GROUP))])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        area = AREAS.get(cmd_name)
        if area is not None:
            commands: list[click.Command] = importlib.import_module(f"clientrules.cli.{area}").commands
            return next(command for command in commands if command.name == cmd_name)
        for plugin in entry_points(group=PLUGIN_GROUP, name=cmd_name):
            command: click.Command = plugin.load()
            return command
        return None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClientRulesError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(1)


@click.group(cls=ClientRulesGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="URL",
    help="The database: a file path, sqlite:///path[?synchronous=full] or postgresql://... "
    "[default: $CLIENTRULES_DB, else ./clientrules.db]",
)
@click.version_option(package_name="clientrules", prog_name="clientrules")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Keep, renegotiate, refer out or terminate clients, from each client's event history."""
    state = ctx.ensure_object(CliState)
    state.db = db
    state.freeze_what_lives_on()  # run once the command is found, its area imported


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: usage errors exit 2, the library's errors exit 1 with one line on stderr."""
    cli.main(args=argv, prog_name="clientrules", obj=CliState(owns_process=True))
