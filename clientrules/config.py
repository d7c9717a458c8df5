"""Settings: the ``CLIENTRULES_*`` environment variables, the one place that reads them.

The CLI, the web app and :meth:`clientrules.Ledger.open` take their settings
from :func:`load_settings`; a mapping given to it (``create_app(config)``) wins
over the environment.

========================================  ======================================================
key                                       meaning (default)
========================================  ======================================================
``CLIENTRULES_DB``                        the database, as for the CLI (``./clientrules.db``)
``CLIENTRULES_SECRET_KEY``                signs links, sessions and forms (kept with the database)
``CLIENTRULES_SURVEY_EXPIRY_DAYS``        how long a new link works (30)
``CLIENTRULES_BASE_URL``                  the public address links start with (the request's)
``CLIENTRULES_HTTPS``                     ``1`` behind https: Secure cookies, HSTS (off)
``CLIENTRULES_TRUSTED_PROXIES``           proxies in front whose ``X-Forwarded-*`` headers are believed (0)
``CLIENTRULES_MAIL_SERVER``               SMTP host; unset: messages go to the outbox folder
``CLIENTRULES_MAIL_PORT``                 SMTP port (25; 465 with SSL; 587 with TLS)
``CLIENTRULES_MAIL_USE_TLS`` / ``_SSL``   STARTTLS / SMTP over TLS (off)
``CLIENTRULES_MAIL_USERNAME`` / ``_PASSWORD``  SMTP login (none)
``CLIENTRULES_MAIL_FROM``                 the sender address (``clientrules@localhost``)
``CLIENTRULES_OUTBOX``                    where unsent messages are written (``outbox/`` beside the db)
``CLIENTRULES_BUSINESS_NAME``             who the survey and its mail speak for (none: "us")
``CLIENTRULES_BUSINESS_LOGO``             a PNG, JPEG or SVG file shown on the survey pages (none)
``CLIENTRULES_ACCENT_COLOUR``             the colour of buttons and the page's top, ``#rrggbb`` (none)
``CLIENTRULES_OWNER_EMAIL``               where the clients' replies to survey mail go (Reply-To; none)
``CLIENTRULES_NUMBER_FORMAT``             how amounts are typed and shown: ``1,234.56``, ``1.234,56`` or ``1 234,56``
``CLIENTRULES_DATE_FORMAT``               how pages and mail write dates, as 5 December 2026 (``5 December 2026``)
``CLIENTRULES_LOGIN_MAX_FAILURES``        failed logins allowed per address and window (5)
``CLIENTRULES_LOGIN_WINDOW_MINUTES``      that window (15)
``CLIENTRULES_WEBHOOK_URL``               ``clientrules watch`` posts each decision change there (http or https)
``CLIENTRULES_WEBHOOK_SECRET``            the key that signs those posts (required with the URL)
``CLIENTRULES_WEBHOOK_ALLOW_PRIVATE``     ``1``: the webhook may post to a loopback or private address (warned of)
``CLIENTRULES_DIGEST_TO``                 ``clientrules watch`` mails the owner's digest to this address
``CLIENTRULES_DIGEST_HOUR``               one digest a day at this hour, 0-23 UTC (unset: one per pass)
``CLIENTRULES_CURRENCY``                  the business's currency, an ISO 4217 code (``EUR``); a client's own wins
``CLIENTRULES_PAYMENT_TERMS_DAYS``        days from issue to due date, where an import finds no due date (30)
========================================  ======================================================
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import attrs

from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events.dates import DATE_FORMATS, DEFAULT_DATE_FORMAT
from clientrules.domain.money import (
    DEFAULT_CURRENCY,
    DEFAULT_NUMBER_FORMAT,
    DEFAULT_PAYMENT_TERMS_DAYS,
    NUMBER_FORMATS,
    is_currency_code,
)
from clientrules.domain.survey.invitations import is_email_address
from clientrules.domain.survey.links import DEFAULT_EXPIRY_DAYS, MAX_DAYS, check_secret

PREFIX = "CLIENTRULES_"
DB_ENV = "CLIENTRULES_DB"
SECRET_ENV = "CLIENTRULES_SECRET_KEY"
DEFAULT_DB = "clientrules.db"
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
#: a logo file's suffix -> its media type
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


class SettingsError(ClientRulesError):
    """A setting has a value the app cannot use."""


def _flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key}={value!r} is not a yes/no value (1 or 0)")


def _whole(low: int, high: int) -> Callable[[str, object], int]:
    """A parser of whole numbers from ``low`` to ``high`` (given as numbers or text)."""

    def parse(key: str, value: object) -> int:
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= len(str(high)):
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise SettingsError(f"{key}={str(value)[:20]!r} is not a whole number from {low} to {high}")

    return parse


def _text(key: str, value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _colour(key: str, value: object) -> str | None:
    text = _text(key, value)
    if text is not None and not _COLOUR.fullmatch(text):
        raise SettingsError(f"{key}={text[:40]!r} is not a colour written as #rrggbb (such as #1d6f42)")
    return text


def _logo(key: str, value: object) -> str | None:
    text = _text(key, value)
    if text is not None and Path(text).suffix.lower() not in LOGO_TYPES:
        raise SettingsError(f"{key}={text[:80]!r} is not a PNG, JPEG or SVG file")
    return text


def _address(key: str, value: object) -> str | None:
    text = _text(key, value)
    if text is not None and not is_email_address(text):
        raise SettingsError(f"{key}={text[:80]!r} is not an e-mail address")
    return text


def _web_address(key: str, value: object) -> str | None:
    text = _text(key, value)
    if text is not None and (urlsplit(text).scheme not in ("http", "https") or not urlsplit(text).netloc):
        raise SettingsError(f"{key}={text[:80]!r} is not an http or https address")
    return text


def _currency(key: str, value: object) -> str | None:
    text = _text(key, value)
    if text is not None and not is_currency_code(text):
        raise SettingsError(f"{key}={text[:20]!r} is not a currency code of three capital letters (such as EUR)")
    return text


def _one_of(choices: Iterable[str], default: str) -> Callable[[str, object], str]:
    """A parser of one of ``choices`` (unset: ``default``)."""

    def parse(key: str, value: object) -> str:
        text = _text(key, value)
        if text is None:
            return default
        if text not in choices:
            raise SettingsError(f"{key}={text[:20]!r} is not one of {', '.join(choices)}")
        return text

    return parse


def _hour(key: str, value: object) -> int | None:
    return None if value in (None, "") else _whole(0, 23)(key, value)


def _secret(key: str, value: object) -> str | None:
    text = _text(key, value)
    try:
        return None if text is None else check_secret(text, origin=key)
    except ClientRulesError as error:
        raise SettingsError(str(error)) from None


@attrs.frozen
class Settings:
    db: str | None = None
    secret_key: str | None = None
    survey_expiry_days: int = DEFAULT_EXPIRY_DAYS
    base_url: str | None = None
    https: bool = False
    trusted_proxies: int = 0
    mail_server: str | None = None
    mail_port: int | None = None
    mail_use_tls: bool = False
    mail_use_ssl: bool = False
    mail_username: str | None = None
    mail_password: str | None = attrs.field(default=None, repr=False)
    mail_from: str = "clientrules@localhost"
    outbox: str | None = None
    login_max_failures: int = 5
    login_window_minutes: int = 15
    business_name: str | None = None
    business_logo: str | None = None
    accent_colour: str | None = None
    owner_email: str | None = None
    #: how the owner writes amounts, as a sample: the thousands separator, then the decimal one
    number_format: str = DEFAULT_NUMBER_FORMAT
    #: how pages and mail write dates, as a sample: how 5 December 2026 is written (:data:`DATE_FORMATS`)
    date_format: str = DEFAULT_DATE_FORMAT
    webhook_url: str | None = None
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    webhook_allow_private: bool = False
    digest_to: str | None = None
    digest_hour: int | None = None
    currency: str = DEFAULT_CURRENCY
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS



_PARSERS: dict[str, Callable[[str, object], Any]] = {
    "db": _text,
    "secret_key": _secret,
    "survey_expiry_days": _whole(1, MAX_DAYS),
    "base_url": _text,
    "https": _flag,
    "trusted_proxies": _whole(0, 16),
    "mail_server": _text,
    "mail_port": _whole(1, 65535),
    "mail_use_tls": _flag,
    "mail_use_ssl": _flag,
    "mail_username": _text,
    "mail_password": _text,
    "mail_from": _text,
    "outbox": _text,
    "login_max_failures": _whole(1, 1000),
    "login_window_minutes": _whole(1, 7 * 24 * 60),
    "business_name": _text,
    "business_logo": _logo,
    "accent_colour": _colour,
    "owner_email": _address,
    "number_format": _one_of(NUMBER_FORMATS, DEFAULT_NUMBER_FORMAT),
    "date_format": _one_of(DATE_FORMATS, DEFAULT_DATE_FORMAT),
    "webhook_url": _web_address,
    "webhook_secret": _text,
    "webhook_allow_private": _flag,
    "digest_to": _address,
    "digest_hour": _hour,
    "currency": _currency,
    "payment_terms_days": _whole(0, 365),
}


def load_settings(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from ``environ``'s ``CLIENTRULES_*`` keys, then ``config``'s (which win).

    An unknown ``CLIENTRULES_*`` key in ``config`` is refused (a typo would
    otherwise be ignored silently); other keys are not settings of ours.
    """
    config = {k: v for k, v in (config or {}).items() if k.startswith(PREFIX)}
    unknown = sorted(k for k in config if k[len(PREFIX):].lower() not in _PARSERS)
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        key = PREFIX + name.upper()
        for source in (environ, config):
            if key in source:
                parsed = parse(key, source[key])
                if parsed is None:
                    values.pop(name, None)
                else:
                    values[name] = parsed
    return Settings(**values)


def other_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``config`` that are not settings of ours (a web app hands them to its framework)."""
    return {key: value for key, value in config.items() if not key.startswith(PREFIX)}


def database_url(environ: Mapping[str, str] = os.environ) -> str:
    """The database to open when none is named: ``$CLIENTRULES_DB``, else ``./clientrules.db``."""
    return environ.get(DB_ENV) or DEFAULT_DB
