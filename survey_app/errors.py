"""Friendly pages for every error, with the right status and never a traceback."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from clientrules import EngineError, LinkError, LinkExpired, LinkSuperseded, LinkUnknown, LinkUsed
from survey_app.state import app_state

LINK_TITLES = {
    LinkUnknown: "This link does not work",
    LinkExpired: "This link has expired",
    LinkUsed: "You have already answered",
    LinkSuperseded: "There is a newer link",
}

PAGES = {
    400: ("Something was wrong with that request", "Please go back, reload the page and try again."),
    404: ("Page not found", "There is nothing at this address. Check that the link was copied completely."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too much", "What was sent is too large."),
    429: ("Too many attempts", "Please wait a few minutes and try again."),
    500: ("Something went wrong on our side", "Nothing was saved. Please try again later."),
}


def page(status: int, title: str, message: str, next_step: str = "") -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, next_step=next_step), status


def _ask_for_a_new_link() -> str:
    """What someone whose link does not work can do: write to the owner, if the owner gave an address."""
    address = app_state().settings.owner_email
    return f"If you would still like to answer, write to {address} and we will send you a new link." if address else ""


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(LinkError)
    def link_error(error: LinkError) -> tuple[str, int]:
        message = str(error)
        next_step = "" if isinstance(error, LinkUsed) else _ask_for_a_new_link()
        return page(410 if error.gone else 404, LINK_TITLES[type(error)], message[0].upper() + message[1:] + ".", next_step)

    @app.errorhandler(EngineError)
    def engine_error(error: EngineError) -> tuple[str, int]:
        app.logger.error("decisions unavailable: %s", error)
        return page(
            503,
            "Decisions are unavailable for now",
            "The rules engine stopped while deciding with the rule set in use. Nothing was changed, and the "
            "survey links keep working. Please try again in a minute; if this keeps happening, adopt another "
            "rule set.",
        )

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return page(
            400,
            "This form has expired",
            "Nothing was saved. Please go back, reload the page and send the form again "
            "(the page needs cookies to be allowed for this site).",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        title, message = PAGES.get(error.code or 500, (error.name, error.description or ""))
        return page(error.code or 500, title, message)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        app.logger.exception("unexpected error")
        return page(500, *PAGES[InternalServerError.code])
