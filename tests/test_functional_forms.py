"""Request forms: presigned URLs, Expect: 100-continue, addressing, SigV2."""

from __future__ import annotations

import datetime as dt
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config as BotoConfig

from tests.conftest import Credentials, RunningProxy, start_proxy
from tests.rawclient import Answer, presign, send, sign
from tests.servers import GateProcess


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> Answer:
    # moto reads a form-encoded body as a form (urllib's default type).
    headers = {"Content-Type": "application/octet-stream"} if data else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Answer(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, refused.headers, refused.read())


def test_presigned_get_put_head_delete(s3: Any, direct: Any, bucket: str) -> None:
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre signed+ü"}
    )
    assert fetch(put_url, "PUT", b"via presigned put").status == 200
    assert direct.get_object(Bucket=bucket, Key="pre signed+ü")["Body"].read() == (
        b"via presigned put"
    )
    params = {"Bucket": bucket, "Key": "pre signed+ü"}
    get_url = s3.generate_presigned_url("get_object", Params=params)
    assert fetch(get_url).body == b"via presigned put"
    head_url = s3.generate_presigned_url("head_object", Params=params)
    assert fetch(head_url, "HEAD").status == 200
    delete_url = s3.generate_presigned_url("delete_object", Params=params)
    assert fetch(delete_url, "DELETE").status == 204
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket)


def test_presigned_upload_part(s3: Any, direct: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")
    url = s3.generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": bucket,
            "Key": "parts",
            "UploadId": upload["UploadId"],
            "PartNumber": 1,
        },
    )
    answer = fetch(url, "PUT", b"part one")
    assert answer.status == 200
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="parts",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": answer.headers["ETag"]}]},
    )
    assert direct.get_object(Bucket=bucket, Key="parts")["Body"].read() == b"part one"


def presign_at(creds: Credentials, when: dt.datetime, expires: int, key: str) -> str:
    url = f"{creds.endpoint}/any-bucket/{key}"
    return presign(
        "GET",
        url,
        creds.access_key_id,
        creds.secret_access_key,
        expires=expires,
        now=when,
    )


def test_presigned_expired(proxy: RunningProxy) -> None:
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2)
    answer = fetch(presign_at(proxy.credentials, past, 3600, "old"))
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert "expired" in answer.message


def test_presigned_not_yet_valid(proxy: RunningProxy) -> None:
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=2)
    answer = fetch(presign_at(proxy.credentials, future, 3600, "later"))
    assert (answer.status, answer.code) == (403, "AccessDenied")


def test_presigned_old_but_within_expiry_is_accepted(
    proxy: RunningProxy, s3: Any, bucket: str
) -> None:
    """The clock-skew rule of header auth does not apply to presigned URLs."""
    s3.put_object(Bucket=bucket, Key="old", Body=b"still valid")
    creds = proxy.credentials
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2)
    url = presign(
        "GET",
        f"{creds.endpoint}/{bucket}/old",
        creds.access_key_id,
        creds.secret_access_key,
        expires=3 * 3600,
        now=past,
    )
    assert fetch(url).body == b"still valid"


@pytest.mark.parametrize("expires", ["0", "604801", "soon"])
def test_presigned_expiry_bounds(proxy: RunningProxy, expires: str) -> None:
    url = proxy.credentials.client().generate_presigned_url(
        "get_object", Params={"Bucket": "b-b-b", "Key": "k"}, ExpiresIn=60
    )
    answer = fetch(url.replace("X-Amz-Expires=60", f"X-Amz-Expires={expires}"))
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError")


def test_presigned_tampered_query(proxy: RunningProxy) -> None:
    url = proxy.credentials.client().generate_presigned_url(
        "get_object", Params={"Bucket": "b-b-b", "Key": "k"}
    )
    answer = fetch(url.replace("/b-b-b/k", "/b-b-b/other"))
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")


def test_signature_version_2_is_refused_with_advice(proxy: RunningProxy) -> None:
    creds = proxy.credentials
    client = boto3.client(
        "s3",
        endpoint_url=creds.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        config=BotoConfig(signature_version="s3"),
    )
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "b-b-b", "Key": "k"}
    )
    assert "Signature=" in url and "AWSAccessKeyId" in url
    answer = fetch(url)
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert "Signature Version 4" in answer.message
    header_v2 = send(
        "GET",
        creds.endpoint + "/b-b-b/k",
        {"Host": "x", "Date": "now", "Authorization": "AWS AKID:c2lnbmF0dXJl"},
    )
    assert "Signature Version 4" in header_v2.message


def exchange_with_expect(
    proxy: RunningProxy, path: str, body: bytes, secret: str | None = None
) -> tuple[bytes, bytes]:
    """Send headers with Expect: 100-continue; the body only after 100."""
    creds = proxy.credentials
    url = proxy.endpoint + path
    headers = sign(
        "PUT",
        url,
        creds.access_key_id,
        secret or creds.secret_access_key,
        body=body,
        headers={"Expect": "100-continue"},
    )
    headers["Content-Length"] = str(len(body))
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        head = f"PUT {path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        conn.sendall(head.encode() + b"\r\n")
        first = conn.recv(65536)
        if not first.startswith(b"HTTP/1.1 100"):
            return first, b""
        conn.sendall(body)
        time.sleep(0.2)
        return first, conn.recv(65536)


def test_expect_continue_after_acceptance(
    proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    first, final = exchange_with_expect(proxy, f"/{bucket}/expected", b"e" * 1000)
    assert first.startswith(b"HTTP/1.1 100 Continue")
    assert final.startswith(b"HTTP/1.1 200")
    assert direct.get_object(Bucket=bucket, Key="expected")["Body"].read() == (
        b"e" * 1000
    )


def test_expect_continue_refused_before_the_body(
    proxy: RunningProxy, bucket: str
) -> None:
    first, _ = exchange_with_expect(proxy, f"/{bucket}/x", b"e" * 1000, "w" * 40)
    assert first.startswith(b"HTTP/1.1 403")
    assert b"SignatureDoesNotMatch" in first


@pytest.fixture(scope="module")
def prefixed_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(
        gate,
        listen={"path_prefix": "/storage/v1/s3", "virtual_host_base": "s3.localhost"},
    )
    yield running
    running.process.stop()


def test_path_prefix(prefixed_proxy: RunningProxy, direct: Any, bucket: str) -> None:
    creds = prefixed_proxy.credentials
    s3 = Credentials(
        creds.endpoint + "/storage/v1/s3", creds.access_key_id, creds.secret_access_key
    ).client()
    s3.put_object(Bucket=bucket, Key="behind/prefix", Body=b"p")
    assert direct.get_object(Bucket=bucket, Key="behind/prefix")["Body"].read() == b"p"
    answer = send(
        "GET",
        creds.endpoint + "/elsewhere",
        sign(
            "GET",
            creds.endpoint + "/elsewhere",
            creds.access_key_id,
            creds.secret_access_key,
        ),
    )
    assert answer.status == 400


def test_virtual_hosted_with_prefix(
    prefixed_proxy: RunningProxy, direct: Any, bucket: str
) -> None:
    creds = prefixed_proxy.credentials
    port = urlsplit(creds.endpoint).port
    url = f"http://{bucket}.s3.localhost:{port}/storage/v1/s3/virtual%20key"
    headers = sign(
        "PUT", url, creds.access_key_id, creds.secret_access_key, body=b"vhost"
    )
    answer = send(
        "PUT", f"{creds.endpoint}/storage/v1/s3/virtual%20key", headers, b"vhost"
    )
    assert answer.status == 200, answer.body
    assert direct.get_object(Bucket=bucket, Key="virtual key")["Body"].read() == (
        b"vhost"
    )


@pytest.fixture(scope="module")
def virtual_upstream_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    # moto finds the bucket in a Host of <bucket>.localhost, not <bucket>.<ip>.
    endpoint = gate.endpoint.replace("127.0.0.1", "localhost")
    running = start_proxy(
        gate, upstream={"addressing": "virtual", "endpoint": endpoint}
    )
    yield running
    running.process.stop()


def test_virtual_hosted_upstream(
    virtual_upstream_proxy: RunningProxy, gate: GateProcess
) -> None:
    """The store is addressed as bucket.<host>; moto reads the bucket there."""
    s3 = virtual_upstream_proxy.credentials.client()
    s3.create_bucket(Bucket="virtual-upstream")
    s3.put_object(Bucket="virtual-upstream", Key="k", Body=b"v")
    assert s3.get_object(Bucket="virtual-upstream", Key="k")["Body"].read() == b"v"
    last = dict(gate.recorded()[-1]["headers"])
    assert last["Host"].startswith("virtual-upstream.localhost:")
