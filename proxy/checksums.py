"""The additional checksums of S3 (``x-amz-checksum-*`` headers and trailers).

S3 sends each checksum as the base64 of its big-endian digest. The CRCs come
from awscrt, the SHA digests from hashlib; both are computed incrementally so
that a streamed body is checked without being held.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Protocol

from awscrt import checksums as crt

__all__ = [
    "ALGORITHMS",
    "HEADER_PREFIX",
    "Checksum",
    "algorithm_for_header",
    "header_for_algorithm",
    "is_valid_b64digest",
    "new_checksum",
]

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
HEADER_PREFIX = "x-amz-checksum-"

_DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
_CRC_FUNCTIONS: dict[str, Callable[[bytes, int], int]] = {
    "CRC32": crt.crc32,
    "CRC32C": crt.crc32c,
    "CRC64NVME": crt.crc64nvme,
}


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A CRC from awscrt behind the hashlib interface."""

    def __init__(self, algorithm: str) -> None:
        self._function = _CRC_FUNCTIONS[algorithm]
        self._size = _DIGEST_SIZES[algorithm]
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = int(self._function(data, self._value))

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


class Checksum:
    """An incremental checksum in one of the :data:`ALGORITHMS`."""

    def __init__(self, algorithm: str) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown checksum algorithm {algorithm!r}")
        self.algorithm = algorithm
        self._digest: _Digest = (
            _Crc(algorithm)
            if algorithm in _CRC_FUNCTIONS
            else hashlib.new(algorithm.lower())
        )

    def update(self, data: bytes) -> None:
        """Add the next bytes of the body."""
        self._digest.update(data)

    def digest(self) -> bytes:
        """Return the big-endian digest of the bytes added so far."""
        return self._digest.digest()

    def b64digest(self) -> str:
        """Return the digest as S3 writes it in ``x-amz-checksum-*``."""
        return base64.b64encode(self.digest()).decode("ascii")


def new_checksum(algorithm: str) -> Checksum:
    """Start a checksum; ``algorithm`` is one of :data:`ALGORITHMS`."""
    return Checksum(algorithm)


def algorithm_for_header(name: str) -> str | None:
    """Map ``x-amz-checksum-crc32`` (any case) to ``CRC32``; None if not one."""
    lowered = name.lower()
    if not lowered.startswith(HEADER_PREFIX):
        return None
    algorithm = lowered.removeprefix(HEADER_PREFIX).upper()
    return algorithm if algorithm in ALGORITHMS else None


def header_for_algorithm(algorithm: str) -> str:
    """Map ``CRC32`` to ``x-amz-checksum-crc32``."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    return HEADER_PREFIX + algorithm.lower()


def is_valid_b64digest(algorithm: str, value: str) -> bool:
    """Tell whether ``value`` is a well-formed digest for ``algorithm``.

    Well formed means canonical padded base64 of exactly the digest size.
    """
    size = _DIGEST_SIZES.get(algorithm)
    if size is None or not value.isascii():
        return False
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == size and base64.b64encode(raw).decode("ascii") == value
