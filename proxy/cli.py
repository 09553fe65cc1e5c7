"""The ``s3-auth-proxy`` command: serve, demo, check-config."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .config import (
    AccessKey,
    AdminConfig,
    AuthConfig,
    Config,
    ConfigError,
    ListenConfig,
    UpstreamConfig,
    load_config,
)
from .server import Listening, configure_logging, serve_until_stopped


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
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
    return parser


def _load(path: str | None) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            print(f"config: {problem}", file=sys.stderr)
        return None


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


def _demo(args: argparse.Namespace) -> int:
    from .demo import MotoUpstream, new_access_key_id, new_secret

    try:
        moto = MotoUpstream().start()
    except ImportError:
        print("the demo needs moto: pip install 's3-auth-proxy[demo]'", file=sys.stderr)
        return 1
    key = AccessKey(new_access_key_id(), new_secret())
    config = Config(
        listen=ListenConfig(host=args.host, port=args.port),
        admin=AdminConfig(host=args.host, port=args.admin_port),
        upstream=UpstreamConfig(
            endpoint=moto.endpoint,
            access_key_id=moto.access_key_id,
            secret_access_key=moto.secret_access_key,
        ),
        auth=AuthConfig(regions=(moto.region,), keys=(key,)),
    )
    configure_logging("warning" if args.json else "info")
    try:
        asyncio.run(serve_until_stopped(config, _demo_printer(args, key, moto.region)))
    finally:
        moto.stop()
    return 0


def _demo_printer(
    args: argparse.Namespace, key: AccessKey, region: str
) -> Callable[[Listening], None]:
    def ready(listening: Listening) -> None:
        details = {
            "endpoint": listening.endpoint,
            "region": region,
            "access_key_id": key.access_key_id,
            "secret_access_key": key.secret_access_key,
            "admin_endpoint": listening.admin_endpoint,
        }
        if args.json:
            print(json.dumps(details), flush=True)
        else:
            print(_demo_text(details), flush=True)

    return ready


def _demo_text(details: dict[str, str | None]) -> str:
    endpoint, region = details["endpoint"], details["region"]
    key_id, secret = details["access_key_id"], details["secret_access_key"]
    return f"""
s3-auth-proxy demo: the proxy at {endpoint} fronts a moto S3 server.

  endpoint           {endpoint}
  region             {region}
  access key id      {key_id}
  secret access key  {secret}
  metrics            {details["admin_endpoint"]}/metrics

AWS CLI:
  export AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret}
  export AWS_DEFAULT_REGION={region}
  aws --endpoint-url {endpoint} s3 mb s3://demo-bucket
  echo hello | aws --endpoint-url {endpoint} s3 cp - s3://demo-bucket/hello.txt
  aws --endpoint-url {endpoint} s3 ls s3://demo-bucket

boto3:
  import boto3
  s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="{region}",
                    aws_access_key_id="{key_id}",
                    aws_secret_access_key="{secret}")
  s3.create_bucket(Bucket="demo-bucket")
  s3.put_object(Bucket="demo-bucket", Key="hello.txt", Body=b"hello")

Press Ctrl-C to stop.
"""
