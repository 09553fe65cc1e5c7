"""Test helpers: signing keys made at test time and a JWKS server on loopback.

No key material is committed: every key is generated when a test asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}


def _generate(algorithm: str) -> PrivateKey:
    if algorithm.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm])
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"no key type for {algorithm}")


@dataclass
class SigningKey:
    """A private key that signs test tokens, and its public forms."""

    algorithm: str
    kid: str | None = None
    private: PrivateKey = field(init=False)

    def __post_init__(self) -> None:
        self.private = _generate(self.algorithm)

    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            .decode()
        )

    def public_jwk(self, *, with_alg: bool = True) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        if with_alg:
            jwk["alg"] = self.algorithm
        if self.kid is not None:
            jwk["kid"] = self.kid
        jwk["use"] = "sig"
        return jwk

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        """A token with these claims; an exp an hour ahead unless given."""
        claims = {"exp": int(time.time()) + 3600, **claims}
        if self.kid is not None:
            headers = {"kid": self.kid, **headers}
        return jwt.encode(claims, self.private, self.algorithm, headers=headers)


class JwksServer:
    """Serves a JWK Set on 127.0.0.1 at a free port.

    The test changes ``document`` at run time (``serve`` new keys, or any
    JSON value or raw bytes), sets ``failing`` to answer 500 (an outage) or
    ``delay_seconds`` to answer late, and reads ``requests`` to count fetches.
    """

    def __init__(self, *keys: SigningKey) -> None:
        self.document: Any = {"keys": [key.public_jwk() for key in keys]}
        self.failing = False
        self.delay_seconds = 0.0
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.url = ""

    def serve(self, *keys: SigningKey) -> None:
        self.document = {"keys": [key.public_jwk() for key in keys]}

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/.well-known/jwks.json", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/.well-known/jwks.json"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()  # ends the delays of requests in flight
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.delay_seconds)
        if self.failing:
            return web.Response(status=500, text="outage")
        if isinstance(self.document, bytes):
            return web.Response(body=self.document, content_type="application/json")
        return web.Response(
            text=json.dumps(self.document), content_type="application/json"
        )
