"""Real servers for the functional tests: the proxy in a child process.

moto's server (the verifying upstream) comes from :mod:`proxy.demo`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from proxy.demo import free_port, new_access_key_id, new_secret


@dataclass
class ProxyProcess:
    """``s3-auth-proxy serve`` with a configuration written for the test."""

    settings: dict[str, Any]
    port: int = 0
    admin_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: Path(tempfile.mktemp(".log")))
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        scheme = (
            "https" if self.settings.get("listen", {}).get("tls_cert_file") else "http"
        )
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self) -> ProxyProcess:
        self.port, self.admin_port = free_port(), free_port()
        settings = dict(self.settings)
        settings["listen"] = {
            **settings.get("listen", {}),
            "host": "127.0.0.1",
            "port": self.port,
        }
        settings["admin"] = {"host": "127.0.0.1", "port": self.admin_port}
        settings.setdefault("logging", {"level": "info"})
        config = Path(tempfile.mktemp(".yaml"))
        config.write_text(yaml.safe_dump(settings))
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--config", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the proxy exited:\n{self.log()}")
            try:
                urllib.request.urlopen(self.admin + "/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the proxy did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.admin + "/metrics", timeout=5) as answer:
            text: str = answer.read().decode()
            return text

    def rss_peak_kib(self) -> int:
        """The child's peak resident set size (VmHWM), from /proc."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(row for row in status.splitlines() if row.startswith("VmHWM:"))
        return int(line.split()[1])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if hasattr(self, "_log"):
            self._log.close()


def key_settings(
    upstream_endpoint: str,
    upstream_key: str,
    upstream_secret: str,
    **sections: Any,
) -> tuple[dict[str, Any], str, str]:
    """Settings with one fresh full-access key; returns them and that key."""
    key_id, secret = new_access_key_id(), new_secret()
    settings: dict[str, Any] = {
        "upstream": {
            "endpoint": upstream_endpoint,
            "access_key_id": upstream_key,
            "secret_access_key": upstream_secret,
            "read_timeout_seconds": 30,
        },
        "auth": {"keys": [{"access_key_id": key_id, "secret_access_key": secret}]},
    }
    for name, values in sections.items():
        settings[name] = {**settings.get(name, {}), **values}
    return settings, key_id, secret


@dataclass
class GateProcess:
    """The strict SigV4 gate (:mod:`tests.gate`) in front of an upstream."""

    upstream: str
    port: int = 0
    access_key_id: str = field(default_factory=new_access_key_id)
    secret_access_key: str = field(default_factory=new_secret, repr=False)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GateProcess:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.gate",
                "--port",
                str(self.port),
                "--upstream",
                self.upstream,
                "--key",
                self.access_key_id,
            ],
            env={**os.environ, "GATE_SECRET": self.secret_access_key},
            cwd=Path(__file__).resolve().parents[1],
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the SigV4 gate did not start")

    def recorded(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.endpoint + "/__gate__/requests") as answer:
            return list(json.load(answer))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class SilentServer:
    """Accepts connections and never answers: an upstream that hangs."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port: int = self.socket.getsockname()[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.socket.close()
