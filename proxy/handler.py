"""The request flow: the one place where the stages are wired together.

parse SigV4 -> verify -> principal -> operation -> authorize -> build the
upstream request -> stream both ways. Every stage raises an
:class:`~proxy.errors.S3Error` to refuse; this module turns it into the S3 XML
response, and writes the access log line and the metrics for every request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from . import addressing, body, checksums, errors, sigv4
from .authorization import MAX_XML_BYTES, Authorizer, delete_body, delete_result
from .config import Config
from .identity import Authenticated, Authenticator, AuthMode, Principal
from .metrics import Metrics
from .operations import Operation, classify, resource_arn
from .upstream import (
    OutboundRequest,
    Upstream,
    claim_headers,
    forwardable_headers,
    response_headers,
)

access_log = logging.getLogger("s3_auth_proxy.access")
log = logging.getLogger("s3_auth_proxy")

READ_SIZE = 256 * 1024

# Query authentication's own parameters: the store never sees them.
PRESIGN_PARAMETERS = frozenset(
    {
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
        "x-amz-security-token",
    }
)


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
    payload_mode: str = "-"


# The client's headers that describe a body the proxy replaced by its own.
REPLACED_BODY_HEADERS = frozenset(
    {
        "content-md5",
        "content-encoding",
        "x-amz-trailer",
        "x-amz-decoded-content-length",
        "x-amz-sdk-checksum-algorithm",
        *(checksums.header_for_algorithm(a) for a in checksums.ALGORITHMS),
    }
)


@dataclass
class Outbound:
    """A request on its way to the store, with the body it will carry."""

    request: web.Request
    exchange: Exchange
    target: addressing.Target
    query: str
    payload: body.BodyStream
    framing: body.Framing

    def replace_body(self, document: bytes) -> None:
        """Send ``document`` (already read and checked) instead of the body."""
        self.payload = body.BodyStream(
            _single(document),
            len(document),
            upstream_payload_hash=hashlib.sha256(document).hexdigest(),
        )
        md5 = base64.b64encode(hashlib.md5(document, usedforsecurity=False).digest())
        self.framing = body.Framing(
            REPLACED_BODY_HEADERS, (("Content-MD5", md5.decode()),)
        )


class CallerLimit:
    """At most ``limit`` requests at once per caller, so that no one caller
    can take every connection to the store."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}

    @contextlib.contextmanager
    def admit(self, caller: str) -> Iterator[None]:
        if self.counts.get(caller, 0) >= self.limit:
            raise errors.SlowDown()
        self.counts[caller] = self.counts.get(caller, 0) + 1
        try:
            yield
        finally:
            self.counts[caller] -= 1
            if not self.counts[caller]:
                del self.counts[caller]


class ProxyHandler:
    """Handles every S3 request on the listener."""

    def __init__(
        self,
        config: Config,
        authenticator: Authenticator,
        authorizer: Authorizer,
        upstream: Upstream,
        metrics: Metrics,
    ) -> None:
        self.config = config
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.in_flight = CallerLimit(config.listen.max_requests_per_caller)
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
        authenticated = await self.authenticator.authenticate(
            request.method, path, query, list(request.headers.items())
        )
        principal = exchange.principal = authenticated.principal
        exchange.auth_outcome = "success"
        exchange.payload_mode = _payload_mode(authenticated.auth)
        with self.in_flight.admit(_caller(principal, request)):
            return await self._serve(request, exchange, authenticated)

    async def _serve(
        self, request: web.Request, exchange: Exchange, authenticated: Authenticated
    ) -> web.StreamResponse:
        """Everything after authentication: authorize, then forward."""
        principal = authenticated.principal
        path, _, query = request.raw_path.partition("?")
        listen = self.config.listen
        target = addressing.target_of(
            path, request.host, listen.path_prefix, listen.virtual_host_base
        )
        pairs = addressing.query_pairs(query)
        operation = exchange.operation = classify(
            request.method, target.bucket, target.key, pairs, request.headers
        )
        if principal.mode is AuthMode.ANONYMOUS and _overrides_response(pairs):
            raise errors.InvalidRequest(
                "Request specific response headers cannot be used for anonymous "
                "GET requests."
            )
        special = SPECIAL_OPERATIONS.get(operation.name)
        if special is None:
            self._authorize(principal, operation)
        payload, framing = body.plan(
            request.headers,
            _read(request, self.config.listen.client_idle_timeout_seconds),
            _wire_length(request),
            authenticated.auth,
            authenticated.signing_key,
            forward_trailers=self.config.upstream.checksum_trailers == "forward",
        )
        await _continue_if_expected(request)
        outbound = Outbound(request, exchange, target, query, payload, framing)
        if special is not None:
            return await special(self, outbound)
        return await self._forward(outbound)

    def _authorize(self, principal: Principal, operation: Operation) -> None:
        if principal.full_access:
            return
        try:
            self.authorizer.authorize(principal, operation)
        except errors.AccessDenied:
            self.metrics.decisions.labels("deny").inc()
            raise
        self.metrics.decisions.labels("allow").inc()

    async def _forward(self, outbound: Outbound) -> web.StreamResponse:
        upstream = await self._send_upstream(outbound)
        async with upstream:
            return await self._stream_back(outbound, upstream)

    async def _send_upstream(self, outbound: Outbound) -> aiohttp.ClientResponse:
        """Build, sign and send the request; the body streams as it is sent."""
        request, payload = outbound.request, outbound.payload
        claims = self.config.claim_headers
        drop = outbound.framing.drop
        headers = forwardable_headers(request.headers.items(), claims.prefix, drop)
        headers += outbound.framing.add
        assert outbound.exchange.principal is not None
        headers += claim_headers(outbound.exchange.principal, claims)
        if payload.upstream_length or request.method in ("PUT", "POST"):
            headers.append(("Content-Length", str(payload.upstream_length)))
        target = outbound.target
        signed = self.upstream.build(
            request.method,
            target.bucket,
            target.raw_key_path,
            sigv4.canonical_query(_without_presigning(outbound.query)),
            headers,
            payload.upstream_payload_hash,
        )
        if not payload.upstream_length:
            # Nothing goes up, but what came in is checked all the same: an
            # empty body against its hash, an aws-chunked one against its
            # chunk signatures.
            async for _ in payload:
                pass
        try:
            return await self._send(signed, payload)
        except errors.S3Error as error:
            if payload.error is None:
                self.metrics.upstream_errors.labels(error.code).inc()
            raise payload.error or error from error
        finally:
            outbound.exchange.received = payload.received

    async def _delete_objects(self, outbound: Outbound) -> web.StreamResponse:
        """``DeleteObjects``: each key is authorized, denied keys never go up."""
        principal, operation = outbound.exchange.principal, outbound.exchange.operation
        assert principal is not None and operation is not None
        document = await _read_whole(outbound.payload, MAX_XML_BYTES)
        split = self.authorizer.split_delete(principal, operation, document)
        if not split.allowed:
            return _xml_response(outbound, delete_result(split, None))
        outbound.replace_body(delete_body(split))
        if not split.denied:
            return await self._forward(outbound)
        async with await self._send_upstream(outbound) as upstream:
            if upstream.status != 200:
                return await self._stream_back(outbound, upstream)
            answer = await _read_bounded(upstream, MAX_XML_BYTES)
        return _xml_response(outbound, delete_result(split, answer))

    async def _list_buckets(self, outbound: Outbound) -> web.StreamResponse:
        """``ListBuckets``: a session caller sees the buckets it can use at all."""
        principal = outbound.exchange.principal
        assert principal is not None
        if principal.full_access:
            return await self._forward(outbound)
        decision = self.authorizer.decide(
            principal, "s3:ListAllMyBuckets", resource_arn(None)
        )
        if not decision.allowed and decision.statement is not None:
            raise errors.AccessDenied()
        async with await self._send_upstream(outbound) as upstream:
            if upstream.status != 200:
                return await self._stream_back(outbound, upstream)
            answer = await _read_bounded(upstream, MAX_XML_BYTES)
        visible = self.authorizer.visible_buckets(principal, answer)
        return _xml_response(outbound, visible)

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
                data = payload if payload.upstream_length else None
                return await self.upstream.send(outbound, data)
        except TimeoutError as error:
            raise errors.GatewayTimeout() from error

    async def _stream_back(
        self, outbound: Outbound, upstream: aiohttp.ClientResponse
    ) -> web.StreamResponse:
        request, exchange = outbound.request, outbound.exchange
        if upstream.status < 200:
            raise errors.BadGateway("The store answered with an interim status.")
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        prefix = self.config.claim_headers.prefix
        for name, value in response_headers(upstream, prefix):
            response.headers.add(name, value)
        exchange.status = upstream.status
        await response.prepare(request)
        idle = self.config.listen.client_idle_timeout_seconds
        try:
            async for chunk in upstream.content.iter_any():
                # A client that reads nothing for the idle timeout is let go,
                # so that it cannot hold a connection to the store.
                async with asyncio.timeout(idle):
                    await response.write(chunk)
                exchange.sent += len(chunk)
            await response.write_eof()
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as error:
            log.warning(
                "request %s: the response broke off after %d bytes: %s",
                exchange.request_id,
                exchange.sent,
                type(error).__name__,
            )
            exchange.error_code = "ResponseBrokenOff"
            response.force_close()
            if request.transport is not None:
                # abort, not close: close would first flush what the client
                # is not reading.
                request.transport.abort()
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
        "%s %s %s %s %d %s in=%d out=%d %.3fs who=%s auth=%s payload=%s",
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
        exchange.auth_outcome,
        exchange.payload_mode,
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
            "payload": exchange.payload_mode,
        },
    )


SpecialHandler = Callable[[ProxyHandler, Outbound], Awaitable[web.StreamResponse]]

# Operations that a principal's policies decide on more than the request line.
SPECIAL_OPERATIONS: dict[str, SpecialHandler] = {
    "DeleteObjects": ProxyHandler._delete_objects,
    "ListBuckets": ProxyHandler._list_buckets,
}


def _overrides_response(pairs: list[tuple[str, str]]) -> bool:
    return any(name.lower().startswith("response-") for name, _ in pairs)


def _caller(principal: Principal, request: web.Request) -> str:
    """Whom the in-flight limit counts: the principal, or an anonymous address."""
    if principal.mode is AuthMode.ANONYMOUS:
        return f"anonymous@{request.remote}"
    return principal.describe()


def _payload_mode(auth: sigv4.SignedRequestAuth | None) -> str:
    """The payload mode for the access log; a signed hash is just "sha256"."""
    if auth is None:
        return "anonymous"
    mode = auth.payload_hash
    return mode if mode in sigv4.PAYLOAD_MODES else "sha256"


def _without_presigning(raw_query: str) -> str:
    """The query less query authentication's parameters, in any letter case.

    They are never the store's business, and ``X-Amz-Security-Token`` holds a
    user's JWT.
    """
    return "&".join(
        item
        for item in raw_query.split("&")
        if unquote(item.partition("=")[0]).lower() not in PRESIGN_PARAMETERS
    )


def _wire_length(request: web.Request) -> int | None:
    """The body's length as sent; ``None`` for ``Transfer-Encoding: chunked``."""
    if request.content_length is not None:
        return request.content_length
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return None
    return 0


async def _read_whole(payload: body.BodyStream, limit: int) -> bytes:
    """A small body, read whole and checked (``DeleteObjects``)."""
    if payload.length > limit:
        raise errors.MaxMessageLengthExceeded()
    payload.encoder = None  # the payload itself, not framed for the store
    return b"".join([piece async for piece in payload])


async def _read_bounded(upstream: aiohttp.ClientResponse, limit: int) -> bytes:
    """The store's whole answer, up to ``limit`` bytes."""
    data = bytearray()
    async for chunk in upstream.content.iter_any():
        data += chunk
        if len(data) > limit:
            raise errors.BadGateway("The store's answer is too large to filter.")
    return bytes(data)


async def _single(document: bytes) -> AsyncIterator[bytes]:
    yield document


def _xml_response(outbound: Outbound, document: bytes) -> web.Response:
    outbound.exchange.status = 200
    outbound.exchange.sent = len(document)
    return web.Response(
        status=200,
        body=document,
        headers={
            "Content-Type": "application/xml",
            "x-amz-request-id": outbound.exchange.request_id,
        },
    )


async def _read(request: web.Request, idle: float) -> AsyncIterator[bytes]:
    """The request body; a client that sends nothing for ``idle`` seconds is cut
    off, so that a slow sender cannot hold an upstream connection for long."""
    while True:
        try:
            async with asyncio.timeout(idle):
                data = await request.content.read(READ_SIZE)
        except TimeoutError as error:
            raise errors.RequestTimeout() from error
        if not data:
            return
        yield data


async def _continue_if_expected(request: web.Request) -> None:
    """Answer ``Expect: 100-continue`` only once the request is accepted."""
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
