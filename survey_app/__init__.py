"""The exit-survey web app: the public questionnaire at personal links, and the owner's pages.

::

    from survey_app import create_app
    app = create_app({"CLIENTRULES_DB": "clients.db"})

The app calls the library through its front door only (``clientrules`` and
``clientrules.types``: the :class:`~clientrules.Ledger` and its services); see
the configuration page for its ``CLIENTRULES_*`` settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from clientrules import Ledger, load_settings, other_keys
from survey_app.changes import changes
from survey_app.imports import imports
from survey_app.errors import register_error_pages
from survey_app.learning import learning
from survey_app.next_steps import next_steps
from survey_app.owner import owner
from survey_app.public import public
from survey_app.rule_editing import rule_editing
from survey_app.security import SecureWhenHttpsSessions, add_security_headers
from survey_app.state import EXTENSION, AppState, LoginLimiter, PreviewCache, ReportCache

SESSION_LIFETIME = dt.timedelta(hours=12)


def create_app(config: Mapping[str, Any] | None = None, *, ledger: Ledger | None = None) -> Flask:
    """The app, configured from ``CLIENTRULES_*`` environment variables and then ``config``.

    Keys of ``config`` that do not start with ``CLIENTRULES_`` go to Flask's config as they are.
    The app opens ``CLIENTRULES_DB`` unless given an open ``ledger`` (the CLI passes its own).
    """
    settings = load_settings(config)
    ledger = Ledger.open(settings.db, settings=settings) if ledger is None else ledger.with_settings(settings)
    secret = ledger.signing_secret
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="clientrules_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        PREFERRED_URL_SCHEME="https" if settings.https else "http",
        # a questionnaire may stay open for a while before it is sent
        WTF_CSRF_TIME_LIMIT=24 * 3600,
        # the token is checked; the https Referer check cannot work with Referrer-Policy: no-referrer
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.config.update(other_keys(config or {}))
    app.session_interface = SecureWhenHttpsSessions()
    if settings.trusted_proxies:
        # believe the address, scheme and host the proxies say (the rate limit and Secure cookies need them)
        n = settings.trusted_proxies
        # Flask's documented way to wrap its WSGI app, which mypy sees as replacing a method
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = AppState(
        settings=settings,
        ledger=ledger,
        limiter=LoginLimiter(settings.login_max_failures, settings.login_window_minutes * 60),
        report_cache=ReportCache(),
        preview_cache=PreviewCache(),
    )
    CSRFProtect(app).exempt(public)  # the questionnaire checks its link first, then the token
    app.register_blueprint(public)
    app.register_blueprint(owner)
    app.register_blueprint(learning)
    app.register_blueprint(next_steps)
    app.register_blueprint(rule_editing)
    app.register_blueprint(changes)
    app.register_blueprint(imports)
    app.add_url_rule("/healthz", "healthz", healthz)
    register_error_pages(app)
    app.after_request(add_security_headers)
    return app


def warm_up(app: Flask) -> None:
    """Do before serving what the first looks would otherwise wait for: every template compiled, and the
    standings the store kept read (or, with none kept, every client's first decision begun)."""
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
    app.extensions[EXTENSION].ledger.portfolio.page()


def healthz() -> tuple[str, int, dict[str, str]]:
    """A static reply for load balancers and the survey benchmark: the app answers (nothing else is checked)."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


__all__ = ["AppState", "create_app", "warm_up"]
