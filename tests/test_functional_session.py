"""Session callers end to end: project ref + anon key signatures, a JWT token."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from proxy.demo import new_secret
from tests.conftest import Credentials, RunningProxy, start_proxy
from tests.jwks_server import JwksServer, SigningKey
from tests.rawclient import send, sign
from tests.servers import GateProcess

PROJECT_REF = "abcdefghijklmnopqrst"


class ThreadedJwks:
    """The JWKS test server on its own event loop in a thread."""

    def __init__(self, *keys: SigningKey) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = JwksServer(*keys)
        self.url = self._run(self.server.start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def stop(self) -> None:
        self._run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class SessionProxy:
    running: RunningProxy
    anon_key: str
    hs256_secret: str
    rsa: SigningKey
    ec: SigningKey
    gate: GateProcess

    def hs256(self, **claims: Any) -> str:
        claims = {"exp": int(time.time()) + 3600, **claims}
        return jwt.encode(claims, self.hs256_secret, "HS256")

    def user(self, token: str) -> Credentials:
        return Credentials(
            self.running.endpoint, PROJECT_REF, self.anon_key, session_token=token
        )


@pytest.fixture(scope="module")
def session(gate: GateProcess) -> Iterator[SessionProxy]:
    rsa, ec = SigningKey("RS256", kid="rsa-1"), SigningKey("ES256", kid="ec-1")
    jwks = ThreadedJwks(rsa, ec)
    anon_key, hs256_secret = new_secret(), secrets.token_urlsafe(48)
    running = start_proxy(
        gate,
        session={
            "access_key_ids": [PROJECT_REF],
            "secrets": [anon_key],
            "jwt": {
                "hs256_secrets": [hs256_secret],
                "jwks_url": jwks.url,
                "audience": ["authenticated"],
            },
        },
    )
    yield SessionProxy(running, anon_key, hs256_secret, rsa, ec, gate)
    running.process.stop()
    jwks.stop()


def service_claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "service", "role": "service_role", "aud": "authenticated", **extra}


@pytest.mark.parametrize("signer", ["hs256", "rsa", "ec"])
def test_service_role_token_has_full_access(
    session: SessionProxy, direct: Any, signer: str
) -> None:
    claims = service_claims()
    token = (
        session.hs256(**claims)
        if signer == "hs256"
        else getattr(session, signer).sign(claims)
    )
    s3 = session.user(token).client()
    bucket = f"session-{signer}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="from-session", Body=b"token")
    assert direct.get_object(Bucket=bucket, Key="from-session")["Body"].read() == (
        b"token"
    )


def refusal(session: SessionProxy, token: str | None) -> tuple[int, str | None, str]:
    url = session.running.endpoint + "/"
    headers = sign("GET", url, PROJECT_REF, session.anon_key, token=token)
    answer = send("GET", url, headers)
    return answer.status, answer.code, answer.body.decode()


def test_missing_token_is_access_denied(session: SessionProxy) -> None:
    status, code, _ = refusal(session, None)
    assert (status, code) == (403, "AccessDenied")


def test_expired_token(session: SessionProxy) -> None:
    token = session.hs256(**service_claims(exp=int(time.time()) - 3600))
    status, code, body = refusal(session, token)
    assert (status, code) == (400, "ExpiredToken")
    assert token not in body


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s: "garbage", id="garbage"),
        pytest.param(lambda s: s.hs256(**service_claims(aud="other")), id="wrong-aud"),
        pytest.param(
            lambda s: jwt.encode(service_claims(), "x" * 48, "HS256"), id="bad-secret"
        ),
        pytest.param(
            lambda s: jwt.encode(
                service_claims(exp=int(time.time()) + 60), None, "none"
            ),
            id="alg-none",
        ),
    ],
)
def test_invalid_tokens(session: SessionProxy, make: Any) -> None:
    token = make(session)
    status, code, body = refusal(session, token)
    assert (status, code) == (400, "InvalidToken")
    assert token not in body
    assert token not in session.running.process.log()


def test_token_signed_with_a_wrong_anon_key(session: SessionProxy) -> None:
    url = session.running.endpoint + "/"
    token = session.hs256(**service_claims())
    headers = sign("GET", url, PROJECT_REF, new_secret(), token=token)
    assert send("GET", url, headers).code == "SignatureDoesNotMatch"


def test_claims_reach_the_store_and_spoofs_never_do(session: SessionProxy) -> None:
    token = session.hs256(**service_claims(sub="user-42", email="u@example.com"))
    url = session.running.endpoint + "/"
    spoofs = {
        "x-s3proxy-sub": "admin",
        "X-S3PROXY-ROLE": "service_role",
        "x_s3proxy_auth_mode": "key",
        "x-s3proxy-extra": "anything",
    }
    headers = sign("GET", url, PROJECT_REF, session.anon_key, token=token)
    headers |= spoofs
    answer = send("GET", url, headers)
    assert answer.status == 200, answer.body
    arrived = session.gate.recorded()[-1]["headers"]
    names = {name.lower().replace("_", "-"): value for name, value in arrived}
    assert names["x-s3proxy-sub"] == "user-42"
    assert names["x-s3proxy-role"] == "service_role"
    assert names["x-s3proxy-auth-mode"] == "session"
    assert "x-s3proxy-extra" not in names
    assert "x-amz-security-token" not in names
    encoded = names["x-s3proxy-claims"]
    claims = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert claims["email"] == "u@example.com"
    assert sum(1 for name, _ in arrived if "s3proxy-sub" in name.lower()) == 1


def test_key_callers_are_named_to_the_store(session: SessionProxy) -> None:
    s3 = session.running.credentials.client()
    s3.list_buckets()
    arrived = dict(
        (name.lower(), value) for name, value in session.gate.recorded()[-1]["headers"]
    )
    assert arrived["x-s3proxy-auth-mode"] == "key"
    assert (
        arrived["x-s3proxy-access-key-id"] == session.running.credentials.access_key_id
    )


def test_boto3_presigned_url_carries_the_token(session: SessionProxy) -> None:
    import urllib.request

    token = session.hs256(**service_claims())
    s3 = session.user(token).client()
    s3.create_bucket(Bucket="presigned-session")
    s3.put_object(Bucket="presigned-session", Key="k", Body=b"presigned")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "presigned-session", "Key": "k"}
    )
    assert "X-Amz-Security-Token" in url
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"presigned"


def test_large_token_in_a_header(session: SessionProxy) -> None:
    token = session.hs256(**service_claims(padding="p" * 9000))
    s3 = session.user(token).client()
    s3.list_buckets()


def test_oversized_token_is_refused(session: SessionProxy) -> None:
    token = session.hs256(**service_claims(padding="p" * 20000))
    s3 = session.user(token).client()
    with pytest.raises(ClientError) as refused:
        s3.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidToken"
