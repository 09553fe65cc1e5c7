"""``s3-auth-proxy demo --json``: a working proxy in front of moto, both modes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Credentials

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo() -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "demo", "--json", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        yield json.loads(line)
    finally:
        process.terminate()
        process.wait(20)


def test_demo_prints_one_json_object(demo: dict[str, Any]) -> None:
    for key in (
        "endpoint",
        "region",
        "access_key_id",
        "secret_access_key",
        "demo_bucket",
    ):
        assert demo[key]
    for key in ("access_key_id", "secret_access_key", "session_token", "home_prefix"):
        assert demo["session"][key]


def test_demo_full_access_key(demo: dict[str, Any]) -> None:
    s3 = Credentials(
        demo["endpoint"],
        demo["access_key_id"],
        demo["secret_access_key"],
        demo["region"],
    ).client()
    s3.create_bucket(Bucket="demo-bucket")
    s3.put_object(Bucket="demo-bucket", Key="hello.txt", Body=b"hello")
    assert s3.get_object(Bucket="demo-bucket", Key="hello.txt")["Body"].read() == (
        b"hello"
    )


def test_demo_user_owns_its_home_folder_only(demo: dict[str, Any]) -> None:
    session = demo["session"]
    s3 = Credentials(
        demo["endpoint"],
        session["access_key_id"],
        session["secret_access_key"],
        demo["region"],
        session["session_token"],
    ).client()
    bucket, home = demo["demo_bucket"], session["home_prefix"]
    s3.put_object(Bucket=bucket, Key=home + "notes.txt", Body=b"mine")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=home)["Contents"]
    assert [item["Key"] for item in listed] == [home + "notes.txt"]
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="someone-else/notes.txt", Body=b"x")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
