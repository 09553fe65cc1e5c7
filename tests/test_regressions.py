"""Regressions: each test is named after the attack it keeps out.

They come from attacking a running proxy with the shipped home-folders
policy, through the ``users`` fixture of conftest.py.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.chunked_client import CRC, SIGNED, UNSIGNED_TRAILER, crc32, prepare
from tests.conftest import (
    BUCKET,
    PROJECT_REF,
    Credentials,
    RunningProxy,
    Users,
    start_proxy,
)
from tests.rawclient import send, sign
from tests.servers import GateProcess


def session_send(
    users: Users, method: str, path: str, body: bytes = b"", **headers: str
) -> Any:
    url = users.running.endpoint + path
    signed = sign(
        method,
        url,
        PROJECT_REF,
        users.anon_key,
        body=body,
        token=users.token("A"),
        headers=headers,
    )
    return send(method, url, signed, body)


@pytest.mark.parametrize(
    "path",
    [
        "/public%2F%3Fversions%26a%3D/x",
        "/user-files%2FA%2Fmine.txt%3Facl%26a%3D/x",
        "/public%00/x",
        "/caf%C3%A9/x",
    ],
)
def test_encoded_bucket_cannot_smuggle_a_subresource(users: Users, path: str) -> None:
    answer = session_send(users, "GET", path)
    assert (answer.status, answer.code) == (400, "InvalidBucketName")


def test_virtual_host_bucket_cannot_smuggle_a_subresource(gate: GateProcess) -> None:
    running = start_proxy(gate, listen={"virtual_host_base": "s3.local"})
    try:
        creds = running.credentials
        url = running.endpoint + "/x"
        headers = sign("GET", url, creds.access_key_id, creds.secret_access_key)
        headers["Host"] = "public/?acl&a=.s3.local"
        answer = send("GET", url, headers)
        assert answer.status in (400, 403)
        assert answer.code in ("InvalidBucketName", "SignatureDoesNotMatch")
    finally:
        running.process.stop()


def delete_body(users: Users, document: bytes) -> Any:
    md5 = base64.b64encode(hashlib.md5(document).digest()).decode()
    return session_send(
        users, "POST", f"/{BUCKET}?delete", document, **{"Content-MD5": md5}
    )


@pytest.mark.parametrize(
    "document",
    [
        b'<Delete><Object><x:Key xmlns:x="urn:x">A/mine</x:Key>'
        b"<Key>B/secret.txt</Key></Object></Delete>",
        b"<Delete><Object><Key>A/mine</Key><Key>B/secret.txt</Key></Object></Delete>",
        b"<Delete><Object><Key>A/mine<b>B/secret.txt</b></Key></Object></Delete>",
        b'<Delete><Object><Key>A/mine</Key><x:VersionId xmlns:x="urn:x"/>'
        b"<VersionId>v</VersionId></Object></Delete>",
        b"<Delete><Object><Key>A/mine</Key><Extra>1</Extra></Object></Delete>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY e "B">]>'
        "<Delete><Object><Key>&e;</Key></Object></Delete>".encode("utf-16"),
    ],
    ids=[
        "foreign-namespace",
        "two-keys",
        "nested",
        "foreign-version",
        "unknown",
        "utf16-doctype",
    ],
)
def test_delete_body_that_a_store_could_read_differently_is_refused(
    users: Users, direct: Any, document: bytes
) -> None:
    answer = delete_body(users, document)
    assert (answer.status, answer.code) == (400, "MalformedXML")
    direct.head_object(Bucket=BUCKET, Key="B/secret.txt")


def test_lowercase_presign_token_never_reaches_the_store(
    users: Users, gate: GateProcess
) -> None:
    users.client("A").put_object(Bucket=BUCKET, Key="A/q", Body=b"q")
    token = users.token("A")
    answer = session_send(users, "GET", f"/{BUCKET}/A/q?x-amz-security-token={token}")
    assert answer.status in (200, 403)
    assert all(token not in request["raw_path"] for request in gate.recorded())


def test_underscore_headers_never_reach_the_store(
    users: Users, gate: GateProcess
) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key="A/source", Body=b"s")
    url = f"{users.running.endpoint}/{BUCKET}/A/target"
    headers = sign(
        "PUT", url, PROJECT_REF, users.anon_key, body=b"t", token=users.token("A")
    )
    headers["x_amz_copy_source"] = f"/{BUCKET}/B/secret.txt"
    send("PUT", url, headers, b"t")
    last = gate.recorded()[-1]["headers"]
    assert not any("_" in name for name, _ in last)


@pytest.fixture
def impatient_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(gate, listen={"client_idle_timeout_seconds": 1})
    yield running
    running.process.stop()


def test_slow_uploader_is_cut_off(
    impatient_proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    creds = impatient_proxy.credentials
    url = f"{impatient_proxy.endpoint}/{bucket}/slow"
    body = b"s" * 100_000
    headers = sign("PUT", url, creds.access_key_id, creds.secret_access_key, body=body)
    headers["Content-Length"] = str(len(body))
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as conn:
        head = f"PUT {parts.path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        conn.sendall(head.encode() + b"\r\n" + body[:10])
        started = time.monotonic()
        answer = conn.recv(65536)
    assert b"RequestTimeout" in answer
    assert time.monotonic() - started < 10
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="slow")


def test_malformed_http_is_logged_in_one_line(impatient_proxy: RunningProxy) -> None:
    parts = urlsplit(impatient_proxy.endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as conn:
        conn.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"e" * 70_000 + b"\r\n\r\n"
        )
        conn.recv(65536)
    time.sleep(0.3)
    log = impatient_proxy.process.log()
    assert "Traceback" not in log
    assert "eeeeeeee" not in log


@pytest.fixture
def narrow_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(
        gate,
        listen={"max_requests_per_caller": 2, "client_idle_timeout_seconds": 5},
    )
    yield running
    running.process.stop()


def test_one_caller_cannot_take_every_connection(
    narrow_proxy: RunningProxy, bucket: str
) -> None:
    creds = narrow_proxy.credentials
    parts = urlsplit(narrow_proxy.endpoint)
    stalled = []
    for index in range(2):
        url = f"{narrow_proxy.endpoint}/{bucket}/stalled-{index}"
        headers = sign(
            "PUT", url, creds.access_key_id, creds.secret_access_key, body=b"x" * 1000
        )
        head = f"PUT {urlsplit(url).path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        conn = socket.create_connection((parts.hostname, parts.port), timeout=10)
        conn.sendall(head.encode() + b"Content-Length: 1000\r\n\r\n" + b"x")
        stalled.append(conn)
    time.sleep(0.5)
    url = f"{narrow_proxy.endpoint}/{bucket}/third"
    third = send(
        "GET", url, sign("GET", url, creds.access_key_id, creds.secret_access_key)
    )
    assert (third.status, third.code) == (503, "SlowDown")
    for conn in stalled:
        conn.close()


def test_empty_body_is_checked_against_its_signed_hash(
    proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    creds = proxy.credentials
    url = f"{proxy.endpoint}/{bucket}/empty"
    headers = sign(
        "PUT",
        url,
        creds.access_key_id,
        creds.secret_access_key,
        body=b"not what is sent",
    )
    answer = send("PUT", url, headers, b"")
    assert (answer.status, answer.code) == (400, "XAmzContentSHA256Mismatch")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="empty")


@pytest.fixture
def decoding_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(gate, upstream={"checksum_trailers": "decode"})
    yield running
    running.process.stop()


def test_empty_chunked_body_is_checked_before_anything_is_stored(
    decoding_proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    prepared = prepare(decoding_proxy, f"/{bucket}/empty-chunked", SIGNED, 0)
    wire = prepared.body(SIGNED, [], tamper="final-signature")
    answer = send("PUT", prepared.url, prepared.headers, wire)
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="empty-chunked")


def test_chunked_delete_body_is_rebuilt_without_its_framing(
    users: Users, direct: Any
) -> None:
    users.client("A").put_object(Bucket=BUCKET, Key="A/chunked-delete", Body=b"d")
    document = b"<Delete><Object><Key>A/chunked-delete</Key></Object></Delete>"
    session = Credentials(users.running.endpoint, PROJECT_REF, users.anon_key)
    prepared = prepare(
        users.running,
        f"/{BUCKET}?delete",
        UNSIGNED_TRAILER,
        len(document),
        trailers=[CRC],
        credentials=session,
        method="POST",
        extra={"x-amz-security-token": users.token("A")},
    )
    wire = prepared.body(UNSIGNED_TRAILER, [document], [(CRC, crc32(document))])
    answer = send("POST", prepared.url, prepared.headers, wire)
    assert answer.status == 200, answer.body
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key="A/chunked-delete")


def test_batch_delete_needs_bypass_governance_like_a_single_delete(
    users: Users, direct: Any
) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key="A/locked", Body=b"l")
    answer = a.delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "A/locked"}]},
        BypassGovernanceRetention=True,
    )
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [
        ("A/locked", "AccessDenied")
    ]
    direct.head_object(Bucket=BUCKET, Key="A/locked")


def test_large_delete_result_is_merged_whole(users: Users, direct: Any) -> None:
    a = users.client("A")
    keys = [f"A/{'long-name-' * 20}{index:04}" for index in range(300)]
    for key in keys:
        direct.put_object(Bucket=BUCKET, Key=key, Body=b"")
    objects = [{"Key": key} for key in keys] + [{"Key": "B/secret.txt"}]
    answer = a.delete_objects(Bucket=BUCKET, Delete={"Objects": objects})
    assert len(answer["Deleted"]) == len(keys)
    assert [e["Key"] for e in answer["Errors"]] == ["B/secret.txt"]


def test_slow_downloader_is_let_go(
    impatient_proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    size = 32 * 1024 * 1024
    direct.put_object(Bucket=bucket, Key="big", Body=b"d" * size)
    creds = impatient_proxy.credentials
    url = f"{impatient_proxy.endpoint}/{bucket}/big"
    headers = sign("GET", url, creds.access_key_id, creds.secret_access_key)
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as conn:
        head = f"GET {parts.path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        conn.sendall(head.encode() + b"\r\n")
        time.sleep(4)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(1 << 20):
                received += len(chunk)
    assert received < size


def test_decoded_length_that_is_not_ascii_digits(
    proxy: RunningProxy, bucket: str
) -> None:
    prepared = prepare(proxy, f"/{bucket}/odd-length", SIGNED, 3)
    prepared.headers["x-amz-decoded-content-length"] = "\u00b2"
    answer = send("PUT", prepared.url, prepared.headers, b"0\r\n\r\n")
    assert answer.status in (400, 403)
    assert "Traceback" not in proxy.process.log()


def test_integrity_header_given_twice_is_refused(
    proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    creds = proxy.credentials
    url = f"{proxy.endpoint}/{bucket}/twice"
    body = b"twice"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    headers = sign("PUT", url, creds.access_key_id, creds.secret_access_key, body=body)
    pairs = [*headers.items(), ("Content-MD5", good), ("Content-MD5", "AAAA")]
    answer = send("PUT", url, pairs, body)
    assert (answer.status, answer.code) == (400, "InvalidArgument")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="twice")


def test_keys_with_line_breaks_reach_the_store(
    proxy: RunningProxy, gate: GateProcess, bucket: str
) -> None:
    """The proxy routes them like any key (moto itself answers 404 for them)."""
    creds = proxy.credentials
    url = f"{proxy.endpoint}/{bucket}/line%0Abreak"
    answer = send(
        "PUT",
        url,
        sign("PUT", url, creds.access_key_id, creds.secret_access_key, body=b"nl"),
        b"nl",
    )
    assert answer.headers.get("x-amz-request-id") is None or answer.status != 404
    assert any(
        request["raw_path"] == f"/{bucket}/line%0Abreak" for request in gate.recorded()
    )
