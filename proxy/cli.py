"""The ``s3-auth-proxy`` command: serve, demo, check-config, explain."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__, errors
from .config import (
    AuthorizationConfig,
    Config,
    ConfigError,
    load_config,
    with_policy_file,
)
from .explain import explain
from .server import Listening, configure_logging, serve_until_stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3-auth-proxy",
        description="An authenticating, authorizing SigV4 proxy for S3 stores.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", help="YAML file (S3AP_* variables override it)")
    serve.set_defaults(run=_serve)

    check = commands.add_parser("check-config", help="validate a configuration")
    check.add_argument("config", help="YAML file")
    check.set_defaults(run=_check_config)

    demo = commands.add_parser(
        "demo", help="run the proxy in front of an embedded moto S3 server"
    )
    demo.add_argument("--host", default="127.0.0.1", help="listen address")
    demo.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    demo.add_argument("--admin-port", type=int, default=0, help="0 picks a free port")
    demo.add_argument("--json", action="store_true", help="print one JSON line")
    demo.set_defaults(run=_demo)

    why = commands.add_parser(
        "explain", help="show how the policies decide a request for some claims"
    )
    source = why.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="the proxy's configuration file")
    source.add_argument(
        "--policies", help="a policy file: YAML with policies and attachments"
    )
    who = why.add_mutually_exclusive_group(required=True)
    who.add_argument("--claims", help='JSON claims, e.g. \'{"sub": "u1", ...}\'')
    who.add_argument("--token", help="a JWT; its claims are read, not verified")
    why.add_argument("method", help="HTTP method, e.g. GET")
    why.add_argument("url", help="path-style URL or path, e.g. /bucket/key?tagging")
    why.add_argument(
        "--header", action="append", default=[], help="'Name: value' (repeatable)"
    )
    why.set_defaults(run=_explain)
    return parser


def _load(path: str | None) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            print(f"config: {problem}", file=sys.stderr)
        return None


def _policies_only(path: str) -> Config | None:
    """A configuration holding just the policies of a policy file."""
    problems: list[str] = []
    authorization = with_policy_file(AuthorizationConfig(policy_file=path), problems)
    problems += authorization.problems("policies")
    for problem in problems:
        print(f"policies: {problem}", file=sys.stderr)
    return None if problems else Config(authorization=authorization)


def _serve(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    configure_logging(config.logging.level)
    asyncio.run(serve_until_stopped(config))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    if _load(args.config) is None:
        return 1
    print(f"{args.config}: valid")
    return 0


def _explain(args: argparse.Namespace) -> int:
    config = _load(args.config) if args.config else _policies_only(args.policies)
    if config is None:
        return 1
    try:
        report = explain(
            config,
            args.method,
            args.url,
            args.header,
            claims=args.claims,
            token=args.token,
        )
    except (ValueError, errors.S3Error) as error:
        print(f"explain: {error}", file=sys.stderr)
        return 2
    print(report.text())
    return 0 if report.allowed else 1


def _demo(args: argparse.Namespace) -> int:
    try:
        from .demo import Demo, MotoUpstream
    except ImportError:
        print("the demo needs moto: pip install 's3-auth-proxy[demo]'", file=sys.stderr)
        return 1
    moto = MotoUpstream().start()
    try:
        demo = Demo(moto)
        demo.create_buckets()
        config = demo.config(args.host, args.port, args.admin_port)
        configure_logging("warning" if args.json else "info")
        asyncio.run(serve_until_stopped(config, _demo_printer(args.json, demo)))
    finally:
        moto.stop()
    return 0


def _demo_printer(as_json: bool, demo: Any) -> Callable[[Listening], None]:
    def ready(listening: Listening) -> None:
        details = demo.details(listening.endpoint, listening.admin_endpoint)
        text = json.dumps(details) if as_json else _demo_text(details)
        print(text, flush=True)

    return ready


def _demo_text(details: dict[str, Any]) -> str:
    endpoint, region = details["endpoint"], details["region"]
    key_id, secret = details["access_key_id"], details["secret_access_key"]
    session = details["session"]
    bucket, home = details["demo_bucket"], session["home_prefix"]
    return f"""
s3-auth-proxy demo: the proxy at {endpoint} fronts a moto S3 server.

Full-access key (a service: may do everything)
  endpoint           {endpoint}
  region             {region}
  access key id      {key_id}
  secret access key  {secret}

  export AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret}
  export AWS_DEFAULT_REGION={region}
  aws --endpoint-url {endpoint} s3 mb s3://demo-bucket
  echo hello | aws --endpoint-url {endpoint} s3 cp - s3://demo-bucket/hello.txt
  aws --endpoint-url {endpoint} s3 ls s3://demo-bucket

  import boto3
  s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="{region}",
                    aws_access_key_id="{key_id}",
                    aws_secret_access_key="{secret}")
  s3.put_object(Bucket="{bucket}", Key="hello.txt", Body=b"hello")

Session (a demo user: own folder {bucket}/{home} only, public read)
  access key id      {session["access_key_id"]}   (the project ref)
  secret access key  {session["secret_access_key"]}   (the anon key)
  session token      {session["session_token"]}

  echo hi | AWS_ACCESS_KEY_ID={session["access_key_id"]} \\
  AWS_SECRET_ACCESS_KEY={session["secret_access_key"]} \\
  AWS_SESSION_TOKEN={session["session_token"]} \\
    aws --endpoint-url {endpoint} s3 cp - s3://{bucket}/{home}notes.txt

  s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="{region}",
                    aws_access_key_id="{session["access_key_id"]}",
                    aws_secret_access_key="{session["secret_access_key"]}",
                    aws_session_token="<the session token above>")
  s3.put_object(Bucket="{bucket}", Key="{home}notes.txt", Body=b"mine")

  // AWS SDK for JavaScript v3
  new S3Client({{ forcePathStyle: true, region: "{region}",
    endpoint: "{endpoint}",
    credentials: {{ accessKeyId: "{session["access_key_id"]}",
      secretAccessKey: "{session["secret_access_key"]}",
      sessionToken: "<the session token above>" }} }})

Anyone, signed in or not, reads the bucket "public":
  curl {endpoint}/public/

More users: sign tokens with the demo's HS256 secret {session["jwt_secret"]}
(claims: sub, role "authenticated", aud "authenticated", exp).

Presigned URLs: boto3 and the AWS CLI presign with Signature Version 2 for a
custom endpoint unless told signature_version='s3v4'; the proxy refuses V2.

Metrics: {details["admin_endpoint"]}/metrics
Press Ctrl-C to stop.
"""
