"""The S3 additional checksums, against reference values."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy import checksums

# Reference digests computed with botocore.httpchecksum (the CRT checksums
# and hashlib), written out so that a change of either library shows.
HELLO = b"Hello world"
FOX = b"The quick brown fox jumps over the lazy dog" * 100
REFERENCE = {
    ("CRC32", b""): "AAAAAA==",
    ("CRC32", HELLO): "i9aeUg==",
    ("CRC32", FOX): "n1+kZQ==",
    ("CRC32C", b""): "AAAAAA==",
    ("CRC32C", HELLO): "crUfeA==",
    ("CRC32C", FOX): "USTIWQ==",
    ("CRC64NVME", b""): "AAAAAAAAAAA=",
    ("CRC64NVME", HELLO): "OOJZ0D8xKts=",
    ("CRC64NVME", FOX): "xNF67vC7+lg=",
    ("SHA1", b""): "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
    ("SHA1", HELLO): "e1AsOh9IyGCa4hLN+2Od7jlnP14=",
    ("SHA1", FOX): "poZj2FdZ2zwmx/qXZ8OOop+BVlI=",
    ("SHA256", b""): "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    ("SHA256", HELLO): "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=",
    ("SHA256", FOX): "T8wmp1EHpftwqwX6Qn3CxsoVkptOHXWXuJnPaturiwg=",
}

# The "check" values of each CRC's catalogue entry: the CRC of b"123456789".
CHECK_VALUES = {
    "CRC32": 0xCBF43926,
    "CRC32C": 0xE3069283,
    "CRC64NVME": 0xAE8B14860A799888,
}


@pytest.mark.parametrize(("algorithm", "data"), list(REFERENCE), ids=str)
def test_b64digest_matches_reference(algorithm: str, data: bytes) -> None:
    checksum = checksums.new_checksum(algorithm)
    checksum.update(data)
    assert checksum.b64digest() == REFERENCE[algorithm, data]
    assert checksums.is_valid_b64digest(algorithm, checksum.b64digest())


@pytest.mark.parametrize(("algorithm", "check"), list(CHECK_VALUES.items()))
def test_crc_catalogue_check_value(algorithm: str, check: int) -> None:
    checksum = checksums.Checksum(algorithm)
    checksum.update(b"123456789")
    assert int.from_bytes(checksum.digest(), "big") == check


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
@given(data=st.binary(max_size=2048), cut=st.integers(min_value=0, max_value=2048))
def test_incremental_equals_whole(algorithm: str, data: bytes, cut: int) -> None:
    whole = checksums.new_checksum(algorithm)
    whole.update(data)
    pieces = checksums.new_checksum(algorithm)
    pieces.update(data[:cut])
    pieces.update(data[cut:])
    assert pieces.b64digest() == whole.b64digest()


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="MD5"):
        checksums.new_checksum("MD5")
    with pytest.raises(ValueError, match="crc32"):
        checksums.header_for_algorithm("crc32")


@pytest.mark.parametrize(
    ("name", "algorithm"),
    [
        ("x-amz-checksum-crc32", "CRC32"),
        ("X-Amz-Checksum-CRC32C", "CRC32C"),
        ("x-amz-checksum-crc64nvme", "CRC64NVME"),
        ("x-amz-checksum-sha1", "SHA1"),
        ("x-amz-checksum-sha256", "SHA256"),
        ("x-amz-checksum-algorithm", None),
        ("x-amz-checksum-type", None),
        ("x-amz-checksum-md5", None),
        ("x-amz-sdk-checksum-algorithm", None),
        ("content-md5", None),
    ],
)
def test_algorithm_for_header(name: str, algorithm: str | None) -> None:
    assert checksums.algorithm_for_header(name) == algorithm
    if algorithm is not None:
        assert checksums.header_for_algorithm(algorithm) == name.lower()


@pytest.mark.parametrize(
    ("algorithm", "value", "valid"),
    [
        ("CRC32", "i9aeUg==", True),
        ("CRC32", "i9aeUg", False),  # padding is part of S3's form
        ("CRC32", "i9aeUgAA", False),  # six bytes
        ("CRC32", "i9ae Ug==", False),
        ("CRC32", "i9aeUh==", False),  # non-canonical trailing bits
        ("CRC32", "", False),
        ("CRC32", "ï9aeUg==", False),
        ("CRC64NVME", "OOJZ0D8xKts=", True),
        ("CRC64NVME", "i9aeUg==", False),
        ("SHA1", "2jmj7l5rSw0yVb/vlWAYkK/YBwk=", True),
        ("SHA256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", True),
        ("SHA256", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", False),
        ("MD5", "1B2M2Y8AsgTpgAmY7PhCfg==", False),
    ],
)
def test_is_valid_b64digest(algorithm: str, value: str, valid: bool) -> None:
    assert checksums.is_valid_b64digest(algorithm, value) is valid


@given(st.sampled_from(checksums.ALGORITHMS), st.binary(max_size=40))
def test_is_valid_b64digest_accepts_exactly_the_digest_size(
    algorithm: str, raw: bytes
) -> None:
    size = len(checksums.new_checksum(algorithm).digest())
    value = base64.b64encode(raw).decode()
    assert checksums.is_valid_b64digest(algorithm, value) is (len(raw) == size)
