"""``s3-auth-proxy demo``: the proxy in front of moto, ready to try.

moto's S3 server runs in a child process as the upstream. It keeps everything
in memory and accepts any credentials (its own signature check is off: it
fails on keys with ``+``, ``@``, ``()`` or non-ASCII characters even for
botocore's requests); the proxy still signs every request it sends with the
upstream key it was given. The demo configures both credential modes: a
full-access key, and a session (project ref, anon key, and a JWT for a demo
user signed with a key of the demo's own) under the home-folders policy.
"""

from __future__ import annotations

import os
import secrets
import socket
import string
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jwt
import yaml

from .config import (
    AccessKey,
    AdminConfig,
    AuthConfig,
    AuthorizationConfig,
    Config,
    JwtConfig,
    ListenConfig,
    SessionConfig,
    UpstreamConfig,
)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def new_access_key_id(prefix: str = "AKIA") -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(16))


def new_secret() -> str:
    return secrets.token_urlsafe(30)


@dataclass
class MotoUpstream:
    """moto's S3 server in a child process."""

    host: str = "127.0.0.1"
    port: int = 0
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoUpstream:
        self.port = self.port or free_port(self.host)
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "moto.server",
                "-H",
                self.host,
                "-p",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._wait_until_up(timeout)
        self.access_key_id = self.access_key_id or new_access_key_id()
        self.secret_access_key = self.secret_access_key or new_secret()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("moto's server exited while starting")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto's server did not start within {timeout} s")

    def __enter__(self) -> MotoUpstream:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


DEMO_BUCKETS = ("user-files", "public")


def home_folders_policy() -> dict[str, Any]:
    """The shipped policy: own folder in user-files, read-only public."""
    text = resources.files("proxy").joinpath("policies/home-folders.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    return document


@dataclass
class Demo:
    """Everything the demo generates: keys, a JWT secret, a demo user."""

    moto: MotoUpstream
    key: AccessKey = field(
        default_factory=lambda: AccessKey(new_access_key_id(), new_secret())
    )
    project_ref: str = field(default_factory=lambda: new_access_key_id("").lower())
    anon_key: str = field(default_factory=new_secret, repr=False)
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def config(self, host: str, port: int, admin_port: int) -> Config:
        policy = home_folders_policy()
        return Config(
            listen=ListenConfig(host=host, port=port),
            admin=AdminConfig(host=host, port=admin_port),
            upstream=UpstreamConfig(
                endpoint=self.moto.endpoint,
                access_key_id=self.moto.access_key_id,
                secret_access_key=self.moto.secret_access_key,
            ),
            auth=AuthConfig(regions=(self.moto.region,), keys=(self.key,)),
            session=SessionConfig(
                access_key_ids=(self.project_ref,),
                secrets=(self.anon_key,),
                allow_anonymous=True,
                jwt=JwtConfig(hs256_secrets=(self.jwt_secret,)),
            ),
            authorization=AuthorizationConfig(
                policies=policy["policies"],
                attachments=tuple(policy["attachments"]),
            ),
        )

    def user_token(self, lifetime: int = 24 * 3600) -> str:
        now = int(time.time())
        claims = {
            "sub": self.user_id,
            "role": "authenticated",
            "aud": "authenticated",
            "email": "demo@example.com",
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self.jwt_secret, "HS256")

    def create_buckets(self) -> None:
        """Make the policy's buckets in moto (it takes unsigned requests)."""
        for bucket in DEMO_BUCKETS:
            request = urllib.request.Request(
                f"{self.moto.endpoint}/{bucket}", method="PUT"
            )
            urllib.request.urlopen(request, timeout=30).close()

    def details(self, endpoint: str, admin_endpoint: str | None) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "region": self.moto.region,
            "access_key_id": self.key.access_key_id,
            "secret_access_key": self.key.secret_access_key,
            "admin_endpoint": admin_endpoint,
            "demo_bucket": DEMO_BUCKETS[0],
            "public_bucket": DEMO_BUCKETS[1],
            "session": {
                "access_key_id": self.project_ref,
                "secret_access_key": self.anon_key,
                "session_token": self.user_token(),
                "home_prefix": f"{self.user_id}/",
                "jwt_secret": self.jwt_secret,
            },
        }
