"""boto3 through the proxy, full-access keys, moto checking our signatures."""

from __future__ import annotations

import gzip
import hashlib
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

MIB = 1024 * 1024

STRANGE_KEYS = [
    "with space",
    "plus+sign",
    "equals=sign",
    "amp&ersand",
    "per%cent",
    "tilde~",
    "at@sign",
    "parens()!*'",
    "unicode-ü-é-日本語",
    "cyrillic-привет",
    "folder/",
    "a//b",
    "a/../b",
    "./x",
    "../escape",
    "dot/./segment",
    "question?mark#hash",
    "semi;colon,comma$dollar",
]


def test_bucket_lifecycle(s3: Any, direct: Any, bucket: str) -> None:
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names
    s3.head_bucket(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as refused:
        direct.head_bucket(Bucket=bucket)
    assert refused.value.response["Error"]["Code"] == "404"


def test_put_get_head_delete(s3: Any, direct: Any, bucket: str) -> None:
    put = s3.put_object(
        Bucket=bucket,
        Key="doc.txt",
        Body=b"hello world",
        ContentType="text/plain",
        Metadata={"colour": "blue"},
    )
    stored = direct.get_object(Bucket=bucket, Key="doc.txt")
    assert stored["Body"].read() == b"hello world"
    assert stored["ContentType"] == "text/plain"
    assert stored["Metadata"] == {"colour": "blue"}

    got = s3.get_object(Bucket=bucket, Key="doc.txt")
    assert got["Body"].read() == b"hello world"
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="doc.txt")
    assert head["ContentLength"] == 11

    s3.delete_object(Bucket=bucket, Key="doc.txt")
    with pytest.raises(ClientError) as refused:
        s3.head_object(Bucket=bucket, Key="doc.txt")
    assert refused.value.response["Error"]["Code"] == "404"


def test_missing_object_error_passes_through(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key="nothing-here")
    assert refused.value.response["Error"]["Code"] == "NoSuchKey"


def test_list_v1_and_v2_with_prefix_delimiter_pagination(s3: Any, bucket: str) -> None:
    keys = [f"dir{d}/file{f:02}" for d in range(3) for f in range(7)] + ["top"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")

    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}
    )
    listed = [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert listed == sorted(keys)

    v1 = s3.get_paginator("list_objects").paginate(
        Bucket=bucket, Prefix="dir1/", PaginationConfig={"PageSize": 3}
    )
    listed_v1 = [item["Key"] for page in v1 for item in page.get("Contents", [])]
    assert listed_v1 == [f"dir1/file{f:02}" for f in range(7)]

    folders = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    prefixes = [p["Prefix"] for p in folders["CommonPrefixes"]]
    assert prefixes == ["dir0/", "dir1/", "dir2/"]
    assert [c["Key"] for c in folders["Contents"]] == ["top"]


def test_copy_object(s3: Any, direct: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="source key+1", Body=b"copy me")
    s3.copy_object(
        Bucket=bucket,
        Key="dest/ü copy",
        CopySource={"Bucket": bucket, "Key": "source key+1"},
    )
    copied = direct.get_object(Bucket=bucket, Key="dest/ü copy")
    assert copied["Body"].read() == b"copy me"


def test_multipart_upload_of_three_parts(s3: Any, direct: Any, bucket: str) -> None:
    parts_data = [os.urandom(5 * MIB) for _ in range(3)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big/object")
    parts = []
    for number, data in enumerate(parts_data, start=1):
        answer = s3.upload_part(
            Bucket=bucket,
            Key="big/object",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    listed = s3.list_parts(Bucket=bucket, Key="big/object", UploadId=upload["UploadId"])
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big/object",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    stored = direct.get_object(Bucket=bucket, Key="big/object")["Body"].read()
    assert (
        hashlib.sha256(stored).digest() == hashlib.sha256(b"".join(parts_data)).digest()
    )


def test_abort_multipart_upload(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="aborted")
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload["UploadId"])
    uploads = s3.list_multipart_uploads(Bucket=bucket)
    assert not uploads.get("Uploads")


def test_ranged_get(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="range", Body=bytes(range(256)))
    part = s3.get_object(Bucket=bucket, Key="range", Range="bytes=10-19")
    assert part["Body"].read() == bytes(range(10, 20))
    assert part["ContentRange"] == "bytes 10-19/256"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_conditional_get(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="cond", Body=b"v1")["ETag"]
    with pytest.raises(ClientError) as not_modified:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert not_modified.value.response["Error"]["Code"] == "304"
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"not-the-etag"')
    assert failed.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == (
        b"v1"
    )


@pytest.mark.parametrize("key", STRANGE_KEYS)
def test_strange_keys_are_stored_exactly(
    s3: Any, direct: Any, bucket: str, key: str
) -> None:
    body = key.encode() * 3
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    listed = direct.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == [key]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key=key)
    assert "Contents" not in direct.list_objects_v2(Bucket=bucket)


def test_compressed_objects_are_stored_as_sent(
    s3: Any, direct: Any, bucket: str
) -> None:
    """A gzip body is the object's bytes: the proxy must never inflate it."""
    compressed = gzip.compress(b"hello " * 1000)
    s3.put_object(
        Bucket=bucket, Key="page.html", Body=compressed, ContentEncoding="gzip"
    )
    stored = direct.get_object(Bucket=bucket, Key="page.html")
    assert stored["ContentEncoding"] == "gzip"
    assert stored["Body"].read() == compressed
    assert s3.get_object(Bucket=bucket, Key="page.html")["Body"].read() == compressed
