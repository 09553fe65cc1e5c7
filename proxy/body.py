"""Streaming request bodies with their integrity checks.

A request body passes through the proxy piece by piece. Every check that the
request asks for (the signed SHA-256 payload hash, ``Content-MD5``, the
``x-amz-checksum-*`` values, the signatures of an ``aws-chunked`` body) runs on
the pieces as they pass, and the last piece is held back until every check has
passed. When one fails, the stream raises instead of yielding that piece, so
the upstream request is cut short of its declared length and the store keeps
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from . import errors


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


@dataclass
class DigestCheck:
    """One expected digest of the (decoded) payload.

    ``expected`` may be ``None`` when the value arrives in a trailer; it is
    then filled in before :meth:`verify` runs.
    """

    name: str
    hasher: Hasher
    render: Callable[[Hasher], str]
    expected: str | None
    error: type[errors.S3Error]

    def verify(self) -> None:
        if self.expected is None:
            raise errors.InvalidRequest(f"The {self.name} value was never sent.")
        actual = self.render(self.hasher)
        if not hmac.compare_digest(actual.encode(), self.expected.encode()):
            raise self.error(f"The {self.name} value does not match the body.")


def sha256_check(expected_hex: str) -> DigestCheck:
    """The check of a signed ``x-amz-content-sha256`` payload hash."""
    return DigestCheck(
        name="x-amz-content-sha256",
        hasher=hashlib.sha256(),
        render=lambda hasher: hasher.hexdigest(),  # type: ignore[attr-defined]
        expected=expected_hex,
        error=errors.XAmzContentSHA256Mismatch,
    )


def content_md5_check(expected_b64: str) -> DigestCheck:
    """The check of a ``Content-MD5`` header (base64 of the MD5 digest)."""
    try:
        if len(base64.b64decode(expected_b64, validate=True)) != 16:
            raise ValueError(expected_b64)
    except ValueError as error:
        raise errors.InvalidDigest("The Content-MD5 you specified is not valid.") from (
            error
        )
    return DigestCheck(
        name="Content-MD5",
        hasher=hashlib.md5(usedforsecurity=False),
        render=lambda hasher: base64.b64encode(hasher.digest()).decode(),  # type: ignore[attr-defined]
        expected=expected_b64,
        error=errors.BadDigest,
    )


class Decoder(Protocol):
    """A transformation of the wire body into the payload (``aws-chunked``)."""

    def feed(self, data: bytes) -> list[bytes]: ...

    def finish(self) -> dict[str, str]: ...


@dataclass
class BodyStream:
    """The request body as the upstream should receive it, checked as it goes.

    ``length`` is the number of payload bytes the upstream is told to expect.
    After a failure, ``error`` holds the refusal to send to the client, since
    the HTTP client that sends the body only reports a broken connection.
    """

    source: AsyncIterator[bytes]
    length: int
    checks: list[DigestCheck] = field(default_factory=list)
    decoder: Decoder | None = None
    on_trailers: Callable[[dict[str, str]], None] | None = None
    on_progress: Callable[[], None] | None = None
    error: errors.S3Error | None = None
    received: int = 0
    payload_bytes: int = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self._withholding_last():
                yield piece
        except errors.S3Error as error:
            self.error = error
            raise

    async def _withholding_last(self) -> AsyncIterator[bytes]:
        held = b""
        async for piece in self._payload():
            if held:
                yield held
            held = piece
        self.finish()
        if held:
            yield held

    async def _payload(self) -> AsyncIterator[bytes]:
        async for data in self.source:
            self.received += len(data)
            if self.on_progress is not None:
                self.on_progress()
            for piece in self.decoder.feed(data) if self.decoder else (data,):
                self._account(piece)
                yield piece

    def _account(self, piece: bytes) -> None:
        self.payload_bytes += len(piece)
        if self.payload_bytes > self.length:
            raise errors.IncompleteBody("The body is longer than its declared length.")
        for check in self.checks:
            check.hasher.update(piece)

    def finish(self) -> None:
        """Run the checks that need the whole body; for an empty body, up front."""
        if self.decoder is not None:
            trailers = self.decoder.finish()
            if self.on_trailers is not None:
                self.on_trailers(trailers)
        if self.payload_bytes != self.length:
            raise errors.IncompleteBody()
        for check in self.checks:
            check.verify()
