"""The request flow: the one place where the stages are wired together.

parse SigV4 -> verify -> principal -> operation -> authorize -> build the
upstream request -> stream both ways. Every stage raises an
:class:`~proxy.errors.S3Error` to refuse; this module turns it into the S3 XML
response, and writes the access log line and the metrics for every request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from . import addressing, body, errors, sigv4
from .config import Config
from .identity import Authenticated, Authenticator, Principal
from .metrics import Metrics
from .operations import Operation, classify
from .upstream import (
    OutboundRequest,
    Upstream,
    claim_headers,
    forwardable_headers,
    response_headers,
)

access_log = logging.getLogger("s3_auth_proxy.access")
auth_log = logging.getLogger("s3_auth_proxy.auth")
log = logging.getLogger("s3_auth_proxy")

READ_SIZE = 256 * 1024

# Query authentication's own parameters: the store never sees them.
PRESIGN_PARAMETERS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    }
)
HEX_DIGITS = frozenset("0123456789abcdef")


@dataclass
class Exchange:
    """What is known about one request as it goes through the stages."""

    request_id: str = field(default_factory=lambda: secrets.token_hex(8).upper())
    started: float = field(default_factory=time.monotonic)
    principal: Principal | None = None
    operation: Operation | None = None
    status: int = 0
    error_code: str | None = None
    received: int = 0
    sent: int = 0
    auth_outcome: str = "none"


class ProxyHandler:
    """Handles every S3 request on the listener."""

    def __init__(
        self,
        config: Config,
        authenticator: Authenticator,
        upstream: Upstream,
        metrics: Metrics,
    ) -> None:
        self.config = config
        self.authenticator = authenticator
        self.upstream = upstream
        self.metrics = metrics

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        exchange = Exchange()
        self.metrics.in_flight.inc()
        try:
            return await self._respond(request, exchange)
        finally:
            self.metrics.in_flight.dec()
            self._account(request, exchange)

    async def _respond(
        self, request: web.Request, exchange: Exchange
    ) -> web.StreamResponse:
        try:
            return await self._proxy(request, exchange)
        except errors.S3Error as error:
            return self._refuse(request, exchange, error)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("request %s failed inside the proxy", exchange.request_id)
            return self._refuse(request, exchange, errors.InternalError())

    async def _proxy(
        self, request: web.Request, exchange: Exchange
    ) -> web.StreamResponse:
        path, _, query = request.raw_path.partition("?")
        headers = list(request.headers.items())
        authenticated = await self.authenticator.authenticate(
            request.method, path, query, headers
        )
        exchange.principal = authenticated.principal
        exchange.auth_outcome = "success"

        target = self._locate(path, request.host)
        exchange.operation = classify(
            request.method,
            target.bucket,
            target.key,
            _query_pairs(query),
            request.headers,
        )
        payload = self._body(request, authenticated)
        await _continue_if_expected(request)
        return await self._forward(request, exchange, target, query, payload)

    def _locate(self, path: str, host: str) -> addressing.Target:
        canonical = sigv4.canonical_uri(path)
        below = addressing.strip_prefix(canonical, self.config.listen.path_prefix)
        host_bucket = addressing.bucket_from_host(
            host, self.config.listen.virtual_host_base
        )
        return addressing.locate(below, host_bucket)

    def _body(
        self, request: web.Request, authenticated: Authenticated
    ) -> body.BodyStream:
        """Plan how the body is read and checked; nothing is read yet."""
        length = _declared_length(request)
        stream = body.BodyStream(_read(request), length)
        auth = authenticated.auth
        payload_hash = auth.payload_hash if auth else sigv4.UNSIGNED_PAYLOAD
        if _is_hex_sha256(payload_hash):
            stream.checks.append(body.sha256_check(payload_hash))
        elif payload_hash != sigv4.UNSIGNED_PAYLOAD:
            raise errors.NotImplemented(
                f"The payload mode {payload_hash} is not supported."
            )
        md5 = request.headers.get("Content-MD5")
        if md5 is not None:
            stream.checks.append(body.content_md5_check(md5))
        if length == 0:
            stream.finish()
        return stream

    async def _forward(
        self,
        request: web.Request,
        exchange: Exchange,
        target: addressing.Target,
        query: str,
        payload: body.BodyStream,
    ) -> web.StreamResponse:
        outbound_query = sigv4.canonical_query(query, omit=PRESIGN_PARAMETERS)
        claims = self.config.claim_headers
        headers = forwardable_headers(request.headers.items(), claims.prefix)
        assert exchange.principal is not None
        headers += claim_headers(exchange.principal, claims)
        if payload.length or request.method in ("PUT", "POST"):
            headers.append(("Content-Length", str(payload.length)))
        payload_hash = payload_hash_for_upstream(payload)
        outbound = self.upstream.build(
            request.method,
            target.bucket,
            target.raw_key_path,
            outbound_query,
            headers,
            payload_hash,
        )
        try:
            upstream = await self._send(outbound, payload)
        except errors.S3Error as error:
            raise payload.error or error from error
        finally:
            exchange.received = payload.received
        async with upstream:
            return await self._stream_back(request, exchange, upstream)

    async def _send(
        self, outbound: OutboundRequest, payload: body.BodyStream
    ) -> aiohttp.ClientResponse:
        """Send, giving up when neither side makes progress for the read timeout.

        aiohttp's read timeout starts only once the body is sent; a store that
        stops reading the body would otherwise hold the request forever.
        """
        idle = self.config.upstream.read_timeout_seconds
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(idle) as deadline:
                payload.on_progress = lambda: deadline.reschedule(loop.time() + idle)
                return await self.upstream.send(
                    outbound, payload if payload.length else None
                )
        except TimeoutError as error:
            raise errors.GatewayTimeout() from error

    async def _stream_back(
        self,
        request: web.Request,
        exchange: Exchange,
        upstream: aiohttp.ClientResponse,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in response_headers(upstream):
            response.headers.add(name, value)
        exchange.status = upstream.status
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
                exchange.sent += len(chunk)
            await response.write_eof()
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "request %s: upstream response broke off after %d bytes: %s",
                exchange.request_id,
                exchange.sent,
                type(error).__name__,
            )
            exchange.error_code = "UpstreamResponseBrokenOff"
            response.force_close()
            if request.transport is not None:
                request.transport.close()
        return response

    def _refuse(
        self, request: web.Request, exchange: Exchange, error: errors.S3Error
    ) -> web.Response:
        exchange.status = error.status
        exchange.error_code = error.code
        if exchange.auth_outcome == "none":
            exchange.auth_outcome = "error" if error.status >= 500 else "failure"
        resource = request.raw_path.partition("?")[0]
        content = error.to_xml(resource, exchange.request_id)
        response = web.Response(
            status=error.status,
            body=b"" if request.method == "HEAD" else content,
            headers={
                "Content-Type": "application/xml",
                "x-amz-request-id": exchange.request_id,
            },
        )
        if request.can_read_body:
            response.force_close()
        return response

    def _account(self, request: web.Request, exchange: Exchange) -> None:
        operation = exchange.operation.name if exchange.operation else "Unknown"
        principal = exchange.principal
        mode = principal.mode.value if principal else "none"
        seconds = time.monotonic() - exchange.started
        self.metrics.observe_request(
            request.method, operation, exchange.status, mode, seconds
        )
        self.metrics.received.inc(exchange.received)
        self.metrics.sent.inc(exchange.sent)
        if exchange.auth_outcome != "none":
            self.metrics.auth.labels(mode, exchange.auth_outcome).inc()
        if self.config.logging.access_log:
            _log_access(request, exchange, operation, seconds)


def _log_access(
    request: web.Request, exchange: Exchange, operation: str, seconds: float
) -> None:
    who = exchange.principal.describe() if exchange.principal else "-"
    access_log.info(
        "%s %s %s %s %d %s in=%d out=%d %.3fs who=%s",
        exchange.request_id,
        request.remote,
        request.method,
        operation,
        exchange.status,
        exchange.error_code or "-",
        exchange.received,
        exchange.sent,
        seconds,
        who,
        extra={
            "request_id": exchange.request_id,
            "operation": operation,
            "status": exchange.status,
            "error_code": exchange.error_code,
            "bytes_in": exchange.received,
            "bytes_out": exchange.sent,
            "duration": seconds,
            "who": who,
            "auth": exchange.auth_outcome,
        },
    )


def payload_hash_for_upstream(payload: body.BodyStream) -> str:
    for check in payload.checks:
        if check.name == "x-amz-content-sha256" and check.expected:
            return check.expected
    return sigv4.UNSIGNED_PAYLOAD


def _declared_length(request: web.Request) -> int:
    if request.content_length is not None:
        return request.content_length
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        raise errors.MissingContentLength()
    return 0


async def _read(request: web.Request) -> AsyncIterator[bytes]:
    async for data in request.content.iter_chunked(READ_SIZE):
        yield data


async def _continue_if_expected(request: web.Request) -> None:
    """Answer ``Expect: 100-continue`` only once the request is accepted."""
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """Decoded query parameters; ``+`` stays a plus, as S3 reads it."""
    pairs = []
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _is_hex_sha256(value: str) -> bool:
    return len(value) == 64 and set(value) <= HEX_DIGITS
