"""The stored form of one encrypted personal value (pure).

Version 1 is a JSON object in the event's ``data``, in place of the value::

    {"v": 1, "k": "<the key's id>", "c": "<base64url: 12-byte nonce, AES-256-GCM ciphertext, 16-byte tag>"}

The associated data binds the ciphertext to its place: ``clientrules.personal``,
the version, the event id and the data key, separated by NUL bytes. A
ciphertext copied into another event or another field fails its check. The
nonce is random (96 bits): safe for far more values than one client ever has.

A value stored before the stores encrypted anything is a plain string: personal
fields are text, so a plaintext value and an envelope (an object) cannot be confused.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.exceptions import InvalidTag

from clientrules.domain.errors import StoreError
from clientrules.domain.privacy.keys import ClientKey

ENVELOPE_VERSION = 1
NONCE_BYTES = 12
_CONTEXT = b"clientrules.personal\x00"


def _associated_data(event_id: str, data_key: str) -> bytes:
    return b"%s%d\x00%s\x00%s" % (_CONTEXT, ENVELOPE_VERSION, event_id.encode(), data_key.encode())


def seal_value(key: ClientKey, event_id: str, data_key: str, value: str) -> dict[str, Any]:
    """``value`` encrypted with ``key`` for field ``data_key`` of event ``event_id``, as an envelope."""
    nonce = os.urandom(NONCE_BYTES)
    # surrogatepass: a lone surrogate a caller built is kept, as the unencrypted store kept it
    sealed = key.cipher.encrypt(nonce, value.encode("utf-8", "surrogatepass"), _associated_data(event_id, data_key))
    return {"v": ENVELOPE_VERSION, "k": key.id, "c": base64.urlsafe_b64encode(nonce + sealed).decode("ascii")}


def key_id(envelope: dict[str, Any]) -> object:
    """The id of the key an envelope was sealed with."""
    return envelope.get("k")


def open_value(key: ClientKey, event_id: str, data_key: str, envelope: dict[str, Any]) -> str:
    """The value of an envelope sealed with ``key`` (check :func:`key_id` first).

    An envelope that was altered, or moved from another event or field, raises
    :class:`~clientrules.domain.errors.StoreError` naming the event: it is damage, not erasure.
    """
    if envelope.get("v") != ENVELOPE_VERSION:
        raise StoreError(
            f"event {event_id}: field {data_key} is encrypted in envelope version {envelope.get('v')!r}, "
            f"which this clientrules does not read (it reads {ENVELOPE_VERSION}): upgrade clientrules"
        )
    try:
        raw = base64.urlsafe_b64decode(envelope["c"])
        plain = key.cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(event_id, data_key))
    except (KeyError, TypeError, ValueError, binascii.Error, InvalidTag):
        raise StoreError(
            f"event {event_id}: the encrypted field {data_key} fails its integrity check "
            "(altered, or copied from another event)"
        ) from None
    return plain.decode("utf-8", "surrogatepass")
