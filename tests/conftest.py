"""Fixtures shared by the functional tests: moto, the proxy, clients."""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from proxy.demo import MotoUpstream, new_secret
from tests.servers import GateProcess, ProxyProcess, key_settings


@dataclass(frozen=True)
class Credentials:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"
    session_token: str | None = None

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client; SigV4 always (botocore presigns V2 otherwise)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=self.region,
            config=BotoConfig(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                **config,
            ),
        )


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoUpstream]:
    with MotoUpstream() as server:
        yield server


@pytest.fixture(scope="session")
def gate(moto: MotoUpstream) -> Iterator[GateProcess]:
    """The strict SigV4 gate in front of moto: what the proxy talks to."""
    process = GateProcess(moto.endpoint).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def upstream(gate: GateProcess) -> Credentials:
    """Direct access to the store, to check what the proxy really stored."""
    return Credentials(gate.endpoint, gate.access_key_id, gate.secret_access_key)


@dataclass
class RunningProxy:
    process: ProxyProcess
    credentials: Credentials

    @property
    def endpoint(self) -> str:
        return self.process.endpoint


def start_proxy(gate: GateProcess, **sections: Any) -> RunningProxy:
    settings, key_id, secret = key_settings(
        gate.endpoint, gate.access_key_id, gate.secret_access_key, **sections
    )
    process = ProxyProcess(settings).start()
    return RunningProxy(process, Credentials(process.endpoint, key_id, secret))


@pytest.fixture(scope="session")
def proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(gate)
    yield running
    running.process.stop()


@pytest.fixture(scope="session")
def s3(proxy: RunningProxy) -> Any:
    return proxy.credentials.client()


@pytest.fixture(scope="session")
def direct(upstream: Credentials) -> Any:
    return upstream.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


# Session callers under the shipped home-folders policy (the policy tests).

PROJECT_REF = "policyprojectref0001"
BUCKET = "user-files"
POLICY_FILE = (
    Path(__file__).resolve().parents[1] / "proxy" / "policies" / "home-folders.yaml"
)


@dataclass
class Users:
    running: RunningProxy
    anon_key: str
    jwt_secret: str

    def token(self, sub: str, role: str = "authenticated") -> str:
        claims = {"sub": sub, "role": role, "exp": int(time.time()) + 3600}
        return jwt.encode(claims, self.jwt_secret, "HS256")

    def client(self, sub: str) -> Any:
        creds = Credentials(
            self.running.endpoint,
            PROJECT_REF,
            self.anon_key,
            session_token=self.token(sub),
        )
        return creds.client()


@pytest.fixture(scope="module")
def users(gate: GateProcess, direct: Any) -> Iterator[Users]:
    anon_key, jwt_secret = new_secret(), secrets.token_urlsafe(48)
    running = start_proxy(
        gate,
        session={
            "access_key_ids": [PROJECT_REF],
            "secrets": [anon_key],
            "allow_anonymous": True,
            "jwt": {"hs256_secrets": [jwt_secret]},
        },
        authorization={"policy_file": str(POLICY_FILE)},
    )
    for bucket in (BUCKET, "public"):
        with contextlib.suppress(ClientError):
            direct.create_bucket(Bucket=bucket)
    direct.put_object(Bucket=BUCKET, Key="B/secret.txt", Body=b"B's secret")
    direct.put_object(Bucket="public", Key="readme.txt", Body=b"public words")
    yield Users(running, anon_key, jwt_secret)
    running.process.stop()
