"""Tests of proxy.tokens: session-token verification, JWKS and the cache."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy import errors
from proxy.tokens import TokenSettings, TokenVerifier
from tests.jwks_server import JwksServer, SigningKey

ISSUER = "https://issuer.test/auth/v1"
AUDIENCE = "authenticated"

MakeVerifier = Callable[..., Awaitable[TokenVerifier]]


def now() -> int:
    return int(time.time())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token with no signature at all."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


def forge_hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 token made by hand: PyJWT refuses to use a PEM as a secret."""
    body = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64(mac)}"


def tamper(token: str, **changes: Any) -> str:
    """The token with claims changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(changes)
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def session_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "sub": "user-1",
        "role": "authenticated",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now(),
        "exp": now() + 3600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


# Fixtures


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey("RS256", kid="rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey("ES256", kid="ec-1")


@pytest.fixture
def secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
async def jwks(rsa_key: SigningKey, ec_key: SigningKey) -> AsyncIterator[JwksServer]:
    server = JwksServer(rsa_key, ec_key)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_verifier() -> AsyncIterator[MakeVerifier]:
    """Builds and starts verifiers, and closes them after the test."""
    started: list[TokenVerifier] = []

    async def make(
        clock: Callable[[], float] = time.time, **fields: Any
    ) -> TokenVerifier:
        verifier = TokenVerifier(TokenSettings(**fields), clock=clock)
        started.append(verifier)
        await verifier.start()
        return verifier

    yield make
    for verifier in started:
        await verifier.close()


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each call of PyJWT's decode, the check that the cache saves."""
    calls: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    return calls


# Tokens that verify


class TestTokensThatVerify:
    async def test_hs256_with_the_shared_secret(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,))
        token = jwt.encode(session_claims(), secret, "HS256")

        claims = await verifier.verify(token)

        assert claims["sub"] == "user-1"
        assert claims["role"] == "authenticated"

    async def test_hs256_with_any_of_the_secrets_during_a_rotation(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        new_secret = secrets.token_urlsafe(32)
        verifier = await make_verifier(hs256_secrets=(secret, new_secret))
        token = jwt.encode(session_claims(), new_secret, "HS256")

        assert (await verifier.verify(token))["sub"] == "user-1"

    async def test_hs256_ignores_a_kid(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,))
        token = jwt.encode(session_claims(), secret, "HS256", headers={"kid": "x"})

        assert (await verifier.verify(token))["sub"] == "user-1"

    @pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
    async def test_jwks_key(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        request: pytest.FixtureRequest,
        key_name: str,
    ) -> None:
        key: SigningKey = request.getfixturevalue(key_name)
        verifier = await make_verifier(jwks_url=jwks.url)

        claims = await verifier.verify(key.sign(session_claims()))

        assert claims["sub"] == "user-1"

    async def test_jwks_key_without_kid_in_the_token(
        self, make_verifier: MakeVerifier, jwks: JwksServer, ec_key: SigningKey
    ) -> None:
        verifier = await make_verifier(jwks_url=jwks.url)
        token = jwt.encode(session_claims(), ec_key.private, "ES256")

        assert (await verifier.verify(token))["sub"] == "user-1"

    @pytest.mark.parametrize(
        "algorithm", ["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"]
    )
    async def test_static_pem_key(
        self, make_verifier: MakeVerifier, algorithm: str
    ) -> None:
        key = SigningKey(algorithm)
        verifier = await make_verifier(public_keys=(key.public_pem(),))

        assert (await verifier.verify(key.sign(session_claims())))["sub"] == "user-1"

    async def test_pem_rsa_key_accepts_the_rsa_family(
        self, make_verifier: MakeVerifier, rsa_key: SigningKey
    ) -> None:
        verifier = await make_verifier(public_keys=(rsa_key.public_pem(),))
        claims = session_claims()

        for algorithm in ("RS384", "RS512", "PS384", "PS512"):
            token = jwt.encode(claims, rsa_key.private, algorithm)
            assert (await verifier.verify(token))["sub"] == "user-1"

    async def test_pem_key_verifies_a_token_whose_kid_no_key_has(
        self, make_verifier: MakeVerifier, rsa_key: SigningKey
    ) -> None:
        verifier = await make_verifier(public_keys=(rsa_key.public_pem(),))

        assert (await verifier.verify(rsa_key.sign(session_claims())))["sub"]

    @pytest.mark.parametrize("with_alg", [True, False], ids=["alg", "no-alg"])
    @pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
    async def test_static_jwk(
        self, make_verifier: MakeVerifier, algorithm: str, with_alg: bool
    ) -> None:
        key = SigningKey(algorithm, kid="static-1")
        jwk = json.dumps(key.public_jwk(with_alg=with_alg))
        verifier = await make_verifier(public_keys=(jwk,))

        assert (await verifier.verify(key.sign(session_claims())))["sub"] == "user-1"

    async def test_a_private_jwk_in_the_jwks_verifies_with_its_public_half(
        self, make_verifier: MakeVerifier, jwks: JwksServer
    ) -> None:
        key = SigningKey("ES256", kid="private")
        assert isinstance(key.private, ec.EllipticCurvePrivateKey)
        private_jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.private, as_dict=True)
        jwks.document = {"keys": [{**private_jwk, "kid": "private"}]}
        verifier = await make_verifier(jwks_url=jwks.url)

        assert (await verifier.verify(key.sign(session_claims())))["sub"] == "user-1"

    async def test_audience_and_issuer_when_configured(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(
            hs256_secrets=(secret,), audience=("other", AUDIENCE), issuer=ISSUER
        )
        token = jwt.encode(session_claims(aud=["x", AUDIENCE]), secret, "HS256")

        assert (await verifier.verify(token))["aud"] == ["x", AUDIENCE]

    async def test_any_aud_when_no_audience_is_configured(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,))
        token = jwt.encode(session_claims(aud="anything"), secret, "HS256")

        assert (await verifier.verify(token))["aud"] == "anything"

    @pytest.mark.parametrize(
        "claims",
        [
            {"exp": -10},
            {"nbf": 10},
            {"iat": 10},
        ],
        ids=["exp-10s-ago", "nbf-in-10s", "iat-in-10s"],
    )
    async def test_times_within_the_leeway(
        self, make_verifier: MakeVerifier, secret: str, claims: dict[str, int]
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,), leeway_seconds=30)
        relative = {name: now() + delta for name, delta in claims.items()}
        token = jwt.encode(session_claims(**relative), secret, "HS256")

        assert (await verifier.verify(token))["sub"] == "user-1"

    async def test_claims_are_read_only(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,))
        claims = await verifier.verify(jwt.encode(session_claims(), secret, "HS256"))

        with pytest.raises(TypeError):
            claims["role"] = "service_role"  # type: ignore[index]

    async def test_a_token_without_role(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,))
        token = jwt.encode(session_claims(role=None), secret, "HS256")

        assert "role" not in await verifier.verify(token)


# Key rotation


class TestKeyRotation:
    async def test_a_new_kid_verifies_without_a_restart(
        self, make_verifier: MakeVerifier, jwks: JwksServer
    ) -> None:
        verifier = await make_verifier(jwks_url=jwks.url, jwks_min_refetch_seconds=0)
        new_key = SigningKey("ES256", kid="ec-2")
        jwks.serve(new_key)

        claims = await verifier.verify(new_key.sign(session_claims()))

        assert claims["sub"] == "user-1"
        assert jwks.requests == 2

    async def test_unknown_kids_fetch_at_most_once_per_interval(
        self, make_verifier: MakeVerifier, jwks: JwksServer
    ) -> None:
        interval = 0.5
        verifier = await make_verifier(
            jwks_url=jwks.url, jwks_min_refetch_seconds=interval
        )
        strangers = [SigningKey("ES256", kid=f"unknown-{n}") for n in range(3)]
        tokens = [key.sign(session_claims()) for key in strangers * 10]
        await asyncio.sleep(interval * 1.2)

        concurrent = [verifier.verify(token) for token in tokens]
        outcomes = await asyncio.gather(*concurrent, return_exceptions=True)
        for token in tokens:
            with pytest.raises(errors.InvalidToken, match="no key for the token's kid"):
                await verifier.verify(token)

        assert all(isinstance(outcome, errors.InvalidToken) for outcome in outcomes)
        assert jwks.requests == 2  # the start, then one refetch for them all

        await asyncio.sleep(interval * 1.2)
        with pytest.raises(errors.InvalidToken):
            await verifier.verify(tokens[0])
        assert jwks.requests == 3

    async def test_the_scheduled_refresh_loads_new_keys(
        self, make_verifier: MakeVerifier, jwks: JwksServer
    ) -> None:
        verifier = await make_verifier(
            jwks_url=jwks.url, jwks_refresh_seconds=0.1, jwks_min_refetch_seconds=3600
        )
        new_key = SigningKey("RS256", kid="rsa-2")
        jwks.serve(new_key)
        await asyncio.sleep(0.35)

        assert jwks.requests >= 2
        assert (await verifier.verify(new_key.sign(session_claims())))["sub"]

    async def test_a_withdrawn_key_no_longer_verifies_its_cached_tokens(
        self, make_verifier: MakeVerifier, jwks: JwksServer, rsa_key: SigningKey
    ) -> None:
        verifier = await make_verifier(jwks_url=jwks.url, jwks_min_refetch_seconds=0)
        token = rsa_key.sign(session_claims())
        await verifier.verify(token)
        new_key = SigningKey("ES256", kid="ec-2")
        jwks.serve(new_key)

        await verifier.verify(new_key.sign(session_claims()))  # refetches

        with pytest.raises(errors.InvalidToken, match="no key for the token's kid"):
            await verifier.verify(token)

    async def test_an_unchanged_jwks_keeps_the_cache(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        rsa_key: SigningKey,
        decode_calls: list[str],
    ) -> None:
        verifier = await make_verifier(jwks_url=jwks.url, jwks_min_refetch_seconds=0)
        token = rsa_key.sign(session_claims())
        await verifier.verify(token)

        with pytest.raises(errors.InvalidToken):
            await verifier.verify(SigningKey("ES256", kid="unknown").sign({}))
        await verifier.verify(token)

        assert jwks.requests == 2
        assert decode_calls == [token]


# JWKS outages


class TestJwksOutage:
    @pytest.mark.parametrize("outage", ["error-500", "stopped", "too-slow"])
    async def test_known_kids_still_verify(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        rsa_key: SigningKey,
        caplog: pytest.LogCaptureFixture,
        outage: str,
    ) -> None:
        verifier = await make_verifier(
            jwks_url=jwks.url, jwks_min_refetch_seconds=0, jwks_timeout_seconds=0.2
        )
        jwks.failing = outage == "error-500"
        jwks.delay_seconds = 1.0 if outage == "too-slow" else 0.0
        if outage == "stopped":
            await jwks.stop()
        stranger = SigningKey("ES256", kid="unknown").sign(session_claims())

        with pytest.raises(errors.InvalidToken, match="no key for the token's kid"):
            await verifier.verify(stranger)  # refetches, and fails
        claims = await verifier.verify(rsa_key.sign(session_claims()))

        assert claims["sub"] == "user-1"
        assert "could not load the JWKS" in caplog.text
        assert "2 keys loaded before stay" in caplog.text
        assert stranger not in caplog.text

    @pytest.mark.parametrize(
        "document",
        [
            b"{not json",
            b"\xff\xfe",
            [1, 2],
            {"keys": "none"},
            {"keys": []},
            {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "oct-1"}]},
            b" " * (2 << 20),
        ],
        ids=[
            "bad-json",
            "not-utf8",
            "not-an-object",
            "keys-not-a-list",
            "no-keys",
            "only-unusable-keys",
            "too-large",
        ],
    )
    async def test_a_bad_document_keeps_the_keys_loaded_before(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        rsa_key: SigningKey,
        caplog: pytest.LogCaptureFixture,
        document: Any,
    ) -> None:
        verifier = await make_verifier(jwks_url=jwks.url, jwks_min_refetch_seconds=0)
        jwks.document = document

        with pytest.raises(errors.InvalidToken):
            await verifier.verify(SigningKey("ES256", kid="unknown").sign({}))

        assert (await verifier.verify(rsa_key.sign(session_claims())))["sub"]
        assert "could not load the JWKS" in caplog.text
        assert "c2VjcmV0" not in caplog.text

    async def test_the_logs_name_the_jwks_url_without_its_credentials(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        jwks.failing = True
        url = jwks.url.replace("http://", "http://user:hunter2@") + "?apikey=s3cr3t"
        await make_verifier(jwks_url=url)

        assert jwks.requests == 1
        assert jwks.url in caplog.text
        assert "hunter2" not in caplog.text
        assert "s3cr3t" not in caplog.text

    async def test_never_loaded_and_no_other_key_is_service_unavailable(
        self, make_verifier: MakeVerifier, jwks: JwksServer, rsa_key: SigningKey
    ) -> None:
        jwks.failing = True
        verifier = await make_verifier(jwks_url=jwks.url)
        token = rsa_key.sign(session_claims())

        with pytest.raises(errors.ServiceUnavailable) as refusal:
            await verifier.verify(token)

        assert refusal.value.status == 503
        assert token not in refusal.value.message

    async def test_never_loaded_with_a_secret_is_service_unavailable_for_jwks_tokens(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        rsa_key: SigningKey,
        secret: str,
    ) -> None:
        jwks.failing = True
        verifier = await make_verifier(jwks_url=jwks.url, hs256_secrets=(secret,))

        assert await verifier.verify(jwt.encode(session_claims(), secret, "HS256"))
        with pytest.raises(errors.ServiceUnavailable):
            await verifier.verify(rsa_key.sign(session_claims()))

    async def test_a_jwks_that_comes_back_is_used(
        self, make_verifier: MakeVerifier, jwks: JwksServer, rsa_key: SigningKey
    ) -> None:
        jwks.failing = True
        verifier = await make_verifier(jwks_url=jwks.url, jwks_min_refetch_seconds=0)
        jwks.failing = False

        assert (await verifier.verify(rsa_key.sign(session_claims())))["sub"]

    async def test_unusable_keys_are_skipped_and_logged_by_kid(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        ec_key: SigningKey,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        jwks.document = {
            "keys": [
                {"kty": "oct", "k": "c2VjcmV0", "kid": "oct-1"},
                {"kty": "RSA", "kid": "broken"},
                {**ec_key.public_jwk(), "use": "enc", "kid": "for-encryption"},
                "not an object",
                ec_key.public_jwk(),
            ]
        }
        verifier = await make_verifier(jwks_url=jwks.url)

        assert (await verifier.verify(ec_key.sign(session_claims())))["sub"]
        skipped = [r.getMessage() for r in caplog.records if "skipping" in r.msg]
        assert skipped == [
            "skipping the JWKS key with kid 'oct-1': it is not an RSA, EC, "
            "Ed25519 or Ed448 public key",
            "skipping the JWKS key with kid 'broken': it cannot be read "
            "(InvalidKeyError)",
            "skipping the JWKS key with kid 'for-encryption': it is not a "
            "signature key",
            "skipping the JWKS key with kid None: it is not a JSON object",
        ]
        assert {r.name for r in caplog.records} == {"s3_auth_proxy.tokens"}
        assert "c2VjcmV0" not in caplog.text

    async def test_verify_before_start_does_not_fetch(
        self, jwks: JwksServer, rsa_key: SigningKey
    ) -> None:
        verifier = TokenVerifier(TokenSettings(jwks_url=jwks.url))

        with pytest.raises(errors.ServiceUnavailable):
            await verifier.verify(rsa_key.sign(session_claims()))
        assert jwks.requests == 0
        await verifier.close()

    async def test_close_ends_a_fetch_in_flight_without_cancelling_the_callers(
        self, jwks: JwksServer, rsa_key: SigningKey
    ) -> None:
        verifier = TokenVerifier(
            TokenSettings(jwks_url=jwks.url, jwks_min_refetch_seconds=0)
        )
        await verifier.start()
        jwks.delay_seconds = 5.0
        stranger = SigningKey("ES256", kid="unknown").sign(session_claims())
        waiting = asyncio.create_task(verifier.verify(stranger))
        await asyncio.sleep(0.1)

        await verifier.close()

        with pytest.raises(errors.InvalidToken, match="no key for the token's kid"):
            await waiting
        assert (await verifier.verify(rsa_key.sign(session_claims())))["sub"]
        await verifier.close()

    async def test_start_without_a_jwks_url_fetches_nothing(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,))
        await verifier.close()

        assert await verifier.verify(jwt.encode(session_claims(), secret, "HS256"))


# Tokens that are refused


@dataclasses.dataclass(frozen=True)
class Keys:
    secret: str
    rsa: SigningKey
    ec: SigningKey


def rsa_pem_as_secret(keys: Keys) -> str:
    pem = keys.rsa.public_pem().encode()
    return forge_hs256({"alg": "HS256", "typ": "JWT"}, session_claims(), pem)


def rsa_pem_as_secret_with_kid(keys: Keys) -> str:
    pem = keys.rsa.public_pem().encode()
    header = {"alg": "HS256", "kid": keys.rsa.kid}
    return forge_hs256(header, session_claims(), pem)


def signed_payload(keys: Keys, payload: bytes) -> str:
    return jwt.api_jws.encode(payload, keys.rsa.private, "RS256", {"kid": "rsa-1"})


def bad_signature(key: SigningKey) -> str:
    header, payload, _ = key.sign(session_claims()).split(".")
    return f"{header}.{payload}.{b64(b'x' * 64)}"


# (id, token builder, error class, message fragment)
REFUSALS: list[tuple[str, Callable[[Keys], str], type[errors.S3Error], str]] = [
    (
        "alg-none",
        lambda k: unsigned({"alg": "none", "typ": "JWT"}, session_claims()),
        errors.InvalidToken,
        "algorithm is not accepted",
    ),
    (
        "alg-none-with-a-known-kid",
        lambda k: unsigned({"alg": "none", "kid": "rsa-1"}, session_claims()),
        errors.InvalidToken,
        "algorithm is not accepted",
    ),
    (
        "alg-missing",
        lambda k: unsigned({"typ": "JWT"}, session_claims()),
        errors.InvalidToken,
        "algorithm is not accepted",
    ),
    (
        "alg-not-a-string",
        lambda k: unsigned({"alg": ["RS256"]}, session_claims()),
        errors.InvalidToken,
        "algorithm is not accepted",
    ),
    (
        "hs512-with-the-secret",
        lambda k: jwt.encode(session_claims(), k.secret * 2, "HS512"),
        errors.InvalidToken,
        "algorithm is not accepted",
    ),
    (
        "hs256-signed-with-the-rsa-public-pem",
        rsa_pem_as_secret,
        errors.InvalidToken,
        "signature does not verify",
    ),
    (
        "hs256-signed-with-the-rsa-public-pem-and-its-kid",
        rsa_pem_as_secret_with_kid,
        errors.InvalidToken,
        "signature does not verify",
    ),
    (
        "unknown-kid",
        lambda k: SigningKey("RS256", kid="unknown").sign(session_claims()),
        errors.InvalidToken,
        "no key for the token's kid",
    ),
    (
        "rs256-header-with-the-kid-of-an-ec-key",
        lambda k: k.rsa.sign(session_claims(), kid="ec-1"),
        errors.InvalidToken,
        "algorithm does not match its key",
    ),
    (
        "es512-for-which-there-is-no-key",
        lambda k: jwt.encode(session_claims(), SigningKey("ES512").private, "ES512"),
        errors.InvalidToken,
        "no key accepts the token's algorithm",
    ),
    (
        "kid-not-a-string",
        lambda k: unsigned({"alg": "RS256", "kid": 7}, session_claims()),
        errors.InvalidToken,
        "malformed",
    ),
    (
        "unsupported-crit-header",
        lambda k: unsigned({"alg": "RS256", "crit": ["exp"]}, session_claims()),
        errors.InvalidToken,
        "malformed",
    ),
    (
        "expired",
        lambda k: k.rsa.sign(session_claims(exp=now() - 3600)),
        errors.ExpiredToken,
        "expired",
    ),
    (
        "expired-just-beyond-the-leeway",
        lambda k: k.rsa.sign(session_claims(exp=now() - 32)),
        errors.ExpiredToken,
        "expired",
    ),
    (
        "not-valid-yet-nbf",
        lambda k: k.rsa.sign(session_claims(nbf=now() + 3600)),
        errors.InvalidToken,
        "not valid yet",
    ),
    (
        "iat-in-the-future",
        lambda k: k.rsa.sign(session_claims(iat=now() + 3600)),
        errors.InvalidToken,
        "not valid yet",
    ),
    (
        "wrong-aud",
        lambda k: k.rsa.sign(session_claims(aud="someone-else")),
        errors.InvalidToken,
        "audience is not accepted",
    ),
    (
        "missing-aud",
        lambda k: k.rsa.sign(session_claims(aud=None)),
        errors.InvalidToken,
        "has no aud claim",
    ),
    (
        "wrong-iss",
        lambda k: k.rsa.sign(session_claims(iss="https://evil.test")),
        errors.InvalidToken,
        "issuer is not accepted",
    ),
    (
        "missing-iss",
        lambda k: k.rsa.sign(session_claims(iss=None)),
        errors.InvalidToken,
        "has no iss claim",
    ),
    (
        "missing-exp",
        lambda k: jwt.encode(session_claims(exp=None), k.secret, "HS256"),
        errors.InvalidToken,
        "has no exp claim",
    ),
    (
        "exp-a-numeric-string",
        lambda k: jwt.encode(session_claims(exp="9999999999"), k.secret, "HS256"),
        errors.InvalidToken,
        "exp is not a number",
    ),
    (
        "exp-a-word",
        lambda k: jwt.encode(session_claims(exp="never"), k.secret, "HS256"),
        errors.InvalidToken,
        "malformed",
    ),
    (
        "exp-a-boolean",
        lambda k: jwt.encode(session_claims(exp=True), k.secret, "HS256"),
        errors.ExpiredToken,
        "expired",
    ),
    (
        "nbf-a-numeric-string",
        lambda k: jwt.encode(session_claims(nbf="0"), k.secret, "HS256"),
        errors.InvalidToken,
        "nbf is not a number",
    ),
    (
        "iat-a-numeric-string",
        lambda k: jwt.encode(session_claims(iat="0"), k.secret, "HS256"),
        errors.InvalidToken,
        "iat is not a number",
    ),
    (
        "iat-a-word",
        lambda k: jwt.encode(session_claims(iat="yesterday"), k.secret, "HS256"),
        errors.InvalidToken,
        "iat is not a number",
    ),
    (
        "role-not-a-string",
        lambda k: jwt.encode(session_claims(role=["service_role"]), k.secret, "HS256"),
        errors.InvalidToken,
        "role is not a string",
    ),
    (
        "sub-not-a-string",
        lambda k: jwt.encode(session_claims(sub=42), k.secret, "HS256"),
        errors.InvalidToken,
        "the token's sub claim must be a string",
    ),
    (
        "tampered-payload",
        lambda k: tamper(k.rsa.sign(session_claims()), role="service_role"),
        errors.InvalidToken,
        "signature does not verify",
    ),
    (
        "tampered-payload-hs256",
        lambda k: tamper(jwt.encode(session_claims(), k.secret, "HS256"), sub="x"),
        errors.InvalidToken,
        "signature does not verify",
    ),
    (
        "bad-rsa-signature",
        lambda k: bad_signature(k.rsa),
        errors.InvalidToken,
        "signature does not verify",
    ),
    (
        "bad-ec-signature",
        lambda k: bad_signature(k.ec),
        errors.InvalidToken,
        "signature does not verify",
    ),
    (
        "payload-not-an-object",
        lambda k: signed_payload(k, b"[1, 2]"),
        errors.InvalidToken,
        "malformed",
    ),
    (
        "payload-not-json",
        lambda k: signed_payload(k, b"\x00not json"),
        errors.InvalidToken,
        "malformed",
    ),
    ("garbage", lambda k: "not-a-jwt", errors.InvalidToken, "malformed"),
    ("three-dots", lambda k: "...", errors.InvalidToken, "malformed"),
    ("empty-segments", lambda k: "a.b.c", errors.InvalidToken, "malformed"),
    (
        "header-not-json",
        lambda k: f"{b64(b'{oops')}.{b64(b'{}')}.",
        errors.InvalidToken,
        "malformed",
    ),
    (
        "header-not-an-object",
        lambda k: f"{b64(b'[]')}.{b64(b'{}')}.",
        errors.InvalidToken,
        "malformed",
    ),
    (
        "deeply-nested-header",
        lambda k: f"{b64(b'[' * 5000)}.{b64(b'{}')}.",
        errors.InvalidToken,
        "malformed",
    ),
    ("non-ascii", lambda k: "eyJhbGciOi∂.x.y", errors.InvalidToken, "malformed"),
    (
        "a-100-kb-token",
        lambda k: k.rsa.sign(session_claims(pad="x" * 100_000)),
        errors.InvalidToken,
        "larger than 16384 bytes",
    ),
    ("empty-string", lambda k: "", errors.InvalidToken, "malformed"),
]


@pytest.fixture
async def guarded(
    make_verifier: MakeVerifier,
    jwks: JwksServer,
    secret: str,
    rsa_key: SigningKey,
    ec_key: SigningKey,
) -> tuple[TokenVerifier, Keys]:
    """A verifier with every kind of key, an audience and an issuer."""
    verifier = await make_verifier(
        hs256_secrets=(secret,),
        jwks_url=jwks.url,
        audience=(AUDIENCE,),
        issuer=ISSUER,
    )
    return verifier, Keys(secret, rsa_key, ec_key)


class TestTokensThatAreRefused:
    @pytest.mark.parametrize(
        ("build", "refusal", "fragment"),
        [case[1:] for case in REFUSALS],
        ids=[case[0] for case in REFUSALS],
    )
    async def test_refused(
        self,
        guarded: tuple[TokenVerifier, Keys],
        build: Callable[[Keys], str],
        refusal: type[errors.S3Error],
        fragment: str,
    ) -> None:
        verifier, keys = guarded
        token = build(keys)

        with pytest.raises(errors.S3Error) as caught:
            await verifier.verify(token)

        assert type(caught.value) is refusal
        assert fragment in caught.value.message
        assert not token or token not in caught.value.message

    async def test_the_rsa_pem_as_hs256_secret_without_any_secret(
        self, make_verifier: MakeVerifier, jwks: JwksServer, rsa_key: SigningKey
    ) -> None:
        verifier = await make_verifier(jwks_url=jwks.url)
        keys = Keys("", rsa_key, rsa_key)

        for token in (rsa_pem_as_secret(keys), rsa_pem_as_secret_with_kid(keys)):
            with pytest.raises(errors.InvalidToken, match="no key accepts"):
                await verifier.verify(token)

    async def test_pyjwt_errors_are_chained(
        self, guarded: tuple[TokenVerifier, Keys]
    ) -> None:
        verifier, keys = guarded

        with pytest.raises(errors.ExpiredToken) as caught:
            await verifier.verify(keys.rsa.sign(session_claims(exp=now() - 3600)))

        assert isinstance(caught.value.__cause__, jwt.ExpiredSignatureError)

    async def test_the_size_limit_is_configurable(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,), max_token_bytes=100)

        with pytest.raises(errors.InvalidToken, match="larger than 100 bytes"):
            await verifier.verify(jwt.encode(session_claims(), secret, "HS256"))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(token=st.text())
async def test_any_text_is_refused_with_an_s3_token_error(
    hs256_verifier: TokenVerifier, token: str
) -> None:
    with pytest.raises((errors.ExpiredToken, errors.InvalidToken)):
        await hs256_verifier.verify(token)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "RS256", "ES256", "EdDSA", "none"])
        | json_values,
        "kid": st.sampled_from(["rsa-1", "ec-1"]) | json_values,
        "crit": json_values,
        "b64": json_values,
    },
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(header=headers, claims=json_values, signature=st.binary(max_size=80))
async def test_any_token_shaped_text_is_refused_with_an_s3_token_error(
    hs256_verifier: TokenVerifier, header: Any, claims: Any, signature: bytes
) -> None:
    encoded = [json.dumps(part).encode() for part in (header, claims)]
    token = ".".join(b64(part) for part in [*encoded, signature])

    with pytest.raises((errors.ExpiredToken, errors.InvalidToken)):
        await hs256_verifier.verify(token)


@pytest.fixture
async def hs256_verifier(
    make_verifier: MakeVerifier, secret: str, rsa_key: SigningKey
) -> TokenVerifier:
    return await make_verifier(
        hs256_secrets=(secret,), public_keys=(json.dumps(rsa_key.public_jwk()),)
    )


# The cache


class TestCache:
    async def test_a_thousand_verifications_decode_once(
        self,
        make_verifier: MakeVerifier,
        jwks: JwksServer,
        rsa_key: SigningKey,
        decode_calls: list[str],
    ) -> None:
        verifier = await make_verifier(jwks_url=jwks.url)
        token = rsa_key.sign(session_claims())

        for _ in range(1000):
            assert (await verifier.verify(token))["sub"] == "user-1"

        assert len(decode_calls) == 1

    async def test_an_expired_cached_token_is_refused(
        self, make_verifier: MakeVerifier, secret: str
    ) -> None:
        clock = [time.time()]
        verifier = await make_verifier(
            clock=lambda: clock[0], hs256_secrets=(secret,), leeway_seconds=30
        )
        token = jwt.encode(session_claims(exp=now() + 60), secret, "HS256")
        await verifier.verify(token)

        clock[0] += 60 + 29
        assert await verifier.verify(token)  # within the leeway
        clock[0] += 2
        with pytest.raises(errors.ExpiredToken, match="the token expired"):
            await verifier.verify(token)

    async def test_the_cache_is_bounded_and_evicts_the_least_recently_used(
        self, make_verifier: MakeVerifier, secret: str, decode_calls: list[str]
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,), cache_size=3)
        tokens = [jwt.encode(session_claims(n=n), secret, "HS256") for n in range(5)]
        for token in tokens:
            await verifier.verify(token)
        await verifier.verify(tokens[2])  # now the most recently used

        await verifier.verify(tokens[0])  # evicted: decoded again, evicts 3
        await verifier.verify(tokens[2])
        await verifier.verify(tokens[3])  # evicted by 0: decoded again

        assert decode_calls == [*tokens, tokens[0], tokens[3]]

    async def test_a_cache_of_size_zero_caches_nothing(
        self, make_verifier: MakeVerifier, secret: str, decode_calls: list[str]
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,), cache_size=0)
        token = jwt.encode(session_claims(), secret, "HS256")

        for _ in range(3):
            await verifier.verify(token)

        assert len(decode_calls) == 3

    async def test_failures_are_not_cached(
        self, make_verifier: MakeVerifier, secret: str, decode_calls: list[str]
    ) -> None:
        verifier = await make_verifier(hs256_secrets=(secret,))
        token = jwt.encode(session_claims(role=7), secret, "HS256")

        for _ in range(3):
            with pytest.raises(errors.InvalidToken):
                await verifier.verify(token)

        assert len(decode_calls) == 3


# Settings


def pem(
    key: dsa.DSAPrivateKey | ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey,
) -> str:
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


class TestSettings:
    def test_defaults_with_one_key_are_valid(self, secret: str) -> None:
        assert TokenSettings(hs256_secrets=(secret,)).problems() == []

    def test_every_problem_is_reported(self) -> None:
        settings = TokenSettings(
            hs256_secrets=("s" * 32, "s" * 31),
            jwks_url="file:///etc/keys.json",
            max_token_bytes=0,
            leeway_seconds=-1,
            jwks_refresh_seconds=0,
            jwks_min_refetch_seconds=-1,
            jwks_timeout_seconds=0,
            cache_size=-1,
        )

        assert settings.problems() == [
            "max_token_bytes must be > 0",
            "leeway_seconds must be 0 to 300",
            "jwks_refresh_seconds must be > 0",
            "jwks_min_refetch_seconds must be >= 0",
            "jwks_timeout_seconds must be > 0",
            "cache_size must be >= 0",
            "jwks_url must be an http or https URL",
            "hs256_secrets[1] is shorter than 32 bytes",
        ]

    def test_leeway_is_bounded(self) -> None:
        assert TokenSettings(
            hs256_secrets=("s" * 32,), leeway_seconds=301
        ).problems() == ["leeway_seconds must be 0 to 300"]

    def test_no_key_at_all(self) -> None:
        with pytest.raises(ValueError, match="no key is configured"):
            TokenVerifier(TokenSettings())

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "PEM"),
            ("not a key", "neither a PEM public key nor a JWK"),
            ("[1]", "not a JSON object"),
            ('{"kty": "oct", "k": "c2VjcmV0"}', "not an RSA, EC, Ed25519"),
            ('{"kty": "RSA", "alg": "none"}', "not accepted"),
            ('{"kty": "RSA", "alg": ["RS256"]}', "not accepted"),
            ('{"kty": "RSA", "kid": 1}', "kid that is not a string"),
            ('{"kty": "RSA"}', "cannot be read (InvalidKeyError)"),
        ],
        ids=[
            "bad-pem",
            "neither",
            "json-not-an-object",
            "symmetric-jwk",
            "jwk-alg-none",
            "jwk-alg-not-a-string",
            "jwk-kid-not-a-string",
            "jwk-incomplete",
        ],
    )
    def test_a_bad_public_key(self, text: str, problem: str) -> None:
        problems = TokenSettings(public_keys=(text,)).problems()

        assert len(problems) == 1
        assert problems[0].startswith("public_keys[0] ")
        assert problem in problems[0]

    def test_a_private_pem_is_not_accepted_nor_quoted(self) -> None:
        private = SigningKey("ES256").private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (problem,) = TokenSettings(public_keys=(private.decode(),)).problems()

        assert "not a PEM public key" in problem
        assert "PRIVATE" not in problem

    @pytest.mark.parametrize(
        ("key", "problem"),
        [
            (dsa.generate_private_key(2048), "not an RSA, EC, Ed25519"),
            (ec.generate_private_key(ec.SECP224R1()), "curve secp224r1"),
        ],
        ids=["dsa", "ec-p224"],
    )
    def test_an_unsupported_key_type(
        self, key: dsa.DSAPrivateKey | ec.EllipticCurvePrivateKey, problem: str
    ) -> None:
        (found,) = TokenSettings(public_keys=(pem(key),)).problems()

        assert problem in found

    def test_a_jwk_whose_alg_does_not_suit_its_curve(self) -> None:
        jwk = {**SigningKey("ES384").public_jwk(), "alg": "ES256"}
        (problem,) = TokenSettings(public_keys=(json.dumps(jwk),)).problems()

        assert "does not suit its key" in problem

    def test_an_encryption_jwk(self, ec_key: SigningKey) -> None:
        jwk = {**ec_key.public_jwk(), "use": "enc"}
        (problem,) = TokenSettings(public_keys=(json.dumps(jwk),)).problems()

        assert "not a signature key" in problem

    async def test_an_ed448_pem_key_verifies_eddsa(
        self, make_verifier: MakeVerifier
    ) -> None:
        private = ed448.Ed448PrivateKey.generate()
        verifier = await make_verifier(public_keys=(pem(private),))
        token = jwt.encode(session_claims(), private, "EdDSA")

        assert (await verifier.verify(token))["sub"] == "user-1"
