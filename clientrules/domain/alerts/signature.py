"""Webhook signatures, as Stripe signs its webhooks: an HMAC-SHA256 of the timestamp and the body.

The signed content is ``"<timestamp>.<raw body>"`` (the timestamp in whole
seconds since the Unix epoch, sent in :data:`TIMESTAMP_HEADER`); the
signature header reads ``sha256=<hex digest>``. A receiver recomputes it with
the shared secret, compares in constant time, and refuses a timestamp too far
from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Clientrules-Signature"
TIMESTAMP_HEADER = "X-Clientrules-Timestamp"
#: how far a receiver's :func:`verify` lets the timestamp be from its clock, by default
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER` for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp`` (header texts) and ``timestamp`` is within
    ``tolerance`` seconds of ``now``: what a receiver checks."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
