"""``clientrules serve``: the web app's command, added to the ``clientrules`` CLI through an entry point.

The library does not import the web app: ``pyproject.toml`` names this command
in the ``clientrules.commands`` entry-point group, which the CLI loads.
"""

from __future__ import annotations

from typing import Protocol

import click
from waitress.server import TcpWSGIServer, create_server

from clientrules import ClientRulesError, Ledger
from survey_app import create_app, warm_up
from survey_app.keeping import HistoryKeeper
from survey_app.queue_log import summarise_queue_warnings
from survey_app.state import EXTENSION
from survey_app.watching import keep_watch


#: the fewest seconds between two keepings of the history for rule previews (each folds every client once)
HISTORY_INTERVAL = 60.0


class CommandState(Protocol):
    """What the ``clientrules`` command gives its commands (``ctx.obj``): the ledger of ``--db``, and the freeze of
    what lives as long as the command, for Python's garbage collector (in a process of the command's own only)."""

    def ledger(self, *, create: bool = True) -> Ledger: ...

    def freeze_what_lives_on(self) -> None: ...


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--no-watch", is_flag=True, help="Do not watch for decision changes here (a 'clientrules watch' runs apart).")
@click.option(
    "--watch-interval",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How often the watcher looks at the clock for clients due with time (new events wake it at once).",
)
@click.pass_obj
def serve(state: CommandState, host: str, port: int, threads: int, no_watch: bool, watch_interval: float) -> None:
    """Run the web app (survey links and owner pages) with waitress, a production WSGI server.

    It also keeps watch, as 'clientrules watch' does: each client whose decision
    changes is recorded (What changed) and delivered to the digest and webhook
    if set. A separate 'clientrules watch' and serve never both process: the
    second waits while the first runs. --no-watch leaves watching to others.
    """
    ledger = state.ledger()
    app = create_app(ledger=ledger)
    warm_up(app)
    # waitress drops X-Forwarded-* headers unless told to keep them; the app's ProxyFix
    # (CLIENTRULES_TRUSTED_PROXIES) is what decides how far to believe them
    keep_forwarded = app.extensions[EXTENSION].settings.trusted_proxies > 0
    try:
        server = create_server(
            app, host=host, port=port, threads=threads, clear_untrusted_proxy_headers=not keep_forwarded
        )
    except OSError as error:  # the port is taken, the address is not this machine's...
        raise ClientRulesError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
    if not ledger.surveys.owner.version():
        click.echo("note: no owner password yet: run 'clientrules owner set-password'", err=True)
    assert isinstance(server, TcpWSGIServer), "one host and port make one TCP server"
    served = server.getsockname()[1]  # the port given, or the one the system chose for 0
    click.echo(f"serving {ledger.url} on http://{host}:{served}/ (owner pages: /owner/); Ctrl-C stops", err=True)
    watch = None if no_watch else keep_watch(app, ledger, watch_interval, tell)
    history = HistoryKeeper(app.extensions[EXTENSION].ledger, HISTORY_INTERVAL, tell)  # the pages' own ledger
    history.start()
    unsummarise = summarise_queue_warnings(threads)
    # the app, its compiled templates and the standings read back live as long as the server: frozen, as the command
    # froze its imports, so that a full collection (which holds up every request while it runs) walks only what
    # serving made since
    state.freeze_what_lives_on()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        unsummarise()
        server.close()
        history.stop()
        if watch is not None:
            watch.stop()


def tell(line: str) -> None:
    """Say ``line`` on the server's standard error (its log)."""
    click.echo(line, err=True)
