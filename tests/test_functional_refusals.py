"""What the proxy refuses, and that a refusal never reaches or changes the store."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from proxy.demo import free_port, new_access_key_id
from tests.conftest import RunningProxy, start_proxy
from tests.rawclient import send, sign
from tests.servers import GateProcess, SilentServer

REQUEST_ID = re.compile(r"^[0-9A-F]{16}$")


def url(proxy: RunningProxy, path: str) -> str:
    return proxy.endpoint + path


def signed(
    proxy: RunningProxy, method: str, path: str, **options: Any
) -> dict[str, str]:
    creds = proxy.credentials
    return sign(
        method,
        url(proxy, path),
        creds.access_key_id,
        creds.secret_access_key,
        **options,
    )


def test_wrong_secret(proxy: RunningProxy) -> None:
    creds = proxy.credentials
    headers = sign("GET", url(proxy, "/"), creds.access_key_id, "x" * 40)
    answer = send("GET", url(proxy, "/"), headers)
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")
    assert REQUEST_ID.match(answer.headers["x-amz-request-id"])


def test_unknown_key_id(proxy: RunningProxy) -> None:
    headers = sign("GET", url(proxy, "/"), new_access_key_id(), "x" * 40)
    answer = send("GET", url(proxy, "/"), headers)
    assert (answer.status, answer.code) == (403, "InvalidAccessKeyId")


def test_no_signature_at_all(proxy: RunningProxy) -> None:
    answer = send("GET", url(proxy, "/"), {"Host": "example"})
    assert (answer.status, answer.code) == (403, "AccessDenied")


@pytest.mark.parametrize("minutes", [-16, 16])
def test_skewed_clock(proxy: RunningProxy, minutes: int) -> None:
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=minutes)
    answer = send("GET", url(proxy, "/"), signed(proxy, "GET", "/", now=when))
    assert (answer.status, answer.code) == (403, "RequestTimeTooSkewed")


def test_skew_inside_the_window_is_accepted(proxy: RunningProxy) -> None:
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=14)
    answer = send("GET", url(proxy, "/"), signed(proxy, "GET", "/", now=when))
    assert answer.status == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 Credential=onlyone, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abc",
        "AWS4-HMAC-SHA256",
        "Bearer something",
    ],
)
def test_malformed_authorization(proxy: RunningProxy, authorization: str) -> None:
    headers = signed(proxy, "GET", "/")
    headers["Authorization"] = authorization
    answer = send("GET", url(proxy, "/"), headers)
    assert answer.status in (400, 403)
    assert answer.code in ("AuthorizationHeaderMalformed", "AccessDenied")
    assert "Traceback" not in answer.body.decode()


def test_unsigned_amz_header(proxy: RunningProxy, s3: Any, bucket: str) -> None:
    path = f"/{bucket}/unsigned-header"
    headers = signed(proxy, "PUT", path, body=b"data")
    headers["x-amz-meta-sneaky"] = "added after signing"
    answer = send("PUT", url(proxy, path), headers, b"data")
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert "not signed" in answer.message


def test_tampered_body_leaves_nothing(
    proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    path = f"/{bucket}/tampered"
    signed_body = b"A" * 300_000
    headers = signed(proxy, "PUT", path, body=signed_body)
    assert headers["X-Amz-Content-SHA256"] == hashlib.sha256(signed_body).hexdigest()
    answer = send("PUT", url(proxy, path), headers, b"B" * 300_000)
    assert (answer.status, answer.code) == (400, "XAmzContentSHA256Mismatch")
    time.sleep(0.3)
    with pytest.raises(ClientError) as missing:
        direct.head_object(Bucket=bucket, Key="tampered")
    assert missing.value.response["Error"]["Code"] == "404"


def test_tampered_last_byte_leaves_nothing(
    proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    path = f"/{bucket}/last-byte"
    headers = signed(proxy, "PUT", path, body=b"0123456789")
    answer = send("PUT", url(proxy, path), headers, b"012345678X")
    assert answer.code == "XAmzContentSHA256Mismatch"
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="last-byte")


def test_head_error_has_no_body(proxy: RunningProxy) -> None:
    creds = proxy.credentials
    headers = sign("HEAD", url(proxy, "/any/key"), creds.access_key_id, "y" * 40)
    answer = send("HEAD", url(proxy, "/any/key"), headers)
    assert answer.status == 403
    assert answer.body == b""
    assert answer.headers["x-amz-request-id"]


def test_error_document_shape(proxy: RunningProxy) -> None:
    headers = signed(proxy, "GET", "/")
    headers["Authorization"] += "0"
    answer = send("GET", url(proxy, "/bucket/key?list-type=2"), headers)
    assert answer.headers["Content-Type"] == "application/xml"
    text = answer.body.decode()
    for element in ("<Code>", "<Message>", "<Resource>/bucket/key</Resource>"):
        assert element in text
    assert f"<RequestId>{answer.headers['x-amz-request-id']}</RequestId>" in text


def test_secrets_never_logged(proxy: RunningProxy, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="logged", Body=b"x")
    headers = signed(proxy, "GET", f"/{bucket}/logged")
    signature = headers["Authorization"].rsplit("Signature=", 1)[1]
    send("GET", url(proxy, f"/{bucket}/logged"), headers)
    headers["Authorization"] = headers["Authorization"].replace(signature, "0" * 64)
    send("GET", url(proxy, f"/{bucket}/logged"), headers)
    log = proxy.process.log()
    assert signature not in log
    assert proxy.credentials.secret_access_key not in log
    assert "Signature=" not in log
    assert "Credential=" not in log
    assert "chunk-signature" not in log
    assert "PutObject" in log


def test_metrics_count_refusals(proxy: RunningProxy) -> None:
    send("GET", url(proxy, "/"), {"Host": "example"})
    metrics = proxy.process.metrics()
    assert 's3proxy_auth_total{mode="none",outcome="failure"}' in metrics
    assert proxy.credentials.access_key_id not in metrics


@pytest.fixture
def unreachable_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(
        gate, upstream={"endpoint": f"http://127.0.0.1:{free_port()}"}
    )
    yield running
    running.process.stop()


def test_upstream_down(unreachable_proxy: RunningProxy) -> None:
    answer = send(
        "GET", url(unreachable_proxy, "/"), signed(unreachable_proxy, "GET", "/")
    )
    assert answer.status in (502, 503)
    assert answer.code in ("BadGateway", "ServiceUnavailable")
    metrics = unreachable_proxy.process.metrics()
    assert f's3proxy_upstream_errors_total{{kind="{answer.code}"}} 1.0' in metrics


@pytest.fixture
def hanging_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    silent = SilentServer()
    running = start_proxy(
        gate,
        upstream={"endpoint": silent.endpoint, "read_timeout_seconds": 1.5},
    )
    yield running
    running.process.stop()
    silent.close()


def test_upstream_hanging(hanging_proxy: RunningProxy) -> None:
    started = time.monotonic()
    answer = send(
        "GET", url(hanging_proxy, "/"), signed(hanging_proxy, "GET", "/"), timeout=20
    )
    assert (answer.status, answer.code) == (504, "GatewayTimeout")
    assert time.monotonic() - started < 10


def test_upstream_hanging_during_upload(hanging_proxy: RunningProxy) -> None:
    body = b"z" * 2_000_000
    headers = signed(hanging_proxy, "PUT", "/bucket/key", body=body)
    answer = send("PUT", url(hanging_proxy, "/bucket/key"), headers, body, timeout=30)
    assert answer.status in (502, 504)


@pytest.fixture
def misconfigured_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(gate, upstream={"secret_access_key": "w" * 40})
    yield running
    running.process.stop()


def test_the_test_upstream_checks_our_signatures(
    misconfigured_proxy: RunningProxy,
) -> None:
    """A wrong re-signature must fail: the gate in front of moto checks it."""
    proxy = misconfigured_proxy
    answer = send("GET", url(proxy, "/"), signed(proxy, "GET", "/"))
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")
