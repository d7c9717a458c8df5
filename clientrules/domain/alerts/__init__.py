"""Decision changes as values, the owner's digest of them, and webhook signatures (pure: no I/O)."""

from clientrules.domain.alerts.change import CAUSES, Change, decision_change
from clientrules.domain.alerts.digest import digest_message
from clientrules.domain.alerts.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

__all__ = [
    "CAUSES",
    "Change",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "decision_change",
    "digest_message",
    "sign",
    "verify",
]
