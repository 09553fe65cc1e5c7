"""A strict, recording SigV4 gate in front of moto: the tests' upstream.

moto's own signature check fails for keys with ``+``, ``=``, ``@``, ``()``,
non-ASCII characters and for query values with ``/``, even for botocore's own
requests. So the tests put this gate between the proxy and moto. It checks
every request's header signature with botocore's signer (an implementation
independent of the proxy's), over exactly the path and query received, and the
signed payload hash over the body as it streams; it refuses anything else,
records the headers that arrived, and forwards the request to moto.

Run as ``GATE_SECRET=S python -m tests.gate --port P --upstream URL --key K``.
``GET /__gate__/requests`` lists the recorded requests; ``DELETE`` clears them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
from collections import deque
from typing import Any

import aiohttp
from aiohttp import web
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "te"}


def error(status: int, code: str, message: str) -> web.Response:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=status, text=body, content_type="application/xml")


def path_style(request: web.Request) -> str:
    """The raw target in path style: moto reads no bucket from the Host."""
    host = request.headers.get("Host", "").rsplit(":", 1)[0]
    if host.endswith(".localhost"):
        return "/" + host.removesuffix(".localhost") + request.raw_path
    return request.raw_path


class Gate:
    def __init__(self, upstream: str, key: str, secret: str, region: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.key, self.secret, self.region = key, secret, region
        self.recorded: deque[dict[str, Any]] = deque(maxlen=500)
        self.session: aiohttp.ClientSession | None = None

    def expected_signature(self, request: web.Request) -> tuple[str, str] | None:
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return None
        fields = dict(
            part.strip().split("=", 1)
            for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(",")
        )
        key_id = fields["Credential"].split("/")[0]
        if key_id != self.key:
            return None
        signed = fields["SignedHeaders"].split(";")
        headers = {
            name: ",".join(request.headers.getall(name, [""])) for name in signed
        }
        url = f"http://{request.headers['Host']}{request.raw_path}"
        aws_request = AWSRequest(method=request.method, url=url, headers=headers)
        aws_request.context["timestamp"] = request.headers["X-Amz-Date"]
        signer = S3SigV4Auth(Credentials(self.key, self.secret), "s3", self.region)
        canonical = signer.canonical_request(aws_request)
        string_to_sign = signer.string_to_sign(aws_request, canonical)
        return signer.signature(string_to_sign, aws_request), fields["Signature"]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/__gate__/requests":
            return self.report(request)
        signatures = self.expected_signature(request)
        if signatures is None or not hmac.compare_digest(*signatures):
            return error(403, "SignatureDoesNotMatch", "gate: bad upstream signature")
        self.recorded.append(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "headers": [[k, v] for k, v in request.headers.items()],
            }
        )
        return await self.forward(request)

    def report(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self.recorded.clear()
        return web.json_response(list(self.recorded))

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        declared = request.headers.get("X-Amz-Content-SHA256", "")
        digest = hashlib.sha256()
        mismatch = False

        async def body() -> Any:
            nonlocal mismatch
            held = b""
            async for data in request.content.iter_chunked(256 * 1024):
                digest.update(data)
                if held:
                    yield held
                held = data
            if len(declared) == 64 and digest.hexdigest() != declared:
                mismatch = True
                raise ValueError("payload hash mismatch: cut the upload")
            if held:
                yield held

        headers = [
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        ]
        has_body = request.can_read_body
        try:
            upstream = await self.session.request(
                request.method,
                URL(self.upstream + path_style(request), encoded=True),
                headers=headers,
                data=body() if has_body else None,
                skip_auto_headers=("Content-Type", "User-Agent", "Accept-Encoding"),
                allow_redirects=False,
            )
        except aiohttp.ClientError:
            if mismatch:
                return error(400, "XAmzContentSHA256Mismatch", "gate: body hash")
            raise
        response = web.StreamResponse(status=upstream.status)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_BY_HOP:
                response.headers.add(name, value)
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        upstream.release()
        return response


async def serve(args: argparse.Namespace) -> web.AppRunner:
    gate = Gate(args.upstream, args.key, args.secret, args.region)
    gate.session = aiohttp.ClientSession(auto_decompress=False)
    app = web.Application(
        handler_args={
            "max_field_size": 65536,
            "max_line_size": 65536,
            "auto_decompress": False,
        }
    )
    app.router.add_route("*", r"/{tail:[\s\S]*}", gate.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    return runner


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--secret", default=os.environ.get("GATE_SECRET"))
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()

    async def run() -> None:
        await serve(args)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
