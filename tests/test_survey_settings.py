"""The web app's settings and its login limiter (pure parts)."""

from __future__ import annotations

import pytest

from survey_app.state import LoginLimiter
from clientrules.config import SettingsError, load_settings


def test_settings_come_from_the_environment_and_the_mapping_wins() -> None:
    environ = {"CLIENTRULES_MAIL_SERVER": "smtp.example", "CLIENTRULES_HTTPS": "1", "CLIENTRULES_SURVEY_EXPIRY_DAYS": "14"}
    settings = load_settings({"CLIENTRULES_MAIL_SERVER": "other.example", "TESTING": True}, environ)
    assert settings.mail_server == "other.example"
    assert settings.https is True and settings.survey_expiry_days == 14
    assert load_settings({}, {}).survey_expiry_days == 30 and load_settings({}, {}).https is False
    assert (load_settings({}, {}).currency, load_settings({}, {}).payment_terms_days) == ("EUR", 30)
    assert load_settings({}, {"CLIENTRULES_CURRENCY": "GBP", "CLIENTRULES_PAYMENT_TERMS_DAYS": "14"}).currency == "GBP"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"CLIENTRULES_MAIL_SERVR": "x"}, "unknown setting 'CLIENTRULES_MAIL_SERVR'"),
        ({"CLIENTRULES_HTTPS": "perhaps"}, "CLIENTRULES_HTTPS='perhaps' is not a yes/no value"),
        ({"CLIENTRULES_MAIL_PORT": "0"}, "CLIENTRULES_MAIL_PORT='0' is not a whole number from 1 to 65535"),
        ({"CLIENTRULES_CURRENCY": "euro"}, "CLIENTRULES_CURRENCY='euro' is not a currency code of three capital letters"),
        ({"CLIENTRULES_PAYMENT_TERMS_DAYS": "-1"}, "CLIENTRULES_PAYMENT_TERMS_DAYS='-1' is not a whole number from 0 to 365"),
        ({"CLIENTRULES_SURVEY_EXPIRY_DAYS": "thirty"}, "is not a whole number from 1 to 3650"),
    ],
)
def test_bad_settings_are_one_clear_error(config: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings(config, {})


def test_the_limiter_counts_failures_per_address_within_the_window() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=3, window=900, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.attempt("1.2.3.4") == 0
    assert limiter.attempt("1.2.3.4") == 901  # refused: not counted
    assert limiter.attempt("5.6.7.8") == 0
    limiter.succeeded("5.6.7.8")
    now[0] = 900.5
    assert limiter.attempt("1.2.3.4") == 0
    limiter.succeeded("1.2.3.4")
    assert limiter._failures == {}  # nothing kept for addresses without recent failures
