"""The ``clientrules`` command: the root group, its global options, and the commands of each area.

Each area keeps its commands in ``clientrules/cli/<area>.py``, exposing
``commands: list[click.Command]``. Other packages add commands through the
``clientrules.commands`` entry-point group (the web app's ``serve`` does).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Sequence

import click

from clientrules.cli import alerts, decisions, facts, learning, ledger, next_steps, operations, survey
from clientrules.cli.context import CliState
from clientrules.config import DB_ENV
from clientrules.domain.errors import ClientRulesError

#: the entry-point group whose objects (click commands) join the root group
PLUGIN_GROUP = "clientrules.commands"


class ClientRulesGroup(click.Group):
    """A group that reports the library's errors as one line, ``error: ...``, and exits 1."""

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
    envvar=DB_ENV,
    show_envvar=True,
    help="The database: a file path, sqlite:///path[?synchronous=full] or postgresql://... "
    "[default: ./clientrules.db]",
)
@click.version_option(package_name="clientrules", prog_name="clientrules")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Keep, renegotiate, refer out or terminate clients, from each client's event history."""
    ctx.obj = CliState(db=db)


for _area in (ledger, survey, decisions, learning, facts, operations, next_steps, alerts):
    for _command in _area.commands:
        cli.add_command(_command)
for _plugin in entry_points(group=PLUGIN_GROUP):
    cli.add_command(_plugin.load(), _plugin.name)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: usage errors exit 2, the library's errors exit 1 with one line on stderr."""
    cli.main(args=argv, prog_name="clientrules")
