"""moto's S3 server in a child process: the demo's upstream.

moto keeps everything in memory and accepts any credentials (its own
signature check is off: it fails on keys with ``+``, ``@``, ``()`` or non-ASCII
characters even for botocore's requests). The proxy still signs every request
it sends with the upstream key it was given.
"""

from __future__ import annotations

import os
import secrets
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any


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
