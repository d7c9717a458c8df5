"""The one owner account of the dashboard: a password kept hashed with the database.

The store's settings can only be added, never overwritten (``put_meta_if_absent``),
so each new password is stored under the next key ``owner_password.<n>``;
the highest ``n`` is in force. That number also tells the web app when a
password changed, so sessions opened under an older one end.
"""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

from clientrules.ports import StoredSettings
from clientrules.domain.survey.errors import OwnerPasswordError

KEY = "owner_password.{}"
MIN_LENGTH = 10


class OwnerAccount:
    def __init__(self, store: StoredSettings) -> None:
        self._store = store

    def version(self) -> int:
        """How many passwords were set so far (0: none yet, nobody can log in)."""
        version = 0
        while self._store.get_meta(KEY.format(version + 1)) is not None:
            version += 1
        return version

    def set_password(self, password: str) -> int:
        """Hash and store a new password (at least 10 characters); return its version."""
        if len(password) < MIN_LENGTH:
            raise OwnerPasswordError(f"the owner password needs at least {MIN_LENGTH} characters")
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
        hashed = self._store.get_meta(KEY.format(version))
        return version if hashed is not None and check_password_hash(hashed, password) else None
