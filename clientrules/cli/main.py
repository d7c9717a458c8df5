"""The ``clientrules`` command: the root group, its global options, and the command modules it loads.

Each area keeps its commands in ``clientrules/cli/<area>.py``, exposing
``commands: list[click.Command]``, and adds its module to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import importlib
from typing import Any, Sequence

import click

from clientrules.cli.context import CliState
from clientrules.domain.errors import ClientRulesError
from clientrules.ledger import DB_ENV

COMMAND_MODULES = [
    "clientrules.cli.ledger",
    "clientrules.cli.survey",
    "clientrules.cli.decisions",
    "clientrules.cli.learning",
    "clientrules.cli.facts",
    "clientrules.cli.operations",
]


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


for _module in COMMAND_MODULES:
    for _command in importlib.import_module(_module).commands:
        cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: usage errors exit 2, the library's errors exit 1 with one line on stderr."""
    cli.main(args=argv, prog_name="clientrules")
