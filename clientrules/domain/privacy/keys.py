"""A client's data key, and the interface of the table a store keeps them in."""

from __future__ import annotations

import secrets
from typing import Collection, Mapping, Protocol

import attrs
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256


@attrs.frozen
class ClientKey:
    """One client's data key: ``id`` names it in every envelope sealed with it; ``secret`` is 32 random bytes.

    A client has at most one key at a time. After an erasure, personal fields
    recorded for the client later get a new key with a new id, so envelopes
    sealed with the destroyed one are told apart from those of the new one.
    """

    id: str
    secret: bytes = attrs.field(repr=False)
    cipher: AESGCM = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a client key has {KEY_BYTES} bytes, not {len(self.secret)}")
        object.__setattr__(self, "cipher", AESGCM(self.secret))

    @classmethod
    def generate(cls) -> ClientKey:
        return cls(secrets.token_hex(8), secrets.token_bytes(KEY_BYTES))


class KeyStore(Protocol):
    """Where a store keeps its clients' keys: the ``client_keys`` table, one row per client that has one.

    Keys are created inside the transaction that appends a client's first
    personal field (so an append that rolls back leaves no key behind, and two
    writers cannot give one client two keys), read in the same statement as
    the events they open (one snapshot: a key missing there was destroyed),
    never cached between calls (another process may destroy one at any time),
    and never changed: only destroyed, by the erasure's transaction.
    """

    def client_keys(self, clients: Collection[str]) -> Mapping[str, ClientKey]:
        """The keys of those of ``clients`` that have one; an erased client has none."""
