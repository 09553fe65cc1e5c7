"""aws-chunked request bodies built by the tests: seed-signed by botocore,
chunks and trailers signed here, with ways to tamper with each part."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import zlib
from dataclasses import dataclass
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from tests.conftest import Credentials, RunningProxy

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY = hashlib.sha256(b"").hexdigest()
CRC = "x-amz-checksum-crc32"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@dataclass
class ChunkedUpload:
    """A PUT with an aws-chunked body, seed-signed by botocore."""

    url: str
    headers: dict[str, str]
    key: bytes
    seed: str
    amz_date: str
    scope: str

    def body(
        self,
        mode: str,
        chunks: list[bytes],
        trailers: list[tuple[str, str]] = (),  # type: ignore[assignment]
        tamper: str | None = None,
    ) -> bytes:
        wire, previous = bytearray(), self.seed
        for index, data in enumerate([*chunks, b""]):
            if mode == UNSIGNED_TRAILER:
                wire += f"{len(data):x}\r\n".encode()
            else:
                previous = self._sign(
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    previous,
                    f"{EMPTY}\n{hashlib.sha256(data).hexdigest()}",
                )
                signature = previous
                if tamper == "final-signature" and not data:
                    signature = "0" * 64
                if tamper == "chunk-signature" and index == 0:
                    signature = "f" * 64
                wire += f"{len(data):x};chunk-signature={signature}\r\n".encode()
            if tamper == "data" and index == 1:
                data = b"X" + data[1:]
            wire += data + b"\r\n" if data else b""
        for name, value in trailers:
            wire += f"{name}:{value}\r\n".encode()
        if mode == SIGNED_TRAILER:
            canonical = "".join(f"{n}:{v}\n" for n, v in sorted(trailers))
            signature = self._sign(
                "AWS4-HMAC-SHA256-TRAILER",
                previous,
                hashlib.sha256(canonical.encode()).hexdigest(),
            )
            if tamper == "trailer-signature":
                signature = "1" * 64
            wire += f"x-amz-trailer-signature:{signature}\r\n".encode()
        return bytes(wire + b"\r\n")

    def _sign(self, kind: str, previous: str, rest: str) -> str:
        text = f"{kind}\n{self.amz_date}\n{self.scope}\n{previous}\n{rest}"
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


def prepare(
    proxy: RunningProxy,
    path: str,
    mode: str,
    decoded_length: int,
    *,
    trailers: list[str] = (),  # type: ignore[assignment]
    extra: dict[str, str] | None = None,
    credentials: Credentials | None = None,
    method: str = "PUT",
) -> ChunkedUpload:
    creds = credentials or proxy.credentials
    url = proxy.endpoint + path
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(decoded_length),
        # SDKs name the algorithm of a checksum trailer in this header too.
        **(
            {
                "x-amz-trailer": ",".join(trailers),
                "x-amz-sdk-checksum-algorithm": "CRC32",
            }
            if trailers
            else {}
        ),
        **(extra or {}),
    }
    request = AWSRequest(method=method, url=url, headers=headers)
    signer = S3SigV4Auth(
        BotoCredentials(creds.access_key_id, creds.secret_access_key), "s3", "us-east-1"
    )
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=when),
        mock.patch.object(S3SigV4Auth, "payload", return_value=mode),
    ):
        signer.add_auth(request)
    signed = dict(request.headers.items())
    signed["Host"] = urlsplit(url).netloc
    date = signed["X-Amz-Date"]
    key = _hmac(("AWS4" + creds.secret_access_key).encode(), date[:8])
    for part in ("us-east-1", "s3", "aws4_request"):
        key = _hmac(key, part)
    seed = signed["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{date[:8]}/us-east-1/s3/aws4_request"
    return ChunkedUpload(url, signed, key, seed, date, scope)
