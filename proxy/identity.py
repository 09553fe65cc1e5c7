"""Who is calling: from an access key id to a principal.

A full-access key is a service: it may do everything. A session caller signs
with a session access key id (the project ref) and a shared public secret (the
anon key) and proves who it is with a JWT; its claims decide what it may do.
This module knows nothing of HTTP or of how a signature is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from . import errors


class AuthMode(Enum):
    """How a caller authenticated; a metrics label and a claim header value."""

    KEY = "key"
    SESSION = "session"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    mode: AuthMode
    access_key_id: str
    full_access: bool
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def role(self) -> str | None:
        role = self.claims.get("role")
        return role if isinstance(role, str) else None

    def describe(self) -> str:
        """A short description for logs: never a secret or a token."""
        if self.mode is AuthMode.KEY:
            return f"key:{self.access_key_id}"
        return f"{self.mode.value}:{self.role or '-'}:{self.subject or '-'}"


@dataclass(frozen=True)
class KeyEntry:
    """What an access key id stands for, and the secrets that may sign for it."""

    access_key_id: str
    mode: AuthMode
    secrets: tuple[str, ...] = field(repr=False)


class KeyRing:
    """Every access key id that the proxy accepts."""

    def __init__(self, entries: Mapping[str, KeyEntry]) -> None:
        self._entries = dict(entries)

    @classmethod
    def from_pairs(
        cls,
        full_access: Mapping[str, str],
        session_ids: tuple[str, ...] = (),
        session_secrets: tuple[str, ...] = (),
    ) -> KeyRing:
        entries = {
            key_id: KeyEntry(key_id, AuthMode.KEY, (secret,))
            for key_id, secret in full_access.items()
        }
        for key_id in session_ids:
            entries[key_id] = KeyEntry(key_id, AuthMode.SESSION, session_secrets)
        return cls(entries)

    def lookup(self, access_key_id: str) -> KeyEntry:
        entry = self._entries.get(access_key_id)
        if entry is None:
            raise errors.InvalidAccessKeyId()
        return entry

    def __contains__(self, access_key_id: object) -> bool:
        return access_key_id in self._entries
