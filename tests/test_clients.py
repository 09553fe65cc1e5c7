"""Client compatibility matrix: real S3 clients through the proxy.

Every client, with its default settings, in both credential modes (a
full-access key; a session: project ref, anon key and a ``service_role`` JWT as
session token) and over plain HTTP and TLS, does each operation it can. Every
object written is read back from the store directly, bytes and key exact.

Failures have one of three causes, each handled on its own:

* the proxy: listed in ``KNOWN_PROXY_FAILURES``, ``xfail(strict=True)``;
* the client or moto: listed in ``KNOWN_FAILURES_ELSEWHERE``; the same
  operation is then run again against the store directly, without the proxy,
  and must fail there too (the test skips) — if it passes there, the proxy is
  at fault after all and the test fails;
* anything else fails the test.

The outcome of every case, with the requests (and payload modes) the proxy
logged for it, is written to ``.pytest_cache/d/s3-auth-proxy/compat.json``;
``scripts/compat-table`` renders it as the README's Markdown table.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from proxy.demo import new_secret
from tests.clients import (
    AwsCliDriver,
    Boto3Driver,
    CertificateFiles,
    Driver,
    JsDriver,
    MinioDriver,
    RcloneDriver,
    S3cmdDriver,
    S5cmdDriver,
    Target,
    Unsupported,
    fetch,
    make_certificates,
    version_of,
    why_missing,
)
from tests.conftest import RunningProxy, start_proxy
from tests.servers import GateProcess

MIB = 1024 * 1024
PROJECT_REF = "compatmatrixprojectr"
SUBJECT = "compat-matrix"
SUPABASE_PREFIX = "/storage/v1/s3"
# Spaces, non-ASCII letters and parentheses: the key must arrive exactly.
NAME = "naïve dir/file (1) ü.txt"


@dataclass(frozen=True)
class Client:
    """A row of the matrix: how to build the driver, and its class."""

    kind: type[Driver]
    build: Callable[[Target, Path], Driver]
    multipart_mib: int = 12  # over a 5 MiB part size: three parts
    path_prefix: str = ""


CLIENTS = {
    # boto3 and the AWS CLI: 8 MiB threshold and parts.
    "boto3": Client(Boto3Driver, Boto3Driver, multipart_mib=20),
    "boto3-when-required": Client(
        Boto3Driver,
        partial(Boto3Driver, checksum_calculation="when_required"),
        multipart_mib=20,
    ),
    "awscli": Client(AwsCliDriver, AwsCliDriver, multipart_mib=40),
    "aws-sdk-js": Client(JsDriver, JsDriver, path_prefix=SUPABASE_PREFIX),
    "minio-py": Client(MinioDriver, MinioDriver),
    "rclone": Client(RcloneDriver, RcloneDriver),
    "s3cmd": Client(S3cmdDriver, S3cmdDriver),
    "s5cmd": Client(S5cmdDriver, S5cmdDriver),
}
MODES = ("key", "session")
TRANSPORTS = ("http", "tls")

# (operation, client, mode, transport) patterns -> why. Failures caused by the
# proxy: each is an xfail(strict=True) until the proxy is fixed.
KNOWN_PROXY_FAILURES: dict[tuple[str, str, str, str], str] = {}

# Failures caused by the client or by moto, proven on every run by a control
# run of the same operation against the store without the proxy.
KNOWN_FAILURES_ELSEWHERE: dict[tuple[str, str, str, str], str] = {
    ("put-multipart", "rclone", "*", "*"): (
        "moto 5.2 answers CompleteMultipartUpload on an unversioned bucket with "
        "x-amz-version-id: null, then refuses rclone's check HEAD ?versionId=null "
        "with 400 (AWS S3 accepts it); the upload itself went through"
    ),
    ("copy", "s5cmd", "*", "*"): (
        "s5cmd form-encodes x-amz-copy-source (a space becomes '+'), so a key "
        "with a space is not found"
    ),
}


def _matching(table: dict[tuple[str, str, str, str], str], *values: str) -> list[str]:
    return [
        reason
        for pattern, reason in table.items()
        if all(
            fnmatch.fnmatchcase(value, wanted)
            for value, wanted in zip(values, pattern, strict=True)
        )
    ]


@dataclass(frozen=True)
class Combo:
    client: str
    mode: str
    transport: str

    @property
    def id(self) -> str:
        return f"{self.client}-{self.mode}-{self.transport}"


def combos(operation: str, clients: tuple[str, ...] = tuple(CLIENTS)) -> list[Any]:
    """The parameters of one operation's test, its known proxy failures marked."""
    params = []
    for client in clients:
        for mode in MODES:
            for transport in TRANSPORTS:
                combo = Combo(client, mode, transport)
                marks = [
                    pytest.mark.xfail(reason=reason, strict=True)
                    for reason in _matching(
                        KNOWN_PROXY_FAILURES, operation, client, mode, transport
                    )
                ]
                params.append(pytest.param(combo, id=combo.id, marks=marks))
    return params


# --- the servers: one proxy per transport and path prefix --------------------


@dataclass
class MatrixServers:
    """Proxies with both a full-access key and sessions, started when needed."""

    gate: GateProcess
    certificates: CertificateFiles
    anon_key: str = field(default_factory=new_secret)
    hs256_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    proxies: dict[tuple[str, str], RunningProxy] = field(default_factory=dict)

    def proxy(self, transport: str, path_prefix: str) -> RunningProxy:
        if (transport, path_prefix) not in self.proxies:
            listen: dict[str, Any] = {"path_prefix": path_prefix}
            if transport == "tls":
                listen["tls_cert_file"] = str(self.certificates.cert_file)
                listen["tls_key_file"] = str(self.certificates.key_file)
            self.proxies[transport, path_prefix] = start_proxy(
                self.gate, listen=listen, session=self._session_settings()
            )
        return self.proxies[transport, path_prefix]

    def _session_settings(self) -> dict[str, Any]:
        return {
            "access_key_ids": [PROJECT_REF],
            "secrets": [self.anon_key],
            "jwt": {
                "hs256_secrets": [self.hs256_secret],
                "audience": ["authenticated"],
            },
        }

    def service_role_token(self) -> str:
        claims = {
            "sub": SUBJECT,
            "role": "service_role",
            "aud": "authenticated",
            "exp": int(time.time()) + 3 * 3600,
        }
        return jwt.encode(claims, self.hs256_secret, "HS256")

    def target(self, combo: Combo) -> tuple[Target, RunningProxy]:
        client = CLIENTS[combo.client]
        running = self.proxy(combo.transport, client.path_prefix)
        endpoint = running.endpoint + client.path_prefix
        ca_file = str(self.certificates.ca_file) if combo.transport == "tls" else None
        if combo.mode == "session":
            token = self.service_role_token()
            return Target(endpoint, PROJECT_REF, self.anon_key, token, ca_file), running
        key_id, secret = (
            running.credentials.access_key_id,
            running.credentials.secret_access_key,
        )
        return Target(endpoint, key_id, secret, ca_file=ca_file), running

    def store(self) -> Target:
        """The store itself (the gate in front of moto): the control runs."""
        gate = self.gate
        return Target(gate.endpoint, gate.access_key_id, gate.secret_access_key)

    def stop(self) -> None:
        for running in self.proxies.values():
            running.process.stop()


@pytest.fixture(scope="session")
def matrix_servers(
    gate: GateProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MatrixServers]:
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    servers = MatrixServers(gate, certificates)
    yield servers
    servers.stop()


# --- recording the outcomes ---------------------------------------------------

ACCESS_LINE = re.compile(
    r"s3_auth_proxy\.access \S+ \S+ (?P<method>\S+) (?P<operation>\S+) "
    r"(?P<status>\d+) (?P<error>\S+) .*?who=(?P<who>\S+)"
    r"(?: auth=\S+)?(?: payload=(?P<payload>\S+))?$"
)


def access_lines(text: str) -> list[re.Match[str]]:
    return [match for match in map(ACCESS_LINE.search, text.splitlines()) if match]


@dataclass
class Results:
    """Every case's outcome; merged into the JSON file when the session ends."""

    path: Path
    entries: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    def write(self) -> None:
        old: dict[str, Any] = {"results": [], "versions": {}}
        if self.path.exists():
            old = json.loads(self.path.read_text())
        fresh = {_entry_key(entry) for entry in self.entries}
        kept = [entry for entry in old["results"] if _entry_key(entry) not in fresh]
        document = {
            "measured": {
                "outcome": "the test's result",
                "requests": (
                    "the proxy's access log for the case: operation, status, "
                    "error code, payload mode (x-amz-content-sha256; sha256 = a "
                    "signed hash)"
                ),
            },
            "versions": old["versions"] | self.versions,
            "results": kept + self.entries,
        }
        self.path.write_text(json.dumps(document, indent=1, ensure_ascii=False))


def _entry_key(entry: dict[str, Any]) -> tuple[str, ...]:
    return (entry["client"], entry["mode"], entry["transport"], entry["operation"])


@pytest.fixture(scope="session")
def results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Results]:
    cache = getattr(request.config, "cache", None)
    directory = (
        cache.mkdir("s3-auth-proxy") if cache else tmp_path_factory.mktemp("compat")
    )
    collected = Results(Path(directory) / "compat.json")
    yield collected
    collected.write()


def summarise_requests(text: str) -> list[str]:
    """``["CreateMultipartUpload 200", "UploadPart 200 sha256 x4", ...]``."""
    summary: list[list[Any]] = []
    for match in access_lines(text):
        words = [match["operation"], match["status"]]
        if match["error"] != "-":
            words.append(match["error"])
        if match["method"] in ("PUT", "POST") and match["payload"]:
            words.append(match["payload"])
        name = " ".join(words)
        if summary and summary[-1][0] == name:
            summary[-1][1] += 1
        else:
            summary.append([name, 1])
    return [name if count == 1 else f"{name} x{count}" for name, count in summary]


Act = Callable[[Driver, str], None]
IDLE = re.compile(r"^s3proxy_requests_in_flight 0(\.0)?$", re.MULTILINE)


def settle(running: RunningProxy, timeout: float = 2.0) -> None:
    """Wait until no request is in flight, so every access line is written.

    The proxy writes a request's access line just after it counts the request
    out of ``s3proxy_requests_in_flight``, after the client has its answer.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if IDLE.search(running.process.metrics()):
            return
        time.sleep(0.01)


def nothing(bucket: str) -> None:
    """No objects needed before the operation."""


@dataclass
class Case:
    """One client, configured for one combination, and its bucket."""

    combo: Combo
    driver: Driver
    target: Target
    proxy: RunningProxy
    servers: MatrixServers
    results: Results
    direct: Any
    node: pytest.Item
    work: Path

    @property
    def bucket(self) -> str:
        return self.bucket_named(f"compat-{self.combo.id}")

    def bucket_named(self, name: str) -> str:
        if name not in _buckets:
            self.direct.create_bucket(Bucket=name)
            _buckets.add(name)
        return name

    def check(
        self, operation: str, act: Act, arrange: Callable[[str], None] = nothing
    ) -> None:
        """Arrange the bucket, act with the client and check; record the outcome."""
        log_offset = self.proxy.process.log_path.stat().st_size
        started = time.monotonic()
        try:
            arrange(self.bucket)
            act(self.driver, self.bucket)
            if operation != "presign-v2":
                self._check_callers(log_offset)
        except Unsupported as reason:
            self._record(operation, "n/a", str(reason), started, log_offset)
            pytest.skip(f"{self.combo.client}: {reason}")
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"[:600]
            elsewhere = _matching(KNOWN_FAILURES_ELSEWHERE, operation, *self._values())
            if elsewhere:
                control = Control(operation, act, arrange, elsewhere[0], detail)
                self._blame_elsewhere(control, started, log_offset)
            expected = self.node.get_closest_marker("xfail") is not None
            outcome = "xfail" if expected else "fail"
            self._record(operation, outcome, detail, started, log_offset)
            raise
        self._record(operation, "pass", "", started, log_offset)
        if _matching(KNOWN_FAILURES_ELSEWHERE, operation, *self._values()):
            pytest.fail("passes now: remove it from KNOWN_FAILURES_ELSEWHERE")

    def requests_seen(self) -> list[str]:
        """What the proxy logged for the case recorded last."""
        return list(self.results.entries[-1]["requests"])

    def _check_callers(self, offset: int) -> None:
        """Every request of the case came, authenticated, from the test's caller."""
        if self.combo.mode == "key":
            expected = f"key:{self.target.access_key_id}"
        else:
            expected = f"session:service_role:{SUBJECT}"
        callers = {line["who"] for line in access_lines(self._log_since(offset))}
        assert callers == {expected}, f"the proxy saw {callers}, not {expected}"

    def _log_since(self, offset: int) -> str:
        settle(self.proxy)
        with self.proxy.process.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _values(self) -> tuple[str, str, str]:
        return self.combo.client, self.combo.mode, self.combo.transport

    def _blame_elsewhere(self, control: Control, started: float, offset: int) -> None:
        """Do it again without the proxy, in a fresh bucket: must fail there too."""
        work = self.work / "control"
        work.mkdir(exist_ok=True)
        bucket = self.bucket_named(unique("control"))
        try:
            control.arrange(bucket)
            control.act(
                CLIENTS[self.combo.client].build(self.servers.store(), work), bucket
            )
        except Exception as without_proxy:
            self._record(
                control.operation, "not-proxy", control.reason, started, offset
            )
            pytest.skip(
                f"not the proxy: {control.reason}. Through the proxy: "
                f"{control.detail[:300]}. Without it: "
                f"{type(without_proxy).__name__}: {str(without_proxy)[:300]}"
            )
        self._record(control.operation, "fail", control.detail, started, offset)
        pytest.fail(f"fails only through the proxy: {control.detail}")

    def _record(
        self, operation: str, outcome: str, detail: str, started: float, offset: int
    ) -> None:
        text = self._log_since(offset)
        client = self.combo.client
        self.results.versions[client] = version_of(CLIENTS[client].kind)
        self.results.entries.append(
            {
                **asdict(self.combo),
                "operation": operation,
                "outcome": outcome,
                "detail": detail,
                "requests": summarise_requests(text),
                "seconds": round(time.monotonic() - started, 3),
                "recorded_at": datetime.datetime.now(datetime.UTC).isoformat(
                    timespec="seconds"
                ),
            }
        )


@dataclass(frozen=True)
class Control:
    """An operation that failed through the proxy, to be tried without it."""

    operation: str
    act: Act
    arrange: Callable[[str], None]
    reason: str
    detail: str


_buckets: set[str] = set()


@pytest.fixture
def case(
    combo: Combo,
    matrix_servers: MatrixServers,
    results: Results,
    direct: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Case:
    why_not = why_missing(CLIENTS[combo.client].kind)
    if why_not:
        pytest.skip(why_not)
    target, running = matrix_servers.target(combo)
    driver = CLIENTS[combo.client].build(target, tmp_path)
    return Case(
        combo,
        driver,
        target,
        running,
        matrix_servers,
        results,
        direct,
        request.node,
        tmp_path,
    )


# --- what the store holds -----------------------------------------------------


def stored(direct: Any, bucket: str, key: str) -> bytes:
    body: bytes = direct.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def stored_keys(direct: Any, bucket: str, prefix: str) -> list[str]:
    answer = direct.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def is_stored(direct: Any, bucket: str, key: str) -> bool:
    try:
        direct.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return False
        raise
    return True


def folder_of(key: str) -> str:
    return key.split("/")[0] + "/"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def unique_key(operation: str) -> str:
    return f"{unique(operation)}/{NAME}"


# --- the operations -------------------------------------------------------------


@pytest.mark.parametrize("combo", combos("put"))
def test_put(case: Case, direct: Any) -> None:
    key, data = unique_key("put"), b"small object " + os.urandom(64)

    def put(client: Driver, bucket: str) -> None:
        client.put(bucket, key, data)
        assert stored_keys(direct, bucket, folder_of(key)) == [key]
        assert stored(direct, bucket, key) == data

    case.check("put", put)


@pytest.mark.parametrize("combo", combos("put-multipart"))
def test_put_multipart(case: Case, direct: Any, tmp_path: Path) -> None:
    """A file over the client's multipart threshold (one size per client)."""
    key = unique_key("multipart")
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(CLIENTS[case.combo.client].multipart_mib * MIB))

    def put_multipart(client: Driver, bucket: str) -> None:
        client.put_file(bucket, key, source)
        assert stored_keys(direct, bucket, folder_of(key)) == [key]
        assert stored(direct, bucket, key) == source.read_bytes()
        etag = direct.head_object(Bucket=bucket, Key=key)["ETag"]
        assert "-" in etag, f"not a multipart upload: ETag {etag}"

    case.check("put-multipart", put_multipart)


@pytest.mark.parametrize("combo", combos("put-stream", ("aws-sdk-js",)))
def test_put_stream_body(case: Case, direct: Any) -> None:
    """PutObject with a Readable body: aws-chunked with a CRC32 trailer."""
    key, data = unique_key("stream"), os.urandom(300 * 1024)

    def put_stream(client: Driver, bucket: str) -> None:
        assert isinstance(client, JsDriver)
        client.put_stream(bucket, key, data)
        assert stored_keys(direct, bucket, folder_of(key)) == [key]
        assert stored(direct, bucket, key) == data

    case.check("put-stream", put_stream)
    # Otherwise this test no longer covers the aws-chunked path: say so.
    assert "PutObject 200 STREAMING-UNSIGNED-PAYLOAD-TRAILER" in case.requests_seen()


@pytest.mark.parametrize("combo", combos("get"))
def test_get(case: Case, direct: Any) -> None:
    key, data = unique_key("get"), os.urandom(5000)

    def arrange(bucket: str) -> None:
        direct.put_object(Bucket=bucket, Key=key, Body=data)

    def get(client: Driver, bucket: str) -> None:
        assert client.get(bucket, key) == data

    case.check("get", get, arrange)


@pytest.mark.parametrize("combo", combos("get-range"))
def test_get_range(case: Case, direct: Any) -> None:
    key, data = unique_key("range"), os.urandom(1000)

    def arrange(bucket: str) -> None:
        direct.put_object(Bucket=bucket, Key=key, Body=data)

    def get_range(client: Driver, bucket: str) -> None:
        assert client.get_range(bucket, key, 100, 299) == data[100:300]

    case.check("get-range", get_range, arrange)


@pytest.mark.parametrize("combo", combos("list"))
def test_list(case: Case, direct: Any) -> None:
    prefix = unique("list") + "/"
    keys = sorted([prefix + NAME, prefix + "a.txt", prefix + "deeper/b.txt"])

    def arrange(bucket: str) -> None:
        for key in [*keys, prefix.rstrip("/") + "-outside"]:
            direct.put_object(Bucket=bucket, Key=key, Body=b"x")

    def list_objects(client: Driver, bucket: str) -> None:
        assert sorted(client.list_keys(bucket, prefix)) == keys

    case.check("list", list_objects, arrange)


@pytest.mark.parametrize("combo", combos("copy"))
def test_copy(case: Case, direct: Any) -> None:
    folder = unique("copy")
    source, key = f"{folder}/source {NAME}", f"{folder}/{NAME}"
    data = os.urandom(2000)

    def arrange(bucket: str) -> None:
        direct.put_object(Bucket=bucket, Key=source, Body=data)

    def copy(client: Driver, bucket: str) -> None:
        client.copy(bucket, source, key)
        assert stored_keys(direct, bucket, folder + "/") == sorted([source, key])
        assert stored(direct, bucket, key) == data

    case.check("copy", copy, arrange)


@pytest.mark.parametrize("combo", combos("delete"))
def test_delete(case: Case, direct: Any) -> None:
    key = unique_key("delete")

    def arrange(bucket: str) -> None:
        direct.put_object(Bucket=bucket, Key=key, Body=b"doomed")

    def delete(client: Driver, bucket: str) -> None:
        client.delete(bucket, key)
        assert not is_stored(direct, bucket, key)

    case.check("delete", delete, arrange)


@pytest.mark.parametrize("combo", combos("delete-many"))
def test_delete_many(case: Case, direct: Any) -> None:
    prefix = unique("many") + "/"
    keys = [prefix + NAME, prefix + "two.txt", prefix + "three/four.txt"]

    def arrange(bucket: str) -> None:
        for key in keys:
            direct.put_object(Bucket=bucket, Key=key, Body=b"doomed")

    def delete_many(client: Driver, bucket: str) -> None:
        client.delete_many(bucket, prefix, keys)
        assert stored_keys(direct, bucket, prefix) == []

    case.check("delete-many", delete_many, arrange)


@pytest.mark.parametrize("combo", combos("presign-get"))
def test_presign_get(case: Case, direct: Any) -> None:
    key, data = unique_key("presign-get"), os.urandom(700)

    def arrange(bucket: str) -> None:
        direct.put_object(Bucket=bucket, Key=key, Body=data)

    def presign_get(client: Driver, bucket: str) -> None:
        url = client.presign_get(bucket, key)
        answer = fetch(url, client.target.ca_file)
        assert (answer.status, answer.body) == (200, data), answer.body[:500]

    case.check("presign-get", presign_get, arrange)


@pytest.mark.parametrize("combo", combos("presign-put"))
def test_presign_put(case: Case, direct: Any) -> None:
    key, data = unique_key("presign-put"), os.urandom(700)

    def presign_put(client: Driver, bucket: str) -> None:
        url = client.presign_put(bucket, key)
        answer = fetch(url, client.target.ca_file, "PUT", data)
        assert answer.status == 200, answer.body[:500]
        assert stored_keys(direct, bucket, folder_of(key)) == [key]
        assert stored(direct, bucket, key) == data

    case.check("presign-put", presign_put)


@pytest.mark.parametrize("combo", combos("sync"))
def test_sync(case: Case, direct: Any, tmp_path: Path) -> None:
    local = tmp_path / "tree"
    files = {NAME: os.urandom(300), "top.txt": b"top", "sub/inner.bin": os.urandom(900)}
    for name, data in files.items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    prefix = unique("sync") + "/"

    def sync(client: Driver, bucket: str) -> None:
        client.sync(bucket, prefix, local)
        expected = sorted(prefix + name for name in files)
        assert stored_keys(direct, bucket, prefix) == expected
        for name, data in files.items():
            assert stored(direct, bucket, prefix + name) == data

    case.check("sync", sync)


@pytest.mark.parametrize("combo", combos("presign-v2", ("s3cmd",)))
def test_s3cmd_signurl_is_refused_with_advice(case: Case, direct: Any) -> None:
    """s3cmd signurl makes V2 URLs; the proxy says to use Signature Version 4."""
    key = unique_key("signurl")

    def arrange(bucket: str) -> None:
        direct.put_object(Bucket=bucket, Key=key, Body=b"secret")

    def signurl(client: Driver, bucket: str) -> None:
        assert isinstance(client, S3cmdDriver)
        url = client.signurl(bucket, key)
        assert "Signature=" in url and "AWSAccessKeyId=" in url, url
        answer = fetch(url, client.target.ca_file)
        assert answer.status == 403, answer.body[:500]
        assert b"<Code>AccessDenied</Code>" in answer.body
        assert b"Signature Version 4" in answer.body
        assert b"secret" not in answer.body

    case.check("presign-v2", signurl, arrange)
