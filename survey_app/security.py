"""What every response and the owner's login get: security headers, session cookies, the login rate limit, the login check."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar, cast

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from clientrules import OwnerSession
from clientrules.types import OwnerAccount
from survey_app.state import app_state

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
F = TypeVar("F", bound=Callable[..., object])


def add_security_headers(response: Response) -> Response:
    """Scripts and styles from the app's own files only, no framing, no sniffing, no referrer
    (survey tokens are in URLs), no caching of pages."""
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        headers["Cache-Control"] = "no-store"
    if current_app.config["SESSION_COOKIE_SECURE"]:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


class SecureWhenHttpsSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, whose cookie is also ``Secure`` whenever the request came over https.

    ``CLIENTRULES_HTTPS=1`` makes it Secure always; otherwise a request that
    reached the app over TLS (``wsgi.url_scheme``, or ``X-Forwarded-Proto``
    from a proxy the app is told to trust) gets a Secure cookie too.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure


def _owner() -> OwnerAccount:
    return app_state().ledger.surveys.owner


def _session_of_cookie() -> OwnerSession | None:
    """The owner session the cookie names, if it names one (whether it is still open is another question)."""
    version, generation, session_id = session.get("owner"), session.get("generation"), session.get("sid")
    if not isinstance(version, int) or not isinstance(generation, int) or not isinstance(session_id, str):
        return None  # a cookie from before sessions had ids counts as logged out
    return OwnerSession(version, generation, session_id)


def owner_logged_in() -> bool:
    """Whether the cookie's session is open: the password in force, not logged out, not ended everywhere.

    Checked on the server on every request, so a copy of the cookie taken
    before a logout, a password change or "log out everywhere" opens nothing.
    """
    if "owner_open" not in g:
        opened = _session_of_cookie()
        g.owner_open = opened is not None and _owner().session_open(opened)
    return bool(g.owner_open)


def log_in(password_version: int) -> None:
    """Start a new session for the owner who just gave the password of ``password_version``."""
    opened = _owner().open_session(password_version)
    session.clear()
    session.permanent = True
    session.update(owner=opened.password_version, generation=opened.generation, sid=opened.id)


def log_out(*, everywhere: bool = False) -> None:
    """End this session on the server (and, ``everywhere``, every other one too), then forget the cookie."""
    opened = _session_of_cookie()
    if everywhere:
        _owner().end_all_sessions()
    elif opened is not None:
        _owner().end_session(opened)
    session.clear()


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a plain path of the owner's pages, else ``default``: never another site, never a
    character that cannot go in a Location header (CR, LF and other control characters)."""
    if (
        target
        and target.startswith("/owner/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and target.isascii()
    ):
        return target
    return default


def login_required(view: F) -> F:
    @functools.wraps(view)
    def guarded(*args: object, **kwargs: object) -> object:
        if not owner_logged_in():
            return redirect(url_for("owner.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, guarded)  # it takes the view's arguments and returns a response, as the view does
