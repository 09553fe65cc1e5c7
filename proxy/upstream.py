"""The request to the store: built, signed with the store's key, streamed.

The outbound request carries the path exactly as it was verified (only the
inbound prefix removed), the client's headers less everything the proxy
asserts itself, the claim headers, and a header signature made with the
upstream key. It never carries the client's credentials.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from . import errors, sigv4
from .addressing import checked_bucket
from .config import ClaimHeadersConfig, UpstreamConfig
from .identity import AuthMode, Principal

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Headers the proxy sets itself on the outbound request; the client's are never
# forwarded. The SigV4 ones would otherwise leak the client's credentials.
PROXY_ASSERTED = frozenset(
    {
        "authorization",
        "host",
        "content-length",
        "expect",
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-security-token",
        "x-amz-decoded-content-length",
    }
)

# botocore leaves these out of the signature too: intermediaries may change them.
UNSIGNED_OUTBOUND = frozenset({"user-agent", "expect", "x-amzn-trace-id"})


def header_key(name: str) -> str:
    """The form in which header names are compared: case and ``_``/``-`` folded."""
    return name.lower().replace("_", "-")


def forwardable_headers(
    headers: Iterable[tuple[str, str]],
    claim_prefix: str,
    extra_drop: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """The client's headers that may reach the store.

    Drops hop-by-hop headers (and those the ``Connection`` header names),
    every header the proxy asserts, every header in the claim namespace, so
    that a client can never pose as someone else to the store, and every name
    with an underscore (as nginx does by default).
    """
    pairs = list(headers)
    named_by_connection = {
        header_key(token.strip())
        for name, value in pairs
        if header_key(name) == "connection"
        for token in value.split(",")
    }
    dropped = HOP_BY_HOP | PROXY_ASSERTED | named_by_connection
    dropped |= {header_key(name) for name in extra_drop}
    prefix = header_key(claim_prefix)
    return [
        (name, value)
        for name, value in pairs
        if header_key(name) not in dropped
        and not (prefix and header_key(name).startswith(prefix))
        # Some servers read "_" as "-": x_amz_copy_source would become a
        # header that no signature and no policy decision ever covered.
        and "_" not in name
    ]


def claim_headers(
    principal: Principal, names: ClaimHeadersConfig
) -> list[tuple[str, str]]:
    """The headers that tell the store who the caller is.

    Values are ASCII: other characters are percent-encoded (RFC 3986). The
    selected claims travel whole as base64url-encoded JSON.
    """
    values = {
        "subject": principal.subject,
        "role": principal.role,
        "auth_mode": principal.mode.value,
        "access_key_id": principal.access_key_id
        if principal.mode is AuthMode.KEY
        else None,
        "claims": _encoded_claims(principal.claims, names.forwarded_claims),
    }
    return [
        (header, quote(value, safe=_HEADER_SAFE))
        for what, header in names.headers().items()
        if (value := values[what])
    ]


_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def _encoded_claims(claims: Mapping[str, Any], selected: Sequence[str]) -> str | None:
    chosen = {name: claims[name] for name in selected if name in claims}
    if not chosen:
        return None
    document = json.dumps(chosen, separators=(",", ":"), sort_keys=True, default=str)
    return base64.urlsafe_b64encode(document.encode()).rstrip(b"=").decode()


@dataclass(frozen=True)
class OutboundRequest:
    method: str
    url: URL
    headers: list[tuple[str, str]]


class Upstream:
    """The connection pool to the store and the way requests are sent to it."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        parts = urlsplit(config.endpoint)
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        ssl_context: ssl.SSLContext | bool = True
        if self.config.ca_file:
            ssl_context = ssl.create_default_context(cafile=self.config.ca_file)
        connector = aiohttp.TCPConnector(
            limit=self.config.max_connections, ssl=ssl_context
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.config.connect_timeout_seconds,
                sock_read=self.config.read_timeout_seconds,
            ),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def build(
        self,
        method: str,
        bucket: str | None,
        raw_key_path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        payload_hash: str,
    ) -> OutboundRequest:
        """Address, complete and sign the outbound request.

        ``raw_key_path`` is the verified, percent-normalised path after the
        bucket (starting with ``/``, or empty for a bucket-level request);
        it is sent exactly so.
        """
        host, path = self._address(bucket, raw_key_path)
        signed = [("host", host), *headers]
        signed_part = [(n, v) for n, v in signed if n.lower() not in UNSIGNED_OUTBOUND]
        auth = sigv4.sign_request(
            method,
            path,
            query,
            signed_part,
            access_key_id=self.config.access_key_id,
            secret=self.config.secret_access_key,
            region=self.config.region,
            payload_hash=payload_hash,
            now=datetime.now(UTC),
        )
        target = f"{self._scheme}://{self._netloc}{path}"
        url = URL(f"{target}?{query}" if query else target, encoded=True)
        return OutboundRequest(method, url, [*signed, *auth])

    def _address(self, bucket: str | None, raw_key_path: str) -> tuple[str, str]:
        if bucket is not None:
            # The bucket goes into the URL as it is: it must need no encoding.
            checked_bucket(bucket)
        if bucket is None:
            return self._netloc, raw_key_path or "/"
        if self.config.addressing == "virtual":
            return f"{bucket}.{self._netloc}", raw_key_path or "/"
        return self._netloc, f"/{bucket}{raw_key_path}"

    async def send(
        self,
        request: OutboundRequest,
        body: AsyncIterable[bytes] | None,
    ) -> aiohttp.ClientResponse:
        """Send the request; failures to reach the store become S3 errors."""
        assert self._session is not None, "Upstream.start() was not awaited"
        try:
            return await self._session.request(
                request.method,
                request.url,
                headers=CIMultiDict(request.headers),
                data=body,
                skip_auto_headers=("Content-Type", "User-Agent", "Accept-Encoding"),
                allow_redirects=False,
            )
        except aiohttp.ClientConnectorError as error:
            raise errors.ServiceUnavailable() from error
        except (TimeoutError, aiohttp.ServerTimeoutError) as error:
            raise errors.GatewayTimeout() from error
        except aiohttp.ClientError as error:
            raise errors.BadGateway(
                "The connection to the upstream store failed."
            ) from error


def response_headers(
    upstream: aiohttp.ClientResponse, claim_prefix: str
) -> list[tuple[str, str]]:
    """The store's response headers that go back to the client.

    Hop-by-hop headers (and those the store's ``Connection`` names) stay
    here, and so do headers in the proxy's claim namespace.
    """
    pairs = list(upstream.headers.items())
    named = {
        header_key(token.strip())
        for name, value in pairs
        if header_key(name) == "connection"
        for token in value.split(",")
    }
    prefix = header_key(claim_prefix)
    return [
        (name, value)
        for name, value in pairs
        if header_key(name) not in HOP_BY_HOP | named
        and not header_key(name).startswith(prefix)
    ]
