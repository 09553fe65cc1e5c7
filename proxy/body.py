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
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from multidict import MultiMapping

from . import checksums, errors, sigv4
from .chunked import CHUNKED_MODES, ChunkedDecoder


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
    encoder: TrailerEncoder | None = None
    upstream_payload_hash: str = sigv4.UNSIGNED_PAYLOAD
    error: errors.S3Error | None = None
    received: int = 0
    payload_bytes: int = 0

    @property
    def upstream_length(self) -> int:
        """The number of bytes the store is told to expect."""
        return self.encoder.wire_length if self.encoder else self.length

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
            if self.encoder is not None:
                piece = self.encoder.encode(piece)
            if piece and held:
                yield held
            held = piece or held
        self.finish()
        if self.encoder is not None:
            held += self.encoder.close()
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


def checksum_check(algorithm: str, expected: str | None) -> DigestCheck:
    """The check of an ``x-amz-checksum-*`` value, from a header or a trailer."""
    if expected is not None and not checksums.is_valid_b64digest(algorithm, expected):
        raise errors.InvalidDigest(
            f"The {checksums.header_for_algorithm(algorithm)} value is not valid."
        )
    return DigestCheck(
        name=checksums.header_for_algorithm(algorithm),
        hasher=checksums.new_checksum(algorithm),
        render=lambda hasher: hasher.b64digest(),  # type: ignore[attr-defined]
        expected=expected,
        error=errors.BadDigest,
    )


@dataclass(frozen=True)
class Framing:
    """How the body reaches the store, when it differs from how it arrived.

    ``drop`` names the client's headers that no longer describe the body;
    ``add`` are the headers that do.
    """

    drop: frozenset[str] = frozenset()
    add: tuple[tuple[str, str], ...] = ()


def plan(
    headers: Mapping[str, str],
    source: AsyncIterator[bytes],
    wire_length: int | None,
    auth: sigv4.SignedRequestAuth | None,
    signing_key: bytes | None,
    *,
    forward_trailers: bool,
) -> tuple[BodyStream, Framing]:
    """Decide how a request body is read, checked and sent on.

    Nothing is read yet. ``wire_length`` is the ``Content-Length`` received
    (``None`` with ``Transfer-Encoding: chunked``).
    """
    mode = auth.payload_hash if auth else sigv4.UNSIGNED_PAYLOAD
    if mode in CHUNKED_MODES:
        assert auth is not None
        return _plan_chunked(headers, source, auth, signing_key, forward_trailers)
    if wire_length is None:
        raise errors.MissingContentLength()
    stream = BodyStream(source, wire_length, upstream_payload_hash=mode)
    if mode != sigv4.UNSIGNED_PAYLOAD:
        stream.checks.append(sha256_check(mode))
    stream.checks += _header_checks(headers)
    return stream, Framing()


def _header_checks(headers: Mapping[str, str]) -> list[DigestCheck]:
    found = []
    md5 = _one(headers, "Content-MD5")
    if md5 is not None:
        found.append(content_md5_check(md5))
    for algorithm in checksums.ALGORITHMS:
        value = _one(headers, checksums.header_for_algorithm(algorithm))
        if value is not None:
            found.append(checksum_check(algorithm, value))
    return found


def _plan_chunked(
    headers: Mapping[str, str],
    source: AsyncIterator[bytes],
    auth: sigv4.SignedRequestAuth,
    signing_key: bytes | None,
    forward_trailers: bool,
) -> tuple[BodyStream, Framing]:
    decoded_length = _decoded_length(headers)
    trailers = [
        name.strip().lower()
        for name in (_one(headers, "x-amz-trailer") or "").split(",")
        if name.strip()
    ]
    decoder = ChunkedDecoder(
        auth.payload_hash,
        signing_key=signing_key,
        seed_signature=auth.signature,
        amz_date=auth.amz_date,
        scope=auth.scope,
        decoded_length=decoded_length,
        declared_trailers=trailers,
    )
    stream = BodyStream(source, decoded_length, decoder=decoder)
    stream.checks += _header_checks(headers)
    trailer_checks = _trailer_checks(trailers)
    stream.checks += trailer_checks.values()
    stream.on_trailers = lambda received: _fill_trailer_checks(trailer_checks, received)
    drop = {"content-encoding", "x-amz-trailer", "x-amz-decoded-content-length"}
    encoding = headers.get("Content-Encoding", "")
    add = _content_encoding(encoding, chunked=False)
    if forward_trailers and trailer_checks:
        stream.encoder = TrailerEncoder(decoded_length, trailer_checks)
        stream.upstream_payload_hash = sigv4.STREAMING_UNSIGNED_TRAILER
        add = _content_encoding(encoding, chunked=True)
        add += (
            ("x-amz-trailer", ",".join(trailer_checks)),
            ("x-amz-decoded-content-length", str(decoded_length)),
        )
    return stream, Framing(frozenset(drop), add)


def _decoded_length(headers: Mapping[str, str]) -> int:
    value = _one(headers, "x-amz-decoded-content-length")
    if value is None:
        raise errors.MissingContentLength(
            "An aws-chunked body needs the x-amz-decoded-content-length header."
        )
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise errors.InvalidArgument("x-amz-decoded-content-length is not a number.")
    return int(value)


def _one(headers: Mapping[str, str], name: str) -> str | None:
    """A header that may be given once; twice is refused, since a store might
    read the other value than the one the proxy checked."""
    values = headers.getall(name, []) if isinstance(headers, MultiMapping) else []
    if len(values) > 1:
        raise errors.InvalidArgument(f"The {name} header is given more than once.")
    return headers.get(name)


def _trailer_checks(trailers: list[str]) -> dict[str, DigestCheck]:
    checks = {}
    for name in trailers:
        algorithm = checksums.algorithm_for_header(name)
        if algorithm is None:
            raise errors.InvalidRequest(f"The trailer {name} is not supported.")
        checks[name] = checksum_check(algorithm, None)
    return checks


def _fill_trailer_checks(
    checks: dict[str, DigestCheck], received: dict[str, str]
) -> None:
    for name, check in checks.items():
        value = received.get(name)
        algorithm = checksums.algorithm_for_header(name)
        if value is None or algorithm is None:
            continue
        if not checksums.is_valid_b64digest(algorithm, value):
            raise errors.InvalidDigest(f"The {name} trailer is not valid.")
        check.expected = value


def _content_encoding(value: str, *, chunked: bool) -> tuple[tuple[str, str], ...]:
    """``Content-Encoding`` for the store: the client's codings without
    ``aws-chunked``, with it in front again when the store gets that framing."""
    kept = [
        c.strip()
        for c in value.split(",")
        if c.strip().lower() not in ("", "aws-chunked")
    ]
    if chunked:
        kept.insert(0, "aws-chunked")
    return (("Content-Encoding", ",".join(kept)),) if kept else ()


class TrailerEncoder:
    """Re-frames the verified payload as ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``.

    Chunks have a fixed size, so that the length of the framed body, which the
    store is told up front, follows from the payload length alone.
    """

    CHUNK = 64 * 1024

    def __init__(self, payload_length: int, checks: dict[str, DigestCheck]) -> None:
        self.checks = checks
        self.wire_length = self._framed_length(payload_length)
        self._buffer = bytearray()

    def _framed_length(self, payload_length: int) -> int:
        full, rest = divmod(payload_length, self.CHUNK)
        length = full * _framed(self.CHUNK) + (_framed(rest) if rest else 0)
        length += len(b"0\r\n") + len(b"\r\n")
        for name in self.checks:
            algorithm = checksums.algorithm_for_header(name) or ""
            size = len(checksums.new_checksum(algorithm).b64digest())
            length += len(name) + 1 + size + 2
        return length

    def encode(self, piece: bytes) -> bytes:
        self._buffer += piece
        whole = len(self._buffer) - len(self._buffer) % self.CHUNK
        framed = b"".join(
            _frame(self._buffer[at : at + self.CHUNK])
            for at in range(0, whole, self.CHUNK)
        )
        del self._buffer[:whole]
        return framed

    def close(self) -> bytes:
        """The last chunk, the final chunk and the verified trailers."""
        tail = _frame(self._buffer) if self._buffer else b""
        lines = "".join(
            f"{name}:{check.expected}\r\n" for name, check in self.checks.items()
        )
        return tail + b"0\r\n" + lines.encode() + b"\r\n"


def _frame(data: bytes | bytearray) -> bytes:
    return b"%x\r\n" % len(data) + bytes(data) + b"\r\n"


def _framed(size: int) -> int:
    return len(b"%x\r\n" % size) + size + 2
