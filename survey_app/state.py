"""What the views share, kept at ``app.extensions["clientrules"]``: the settings, the ledger, the login limiter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from flask import current_app

from clientrules import Ledger, Settings

if TYPE_CHECKING:
    from survey_app.learning import ReportCache
    from survey_app.security import LoginLimiter

EXTENSION = "clientrules"


@attrs.frozen
class AppState:
    """The app's share of the library; the ledger lives as long as the app."""

    settings: Settings
    ledger: Ledger
    limiter: LoginLimiter
    report_cache: ReportCache


def app_state() -> AppState:
    """The state of the app handling the current request."""
    state: AppState = current_app.extensions[EXTENSION]
    return state
