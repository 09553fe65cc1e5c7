"""Per-user authorization end to end: user A owns A's folder and nothing else.

The proxy runs the shipped home-folders policy (from its policy file): each
authenticated user reads and writes user-files/<sub>/..., everyone reads the
bucket "public", anonymous callers included.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BUCKET, PROJECT_REF, Credentials, Users
from tests.rawclient import send, sign


def denied(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    code: str = refused.value.response["Error"]["Code"]
    return code


def test_own_folder_put_get_head_delete(users: Users, direct: Any) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key="A/notes.txt", Body=b"mine")
    assert a.get_object(Bucket=BUCKET, Key="A/notes.txt")["Body"].read() == b"mine"
    a.head_object(Bucket=BUCKET, Key="A/notes.txt")
    a.delete_object(Bucket=BUCKET, Key="A/notes.txt")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key="A/notes.txt")


def test_nothing_in_another_folder(users: Users, direct: Any) -> None:
    a = users.client("A")
    assert denied(a.get_object, Bucket=BUCKET, Key="B/secret.txt") == "AccessDenied"
    assert denied(a.head_object, Bucket=BUCKET, Key="B/secret.txt") == "403"
    assert denied(a.put_object, Bucket=BUCKET, Key="B/x", Body=b"x") == "AccessDenied"
    assert denied(a.delete_object, Bucket=BUCKET, Key="B/secret.txt") == (
        "AccessDenied"
    )
    assert denied(a.create_multipart_upload, Bucket=BUCKET, Key="B/big") == (
        "AccessDenied"
    )
    assert direct.get_object(Bucket=BUCKET, Key="B/secret.txt")["Body"].read() == (
        b"B's secret"
    )


def test_multipart_in_own_folder(users: Users, direct: Any) -> None:
    a = users.client("A")
    upload = a.create_multipart_upload(Bucket=BUCKET, Key="A/big")
    etag = a.upload_part(
        Bucket=BUCKET,
        Key="A/big",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"p" * 1024,
    )["ETag"]
    a.complete_multipart_upload(
        Bucket=BUCKET,
        Key="A/big",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert direct.get_object(Bucket=BUCKET, Key="A/big")["ContentLength"] == 1024


def test_copy_in_both_directions(users: Users, direct: Any) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key="A/original", Body=b"o")
    a.copy_object(
        Bucket=BUCKET, Key="A/copy", CopySource={"Bucket": BUCKET, "Key": "A/original"}
    )
    assert denied(
        a.copy_object,
        Bucket=BUCKET,
        Key="A/stolen",
        CopySource={"Bucket": BUCKET, "Key": "B/secret.txt"},
    ) == ("AccessDenied")
    assert denied(
        a.copy_object,
        Bucket=BUCKET,
        Key="B/planted",
        CopySource={"Bucket": BUCKET, "Key": "A/original"},
    ) == ("AccessDenied")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key="A/stolen")
    with pytest.raises(ClientError):
        direct.head_object(Bucket=BUCKET, Key="B/planted")


def test_batch_delete_mixing_folders(users: Users, direct: Any) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key="A/one", Body=b"1")
    a.put_object(Bucket=BUCKET, Key="A/two", Body=b"2")
    answer = a.delete_objects(
        Bucket=BUCKET,
        Delete={
            "Objects": [{"Key": "A/one"}, {"Key": "B/secret.txt"}, {"Key": "A/two"}]
        },
    )
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["A/one", "A/two"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [
        ("B/secret.txt", "AccessDenied")
    ]
    assert direct.get_object(Bucket=BUCKET, Key="B/secret.txt")["Body"].read() == (
        b"B's secret"
    )


def test_batch_delete_of_only_foreign_keys(users: Users, direct: Any) -> None:
    a = users.client("A")
    answer = a.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "B/secret.txt"}]}
    )
    assert answer["Errors"][0]["Code"] == "AccessDenied"
    assert "Deleted" not in answer
    direct.head_object(Bucket=BUCKET, Key="B/secret.txt")


def test_listing(users: Users) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key="A/listed", Body=b"l")
    keys = [o["Key"] for o in a.list_objects_v2(Bucket=BUCKET, Prefix="A/")["Contents"]]
    assert "A/listed" in keys
    assert denied(a.list_objects_v2, Bucket=BUCKET) == "AccessDenied"
    assert denied(a.list_objects_v2, Bucket=BUCKET, Prefix="B/") == "AccessDenied"
    assert denied(a.list_objects, Bucket=BUCKET, Prefix="") == "AccessDenied"
    assert denied(a.list_object_versions, Bucket=BUCKET, Prefix="B/") == (
        "AccessDenied"
    )
    assert denied(a.list_multipart_uploads, Bucket=BUCKET, Prefix="B/") == (
        "AccessDenied"
    )
    a.list_multipart_uploads(Bucket=BUCKET, Prefix="A/")


def test_list_buckets_shows_only_usable_buckets(users: Users, direct: Any) -> None:
    direct.create_bucket(Bucket="somebody-elses")
    names = [b["Name"] for b in users.client("A").list_buckets()["Buckets"]]
    assert sorted(names) == ["public", BUCKET]
    full = [
        b["Name"] for b in users.running.credentials.client().list_buckets()["Buckets"]
    ]
    assert "somebody-elses" in full


def test_presigned_urls(users: Users) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key="A/shared", Body=b"share")
    own = a.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "A/shared"}
    )
    assert urllib.request.urlopen(own).read() == b"share"
    other = a.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "B/secret.txt"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(other)
    assert refused.value.code == 403


@pytest.mark.parametrize(
    "key",
    [
        "A/../B/secret.txt",
        "A/%2e%2e/B/secret.txt",
        "A/..%2FB/secret.txt",
        "A/\u2215..\u2215B/secret.txt",
        "A/\uff0e\uff0e/B/secret.txt",
    ],
)
def test_keys_that_try_to_climb_out_stay_literal(
    users: Users, direct: Any, key: str
) -> None:
    a = users.client("A")
    a.put_object(Bucket=BUCKET, Key=key, Body=b"climber")
    assert direct.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"climber"
    assert direct.get_object(Bucket=BUCKET, Key="B/secret.txt")["Body"].read() == (
        b"B's secret"
    )
    a.delete_object(Bucket=BUCKET, Key=key)


def test_encoded_slashes_are_decided_on_the_decoded_key(users: Users) -> None:
    """`%2F` on the wire is '/' in the key: B's folder stays out of reach."""
    url = f"{users.running.endpoint}/{BUCKET}/B%2Fsecret.txt"
    headers = sign("GET", url, PROJECT_REF, users.anon_key, token=users.token("A"))
    answer = send("GET", url, headers)
    assert (answer.status, answer.code) == (403, "AccessDenied")
    url = f"{users.running.endpoint}/{BUCKET}/A%2F..%2FB%2Fsecret.txt"
    headers = sign("GET", url, PROJECT_REF, users.anon_key, token=users.token("A"))
    assert send("GET", url, headers).code == "NoSuchKey"


def test_anonymous_reads_public_only(users: Users) -> None:
    endpoint = users.running.endpoint
    public = send("GET", f"{endpoint}/public/readme.txt", {"Host": "x"})
    assert (public.status, public.body) == (200, b"public words")
    private = send("GET", f"{endpoint}/{BUCKET}/B/secret.txt", {"Host": "x"})
    assert (private.status, private.code) == (403, "AccessDenied")
    upload = send("PUT", f"{endpoint}/public/new.txt", {"Host": "x"}, b"no")
    assert upload.status == 403


def test_unclassified_operations_are_refused(users: Users) -> None:
    url = f"{users.running.endpoint}/{BUCKET}?events"
    headers = sign("GET", url, PROJECT_REF, users.anon_key, token=users.token("A"))
    assert send("GET", url, headers).code == "AccessDenied"


def test_refusals_name_the_deciding_statement_in_the_log(users: Users) -> None:
    a = users.client("A")
    denied(a.get_object, Bucket=BUCKET, Key="B/secret.txt")
    log = users.running.process.log()
    assert "denied s3:GetObject on 'arn:aws:s3:::user-files/B/secret.txt'" in log
    assert "no statement allowed it" in log
    metrics = users.running.process.metrics()
    assert 's3proxy_authorization_decisions_total{decision="deny"}' in metrics
    assert 's3proxy_authorization_decisions_total{decision="allow"}' in metrics


def test_service_role_bypasses_policies(users: Users) -> None:
    service = Credentials(
        users.running.endpoint,
        PROJECT_REF,
        users.anon_key,
        session_token=users.token("svc", "service_role"),
    ).client()
    assert service.get_object(Bucket=BUCKET, Key="B/secret.txt")["Body"].read() == (
        b"B's secret"
    )


def delete_request(users: Users, document: bytes, md5: str | None = None) -> Any:
    url = f"{users.running.endpoint}/{BUCKET}?delete"
    digest = md5 or base64.b64encode(hashlib.md5(document).digest()).decode()
    headers = sign(
        "POST",
        url,
        PROJECT_REF,
        users.anon_key,
        body=document,
        token=users.token("A"),
        headers={"Content-MD5": digest},
    )
    return send("POST", url, headers, document)


def test_delete_body_with_a_document_type_is_refused(users: Users, direct: Any) -> None:
    document = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "B/secret.txt">]>'
        b"<Delete><Object><Key>&e;</Key></Object></Delete>"
    )
    answer = delete_request(users, document)
    assert (answer.status, answer.code) == (400, "MalformedXML")
    direct.head_object(Bucket=BUCKET, Key="B/secret.txt")


def test_delete_body_with_a_wrong_md5_is_refused(users: Users, direct: Any) -> None:
    users.client("A").put_object(Bucket=BUCKET, Key="A/keep", Body=b"k")
    document = b"<Delete><Object><Key>A/keep</Key></Object></Delete>"
    answer = delete_request(users, document, md5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert (answer.status, answer.code) == (400, "BadDigest")
    direct.head_object(Bucket=BUCKET, Key="A/keep")


def test_delete_body_that_is_not_xml(users: Users) -> None:
    answer = delete_request(users, b"<Delete><Object><Key>A/x</Key>")
    assert (answer.status, answer.code) == (400, "MalformedXML")
