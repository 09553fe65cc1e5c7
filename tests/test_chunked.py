"""The aws-chunked decoder: all three modes, tampering, arbitrary splits."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy import checksums, errors
from proxy.chunked import ChunkedDecoder
from proxy.sigv4 import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    Scope,
    derive_signing_key,
)

MODES = (STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER)
S3_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "sigv4-vectors"
S3_EXAMPLES = S3_EXAMPLES / "s3-doc-examples.json"

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
SCOPE = Scope("20130524", "us-east-1", "s3")
KEY = derive_signing_key(SECRET, SCOPE)
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CRC = "x-amz-checksum-crc32"


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Body:
    """An aws-chunked body written by the test's own encoder."""

    wire: bytes
    chunk_signatures: list[str]


def encode(
    mode: str,
    chunks: Sequence[bytes],
    *,
    trailers: Sequence[tuple[str, str]] = (),
    key: bytes = KEY,
    seed: str = SEED,
    closing_crlf: bool = True,
) -> Body:
    """Frame ``chunks`` as an SDK would, with the S3 reference's signatures."""
    signed = mode != STREAMING_UNSIGNED_TRAILER
    wire = bytearray()
    previous = seed
    signatures = []
    for data in [*chunks, b""]:
        if signed:
            previous = _hmac(
                key,
                f"AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{SCOPE}\n{previous}\n"
                f"{EMPTY_SHA256}\n{_sha256(data)}",
            )
            signatures.append(previous)
            wire += f"{len(data):x};chunk-signature={previous}\r\n".encode()
        else:
            wire += f"{len(data):x}\r\n".encode()
        if data:
            wire += data + b"\r\n"
    for name, value in trailers:
        wire += f"{name}:{value}\r\n".encode()
    if mode == STREAMING_PAYLOAD_TRAILER:
        canonical = "".join(f"{n}:{v}\n" for n, v in sorted(trailers))
        signature = _hmac(
            key,
            f"AWS4-HMAC-SHA256-TRAILER\n{AMZ_DATE}\n{SCOPE}\n{previous}\n"
            f"{_sha256(canonical.encode())}",
        )
        wire += f"x-amz-trailer-signature:{signature}\r\n".encode()
    if closing_crlf:
        wire += b"\r\n"
    return Body(bytes(wire), signatures)


def crc32_of(payload: bytes) -> str:
    checksum = checksums.new_checksum("CRC32")
    checksum.update(payload)
    return checksum.b64digest()


def decoder(
    mode: str,
    *,
    decoded_length: int | None = None,
    trailers: Sequence[str] | None = None,
    **options: Any,
) -> ChunkedDecoder:
    signed = mode != STREAMING_UNSIGNED_TRAILER
    if trailers is None:
        trailers = [] if mode == STREAMING_PAYLOAD else [CRC]
    return ChunkedDecoder(
        mode,
        signing_key=KEY if signed else None,
        seed_signature=SEED if signed else None,
        amz_date=AMZ_DATE,
        scope=SCOPE,
        decoded_length=decoded_length,
        declared_trailers=trailers,
        **options,
    )


def body_for(mode: str, chunks: Sequence[bytes], **options: Any) -> Body:
    payload = b"".join(chunks)
    trailers = [] if mode == STREAMING_PAYLOAD else [(CRC, crc32_of(payload))]
    return encode(mode, chunks, trailers=options.pop("trailers", trailers), **options)


def decode(
    target: ChunkedDecoder, wire: bytes, step: int | None = None
) -> tuple[bytes, dict[str, str]]:
    step = step or len(wire) or 1
    pieces = []
    for start in range(0, len(wire), step):
        pieces += target.feed(wire[start : start + step])
    return b"".join(pieces), target.finish()


CHUNKS = [b"a" * 1000, bytes(range(256)) * 4, b"\r\n0\r\n", b"z"]
PAYLOAD = b"".join(CHUNKS)


# The encoder against the S3 API reference's worked example


@pytest.mark.skipif(not S3_EXAMPLES.is_file(), reason="the SigV4 vectors are absent")
def test_encoder_reproduces_the_s3_reference_chunk_signatures() -> None:
    document = json.loads(S3_EXAMPLES.read_text())
    example = document["cases"][-1]
    assert example["signature"] == SEED
    sizes = example["chunk_sizes"]
    assert sizes[-1] == 0
    chunks = [b"a" * size for size in sizes[:-1]]
    body = encode(STREAMING_PAYLOAD, chunks)
    assert body.chunk_signatures == example["chunk_signatures"]
    assert len(body.wire) == example["encoded_length"]
    target = decoder(STREAMING_PAYLOAD, decoded_length=example["decoded_length"])
    assert decode(target, body.wire) == (b"a" * 66560, {})
    assert target.done


# Well-formed bodies


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("step", [None, 1, 7, 1000, 4096])
def test_decodes_each_mode(mode: str, step: int | None) -> None:
    body = body_for(mode, CHUNKS)
    target = decoder(mode, decoded_length=len(PAYLOAD))
    payload, trailers = decode(target, body.wire, step)
    assert payload == PAYLOAD
    expected = {} if mode == STREAMING_PAYLOAD else {CRC: crc32_of(PAYLOAD)}
    assert trailers == expected
    assert target.done


@pytest.mark.parametrize("mode", MODES)
def test_empty_payload(mode: str) -> None:
    body = body_for(mode, [])
    assert decode(decoder(mode, decoded_length=0), body.wire)[0] == b""


def test_aws_sdk_js_v3_without_checksum_omits_the_closing_crlf() -> None:
    # getAwsChunkedEncodingStream ends with "0\r\n" when there is no checksum.
    wire = b"5\r\nhello\r\n0\r\n"
    target = decoder(STREAMING_UNSIGNED_TRAILER, trailers=[])
    assert decode(target, wire) == (b"hello", {})


@pytest.mark.parametrize("mode", MODES)
def test_closing_crlf_may_be_missing(mode: str) -> None:
    body = body_for(mode, CHUNKS, closing_crlf=False)
    assert decode(decoder(mode), body.wire)[0] == PAYLOAD


def test_trailer_whitespace_and_name_case_are_tolerated() -> None:
    wire = b"3\r\nabc\r\n0\r\nX-Amz-Checksum-CRC32: NSRBwg==\r\n\r\n"
    target = decoder(STREAMING_UNSIGNED_TRAILER)
    assert decode(target, wire) == (b"abc", {CRC: "NSRBwg=="})


def test_upper_case_hex_sizes_are_accepted() -> None:
    data = b"x" * 0xAB
    wire = b"AB\r\n" + data + b"\r\n0\r\n\r\n"
    assert decode(decoder(STREAMING_UNSIGNED_TRAILER, trailers=[]), wire)[0] == data


def test_declared_trailers_are_normalised() -> None:
    body = body_for(STREAMING_UNSIGNED_TRAILER, [b"abc"])
    target = decoder(STREAMING_UNSIGNED_TRAILER, trailers=[" X-Amz-Checksum-CRC32 "])
    assert decode(target, body.wire)[1] == {CRC: crc32_of(b"abc")}


def test_two_trailers_are_signed_sorted() -> None:
    sha = "x-amz-checksum-sha256"
    trailers = [
        (sha, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
        (CRC, "AAAAAA=="),
    ]
    body = encode(STREAMING_PAYLOAD_TRAILER, [], trailers=trailers)
    target = decoder(STREAMING_PAYLOAD_TRAILER, trailers=[sha, CRC])
    assert decode(target, body.wire)[1] == dict(trailers)


def test_payload_is_emitted_before_the_chunk_ends() -> None:
    body = body_for(STREAMING_PAYLOAD, [b"x" * 100])
    target = decoder(STREAMING_PAYLOAD)
    header_end = body.wire.index(b"\r\n") + 2
    assert target.feed(body.wire[: header_end + 40]) == [b"x" * 40]
    assert not target.done


def test_many_one_byte_feeds() -> None:
    chunks = [bytes([i % 251]) * 997 for i in range(64)]
    body = body_for(STREAMING_PAYLOAD_TRAILER, chunks)
    target = decoder(STREAMING_PAYLOAD_TRAILER)
    assert decode(target, body.wire, step=1)[0] == b"".join(chunks)


# Tampering and malformed bodies


def refused(
    mode: str, wire: bytes, error: type[errors.S3Error], **options: Any
) -> errors.S3Error:
    """Feed ``wire`` whole and byte by byte; both must raise ``error``."""
    raised = []
    for step in (None, 1):
        with pytest.raises(error) as info:
            decode(decoder(mode, **options), wire, step)
        raised.append(info.value)
    return raised[0]


def test_changed_data_byte_is_refused() -> None:
    wire = body_for(STREAMING_PAYLOAD, CHUNKS).wire.replace(b"aaaa", b"aaab", 1)
    refused(STREAMING_PAYLOAD, wire, errors.SignatureDoesNotMatch)


def test_changed_chunk_signature_is_refused() -> None:
    body = body_for(STREAMING_PAYLOAD, CHUNKS)
    first = body.chunk_signatures[1]
    forged = first[:-1] + ("0" if first[-1] != "0" else "1")
    wire = body.wire.replace(first.encode(), forged.encode())
    refused(STREAMING_PAYLOAD, wire, errors.SignatureDoesNotMatch)


def test_wrong_seed_is_refused() -> None:
    wire = encode(STREAMING_PAYLOAD, CHUNKS, seed="0" * 64).wire
    refused(STREAMING_PAYLOAD, wire, errors.SignatureDoesNotMatch)


def test_wrong_key_is_refused() -> None:
    wire = encode(STREAMING_PAYLOAD, CHUNKS, key=b"k" * 32).wire
    refused(STREAMING_PAYLOAD, wire, errors.SignatureDoesNotMatch)


def _frames(wire: bytes, count: int) -> tuple[list[bytes], bytes]:
    """Split the first ``count`` data chunks off a signed body."""
    frames = []
    rest = wire
    for _ in range(count):
        header, _, after = rest.partition(b"\r\n")
        size = int(header.split(b";")[0], 16)
        frames.append(header + b"\r\n" + after[: size + 2])
        rest = after[size + 2 :]
    return frames, rest


def test_reordered_chunks_are_refused() -> None:
    frames, rest = _frames(body_for(STREAMING_PAYLOAD, CHUNKS).wire, 2)
    wire = frames[1] + frames[0] + rest
    refused(STREAMING_PAYLOAD, wire, errors.SignatureDoesNotMatch)


def test_dropped_chunk_is_refused() -> None:
    frames, rest = _frames(body_for(STREAMING_PAYLOAD, CHUNKS).wire, 2)
    refused(STREAMING_PAYLOAD, frames[1] + rest, errors.SignatureDoesNotMatch)


@pytest.mark.parametrize("mode", MODES)
def test_missing_final_chunk_is_refused(mode: str) -> None:
    wire = body_for(mode, CHUNKS).wire
    final = wire.rindex(
        b"0;chunk" if mode != STREAMING_UNSIGNED_TRAILER else b"\r\n0\r\n"
    )
    cut = final if mode != STREAMING_UNSIGNED_TRAILER else final + 2
    refused(mode, wire[:cut], errors.IncompleteBody)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("keep", [0, 1, 5, 60, 1003, -40, -3])
def test_truncated_body_is_refused(mode: str, keep: int) -> None:
    wire = body_for(mode, CHUNKS).wire
    refused(mode, wire[:keep], errors.S3Error)


@pytest.mark.parametrize("mode", MODES)
def test_more_than_decoded_length_is_refused_at_once(mode: str) -> None:
    wire = body_for(mode, CHUNKS).wire
    target = decoder(mode, decoded_length=999)
    with pytest.raises(errors.InvalidRequest, match="more bytes"):
        target.feed(wire[: wire.index(b"\r\n") + 2])


@pytest.mark.parametrize("mode", MODES)
def test_less_than_decoded_length_is_refused(mode: str) -> None:
    wire = body_for(mode, CHUNKS).wire
    error = refused(mode, wire, errors.IncompleteBody, decoded_length=len(PAYLOAD) + 1)
    assert "fewer" in error.message


@pytest.mark.parametrize(
    "header",
    [b"", b"g\r\n", b"-1\r\n", b"0x10\r\n", b" 10\r\n", b"1 \r\n", b"10;foo=bar\r\n"],
)
def test_bad_hex_size_is_refused(header: bytes) -> None:
    wire = (header or b"\r\n") + b"0123456789abcdef\r\n0\r\n\r\n"
    refused(STREAMING_UNSIGNED_TRAILER, wire, errors.InvalidRequest, trailers=[])


@pytest.mark.parametrize(
    "extension",
    [
        b"",
        b";chunk-signature=",
        b";chunk-signature=" + b"A" * 64,
        b";chunk-signature=" + b"a" * 63,
        b";chunk-signature=" + b"a" * 65,
        b";chunk-signatur=" + b"a" * 64,
        b"; chunk-signature=" + b"a" * 64,
    ],
)
def test_bad_signed_chunk_header_is_refused(extension: bytes) -> None:
    wire = b"3" + extension + b"\r\nabc\r\n"
    refused(STREAMING_PAYLOAD, wire, errors.InvalidRequest)


def test_oversized_chunk_is_refused() -> None:
    body = body_for(STREAMING_PAYLOAD, [b"x" * 1025])
    refused(
        STREAMING_PAYLOAD,
        body.wire,
        errors.MaxMessageLengthExceeded,
        max_chunk_size=1024,
    )


def test_huge_declared_chunk_is_refused_before_its_data() -> None:
    target = decoder(STREAMING_UNSIGNED_TRAILER)
    with pytest.raises(errors.MaxMessageLengthExceeded):
        target.feed(b"ffffffffffffffff\r\n")


def test_endless_framing_line_is_refused() -> None:
    target = decoder(STREAMING_UNSIGNED_TRAILER)
    target.feed(b"1" * 4000)
    with pytest.raises(errors.InvalidRequest, match="too long"):
        target.feed(b"1" * 100)


@pytest.mark.parametrize(
    "wire",
    [
        b"3\nabc\r\n0\r\n\r\n",  # bare LF after the size
        b"3\r\nabcd\r\n0\r\n\r\n",  # data longer than the size
        b"3\r\nabc\n0\r\n\r\n",
        b"3\r\nab",  # data cut short
    ],
)
def test_garbage_framing_is_refused(wire: bytes) -> None:
    refused(STREAMING_UNSIGNED_TRAILER, wire, errors.S3Error, trailers=[])


@pytest.mark.parametrize(
    "mode", [STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER]
)
def test_missing_trailer_is_refused(mode: str) -> None:
    wire = body_for(mode, CHUNKS, trailers=[]).wire
    error = refused(mode, wire, errors.InvalidRequest)
    assert CRC in error.message


@pytest.mark.parametrize("mode", MODES)
def test_unexpected_trailer_is_refused(mode: str) -> None:
    trailers = [("x-amz-checksum-sha1", "2jmj7l5rSw0yVb/vlWAYkK/YBwk=")]
    wire = encode(mode, CHUNKS, trailers=trailers).wire
    error = refused(mode, wire, errors.InvalidRequest)
    assert "x-amz-checksum-sha1" in error.message


def test_repeated_trailer_is_refused() -> None:
    trailers = [(CRC, "AAAAAA=="), (CRC, "AAAAAA==")]
    wire = encode(STREAMING_UNSIGNED_TRAILER, [], trailers=trailers).wire
    refused(STREAMING_UNSIGNED_TRAILER, wire, errors.InvalidRequest)


def test_bad_trailer_signature_is_refused() -> None:
    body = body_for(STREAMING_PAYLOAD_TRAILER, CHUNKS)
    wire = body.wire.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32: ")
    assert decode(decoder(STREAMING_PAYLOAD_TRAILER), wire)[0] == PAYLOAD  # trimmed
    value = crc32_of(PAYLOAD).encode()
    forged = body.wire.replace(value, b"AAAAAA==")
    refused(STREAMING_PAYLOAD_TRAILER, forged, errors.SignatureDoesNotMatch)


def test_trailer_signature_from_another_chain_is_refused() -> None:
    body = body_for(STREAMING_PAYLOAD_TRAILER, CHUNKS)
    other = body_for(STREAMING_PAYLOAD_TRAILER, CHUNKS, seed="1" * 64)
    start = b"x-amz-trailer-signature:"
    line = other.wire[other.wire.index(start) :]
    wire = body.wire[: body.wire.index(start)] + line
    refused(STREAMING_PAYLOAD_TRAILER, wire, errors.SignatureDoesNotMatch)


def test_missing_trailer_signature_is_refused() -> None:
    signed = encode(STREAMING_PAYLOAD, CHUNKS).wire[: -len(b"\r\n")]
    wire = signed + f"{CRC}:{crc32_of(PAYLOAD)}\r\n\r\n".encode()
    error = refused(STREAMING_PAYLOAD_TRAILER, wire, errors.SignatureDoesNotMatch)
    assert "x-amz-trailer-signature" in error.message


@pytest.mark.parametrize(
    "line",
    [
        b"x-amz-trailer-signature:" + b"z" * 64,
        b"no-colon-here",
        b":empty-name",
        b"bad name:x",
        "x-amz-checksum-crc32:\u00e9".encode(),
    ],
)
def test_malformed_trailer_line_is_refused(line: bytes) -> None:
    wire = encode(STREAMING_PAYLOAD, CHUNKS).wire[: -len(b"\r\n")] + line + b"\r\n\r\n"
    refused(STREAMING_PAYLOAD_TRAILER, wire, errors.InvalidRequest)


def test_trailer_after_the_signature_is_refused() -> None:
    wire = body_for(STREAMING_PAYLOAD_TRAILER, CHUNKS).wire
    wire = wire[: -len(b"\r\n")] + b"x-amz-meta-late:1\r\n\r\n"
    refused(STREAMING_PAYLOAD_TRAILER, wire, errors.InvalidRequest)


def test_trailer_signature_in_unsigned_mode_is_refused() -> None:
    wire = body_for(STREAMING_PAYLOAD_TRAILER, CHUNKS).wire
    unsigned = body_for(STREAMING_UNSIGNED_TRAILER, CHUNKS).wire
    signature_line = wire[wire.index(b"x-amz-trailer-signature") :]
    wire = unsigned[: -len(b"\r\n")] + signature_line
    refused(STREAMING_UNSIGNED_TRAILER, wire, errors.InvalidRequest)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("extra", [b"\r\n", b"x", b"0\r\n\r\n"])
def test_bytes_after_the_end_are_refused(mode: str, extra: bytes) -> None:
    wire = body_for(mode, CHUNKS).wire + extra
    refused(mode, wire, errors.InvalidRequest)


def test_a_refused_decoder_stays_refused() -> None:
    target = decoder(STREAMING_UNSIGNED_TRAILER)
    with pytest.raises(errors.InvalidRequest):
        target.feed(b"zz\r\n")
    with pytest.raises(errors.InvalidRequest, match="already refused"):
        target.feed(b"0\r\n\r\n")
    with pytest.raises(errors.InvalidRequest, match="already refused"):
        target.finish()


def test_finish_twice_returns_the_trailers_again() -> None:
    target = decoder(STREAMING_UNSIGNED_TRAILER)
    body = body_for(STREAMING_UNSIGNED_TRAILER, [b"abc"])
    assert decode(target, body.wire)[1] == target.finish()


# Construction


@pytest.mark.parametrize("mode", ["UNSIGNED-PAYLOAD", EMPTY_SHA256, "aws-chunked"])
def test_non_chunked_modes_are_a_programming_error(mode: str) -> None:
    with pytest.raises(ValueError, match="payload mode"):
        decoder(mode, trailers=[])


@pytest.mark.parametrize("mode", [STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER])
def test_signed_modes_need_key_and_seed(mode: str) -> None:
    with pytest.raises(ValueError, match="key and seed"):
        ChunkedDecoder(
            mode,
            signing_key=None,
            seed_signature=SEED,
            amz_date=AMZ_DATE,
            scope=SCOPE,
            decoded_length=None,
            declared_trailers=[],
        )


@pytest.mark.parametrize(
    ("mode", "trailers", "message"),
    [
        (STREAMING_PAYLOAD, [CRC], "x-amz-trailer needs"),
        (STREAMING_UNSIGNED_TRAILER, [CRC, CRC.upper()], "more than once"),
        (STREAMING_PAYLOAD_TRAILER, ["x-amz-trailer-signature"], "cannot declare"),
        (STREAMING_UNSIGNED_TRAILER, ["x-amz-checksum-crc32\x00<x>"], "not a token"),
    ],
)
def test_bad_declared_trailers_are_refused(
    mode: str, trailers: list[str], message: str
) -> None:
    with pytest.raises(errors.InvalidRequest, match=message):
        decoder(mode, trailers=trailers)


# Properties


chunk_lists = st.lists(st.binary(min_size=1, max_size=300), max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    chunks=chunk_lists,
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
    closing_crlf=st.booleans(),
)
def test_any_split_gives_the_same_result(
    mode: str, chunks: list[bytes], cuts: list[int], closing_crlf: bool
) -> None:
    payload = b"".join(chunks)
    wire = body_for(mode, chunks, closing_crlf=closing_crlf).wire
    target = decoder(mode, decoded_length=len(payload))
    pieces = []
    previous = 0
    for cut in [*sorted(c for c in cuts if c <= len(wire)), len(wire)]:
        pieces += target.feed(wire[previous:cut])
        previous = cut
    assert b"".join(pieces) == payload
    expected = {} if mode == STREAMING_PAYLOAD else {CRC: crc32_of(payload)}
    assert target.finish() == expected


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    garbage=st.lists(st.binary(max_size=64), max_size=6),
    finish=st.booleans(),
)
def test_garbage_raises_only_s3_errors(
    mode: str, garbage: list[bytes], finish: bool
) -> None:
    target = decoder(mode, decoded_length=None)
    try:
        for piece in garbage:
            target.feed(piece)
        if finish:
            target.finish()
    except errors.S3Error:
        pass


@settings(max_examples=200, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    chunks=st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=4),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_changed_byte_is_refused_or_harmless(
    mode: str, chunks: list[bytes], position: int, flip: int
) -> None:
    payload = b"".join(chunks)
    wire = bytearray(body_for(mode, chunks).wire)
    position %= len(wire)
    wire[position] ^= flip
    target = decoder(mode, decoded_length=len(payload))
    try:
        result = decode(target, bytes(wire))
    except errors.S3Error:
        return
    # A changed letter case (hex size, trailer name) is harmless; any other
    # change decodes only without signatures, and then the payload no longer
    # matches its checksum trailer, which the caller verifies.
    expected = {} if mode == STREAMING_PAYLOAD else {CRC: crc32_of(payload)}
    if result == (payload, expected):
        return
    assert mode == STREAMING_UNSIGNED_TRAILER
    decoded, trailers = result
    assert trailers[CRC] != crc32_of(decoded)
