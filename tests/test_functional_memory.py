"""Bodies stream: a 1 GiB upload and download with a small proxy footprint."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningProxy, start_proxy
from tests.servers import GateProcess

GIB = 1024 * 1024 * 1024
BLOCK = 4 * 1024 * 1024
RSS_LIMIT_KIB = 150 * 1024


@pytest.fixture
def fresh_proxy(gate: GateProcess) -> Iterator[RunningProxy]:
    running = start_proxy(gate)
    yield running
    running.process.stop()


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "one-gib.bin"
    block = os.urandom(BLOCK)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for index in range(GIB // BLOCK):
            piece = index.to_bytes(8, "big") + block[8:]
            out.write(piece)
            digest.update(piece)
    return path, digest.hexdigest()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_one_gib_round_trip_in_little_memory(
    fresh_proxy: RunningProxy,
    big_file: tuple[Path, str],
    direct: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, expected = big_file
    s3 = fresh_proxy.credentials.client()
    s3.create_bucket(Bucket="memory-check")
    with path.open("rb") as body:
        s3.put_object(Bucket="memory-check", Key="big", Body=body)
    after_upload = fresh_proxy.process.rss_peak_kib()

    received = hashlib.sha256()
    size = 0
    answer = s3.get_object(Bucket="memory-check", Key="big")
    for chunk in answer["Body"].iter_chunks(BLOCK):
        received.update(chunk)
        size += len(chunk)
    peak = fresh_proxy.process.rss_peak_kib()

    with capsys.disabled():
        print(
            f"\nproxy peak RSS: {after_upload / 1024:.1f} MiB after a 1 GiB upload, "
            f"{peak / 1024:.1f} MiB after the download (limit "
            f"{RSS_LIMIT_KIB / 1024:.0f} MiB)"
        )
    assert size == GIB
    assert received.hexdigest() == expected
    assert peak < RSS_LIMIT_KIB
    direct.delete_object(Bucket="memory-check", Key="big")
