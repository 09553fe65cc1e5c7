"""Where a request points: the bucket and key, from the host and raw path.

Buckets are named in the path (``/bucket/key``) or in the host
(``bucket.<virtual host base>``), behind an optional path prefix such as
``/storage/v1/s3``. The key is taken from the verified, percent-normalised
path and decoded once; it is never normalised (``a/../b`` is a key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_to_bytes

from . import errors
from .sigv4 import canonical_uri


@dataclass(frozen=True)
class Target:
    """The bucket and key a request names.

    ``raw_key_path`` is the encoded path after the bucket, as it goes upstream:
    ``/`` plus the encoded key, ``/`` for a bucket addressed with a trailing
    slash, or empty.
    """

    bucket: str | None
    key: str | None
    raw_key_path: str


def target_of(
    raw_path: str, host: str, prefix: str, virtual_host_base: str | None
) -> Target:
    """The bucket and key of a request, from its raw path and ``Host``."""
    below = strip_prefix(canonical_uri(raw_path or "/"), prefix)
    return locate(below, bucket_from_host(host, virtual_host_base))


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decoded query parameters, in order; ``+`` stays a plus, as S3 reads it."""
    pairs = []
    for item in raw_query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def strip_prefix(path: str, prefix: str) -> str:
    """The path below ``prefix``; a path outside it is refused."""
    if not prefix:
        return path
    if path == prefix:
        return "/"
    if not path.startswith(prefix + "/"):
        raise errors.InvalidRequest(
            f"This endpoint serves S3 requests under {prefix}/ only."
        )
    return path[len(prefix) :]


# What any S3 store accepts as a bucket name, legacy names included. Nothing
# here needs percent-encoding, so a valid name goes to the store as it is.
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


def checked_bucket(name: str) -> str:
    """The bucket name, or ``InvalidBucketName`` when no store could have it."""
    if not BUCKET_NAME.fullmatch(name):
        raise errors.InvalidBucketName()
    return name


def bucket_from_host(host: str, virtual_host_base: str | None) -> str | None:
    """The bucket of a virtual-hosted request, or ``None`` for path style."""
    if not virtual_host_base:
        return None
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    base = virtual_host_base.lower()
    if name == base or not name.endswith("." + base):
        return None
    return checked_bucket(name[: -len(base) - 1])


def locate(path: str, host_bucket: str | None) -> Target:
    """Split a percent-normalised path (below any prefix) into bucket and key."""
    if host_bucket is not None:
        return Target(host_bucket, _decode_key(path[1:]), path)
    bucket_part, slash, rest = path[1:].partition("/")
    if not bucket_part:
        return Target(None, None, "")
    bucket = checked_bucket(_decode(bucket_part))
    if not slash:
        return Target(bucket, None, "")
    return Target(bucket, _decode_key(rest), "/" + rest)


def _decode_key(encoded: str) -> str | None:
    return _decode(encoded) if encoded else None


def _decode(encoded: str) -> str:
    try:
        return unquote_to_bytes(encoded).decode("utf-8")
    except UnicodeDecodeError as error:
        raise errors.InvalidArgument("Object keys must be valid UTF-8.") from error
