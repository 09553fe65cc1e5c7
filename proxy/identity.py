"""Who is calling: from a signed request to a principal.

A full-access key is a service: it may do everything. A session caller signs
with a session access key id (the project ref) and a shared public secret (the
anon key) and proves who it is with a JWT in ``X-Amz-Security-Token``; its
claims decide what it may do. This module knows nothing of aiohttp: it gets
the method, the raw path and query, and the headers as received.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from . import errors, sigv4
from .tokens import TokenVerifier


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


@dataclass(frozen=True)
class Authenticated:
    """A principal, and the verified signature when there was one."""

    principal: Principal
    auth: sigv4.SignedRequestAuth | None = None
    signing_key: bytes | None = None


@dataclass(frozen=True)
class SessionRules:
    """What a verified session token may do before any policy is asked."""

    full_access_roles: frozenset[str] = frozenset()
    allow_anonymous: bool = False
    anonymous_role: str = "anon"


class Authenticator:
    """Verifies a request's signature and works out its principal."""

    def __init__(
        self,
        keyring: KeyRing,
        *,
        regions: Collection[str],
        max_skew: timedelta,
        tokens: TokenVerifier | None = None,
        rules: SessionRules = SessionRules(),
    ) -> None:
        self.keyring = keyring
        self.regions = frozenset(regions)
        self.max_skew = max_skew
        self.tokens = tokens
        self.rules = rules

    async def authenticate(
        self, method: str, path: str, query: str, headers: sigv4.Headers
    ) -> Authenticated:
        try:
            auth = sigv4.parse_auth(method, path, query, headers)
        except sigv4.MissingAuthentication:
            if not self.rules.allow_anonymous:
                raise
            return Authenticated(self._anonymous(""))
        entry = self.keyring.lookup(auth.access_key_id)
        signing_key = self._verify(entry, method, path, query, headers, auth)
        principal = await self._principal(entry, auth)
        return Authenticated(principal, auth, signing_key)

    def _verify(
        self,
        entry: KeyEntry,
        method: str,
        path: str,
        query: str,
        headers: sigv4.Headers,
        auth: sigv4.SignedRequestAuth,
    ) -> bytes:
        """Check the signature against each secret the access key id may use."""
        now = datetime.now(UTC)
        mismatch: errors.S3Error = errors.SignatureDoesNotMatch()
        for secret in entry.secrets:
            try:
                return sigv4.verify_request(
                    auth,
                    secret,
                    method,
                    path,
                    query,
                    headers,
                    now=now,
                    regions=self.regions,
                    max_skew=self.max_skew,
                )
            except errors.SignatureDoesNotMatch as error:
                mismatch = error
        raise mismatch

    async def _principal(
        self, entry: KeyEntry, auth: sigv4.SignedRequestAuth
    ) -> Principal:
        key_id = auth.access_key_id
        if entry.mode is AuthMode.KEY:
            return Principal(AuthMode.KEY, key_id, full_access=True)
        if auth.security_token is None:
            if self.rules.allow_anonymous:
                return self._anonymous(key_id)
            raise errors.AccessDenied(
                "A session token (X-Amz-Security-Token) is required for this key."
            )
        if self.tokens is None:
            raise errors.AccessDenied("Session tokens are not configured.")
        claims = await self.tokens.verify(auth.security_token)
        role = claims.get("role")
        full_access = isinstance(role, str) and role in self.rules.full_access_roles
        return Principal(AuthMode.SESSION, key_id, full_access, claims)

    def _anonymous(self, key_id: str) -> Principal:
        claims = {"role": self.rules.anonymous_role}
        return Principal(AuthMode.ANONYMOUS, key_id, full_access=False, claims=claims)
