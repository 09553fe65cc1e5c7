"""Hand-built S3 requests, signed by botocore, sent over a plain socket.

The functional tests use this to send what no SDK would: a body that differs
from the one signed, a header added after signing, a skewed clock.
"""

from __future__ import annotations

import datetime as dt
import http.client
from collections.abc import Iterable
from dataclasses import dataclass
from unittest import mock
from urllib.parse import urlsplit
from xml.etree import ElementTree

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def code(self) -> str | None:
        if not self.body:
            return None
        root = ElementTree.fromstring(self.body)
        return root.findtext("Code")

    @property
    def message(self) -> str:
        return ElementTree.fromstring(self.body).findtext("Message") or ""


def sign(
    method: str,
    url: str,
    access_key_id: str,
    secret: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    token: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """Headers that botocore would send for this request, signed."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    credentials = BotoCredentials(access_key_id, secret, token)
    signer = S3SigV4Auth(credentials, "s3", region)
    when = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(request)
    signed = dict(request.headers.items())
    signed.setdefault("Host", urlsplit(url).netloc)
    return signed


def presign(
    method: str,
    url: str,
    access_key_id: str,
    secret: str,
    *,
    expires: int = 3600,
    now: dt.datetime | None = None,
    region: str = "us-east-1",
) -> str:
    """A presigned URL made by botocore's own signer, at any time."""
    request = AWSRequest(method=method, url=url)
    signer = S3SigV4QueryAuth(
        BotoCredentials(access_key_id, secret), "s3", region, expires=expires
    )
    when = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(request)
    return str(request.url)


def send(
    method: str,
    url: str,
    headers: dict[str, str] | Iterable[tuple[str, str]],
    body: bytes | Iterable[bytes] = b"",
    timeout: float = 60,
) -> Answer:
    """Send exactly these headers and body; the path is sent as given."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    pairs = list(headers.items() if isinstance(headers, dict) else headers)
    names = {name.lower() for name, _ in pairs}
    if isinstance(body, bytes) and "content-length" not in names:
        pairs.append(("Content-Length", str(len(body))))
    for name, value in pairs:
        connection.putheader(name, value)
    connection.endheaders()
    if isinstance(body, bytes):
        if body:
            connection.send(body)
    else:
        for piece in body:
            connection.send(piece)
    response = connection.getresponse()
    answer = Answer(response.status, response.headers, response.read())
    connection.close()
    return answer
