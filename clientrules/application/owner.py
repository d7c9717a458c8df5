"""The one owner account of the dashboard: a password kept hashed with the database.

The store's settings can only be added, never overwritten (``put_meta_if_absent``),
so each new password is stored under the next key ``owner_password.<n>``;
the highest ``n`` is in force. That number also tells the web app when a
password changed, so sessions opened under an older one end.

Sessions are ended on the server the same way: "log out everywhere" adds the
next key ``owner_sessions_ended.<n>`` (a session opened under an older
generation has ended), and logging out adds ``owner_session_ended.<id>`` for
the one session. The web app checks both, and the password version, on every request.
"""

from __future__ import annotations

import secrets

import attrs

from clientrules.ports import StoredSettings
from clientrules.domain.survey.errors import OwnerPasswordError

KEY = "owner_password.{}"
GENERATION_KEY = "owner_sessions_ended.{}"
ENDED_KEY = "owner_session_ended.{}"
MIN_LENGTH = 10


@attrs.frozen
class OwnerSession:
    """What a login session holds: the password version and session generation it was opened under, and its id."""

    password_version: int
    generation: int
    id: str = attrs.field(factory=lambda: secrets.token_urlsafe(16))


class OwnerAccount:
    def __init__(self, store: StoredSettings) -> None:
        self._store = store

    def version(self) -> int:
        """How many passwords were set so far (0: none yet, nobody can log in)."""
        return self._count(KEY)

    def generation(self) -> int:
        """How many times every session was ended ("log out everywhere")."""
        return self._count(GENERATION_KEY)

    def _count(self, key: str) -> int:
        count = 0
        while self._store.get_meta(key.format(count + 1)) is not None:
            count += 1
        return count

    def open_session(self, password_version: int) -> OwnerSession:
        """A new session for the owner who just logged in under ``password_version``."""
        return OwnerSession(password_version, self.generation())

    def session_open(self, session: OwnerSession) -> bool:
        """Whether ``session`` is still open: its password in force, not ended everywhere since, not logged out."""
        return (
            session.password_version == self.version()
            and session.generation == self.generation()
            and self._store.get_meta(ENDED_KEY.format(session.id)) is None
        )

    def end_session(self, session: OwnerSession) -> None:
        """End one session (logging out): it stays ended whatever its cookie says."""
        self._store.put_meta_if_absent(ENDED_KEY.format(session.id), "ended")

    def end_all_sessions(self) -> int:
        """End every session opened so far ("log out everywhere"); return the new generation."""
        generation = self.generation() + 1
        self._store.put_meta_if_absent(GENERATION_KEY.format(generation), "ended")  # two at once end the same one
        return generation

    def set_password(self, password: str) -> int:
        """Hash and store a new password (at least 10 characters); return its version."""
        if len(password) < MIN_LENGTH:
            raise OwnerPasswordError(f"the owner password needs at least {MIN_LENGTH} characters")
        from werkzeug.security import generate_password_hash  # the web framework's, loaded when a password is set

        hashed = generate_password_hash(password)
        version = self.version() + 1
        while self._store.put_meta_if_absent(KEY.format(version), hashed) != hashed:
            version += 1  # another process set a password at the same moment: take the next slot
        return version

    def check(self, password: str) -> int | None:
        """The version of the password in force if ``password`` is it, else None."""
        version = self.version()
        if version == 0:
            return None
        from werkzeug.security import check_password_hash

        hashed = self._store.get_meta(KEY.format(version))
        return version if hashed is not None and check_password_hash(hashed, password) else None
