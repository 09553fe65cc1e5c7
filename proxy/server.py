"""aiohttp wiring: the S3 listener, the admin listener, start and stop.

The S3 listener has a single catch-all route. aiohttp's own answer to
``Expect: 100-continue`` is switched off there, so that the proxy sends
``100 Continue`` only after it has accepted the request. The admin listener
serves ``/healthz``, ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .authorization import Authorizer
from .config import Config
from .handler import ProxyHandler
from .identity import Authenticator, KeyRing, SessionRules
from .metrics import Metrics
from .policy import PolicySet
from .tokens import TokenVerifier
from .upstream import Upstream

log = logging.getLogger("s3_auth_proxy")


@dataclass(frozen=True)
class Listening:
    """Where the proxy ended up listening (ports may have been chosen by the OS)."""

    endpoint: str
    admin_endpoint: str | None


async def _no_automatic_continue(request: web.Request) -> None:
    """Leave ``100 Continue`` to the handler, after authentication."""


def build_authenticator(config: Config, tokens: TokenVerifier | None) -> Authenticator:
    keys = {key.access_key_id: key.secret_access_key for key in config.auth.keys}
    session = config.session
    keyring = KeyRing.from_pairs(keys, session.access_key_ids, session.secrets)
    rules = SessionRules(
        full_access_roles=frozenset(session.full_access_roles),
        allow_anonymous=session.allow_anonymous,
        anonymous_role=session.anonymous_role,
    )
    return Authenticator(
        keyring,
        regions=config.auth.regions,
        max_skew=timedelta(seconds=config.auth.max_clock_skew_seconds),
        tokens=tokens,
        rules=rules,
    )


def build_policies(config: Config) -> PolicySet:
    authorization = config.authorization
    return PolicySet.from_config(authorization.policies, authorization.attachments)


class ProxyServer:
    """The running proxy: listeners, upstream pool and metrics."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.upstream = Upstream(config.upstream)
        self.tokens = (
            TokenVerifier(config.session.jwt.token_settings())
            if config.session.enabled
            else None
        )
        self.handler = ProxyHandler(
            config,
            build_authenticator(config, self.tokens),
            Authorizer(build_policies(config)),
            self.upstream,
            self.metrics,
        )
        self._runners: list[web.AppRunner] = []

    async def start(self) -> Listening:
        await self.upstream.start()
        if self.tokens is not None:
            await self.tokens.start()
        listen = self.config.listen
        app = web.Application(handler_args=self._parser_settings())
        app.router.add_route(
            "*", r"/{tail:[\s\S]*}", self.handler, expect_handler=_no_automatic_continue
        )
        tls = self._tls_context()
        port = await self._serve(app, listen.host, listen.port, tls)
        scheme = "https" if tls else "http"
        endpoint = f"{scheme}://{_host_for_url(listen.host)}:{port}"
        admin_endpoint = None
        if self.config.admin.enabled:
            admin_port = await self._serve(
                self._admin_app(), self.config.admin.host, self.config.admin.port
            )
            admin_endpoint = (
                f"http://{_host_for_url(self.config.admin.host)}:{admin_port}"
            )
        log.info("listening on %s (admin %s)", endpoint, admin_endpoint or "off")
        return Listening(endpoint, admin_endpoint)

    async def close(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        await self.upstream.close()
        if self.tokens is not None:
            await self.tokens.close()

    def _parser_settings(self) -> dict[str, Any]:
        # aiohttp's default of 8190 bytes a header is close to the size of a
        # large JWT in X-Amz-Security-Token. Bodies are never decompressed:
        # an object stored with Content-Encoding: gzip is gzip bytes.
        return {
            "max_field_size": self.config.listen.max_field_size,
            "max_line_size": self.config.listen.max_line_size,
            "auto_decompress": False,
        }

    def _tls_context(self) -> ssl.SSLContext | None:
        listen = self.config.listen
        if not listen.tls_cert_file or not listen.tls_key_file:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(listen.tls_cert_file, listen.tls_key_file)
        return context

    async def _serve(
        self,
        app: web.Application,
        host: str,
        port: int,
        tls: ssl.SSLContext | None = None,
    ) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        bound: int = server.sockets[0].getsockname()[1]
        return bound

    def _admin_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        payload = generate_latest(self.metrics.registry)
        response = web.Response(body=payload)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class MalformedRequestFilter(logging.Filter):
    """One short line, no traceback, for requests aiohttp cannot parse.

    aiohttp logs them with a traceback and the offending bytes, which may be
    the start of a token; anyone could flood the log with them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "refused a malformed HTTP request: %s"
            record.args = (type(error).__name__,)
            record.exc_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestFilter())


async def serve_until_stopped(
    config: Config, on_ready: Callable[[Listening], None] | None = None
) -> None:
    """Run the proxy until SIGINT or SIGTERM."""
    server = ProxyServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        listening = await server.start()
        if on_ready is not None:
            on_ready(listening)
        await stop.wait()
    finally:
        await server.close()
