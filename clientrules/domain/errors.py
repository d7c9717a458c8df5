"""The errors the library raises on purpose.

Every one of them carries a message fit to show a user as one line; the CLI and
the web app print ``str(error)`` and never a traceback.
"""

from __future__ import annotations


class ClientRulesError(Exception):
    """Base class of every error the library raises on purpose."""


class InvalidEvent(ClientRulesError):
    """An event (or one of its fields) is not valid; nothing was stored.

    ``event_id`` names the event when the refusal comes from a store's append
    (an import maps it to the line the event was read from).
    """

    def __init__(self, message: str, *, field: str | None = None, event_id: str | None = None) -> None:
        self.field = field
        self.reason = message
        self.event_id = event_id
        super().__init__(f"{field}: {message}" if field else message)


class InvalidInput(ClientRulesError):
    """A line of a JSON Lines file is not a valid event; nothing was stored."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}")


class ConcurrencyError(ClientRulesError):
    """Another writer appended to the client's stream first."""

    def __init__(self, client: str, expected: int, actual: int) -> None:
        self.client = client
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"client {client!r} is at version {actual}, not the expected {expected}: "
            "another writer appended first; read the stream again and retry"
        )


class StoreError(ClientRulesError):
    """The event store cannot be opened or used (bad URL, unreachable server...)."""


class InvalidRuleSet(ClientRulesError):
    """A rule set fails validation; the message names the rule and the problem."""


class UnknownClient(ClientRulesError):
    """No event is stored for that client id."""

    def __init__(self, client: str) -> None:
        self.client = client
        super().__init__(f"no events are stored for client {client!r}")


class DraftError(ClientRulesError):
    """A draft template that cannot be used or filled: one line saying why."""


class EngineError(ClientRulesError):
    """The rules engine failed while deciding for a client (nothing was decided)."""
