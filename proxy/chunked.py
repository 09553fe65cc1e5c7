"""An incremental decoder of ``aws-chunked`` request bodies.

S3 streaming uploads frame the payload in chunks (S3 API reference,
"Transferring payload in multiple chunks" and "Including trailing headers")::

    <hex-size>;chunk-signature=<sig>\\r\\n<data>\\r\\n     signed modes
    <hex-size>\\r\\n<data>\\r\\n                           unsigned trailer mode

ending with a chunk of size 0, then for the ``-TRAILER`` modes trailer lines
``name:value\\r\\n`` (and ``x-amz-trailer-signature:<sig>\\r\\n`` when signed)
and a final ``\\r\\n``. Each chunk signature chains from the previous one,
the first from the request's own signature, so the chunks can be neither
altered, dropped nor reordered.

:class:`ChunkedDecoder` takes the body in pieces of any size, hands back the
payload as it arrives and holds at most one framing line in memory. Payload
bytes are returned before their chunk's signature is checked; the caller must
withhold the end of the body from anyone who trusts it until :meth:`finish`
succeeds.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Sequence

from proxy import errors
from proxy.sigv4 import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    Scope,
    compute_signature,
)

__all__ = ["CHUNKED_MODES", "ChunkedDecoder"]

CHUNKED_MODES = frozenset(
    {STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER}
)
MAX_LINE = 4096  # a chunk header is under 100 bytes, a checksum trailer ~80

_SIGNED_CHUNK_HEADER = re.compile(
    rb"([0-9A-Fa-f]{1,16});chunk-signature=([0-9a-f]{64})"
)
_UNSIGNED_CHUNK_HEADER = re.compile(rb"([0-9A-Fa-f]{1,16})")
_TRAILER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CRLF = b"\r\n"
_TRAILER_SIGNATURE = "x-amz-trailer-signature"


class _State(enum.Enum):
    CHUNK_HEADER = enum.auto()
    CHUNK_DATA = enum.auto()
    CHUNK_END = enum.auto()
    TRAILER = enum.auto()
    DONE = enum.auto()
    FAILED = enum.auto()


def _malformed(detail: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(f"Malformed aws-chunked body: {detail}.")


class ChunkedDecoder:
    """Decode and verify an aws-chunked body fed in pieces."""

    def __init__(
        self,
        payload_mode: str,
        *,
        signing_key: bytes | None,
        seed_signature: str | None,
        amz_date: str,
        scope: Scope,
        decoded_length: int | None,
        declared_trailers: Sequence[str],
        max_chunk_size: int = 16 * 1024 * 1024,
    ) -> None:
        if payload_mode not in CHUNKED_MODES:
            raise ValueError(f"{payload_mode!r} is not an aws-chunked payload mode")
        self._signed = payload_mode != STREAMING_UNSIGNED_TRAILER
        self._trailer_signed = payload_mode == STREAMING_PAYLOAD_TRAILER
        if self._signed and (signing_key is None or seed_signature is None):
            raise ValueError("signed aws-chunked modes need a key and seed signature")
        self._declared = _declared_trailers(payload_mode, declared_trailers)
        self._signing_key = signing_key or b""
        self._previous_signature = seed_signature or ""
        self._prefix = f"\n{amz_date}\n{scope}\n"
        self._decoded_length = decoded_length
        self._max_chunk_size = max_chunk_size
        self._state = _State.CHUNK_HEADER
        self._line = bytearray()
        self._remaining = 0
        self._received = 0
        self._crlf_matched = 0
        self._chunk_signature = ""
        self._chunk_hash = hashlib.sha256()
        self._trailers: dict[str, str] = {}
        self._trailer_signature: str | None = None

    @property
    def done(self) -> bool:
        """Whether the final chunk and the trailers have been read and verified."""
        return self._state is _State.DONE

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next bytes of the body; return the payload pieces they hold."""
        if self._state is _State.FAILED:
            raise _malformed("the body was already refused")
        try:
            return self._feed(bytes(data))
        except errors.S3Error:
            self._state = _State.FAILED
            raise

    def finish(self) -> dict[str, str]:
        """End the body; return its trailers, lower-case name to value.

        A body that stops right after its last trailer line (or right after
        the final chunk when it has no trailers) is accepted, because SDKs
        send it so: aws-sdk-js v3 omits the closing CRLF without a checksum.
        """
        if self._state is _State.FAILED:
            raise _malformed("the body was already refused")
        try:
            if self._state is _State.TRAILER and not self._line:
                self._end_trailers()
            if self._state is not _State.DONE:
                raise errors.IncompleteBody(
                    "The aws-chunked body ended before its final chunk and trailers."
                )
        except errors.S3Error:
            self._state = _State.FAILED
            raise
        return dict(self._trailers)

    def _feed(self, data: bytes) -> list[bytes]:
        pieces: list[bytes] = []
        position = 0
        while position < len(data):
            if self._state is _State.CHUNK_DATA:
                position = self._take_data(data, position, pieces)
            elif self._state is _State.CHUNK_END:
                position = self._take_crlf(data, position)
            elif self._state is _State.DONE:
                raise _malformed("bytes follow the end of the body")
            else:
                position = self._take_line(data, position)
        return pieces

    def _take_line(self, data: bytes, position: int) -> int:
        room = MAX_LINE - len(self._line)
        end = data.find(b"\n", position, position + room)
        if end < 0:
            if len(data) - position >= room:
                raise _malformed("a framing line is too long")
            self._line += data[position:]
            return len(data)
        self._line += data[position : end + 1]
        line = bytes(self._line)
        self._line.clear()
        if not line.endswith(_CRLF):
            raise _malformed("a framing line does not end with CRLF")
        if self._state is _State.CHUNK_HEADER:
            self._start_chunk(line[:-2])
        else:
            self._take_trailer(line[:-2])
        return end + 1

    def _start_chunk(self, header: bytes) -> None:
        pattern = _SIGNED_CHUNK_HEADER if self._signed else _UNSIGNED_CHUNK_HEADER
        match = pattern.fullmatch(header)
        if match is None:
            raise _malformed("a chunk header is not <hex-size>[;chunk-signature=...]")
        size = int(match[1], 16)
        if size > self._max_chunk_size:
            raise errors.MaxMessageLengthExceeded(
                f"An aws-chunked chunk of {size} bytes is larger than the "
                f"{self._max_chunk_size} bytes accepted."
            )
        self._chunk_signature = match[2].decode() if self._signed else ""
        if size == 0:
            self._end_payload()
            return
        self._check_not_longer(self._received + size)
        self._remaining = size
        self._state = _State.CHUNK_DATA

    def _take_data(self, data: bytes, position: int, pieces: list[bytes]) -> int:
        end = min(len(data), position + self._remaining)
        piece = data[position:end]
        if self._signed:
            self._chunk_hash.update(piece)
        pieces.append(piece)
        self._remaining -= len(piece)
        self._received += len(piece)
        if self._remaining == 0:
            self._verify_chunk(self._chunk_hash.hexdigest())
            self._chunk_hash = hashlib.sha256()
            self._state = _State.CHUNK_END
        return end

    def _take_crlf(self, data: bytes, position: int) -> int:
        while position < len(data) and self._crlf_matched < 2:
            if data[position] != _CRLF[self._crlf_matched]:
                raise _malformed("chunk data is not followed by CRLF")
            self._crlf_matched += 1
            position += 1
        if self._crlf_matched == 2:
            self._crlf_matched = 0
            self._state = _State.CHUNK_HEADER
        return position

    def _end_payload(self) -> None:
        # The zero-length chunk is signed like any other (S3 streaming
        # reference): its signature proves that no chunk was cut off.
        self._verify_chunk(EMPTY_SHA256)
        if self._decoded_length is not None and self._received < self._decoded_length:
            raise errors.IncompleteBody(
                f"The aws-chunked body holds {self._received} bytes, fewer than "
                f"the {self._decoded_length} of x-amz-decoded-content-length."
            )
        self._state = _State.TRAILER

    def _check_not_longer(self, total: int) -> None:
        if self._decoded_length is not None and total > self._decoded_length:
            raise errors.InvalidRequest(
                "The aws-chunked body holds more bytes than the "
                f"{self._decoded_length} of x-amz-decoded-content-length."
            )

    def _verify_chunk(self, data_hash: str) -> None:
        if not self._signed:
            return
        to_sign = (
            f"AWS4-HMAC-SHA256-PAYLOAD{self._prefix}{self._previous_signature}\n"
            f"{EMPTY_SHA256}\n{data_hash}"
        )
        self._previous_signature = self._check_signature(to_sign, self._chunk_signature)

    def _check_signature(self, to_sign: str, claimed: str) -> str:
        expected = compute_signature(self._signing_key, to_sign)
        if not hmac.compare_digest(expected, claimed):
            raise errors.SignatureDoesNotMatch(
                "The aws-chunked body does not match its chunk signatures."
            )
        return expected

    def _take_trailer(self, line: bytes) -> None:
        if not line:
            self._end_trailers()
            return
        if self._trailer_signature is not None:
            raise _malformed("a trailer follows x-amz-trailer-signature")
        name, value = _split_trailer(line)
        if name == _TRAILER_SIGNATURE and self._trailer_signed:
            if not _HEX64.fullmatch(value):
                raise _malformed("x-amz-trailer-signature is not 64 hex characters")
            self._trailer_signature = value
        elif name not in self._declared:
            raise errors.InvalidRequest(
                f"The aws-chunked body has a trailer {name!r} that x-amz-trailer "
                "does not declare."
            )
        elif name in self._trailers:
            raise errors.InvalidRequest(f"The trailer {name!r} is sent twice.")
        else:
            self._trailers[name] = value

    def _end_trailers(self) -> None:
        missing = [name for name in self._declared if name not in self._trailers]
        if missing:
            raise errors.InvalidRequest(
                "The aws-chunked body lacks the trailers that x-amz-trailer "
                f"declares: {', '.join(missing)}."
            )
        if self._trailer_signed:
            self._verify_trailers()
        self._state = _State.DONE

    def _verify_trailers(self) -> None:
        # Trailer string to sign (S3 "Including trailing headers"): the hash
        # covers each trailer as "name:value\n", sorted like canonical headers,
        # and chains from the signature of the final zero-length chunk.
        if self._trailer_signature is None:
            raise errors.SignatureDoesNotMatch(
                "The aws-chunked body ended without its x-amz-trailer-signature."
            )
        canonical = "".join(
            f"{name}:{value}\n" for name, value in sorted(self._trailers.items())
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = (
            f"AWS4-HMAC-SHA256-TRAILER{self._prefix}{self._previous_signature}\n"
            f"{digest}"
        )
        self._check_signature(to_sign, self._trailer_signature)


def _declared_trailers(payload_mode: str, declared: Sequence[str]) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in declared if name.strip())
    if names and payload_mode == STREAMING_PAYLOAD:
        raise errors.InvalidRequest(
            f"x-amz-trailer needs x-amz-content-sha256 {STREAMING_PAYLOAD_TRAILER} "
            f"or {STREAMING_UNSIGNED_TRAILER}."
        )
    if not all(_TRAILER_NAME.fullmatch(name) for name in names):
        raise errors.InvalidRequest("x-amz-trailer lists a name that is not a token.")
    if _TRAILER_SIGNATURE in names:
        raise errors.InvalidRequest(
            f"x-amz-trailer cannot declare {_TRAILER_SIGNATURE}."
        )
    if len(set(names)) != len(names):
        raise errors.InvalidRequest("x-amz-trailer lists a trailer more than once.")
    return names


def _split_trailer(line: bytes) -> tuple[str, str]:
    raw_name, colon, raw_value = line.partition(b":")
    try:
        name = raw_name.decode("ascii").lower()
        value = raw_value.decode("ascii").strip(" \t")
    except UnicodeDecodeError:
        name = value = ""
    if not colon or not _TRAILER_NAME.fullmatch(name):
        raise _malformed("a trailer line is not name:value")
    return name, value
