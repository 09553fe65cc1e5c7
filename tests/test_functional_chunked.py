"""aws-chunked uploads end to end, each mode, each tampering, both framings."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.chunked_client import (
    CRC,
    SIGNED,
    SIGNED_TRAILER,
    UNSIGNED_TRAILER,
    crc32,
    prepare,
)
from tests.conftest import RunningProxy, start_proxy
from tests.rawclient import Answer, send
from tests.servers import GateProcess

CHUNKS = [b"a" * 70_000, b"b" * 65_536, b"tail"]
PAYLOAD = b"".join(CHUNKS)


def upload(
    proxy: RunningProxy, path: str, mode: str, tamper: str | None = None, **kw: Any
) -> Answer:
    trailers = [] if mode == SIGNED else [CRC]
    prepared = prepare(proxy, path, mode, len(PAYLOAD), trailers=trailers, **kw)
    values = [(CRC, crc32(PAYLOAD))] if trailers else []
    if tamper == "trailer-value":
        values = [(CRC, crc32(b"other"))]
    wire = prepared.body(mode, CHUNKS, values, tamper=tamper)
    if tamper == "truncated":
        wire = wire[: len(wire) // 2]
        headers = {**prepared.headers, "Content-Length": str(len(wire) * 2)}
        return send_truncated(prepared.url, headers, wire)
    return send("PUT", prepared.url, prepared.headers, wire)


def send_truncated(url: str, headers: dict[str, str], wire: bytes) -> Answer:
    """Send fewer bytes than declared, then stop sending (half-close)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    connection.putrequest("PUT", parts.path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(wire)
    assert connection.sock is not None
    connection.sock.shutdown(1)
    try:
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return Answer(0, http.client.HTTPMessage(), b"")


@pytest.fixture(scope="module", params=["forward", "decode"])
def chunked_proxy(
    request: pytest.FixtureRequest, gate: GateProcess
) -> Iterator[RunningProxy]:
    running = start_proxy(gate, upstream={"checksum_trailers": request.param})
    running.mode = request.param  # type: ignore[attr-defined]
    yield running
    running.process.stop()


@pytest.mark.parametrize("mode", [SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER])
def test_each_mode_stores_the_decoded_payload(
    chunked_proxy: RunningProxy, direct: Any, bucket: str, mode: str
) -> None:
    answer = upload(chunked_proxy, f"/{bucket}/chunked", mode)
    assert answer.status == 200, answer.body
    stored = direct.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert stored["Body"].read() == PAYLOAD
    assert "aws-chunked" not in stored.get("ContentEncoding", "")
    forwarded = getattr(chunked_proxy, "mode", "") == "forward"
    if mode != SIGNED and forwarded:
        assert stored["ChecksumCRC32"] == crc32(PAYLOAD)


@pytest.mark.parametrize(
    ("mode", "tamper", "code"),
    [
        (SIGNED, "data", "SignatureDoesNotMatch"),
        (SIGNED, "chunk-signature", "SignatureDoesNotMatch"),
        (SIGNED, "final-signature", "SignatureDoesNotMatch"),
        (SIGNED_TRAILER, "trailer-signature", "SignatureDoesNotMatch"),
        (SIGNED_TRAILER, "trailer-value", "BadDigest"),
        (UNSIGNED_TRAILER, "data", "BadDigest"),
        (UNSIGNED_TRAILER, "trailer-value", "BadDigest"),
        (SIGNED, "truncated", None),
    ],
)
def test_tampering_leaves_no_object(
    chunked_proxy: RunningProxy,
    direct: Any,
    bucket: str,
    mode: str,
    tamper: str,
    code: str | None,
) -> None:
    answer = upload(chunked_proxy, f"/{bucket}/tampered", mode, tamper)
    if code is not None:
        assert (answer.status, answer.code) == (
            400 if code != "SignatureDoesNotMatch" else 403,
            code,
        )
    else:
        assert answer.status in (0, 400)
    with pytest.raises(ClientError):
        direct.head_object(Bucket=bucket, Key="tampered")


def test_other_content_codings_are_kept(
    proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    answer = upload(
        proxy, f"/{bucket}/gz", SIGNED, extra={"Content-Encoding": "aws-chunked,gzip"}
    )
    assert answer.status == 200, answer.body
    head = direct.head_object(Bucket=bucket, Key="gz")
    assert head["ContentEncoding"] == "gzip"


def test_missing_decoded_length_is_refused(proxy: RunningProxy, bucket: str) -> None:
    prepared = prepare(proxy, f"/{bucket}/nolength", SIGNED, len(PAYLOAD))
    del prepared.headers["x-amz-decoded-content-length"]
    wire = prepared.body(SIGNED, CHUNKS)
    answer = send("PUT", prepared.url, prepared.headers, wire)
    assert answer.status in (400, 403, 411)


def test_transfer_encoding_chunked_around_aws_chunked(
    proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    prepared = prepare(
        proxy, f"/{bucket}/te", UNSIGNED_TRAILER, len(PAYLOAD), trailers=[CRC]
    )
    wire = prepared.body(UNSIGNED_TRAILER, CHUNKS, [(CRC, crc32(PAYLOAD))])
    parts = urlsplit(prepared.url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    headers = {**prepared.headers, "Transfer-Encoding": "chunked"}
    pieces = [wire[i : i + 10_000] for i in range(0, len(wire), 10_000)]
    connection.request(
        "PUT", parts.path, body=iter(pieces), headers=headers, encode_chunked=True
    )
    response = connection.getresponse()
    assert response.status == 200, response.read()
    assert direct.get_object(Bucket=bucket, Key="te")["Body"].read() == PAYLOAD


def test_plain_transfer_encoding_chunked_needs_a_length(
    proxy: RunningProxy, bucket: str
) -> None:
    creds = proxy.credentials
    url = f"{proxy.endpoint}/{bucket}/te-plain"
    from tests.rawclient import sign

    headers = sign(
        "PUT",
        url,
        creds.access_key_id,
        creds.secret_access_key,
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    headers.pop("Content-Length", None)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    connection.request(
        "PUT",
        parts.path,
        body=iter([b"abc"]),
        headers={**headers, "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 411
