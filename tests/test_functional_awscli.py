"""The AWS CLI through the proxy, with full-access keys."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.clients import aws
from tests.conftest import RunningProxy

pytestmark = pytest.mark.skipif(not shutil.which("aws"), reason="AWS CLI missing")


def test_cli_round_trip(
    proxy: RunningProxy, direct: Any, bucket: str, tmp_path: Path
) -> None:
    creds = proxy.credentials
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(12 * 1024 * 1024))
    aws(creds, tmp_path, "s3", "cp", str(source), f"s3://{bucket}/cli/upload.bin")
    stored = direct.get_object(Bucket=bucket, Key="cli/upload.bin")["Body"].read()
    assert stored == source.read_bytes()

    listing = aws(creds, tmp_path, "s3", "ls", f"s3://{bucket}/cli/")
    assert "upload.bin" in listing

    target = tmp_path / "download.bin"
    aws(creds, tmp_path, "s3", "cp", f"s3://{bucket}/cli/upload.bin", str(target))
    assert target.read_bytes() == source.read_bytes()

    aws(creds, tmp_path, "s3", "rm", f"s3://{bucket}/cli/upload.bin")
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket)


def test_cli_s3api(proxy: RunningProxy, bucket: str, tmp_path: Path) -> None:
    creds = proxy.credentials
    body = tmp_path / "body.txt"
    body.write_text("s3api body")
    aws(
        creds,
        tmp_path,
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "api key ü",
        "--body",
        str(body),
    )
    head = json.loads(
        aws(
            creds,
            tmp_path,
            "s3api",
            "head-object",
            "--bucket",
            bucket,
            "--key",
            "api key ü",
        )
    )
    assert head["ContentLength"] == len("s3api body")
    out = tmp_path / "out.txt"
    aws(
        creds,
        tmp_path,
        "s3api",
        "get-object",
        "--bucket",
        bucket,
        "--key",
        "api key ü",
        str(out),
    )
    assert out.read_text() == "s3api body"
