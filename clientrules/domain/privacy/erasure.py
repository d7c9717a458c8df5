"""What ``ledger.erase`` did for one client."""

from __future__ import annotations

import attrs

from clientrules.domain.events import Event


@attrs.frozen
class Erasure:
    """The outcome of erasing one client's personal data.

    ``event`` is the ``PersonalDataErased`` event recorded now, or, when an
    earlier erasure left nothing to destroy (``already_erased``), that earlier one.
    """

    client: str
    event: Event
    #: a key was destroyed by this erasure
    key_destroyed: bool
    #: nothing was left to erase: an earlier erasure stands and nothing was recorded
    already_erased: bool
    #: how many of the client's events hold personal fields that now read as erased
    erased_events: int
    #: events stored before personal fields were encrypted: their personal fields stay readable
    plaintext_events: tuple[str, ...] = ()
    #: why copies of the destroyed key may remain in the database's files for a while (None: they do not)
    lingering: str | None = None

    @property
    def warnings(self) -> list[str]:
        """What the erasure could not do, one line each."""
        found = []
        if self.plaintext_events:
            count = len(self.plaintext_events)
            found.append(
                f"{count} event{'s' if count != 1 else ''} of {self.client} {'were' if count != 1 else 'was'} "
                "stored before clientrules encrypted personal fields and cannot be erased from the "
                f"append-only log: {', '.join(self.plaintext_events[:5])}{' ...' if count > 5 else ''}"
            )
        if self.lingering:
            found.append(self.lingering)
        return found
