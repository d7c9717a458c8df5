"""Forgetting a person (crypto-shredding): each client's personal fields are encrypted with a key of its own.

The event log is append-only, so a person's name, e-mail address and what they
wrote cannot be deleted from it. Instead the stores encrypt every personal field
(``metadata={"personal": True}`` on the payload classes) with the client's own
data key before the event is written, and keep the keys in a table of their own
(``client_keys``) from which, unlike events, a key can be deleted. Destroying the
key (``ledger.erase``) leaves every other field of the client's events readable
(amounts, dates, reason codes, scores: the facts, decisions and statistics stay)
and makes the personal ones unreadable for good: they read as
:data:`~clientrules.domain.events.types.ERASED` (an e-mail address as None).

* :mod:`~clientrules.domain.privacy.keys`: a client's data key, and where a store keeps them;
* :mod:`~clientrules.domain.privacy.envelope`: the versioned form an encrypted value is stored in;
* :mod:`~clientrules.domain.privacy.fields`: which fields are personal, and sealing and opening an event's data;
* :mod:`~clientrules.domain.privacy.erasure`: what an erasure did.

Pure: no I/O and no globals; the stores call it inside their own transactions.
"""

from clientrules.domain.events.types import ERASED
from clientrules.domain.privacy.envelope import ENVELOPE_VERSION, open_value, seal_value
from clientrules.domain.privacy.erasure import Erasure
from clientrules.domain.privacy.fields import PersonalFields
from clientrules.domain.privacy.keys import ClientKey, KeyStore

__all__ = [
    "ENVELOPE_VERSION",
    "ERASED",
    "ClientKey",
    "Erasure",
    "KeyStore",
    "PersonalFields",
    "open_value",
    "seal_value",
]
