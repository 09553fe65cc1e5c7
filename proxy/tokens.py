"""Session tokens: the JWT a session caller sends in ``X-Amz-Security-Token``.

:class:`TokenVerifier` turns a token into its claims or refuses it with an
:class:`~proxy.errors.S3Error`. The algorithm is pinned by the key that verifies
the token, never taken on the token's word (RFC 8725 §2.1, §3.1):

* ``HS256`` is verified only with the configured shared secrets;
* ``RS*``/``PS*``, ``ES*`` and ``EdDSA`` only with a public key of that type:
  a JWK's own ``alg`` pins it to one algorithm, a key without one (a PEM key)
  is pinned to its family (RSA: ``RS*``/``PS*``; EC: the algorithm of its
  curve; Ed25519/Ed448: ``EdDSA``);
* ``none`` and ``HS384``/``HS512`` are never accepted.

A token with a ``kid`` is verified with the key of that ``kid``; an unknown
``kid`` makes the verifier fetch the JWKS again (at most once per
``jwks_min_refetch_seconds``, one fetch shared by concurrent requests), then
try the keys that have no ``kid`` (PEM keys). A token without ``kid`` is tried
against every key pinned to its ``alg``. ``kid`` is ignored for ``HS256``:
shared secrets have none.

PyJWT checks the signature, ``exp`` (required), ``nbf`` and ``iat`` against the
system clock with ``leeway_seconds``, ``aud`` and ``iss`` when configured; the
``_check_*`` functions here check what PyJWT does not. Verified tokens are
cached, keyed by their SHA-256, until they expire by the ``clock`` given to the
verifier. An asymmetric token that no key matches while the JWKS has never
loaded is a :class:`~proxy.errors.ServiceUnavailable`, not the caller's fault.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias

import aiohttp
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from proxy import errors

__all__ = ["Claims", "TokenSettings", "TokenVerifier"]

logger = logging.getLogger("s3_auth_proxy.tokens")

Claims: TypeAlias = Mapping[str, Any]

_PublicKey: TypeAlias = (
    rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey
    | ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
)
_PUBLIC_KEY_TYPES = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)
_PRIVATE_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)

_HS256 = "HS256"
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS = {
    "secp256r1": "ES256",
    "secp384r1": "ES384",
    "secp521r1": "ES512",
    "secp256k1": "ES256K",
}
_EDDSA_ALGORITHMS = frozenset({"EdDSA"})
_ASYMMETRIC_ALGORITHMS = (
    _RSA_ALGORITHMS | frozenset(_EC_ALGORITHMS.values()) | _EDDSA_ALGORITHMS
)
_ACCEPTED_ALGORITHMS = _ASYMMETRIC_ALGORITHMS | {_HS256}

_MAX_JWKS_BYTES = 1 << 20

# PyJWT's errors, most specific first, and what the caller is told.
_PYJWT_MESSAGES: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token's audience is not accepted"),
    (jwt.InvalidIssuerError, "the token's issuer is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.InvalidIssuedAtError, "the token's iat is not a number"),
    # RFC 7519 §4.1.2: sub is a string (a number is not a StringOrURI).
    (jwt.exceptions.InvalidSubjectError, "the token's sub claim must be a string"),
    (jwt.exceptions.InvalidJTIError, "the token's jti claim must be a string"),
    (jwt.DecodeError, "the token is malformed"),
)


@dataclass(frozen=True)
class TokenSettings:
    """How session tokens are verified; built from the configuration file.

    ``public_keys`` are PEM public keys or JWKs (JSON objects). A token's
    ``aud`` must contain one of ``audience`` when it is set. ``cache_size`` 0
    turns the cache off.
    """

    hs256_secrets: tuple[str, ...] = ()
    # e.g. https://<project>.supabase.co/auth/v1/.well-known/jwks.json
    jwks_url: str | None = None
    public_keys: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    issuer: str | None = None
    leeway_seconds: int = 30
    max_token_bytes: int = 16384
    jwks_refresh_seconds: float = 300
    jwks_min_refetch_seconds: float = 30
    jwks_timeout_seconds: float = 5.0
    cache_size: int = 10000

    def problems(self) -> list[str]:
        """Everything wrong with these settings, one message per problem."""
        found = [f"{name} must be {rule}" for name, ok, rule in self._rules() if not ok]
        # RFC 7518 §3.2: an HS256 key has 256 bits at least.
        found += [
            f"hs256_secrets[{index}] is shorter than 32 bytes"
            for index, secret in enumerate(self.hs256_secrets)
            if len(secret.encode()) < 32
        ]
        found += _public_key_problems(self.public_keys)
        if not (self.hs256_secrets or self.public_keys or self.jwks_url):
            found.append(
                "no key is configured: set hs256_secrets, public_keys or jwks_url"
            )
        return found

    def _rules(self) -> list[tuple[str, bool, str]]:
        url = self.jwks_url
        return [
            ("max_token_bytes", self.max_token_bytes > 0, "> 0"),
            ("leeway_seconds", 0 <= self.leeway_seconds <= 300, "0 to 300"),
            ("jwks_refresh_seconds", self.jwks_refresh_seconds > 0, "> 0"),
            ("jwks_min_refetch_seconds", self.jwks_min_refetch_seconds >= 0, ">= 0"),
            ("jwks_timeout_seconds", self.jwks_timeout_seconds > 0, "> 0"),
            ("cache_size", self.cache_size >= 0, ">= 0"),
            ("jwks_url", url is None or _is_http_url(url), "an http or https URL"),
        ]


@dataclass(frozen=True)
class _Key:
    """A key that verifies tokens and the algorithms it is pinned to."""

    material: _PublicKey | bytes
    algorithms: frozenset[str]
    kid: str | None = None


@dataclass(frozen=True)
class _CachedToken:
    claims: Claims
    expires_at: float


class TokenVerifier:
    """Verifies session tokens with pinned keys, a refreshed JWKS and a cache."""

    def __init__(
        self, settings: TokenSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        problems = settings.problems()
        if problems:
            raise ValueError("invalid token settings: " + "; ".join(problems))

        self._settings = settings
        self._secrets = tuple(
            _Key(secret.encode(), frozenset({_HS256}))
            for secret in settings.hs256_secrets
        )
        self._static_keys = tuple(map(_static_key, settings.public_keys))
        self._cache = _TokenCache(settings.cache_size, settings.leeway_seconds, clock)
        self._jwks = _Jwks(settings, on_key_removed=self._cache.clear)

    async def start(self) -> None:
        """Opens the HTTP session, loads the JWKS once and schedules its refresh.

        A JWKS that cannot be loaded is logged, not raised: the other keys work.
        """
        await self._jwks.start()

    async def close(self) -> None:
        """Stops the JWKS refresh and closes the HTTP session."""
        await self._jwks.close()

    async def verify(self, token: str) -> Claims:
        """The claims of a valid token, or ExpiredToken / InvalidToken.

        ServiceUnavailable when the token needs a JWKS key and the JWKS has
        never been loaded.
        """
        _check_size(token, self._settings.max_token_bytes)
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(digest)
        if cached is not None:
            return cached

        claims = await self._verify_uncached(token)
        self._cache.put(digest, claims)
        return claims

    async def _verify_uncached(self, token: str) -> Claims:
        header = _unverified_header(token)
        algorithm = _check_alg(header)
        # PyJWT has checked that a kid is a string.
        keys = await self._keys_for(algorithm, header.get("kid"))
        claims = self._decode(token, algorithm, keys)

        _check_exp(claims)
        _check_nbf(claims)
        _check_iat(claims)
        _check_role(claims)
        return MappingProxyType(claims)

    def _decode(
        self, token: str, algorithm: str, keys: Sequence[_Key]
    ) -> dict[str, Any]:
        """Verifies the token with the first key that matches its signature.

        The one place that calls PyJWT's decode: its errors are translated here.
        """
        refusal: jwt.InvalidSignatureError | None = None
        for key in keys:
            try:
                return jwt.decode(
                    token,
                    key.material,
                    algorithms=[algorithm],
                    options={"require": ["exp"], "verify_aud": self._checks_audience},
                    audience=list(self._settings.audience) or None,
                    issuer=self._settings.issuer,
                    leeway=self._settings.leeway_seconds,
                )
            except jwt.InvalidSignatureError as error:
                refusal = error  # during a key rotation the next key may match
            except jwt.PyJWTError as error:
                raise _translate(error) from error
        assert refusal is not None, "a token is decoded with one key at least"
        raise _translate(refusal) from refusal

    @property
    def _checks_audience(self) -> bool:
        # Without a configured audience PyJWT would refuse any token with aud.
        return bool(self._settings.audience)

    async def _keys_for(self, algorithm: str, kid: str | None) -> list[_Key]:
        """The keys that may verify a token with this alg and kid; never empty."""
        if algorithm == _HS256:
            return self._secret_keys()

        keys = self._public_keys_for(algorithm, kid)
        if not keys:
            await self._jwks.refetch()
            keys = self._public_keys_for(algorithm, kid)
        if not keys and kid is not None:
            keys = [key for key in self._unnamed_keys() if algorithm in key.algorithms]
        if keys:
            return keys
        raise self._no_key_error(kid)

    def _secret_keys(self) -> list[_Key]:
        if not self._secrets:
            raise errors.InvalidToken("no key accepts the token's algorithm")
        return list(self._secrets)

    def _public_keys_for(self, algorithm: str, kid: str | None) -> list[_Key]:
        keys = self._static_keys + self._jwks.keys
        if kid is None:
            return [key for key in keys if algorithm in key.algorithms]

        named = [key for key in keys if key.kid == kid]
        accepted = [key for key in named if algorithm in key.algorithms]
        if named and not accepted:
            raise errors.InvalidToken("the token's algorithm does not match its key")
        return accepted

    def _unnamed_keys(self) -> list[_Key]:
        return [key for key in self._static_keys + self._jwks.keys if key.kid is None]

    def _no_key_error(self, kid: str | None) -> errors.S3Error:
        if self._jwks.is_configured and not self._jwks.is_loaded:
            return errors.ServiceUnavailable(
                "the keys that verify tokens could not be loaded; try again later"
            )
        if kid is not None:
            return errors.InvalidToken("no key for the token's kid")
        return errors.InvalidToken("no key accepts the token's algorithm")


class _TokenCache:
    """Verified tokens by the SHA-256 of the token, least recently used first."""

    def __init__(self, size: int, leeway: int, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[bytes, _CachedToken] = OrderedDict()
        self._size = size
        self._leeway = leeway
        self._clock = clock

    def get(self, digest: bytes) -> Claims | None:
        """The cached claims, or None; ExpiredToken once the token has expired."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.expires_at <= self._clock() - self._leeway:
            del self._entries[digest]
            raise errors.ExpiredToken("the token expired")
        self._entries.move_to_end(digest)
        return entry.claims

    def put(self, digest: bytes, claims: Claims) -> None:
        if self._size == 0:
            return
        self._entries[digest] = _CachedToken(claims, float(claims["exp"]))
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class _Jwks:
    """The keys at jwks_url: loaded at start, refreshed, refetched on demand.

    A failed fetch keeps the keys loaded before.
    """

    def __init__(
        self, settings: TokenSettings, *, on_key_removed: Callable[[], None]
    ) -> None:
        self._settings = settings
        self._url_for_logs = _without_credentials(str(settings.jwks_url))
        self._on_key_removed = on_key_removed
        self._keys: tuple[_Key, ...] | None = None  # None: never loaded
        self._session: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._fetch: asyncio.Task[None] | None = None
        self._last_fetch = -math.inf

    @property
    def keys(self) -> tuple[_Key, ...]:
        return self._keys or ()

    @property
    def is_configured(self) -> bool:
        return self._settings.jwks_url is not None

    @property
    def is_loaded(self) -> bool:
        return self._keys is not None

    async def start(self) -> None:
        if self._settings.jwks_url is None:
            return
        timeout = aiohttp.ClientTimeout(total=self._settings.jwks_timeout_seconds)
        self._session = aiohttp.ClientSession(timeout=timeout)
        await self._fetch_shared(self._session)
        self._refresher = asyncio.create_task(
            self._refresh_periodically(self._session), name="jwks-refresh"
        )

    async def close(self) -> None:
        tasks = [task for task in (self._refresher, self._fetch) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._refresher = self._fetch = None

        if self._session is not None:
            await self._session.close()
            self._session = None

    async def refetch(self) -> None:
        """Fetches the JWKS for a key it may have gained, at most once per interval."""
        session = self._session
        if session is None:
            return
        in_flight = self._fetch is not None and not self._fetch.done()
        elapsed = time.monotonic() - self._last_fetch
        if in_flight or elapsed >= self._settings.jwks_min_refetch_seconds:
            await self._fetch_shared(session)

    async def _fetch_shared(self, session: aiohttp.ClientSession) -> None:
        """Runs one fetch of the JWKS, or joins the one in flight."""
        task = self._fetch
        if task is None or task.done():
            self._last_fetch = time.monotonic()
            task = self._fetch = asyncio.create_task(self._fetch_keys(session))
        # wait() neither cancels the shared fetch when this caller is cancelled
        # nor raises when close() cancelled the fetch.
        await asyncio.wait([task])

    async def _refresh_periodically(self, session: aiohttp.ClientSession) -> None:
        while True:
            await asyncio.sleep(self._settings.jwks_refresh_seconds)
            await self._fetch_shared(session)

    async def _fetch_keys(self, session: aiohttp.ClientSession) -> None:
        url = str(self._settings.jwks_url)
        try:
            keys = await _download_jwks(session, url)
        except (aiohttp.ClientError, TimeoutError, ValueError, RecursionError) as error:
            logger.warning(
                "could not load the JWKS from %s (%s); the %d keys loaded before stay",
                self._url_for_logs,
                _describe(error),
                len(self.keys),
            )
            return
        self._replace_keys(keys)
        logger.info("loaded %d keys from the JWKS at %s", len(keys), self._url_for_logs)

    def _replace_keys(self, keys: tuple[_Key, ...]) -> None:
        removed = any(key not in keys for key in self.keys)
        self._keys = keys
        if removed:
            # Tokens a withdrawn key verified must not outlive it in the cache.
            self._on_key_removed()


# Token checks


def _check_size(token: str, limit: int) -> None:
    if len(token) > limit:
        raise errors.InvalidToken(f"the token is larger than {limit} bytes")
    if not token.isascii():
        raise errors.InvalidToken("the token is malformed")


def _unverified_header(token: str) -> dict[str, Any]:
    """The token's header, read before its signature is checked."""
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise errors.InvalidToken("the token is malformed") from error


def _check_alg(header: Mapping[str, Any]) -> str:
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in _ACCEPTED_ALGORITHMS:
        raise errors.InvalidToken("the token's algorithm is not accepted")
    return algorithm


def _check_exp(claims: Mapping[str, Any]) -> None:
    # PyJWT accepts anything int() takes; the cache needs a NumericDate
    # (RFC 7519 §2: a JSON number).
    if not _is_numeric_date(claims["exp"]):
        raise errors.InvalidToken("the token's exp is not a number")


def _check_nbf(claims: Mapping[str, Any]) -> None:
    if "nbf" in claims and not _is_numeric_date(claims["nbf"]):
        raise errors.InvalidToken("the token's nbf is not a number")


def _check_iat(claims: Mapping[str, Any]) -> None:
    if "iat" in claims and not _is_numeric_date(claims["iat"]):
        raise errors.InvalidToken("the token's iat is not a number")


def _check_role(claims: Mapping[str, Any]) -> None:
    if "role" in claims and not isinstance(claims["role"], str):
        raise errors.InvalidToken("the token's role is not a string")


def _is_numeric_date(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _translate(error: jwt.PyJWTError) -> errors.S3Error:
    """The S3 error for a PyJWT error; its message never echoes the token."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return errors.ExpiredToken("the token expired")
    if isinstance(error, jwt.MissingRequiredClaimError):
        return errors.InvalidToken(f"the token has no {error.claim} claim")
    messages = (text for kind, text in _PYJWT_MESSAGES if isinstance(error, kind))
    return errors.InvalidToken(next(messages, "the token is not valid"))


# Keys


def _public_key_problems(texts: Sequence[str]) -> list[str]:
    found = []
    for index, text in enumerate(texts):
        try:
            _static_key(text)
        except ValueError as error:
            found.append(f"public_keys[{index}] {error}")
    return found


def _static_key(text: str) -> _Key:
    """A configured key: a PEM public key or a JWK."""
    if text.lstrip().startswith("-----BEGIN"):
        return _key_from_pem(text)
    try:
        jwk = json.loads(text)
    except ValueError as error:
        raise ValueError("is neither a PEM public key nor a JWK") from error
    return _key_from_jwk(jwk)


def _key_from_pem(text: str) -> _Key:
    try:
        loaded = serialization.load_pem_public_key(text.encode())
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ValueError("is not a PEM public key that can be read") from error
    key = _public_key(loaded)
    return _Key(key, _algorithms_for(key))


def _key_from_jwk(jwk: object) -> _Key:
    """A key from a JWK, pinned to its own alg when it names one (RFC 7517 §4.4)."""
    if not isinstance(jwk, dict):
        raise ValueError("is not a JSON object")
    kid, alg = jwk.get("kid"), jwk.get("alg")
    if kid is not None and not isinstance(kid, str):
        raise ValueError("has a kid that is not a string")
    if alg is not None and not (isinstance(alg, str) and alg in _ASYMMETRIC_ALGORITHMS):
        raise ValueError("names an algorithm that is not accepted")
    if jwk.get("use", "sig") != "sig":
        raise ValueError("is not a signature key")

    key = _public_key(_jwk_material(jwk))
    family = _algorithms_for(key)
    if alg is not None and alg not in family:
        raise ValueError("names an algorithm that does not suit its key")
    return _Key(key, frozenset({alg}) if alg else family, kid)


def _jwk_material(jwk: dict[str, Any]) -> object:
    try:
        return jwt.PyJWK(jwk).key
    except (jwt.PyJWTError, TypeError, ValueError) as error:
        # PyJWT's message may quote the key; name only the error.
        raise ValueError(f"cannot be read ({type(error).__name__})") from error


def _public_key(key: object) -> _PublicKey:
    """The public half of an RSA, EC or EdDSA key."""
    if isinstance(key, _PRIVATE_KEY_TYPES):
        key = key.public_key()
    if isinstance(key, _PUBLIC_KEY_TYPES):
        return key
    raise ValueError("is not an RSA, EC, Ed25519 or Ed448 public key")


def _algorithms_for(key: _PublicKey) -> frozenset[str]:
    """The algorithms a key of this type may verify (RFC 8725 §3.1)."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = _EC_ALGORITHMS.get(key.curve.name)
        if algorithm is None:
            raise ValueError(
                f"is on the curve {key.curve.name}, which is not supported"
            )
        return frozenset({algorithm})
    return _EDDSA_ALGORITHMS


# JWKS


async def _download_jwks(session: aiohttp.ClientSession, url: str) -> tuple[_Key, ...]:
    async with session.get(url, headers={"Accept": "application/json"}) as response:
        if response.status != 200:
            raise ValueError(f"HTTP status {response.status}")
        body = bytearray()
        async for chunk in response.content.iter_chunked(65536):
            body += chunk
            if len(body) > _MAX_JWKS_BYTES:
                raise ValueError(f"the document is larger than {_MAX_JWKS_BYTES} bytes")
    return _keys_from_jwks(json.loads(body))


def _keys_from_jwks(document: object) -> tuple[_Key, ...]:
    """The usable keys of a JWK Set (RFC 7517 §5); the others are logged and skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the document is not a JWK Set")
    keys = tuple(key for key in map(_usable_jwk, document["keys"]) if key is not None)
    if not keys:
        raise ValueError("the JWK Set holds no usable key")
    return keys


def _usable_jwk(jwk: object) -> _Key | None:
    try:
        return _key_from_jwk(jwk)
    except ValueError as error:
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        logger.warning("skipping the JWKS key with kid %r: it %s", kid, error)
        return None


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _without_credentials(url: str) -> str:
    """The URL to log: no user, password or query, which could hold a secret."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _is_http_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))
