"""What every backend does inside the transaction that erases a client, once it has deleted the client's key."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from clientrules.domain.events import Event
from clientrules.domain.privacy import Erasure, PersonalFields
from clientrules.ports import AppendResult


def record_erasure(
    erasure: Event,
    personal: PersonalFields,
    *,
    destroyed: bool,
    earlier: Sequence[Event],
    append: Callable[[list[Event]], AppendResult],
    personal_rows: Callable[[], Iterable[tuple[str, str, str]]],
) -> Erasure:
    """Append ``erasure`` unless nothing was left to erase, and tell what the erasure did.

    ``destroyed``: a key was deleted; ``earlier``: the client's latest stored
    ``PersonalDataErased``, if any; ``append`` appends in the erasing
    transaction; ``personal_rows`` reads the client's ``(id, type, data)`` rows
    of the types with personal fields, to count what now reads as erased and
    what was stored in plain text before encryption.
    """
    already_erased = not destroyed and bool(earlier)
    if already_erased:
        event = earlier[0]
    else:
        result = append([erasure])
        event = result.stored_event(erasure)
    erased, plaintext = personal.census(personal_rows())
    return Erasure(erasure.client, event, destroyed, already_erased, erased, plaintext)
