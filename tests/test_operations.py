"""Classifying S3 requests: a table of edge cases, and every operation botocore knows.

The walk over botocore's model builds each operation's request with a real boto3
client (stopped just before it would be sent) and checks the name and the IAM
action, taken from AWS's "Required permissions for Amazon S3 API operations"
page, not from the module under test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import botocore.session
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config
from botocore.model import OperationModel
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.operations import OPERATION_NAMES, UNKNOWN, Operation, classify

# --- the table of requests ------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    bucket: str | None
    key: str | None
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    name: str = UNKNOWN
    action: str | None = None
    extra_actions: tuple[str, ...] = ()


def req(
    id: str,
    method: str,
    target: str,
    name: str = UNKNOWN,
    action: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> Case:
    """A case from a path-style target such as ``/bucket/key?acl``."""
    path, _, query = target.partition("?")
    bucket, _, key = path.removeprefix("/").partition("/")
    return Case(
        id,
        method,
        unquote(bucket) or None,
        unquote(key) or None,
        parse_qsl(query, keep_blank_values=True),
        headers or {},
        name,
        action,
        extra,
    )


ACL = {"x-amz-acl": "public-read"}
COPY = {"x-amz-copy-source": "/src/dir/a.txt"}

CASES = [
    # service level
    req("list-buckets", "GET", "/", "ListBuckets", "s3:ListAllMyBuckets"),
    req("list-buckets-paged", "GET", "/?max-buckets=5&continuation-token=t",
        "ListBuckets", "s3:ListAllMyBuckets"),
    req("head-service", "HEAD", "/"),
    req("put-service", "PUT", "/"),
    req("service-subresource", "GET", "/?acl"),
    # bucket level: listing
    req("list-v1", "GET", "/b", "ListObjects", "s3:ListBucket"),
    req("list-v1-trailing-slash", "GET", "/b/", "ListObjects", "s3:ListBucket"),
    req("list-v1-prefix", "GET", "/b?prefix=u/&delimiter=/&marker=m&max-keys=5",
        "ListObjects", "s3:ListBucket"),
    req("list-v2", "GET", "/b?list-type=2&prefix=u/&encoding-type=url",
        "ListObjectsV2", "s3:ListBucket"),
    req("list-v2-start-after", "GET", "/b?list-type=2&start-after=a&fetch-owner=true",
        "ListObjectsV2", "s3:ListBucket"),
    req("list-type-1", "GET", "/b?list-type=1"),
    req("list-type-empty", "GET", "/b?list-type"),
    req("list-versions", "GET", "/b?versions&key-marker=a&version-id-marker=v",
        "ListObjectVersions", "s3:ListBucketVersions"),
    req("list-uploads", "GET", "/b?uploads&upload-id-marker=u&max-uploads=3",
        "ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    req("list-two-subresources", "GET", "/b?versions&list-type=2"),
    req("list-duplicate-prefix", "GET", "/b?prefix=u1/&prefix=u2/"),
    # bucket level: the bucket itself
    req("head-bucket", "HEAD", "/b", "HeadBucket", "s3:ListBucket"),
    req("create-bucket", "PUT", "/b", "CreateBucket", "s3:CreateBucket"),
    req("create-bucket-acl", "PUT", "/b", "CreateBucket", "s3:CreateBucket",
        headers={"x-amz-grant-read": "id=x"}, extra=("s3:PutBucketAcl",)),
    req("create-bucket-lock", "PUT", "/b", "CreateBucket", "s3:CreateBucket",
        headers={"X-Amz-Bucket-Object-Lock-Enabled": "true",
                 "x-amz-object-ownership": "BucketOwnerEnforced"},
        extra=("s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning",
               "s3:PutBucketOwnershipControls")),
    req("delete-bucket", "DELETE", "/b", "DeleteBucket", "s3:DeleteBucket"),
    req("delete-objects", "POST", "/b?delete", "DeleteObjects", "s3:DeleteObject"),
    req("delete-objects-bypass", "POST", "/b?delete", "DeleteObjects",
        "s3:DeleteObject", headers={"x-amz-bypass-governance-retention": "true"},
        extra=("s3:BypassGovernanceRetention",)),
    req("delete-objects-on-a-key", "POST", "/b/k?delete"),
    req("browser-post-upload", "POST", "/b"),
    req("location", "GET", "/b?location", "GetBucketLocation", "s3:GetBucketLocation"),
    req("versioning-get", "GET", "/b?versioning", "GetBucketVersioning",
        "s3:GetBucketVersioning"),
    req("versioning-put", "PUT", "/b?versioning", "PutBucketVersioning",
        "s3:PutBucketVersioning"),
    req("versioning-delete", "DELETE", "/b?versioning"),
    req("bucket-tagging-delete", "DELETE", "/b?tagging", "DeleteBucketTagging",
        "s3:PutBucketTagging"),
    req("bucket-policy-delete", "DELETE", "/b?policy", "DeleteBucketPolicy",
        "s3:DeleteBucketPolicy"),
    req("policy-status", "GET", "/b?policyStatus", "GetBucketPolicyStatus",
        "s3:GetBucketPolicyStatus"),
    req("lifecycle-delete", "DELETE", "/b?lifecycle", "DeleteBucketLifecycle",
        "s3:PutLifecycleConfiguration"),
    req("cors-delete", "DELETE", "/b?cors", "DeleteBucketCors", "s3:PutBucketCORS"),
    req("website-delete", "DELETE", "/b?website", "DeleteBucketWebsite",
        "s3:DeleteBucketWebsite"),
    req("object-lock-get", "GET", "/b?object-lock", "GetObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration"),
    req("public-access-block-delete", "DELETE", "/b?publicAccessBlock",
        "DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    req("analytics-list", "GET", "/b?analytics", "ListBucketAnalyticsConfigurations",
        "s3:GetAnalyticsConfiguration"),
    req("analytics-get", "GET", "/b?analytics&id=a", "GetBucketAnalyticsConfiguration",
        "s3:GetAnalyticsConfiguration"),
    req("metrics-get", "GET", "/b?metrics&id=a&x-id=GetBucketMetricsConfiguration",
        "GetBucketMetricsConfiguration", "s3:GetMetricsConfiguration"),
    req("inventory-list", "GET", "/b?inventory&continuation-token=t",
        "ListBucketInventoryConfigurations", "s3:GetInventoryConfiguration"),
    req("tiering-delete", "DELETE", "/b?intelligent-tiering&id=a",
        "DeleteBucketIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration"),
    req("create-session-refused", "GET", "/b?session", "CreateSession", None),
    # bucket level: what stores add, and what is not S3
    req("minio-listen-notification", "GET", "/b?events"),
    req("minio-replication-reset", "PUT", "/b?replication-reset"),
    req("case-of-subresource", "GET", "/b?Versions"),
    req("object-subresource-on-bucket", "GET", "/b?uploadId=u"),
    req("options-preflight", "OPTIONS", "/b/k"),
    req("lowercase-method", "get", "/b/k"),
    req("patch", "PATCH", "/b/k"),
    # object level: reading
    req("get", "GET", "/b/dir/a.txt", "GetObject", "s3:GetObject"),
    req("get-version", "GET", "/b/k?versionId=v1", "GetObject", "s3:GetObjectVersion"),
    req("get-null-version", "GET", "/b/k?versionId=null", "GetObject",
        "s3:GetObjectVersion"),
    req("get-part", "GET", "/b/k?partNumber=2", "GetObject", "s3:GetObject"),
    req("get-x-id", "GET", "/b/k?x-id=GetObject", "GetObject", "s3:GetObject"),
    req("get-overrides", "GET", "/b/k?response-content-type=text/plain"
        "&response-content-disposition=attachment", "GetObject", "s3:GetObject"),
    req("get-presigned", "GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=c&X-Amz-Date=d&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=s&X-Amz-Security-Token=t", "GetObject", "s3:GetObject"),
    req("get-presigned-v2", "GET", "/b/k?AWSAccessKeyId=a&Expires=1&Signature=s"),
    req("get-unknown-parameter", "GET", "/b/k?lambdaArn=x"),
    req("get-duplicate-version", "GET", "/b/k?versionId=a&versionId=b"),
    req("head", "HEAD", "/b/k", "HeadObject", "s3:GetObject"),
    req("head-version", "HEAD", "/b/k?versionId=v", "HeadObject",
        "s3:GetObjectVersion"),
    req("attributes", "GET", "/b/k?attributes", "GetObjectAttributes",
        "s3:GetObjectAttributes"),
    req("attributes-version", "GET", "/b/k?attributes&versionId=v",
        "GetObjectAttributes", "s3:GetObjectVersionAttributes"),
    req("torrent", "GET", "/b/k?torrent", "GetObjectTorrent", "s3:GetObjectTorrent"),
    req("select", "POST", "/b/k?select&select-type=2", "SelectObjectContent",
        "s3:GetObject"),
    req("restore", "POST", "/b/k?restore&versionId=v", "RestoreObject",
        "s3:RestoreObject"),
    req("annotations", "GET", "/b/k?annotation", "ListObjectAnnotations",
        "s3:ListObjectAnnotations"),
    req("annotation", "GET", "/b/k?annotation&annotationName=n",
        "GetObjectAnnotation", "s3:GetObjectAnnotation"),
    req("put-annotation", "PUT", "/b/k?annotation&annotationName=n",
        "PutObjectAnnotation", "s3:PutObjectAnnotation"),
    # object level: writing
    req("put", "PUT", "/b/k", "PutObject", "s3:PutObject"),
    req("put-acl-header", "PUT", "/b/k", "PutObject", "s3:PutObject",
        headers=ACL, extra=("s3:PutObjectAcl",)),
    req("put-tags-and-lock", "PUT", "/b/k", "PutObject", "s3:PutObject",
        headers={"x-amz-tagging": "a=b", "x-amz-object-lock-mode": "GOVERNANCE",
                 "x-amz-object-lock-legal-hold": "ON"},
        extra=("s3:PutObjectTagging", "s3:PutObjectRetention",
               "s3:PutObjectLegalHold")),
    req("put-acl-in-presigned-query", "PUT", "/b/k?X-Amz-Acl=public-read",
        "PutObject", "s3:PutObject", extra=("s3:PutObjectAcl",)),
    req("put-unrelated-header", "PUT", "/b/k", "PutObject", "s3:PutObject",
        headers={"x-amz-meta-acl": "x", "content-type": "text/plain"}),
    req("copy", "PUT", "/b/k", "CopyObject", "s3:PutObject", headers=COPY),
    req("copy-with-acl", "PUT", "/b/k", "CopyObject", "s3:PutObject",
        headers={**COPY, **ACL}, extra=("s3:PutObjectAcl",)),
    req("post-on-object", "POST", "/b/k"),
    req("delete", "DELETE", "/b/k", "DeleteObject", "s3:DeleteObject"),
    req("delete-version", "DELETE", "/b/k?versionId=v", "DeleteObject",
        "s3:DeleteObjectVersion"),
    req("delete-bypass", "DELETE", "/b/k?versionId=v", "DeleteObject",
        "s3:DeleteObjectVersion",
        headers={"x-amz-bypass-governance-retention": "true"},
        extra=("s3:BypassGovernanceRetention",)),
    req("tagging-get", "GET", "/b/k?tagging", "GetObjectTagging",
        "s3:GetObjectTagging"),
    req("tagging-get-version", "GET", "/b/k?tagging&versionId=v", "GetObjectTagging",
        "s3:GetObjectVersionTagging"),
    req("tagging-put-version", "PUT", "/b/k?tagging&versionId=v", "PutObjectTagging",
        "s3:PutObjectVersionTagging"),
    req("tagging-delete", "DELETE", "/b/k?tagging", "DeleteObjectTagging",
        "s3:DeleteObjectTagging"),
    req("tagging-delete-version", "DELETE", "/b/k?tagging&versionId=v",
        "DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    req("tagging-post", "POST", "/b/k?tagging"),
    req("acl-get", "GET", "/b/k?acl", "GetObjectAcl", "s3:GetObjectAcl"),
    req("acl-put-version", "PUT", "/b/k?acl&versionId=v", "PutObjectAcl",
        "s3:PutObjectVersionAcl"),
    req("acl-and-tagging", "GET", "/b/k?acl&tagging"),
    req("retention-put", "PUT", "/b/k?retention", "PutObjectRetention",
        "s3:PutObjectRetention"),
    req("retention-put-bypass", "PUT", "/b/k?retention", "PutObjectRetention",
        "s3:PutObjectRetention", headers={"x-amz-bypass-governance-retention": "1"},
        extra=("s3:BypassGovernanceRetention",)),
    req("legal-hold-get-version", "GET", "/b/k?legal-hold&versionId=v",
        "GetObjectLegalHold", "s3:GetObjectLegalHold"),
    req("update-encryption", "PUT", "/b/k?encryption", "UpdateObjectEncryption",
        "s3:UpdateObjectEncryption", extra=("s3:PutObject",)),
    req("rename-refused", "PUT", "/b/k?renameObject", "RenameObject", None,
        headers={"x-amz-rename-source": "b/other"}),
    # object level: multipart uploads
    req("create-upload", "POST", "/b/k?uploads", "CreateMultipartUpload",
        "s3:PutObject"),
    req("create-upload-tagged", "POST", "/b/k?uploads", "CreateMultipartUpload",
        "s3:PutObject", headers={"x-amz-tagging": "a=b"},
        extra=("s3:PutObjectTagging",)),
    req("upload-part", "PUT", "/b/k?partNumber=1&uploadId=u", "UploadPart",
        "s3:PutObject"),
    req("upload-part-copy", "PUT", "/b/k?partNumber=1&uploadId=u", "UploadPartCopy",
        "s3:PutObject", headers=COPY),
    req("upload-part-without-number", "PUT", "/b/k?uploadId=u"),
    req("upload-part-copy-without-number", "PUT", "/b/k?uploadId=u", headers=COPY),
    req("complete-upload", "POST", "/b/k?uploadId=u", "CompleteMultipartUpload",
        "s3:PutObject"),
    req("abort-upload", "DELETE", "/b/k?uploadId=u", "AbortMultipartUpload",
        "s3:AbortMultipartUpload"),
    req("list-parts", "GET", "/b/k?uploadId=u&max-parts=2&part-number-marker=1",
        "ListParts", "s3:ListMultipartUploadParts"),
    req("uploads-get-on-object", "GET", "/b/k?uploads"),
    req("uploads-and-upload-id", "POST", "/b/k?uploads&uploadId=u"),
    req("versions-on-object", "GET", "/b/k?versions"),
    # keys are literal: nothing is normalised
    req("key-dot-segments", "GET", "/b/A/../B/x", "GetObject", "s3:GetObject"),
    req("key-double-slash", "GET", "/b//x//y/", "GetObject", "s3:GetObject"),
    req("key-with-encoded-question-mark", "GET", "/b/k%3Facl", "GetObject",
        "s3:GetObject"),
    req("key-unicode", "GET", "/b/caf%C3%A9/%E2%88%95x", "GetObject", "s3:GetObject"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_classify(case: Case) -> None:
    operation = classify(case.method, case.bucket, case.key, case.query, case.headers)

    assert (operation.name, operation.action) == (case.name, case.action)
    assert operation.extra_actions == case.extra_actions
    assert (operation.bucket, operation.key) == (case.bucket, case.key)


def test_every_case_name_is_a_known_operation() -> None:
    names = {case.name for case in CASES} - {UNKNOWN}
    assert names <= OPERATION_NAMES


# --- resources, copy sources and condition context ------------------------------

RESOURCES = [
    ("service", None, None, "arn:aws:s3:::*"),
    ("bucket", "b", None, "arn:aws:s3:::b"),
    ("empty-key-is-bucket", "b", "", "arn:aws:s3:::b"),
    ("object", "b", "dir/a.txt", "arn:aws:s3:::b/dir/a.txt"),
    ("literal-dot-segments", "b", "A/../B/x", "arn:aws:s3:::b/A/../B/x"),
    ("literal-wildcards", "b", "a*?", "arn:aws:s3:::b/a*?"),
]


@pytest.mark.parametrize(
    ("bucket", "key", "arn"),
    [row[1:] for row in RESOURCES],
    ids=[row[0] for row in RESOURCES],
)
def test_resource_arn(bucket: str | None, key: str | None, arn: str) -> None:
    assert classify("GET", bucket, key, [], {}).resource_arn == arn


COPY_SOURCES = [
    ("plain", "src/dir/a.txt", ("src", "dir/a.txt"), None),
    ("leading-slash", "/src/dir/a.txt", ("src", "dir/a.txt"), None),
    ("encoded", "src/a%20b%3Fc%2Fd", ("src", "a b?c/d"), None),
    ("plus-is-literal", "src/a+b", ("src", "a+b"), None),
    ("dot-segments-literal", "src/u1/../u2/x", ("src", "u1/../u2/x"), None),
    ("version", "src/k?versionId=v%2B1", ("src", "k"), "v+1"),
    ("unicode", "src/caf%C3%A9", ("src", "café"), None),
    ("no-key", "src", None, None),
    ("empty-key", "/src/", None, None),
    ("empty", "", None, None),
    ("double-slash", "//src/k", None, None),
    ("other-query", "src/k?acl", None, None),
    ("empty-version", "src/k?versionId=", None, None),
    ("version-and-more", "src/k?versionId=v&x=y", None, None),
    ("fragment", "src/u1/x#/../../u2/y", None, None),
    ("bad-utf8", "src/%FF", None, None),
    ("bad-utf8-version", "src/k?versionId=%FF", None, None),
]


@pytest.mark.parametrize(
    ("header", "source", "version"),
    [row[1:] for row in COPY_SOURCES],
    ids=[row[0] for row in COPY_SOURCES],
)
def test_copy_source(
    header: str, source: tuple[str, str] | None, version: str | None
) -> None:
    operation = classify("PUT", "b", "k", [], {"x-amz-copy-source": header})

    assert operation.copy_source == source
    assert operation.copy_source_version_id == version
    assert operation.name == ("CopyObject" if source else UNKNOWN)


def test_copy_source_of_upload_part_copy() -> None:
    query = [("partNumber", "1"), ("uploadId", "u")]
    headers = {"X-Amz-Copy-Source": "src/k?versionId=7"}

    operation = classify("PUT", "b", "k", query, headers)

    assert operation.name == "UploadPartCopy"
    assert operation.copy_source_arn == "arn:aws:s3:::src/k"
    assert operation.copy_source_action == "s3:GetObjectVersion"
    assert operation.condition_context == {"s3:x-amz-copy-source": "src/k?versionId=7"}


def test_copy_object_needs_read_on_the_source() -> None:
    operation = classify("PUT", "b", "k", [], COPY)

    assert operation.copy_source_action == "s3:GetObject"
    assert operation.required_actions == ("s3:PutObject",)


def test_no_copy_source_outside_copies() -> None:
    operation = classify("PUT", "b", "k", [("tagging", "")], COPY)

    assert operation.name == "PutObjectTagging"
    assert operation.copy_source is None
    assert operation.copy_source_arn is None
    assert operation.copy_source_action is None


AMBIGUOUS_HEADERS = [
    ("header-twice-differing", [("x-amz-copy-source", "src/a"),
                                ("X-Amz-Copy-Source", "src/b")], [], UNKNOWN),
    ("header-twice-same", [("x-amz-copy-source", "src/a"),
                           ("x-amz-copy-source", "src/a")], [], "CopyObject"),
    ("in-query-only", [], [("x-amz-copy-source", "src/a")], "CopyObject"),
    ("query-disagrees", [("x-amz-copy-source", "src/a")],
     [("X-Amz-Copy-Source", "src/b")], UNKNOWN),
    ("acl-twice-differing", [("x-amz-acl", "private"), ("x-amz-acl", "public-read")],
     [], UNKNOWN),
    ("unread-header-twice", [("x-amz-meta-a", "1"), ("x-amz-meta-a", "2")], [],
     "PutObject"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "query", "name"),
    [row[1:] for row in AMBIGUOUS_HEADERS],
    ids=[row[0] for row in AMBIGUOUS_HEADERS],
)
def test_ambiguous_headers_are_unknown(
    headers: list[tuple[str, str]], query: list[tuple[str, str]], name: str
) -> None:
    proxy = CIMultiDictProxy(CIMultiDict(headers))

    assert classify("PUT", "b", "k", query, proxy).name == name


CONTEXTS = [
    ("list-prefix", "GET", None, [("prefix", "u/"), ("delimiter", "/")],
     {"s3:prefix": "u/", "s3:delimiter": "/"}),
    ("list-v2-max-keys", "GET", None, [("list-type", "2"), ("max-keys", "10")],
     {"s3:max-keys": "10"}),
    ("list-empty-prefix", "GET", None, [("list-type", "2"), ("prefix", "")],
     {"s3:prefix": ""}),
    ("versions-prefix", "GET", None, [("versions", ""), ("prefix", "u/")],
     {"s3:prefix": "u/"}),
    ("uploads-prefix", "GET", None, [("uploads", ""), ("prefix", "u/")],
     {"s3:prefix": "u/"}),
    ("no-prefix", "GET", None, [("list-type", "2")], {}),
    ("prefix-on-get-object-ignored", "GET", "k", [("prefix", "u/")], {}),
    ("version", "DELETE", "k", [("versionId", "v")], {"s3:versionid": "v"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "key", "query", "context"),
    [row[1:] for row in CONTEXTS],
    ids=[row[0] for row in CONTEXTS],
)
def test_condition_context(
    method: str, key: str | None, query: list[tuple[str, str]], context: dict[str, str]
) -> None:
    assert classify(method, "b", key, query, {}).condition_context == context


def test_required_actions() -> None:
    put = classify("PUT", "b", "k", [], ACL)
    unknown = classify("GET", "b", "k", [("events", "")], {})

    assert put.required_actions == ("s3:PutObject", "s3:PutObjectAcl")
    assert unknown.required_actions == ()
    assert unknown == Operation(UNKNOWN, None, "b", "k")


def test_key_without_bucket_is_unknown() -> None:
    assert classify("GET", None, "k", [], {}).name == UNKNOWN


# --- every operation in botocore's model -----------------------------------------

# The IAM action each S3 API operation needs, and the one it needs when the request
# names a versionId (AWS: "Required permissions for Amazon S3 API operations").
EXPECTED_ACTIONS: dict[str, tuple[str | None, str | None]] = {
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", None),
    "CompleteMultipartUpload": ("s3:PutObject", None),
    "CopyObject": ("s3:PutObject", None),
    "CreateBucket": ("s3:CreateBucket", None),
    "CreateBucketMetadataConfiguration": (
        "s3:CreateBucketMetadataTableConfiguration", None),
    "CreateBucketMetadataTableConfiguration": (
        "s3:CreateBucketMetadataTableConfiguration", None),
    "CreateMultipartUpload": ("s3:PutObject", None),
    "CreateSession": (None, None),  # refused on purpose: store credentials
    "DeleteBucket": ("s3:DeleteBucket", None),
    "DeleteBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration", None),
    "DeleteBucketCors": ("s3:PutBucketCORS", None),
    "DeleteBucketEncryption": ("s3:PutEncryptionConfiguration", None),
    "DeleteBucketIntelligentTieringConfiguration": (
        "s3:PutIntelligentTieringConfiguration", None),
    "DeleteBucketInventoryConfiguration": ("s3:PutInventoryConfiguration", None),
    "DeleteBucketLifecycle": ("s3:PutLifecycleConfiguration", None),
    "DeleteBucketMetadataConfiguration": (
        "s3:DeleteBucketMetadataTableConfiguration", None),
    "DeleteBucketMetadataTableConfiguration": (
        "s3:DeleteBucketMetadataTableConfiguration", None),
    "DeleteBucketMetricsConfiguration": ("s3:PutMetricsConfiguration", None),
    "DeleteBucketOwnershipControls": ("s3:PutBucketOwnershipControls", None),
    "DeleteBucketPolicy": ("s3:DeleteBucketPolicy", None),
    "DeleteBucketReplication": ("s3:PutReplicationConfiguration", None),
    "DeleteBucketTagging": ("s3:PutBucketTagging", None),
    "DeleteBucketWebsite": ("s3:DeleteBucketWebsite", None),
    "DeleteObject": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging",
                            "s3:DeleteObjectVersionTagging"),
    "DeleteObjects": ("s3:DeleteObject", "s3:DeleteObject"),
    "DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock", None),
    "GetBucketAbac": ("s3:GetBucketAbac", None),
    "GetBucketAccelerateConfiguration": ("s3:GetAccelerateConfiguration", None),
    "GetBucketAcl": ("s3:GetBucketAcl", None),
    "GetBucketAnalyticsConfiguration": ("s3:GetAnalyticsConfiguration", None),
    "GetBucketCors": ("s3:GetBucketCORS", None),
    "GetBucketEncryption": ("s3:GetEncryptionConfiguration", None),
    "GetBucketIntelligentTieringConfiguration": (
        "s3:GetIntelligentTieringConfiguration", None),
    "GetBucketInventoryConfiguration": ("s3:GetInventoryConfiguration", None),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration", None),
    "GetBucketLocation": ("s3:GetBucketLocation", None),
    "GetBucketLogging": ("s3:GetBucketLogging", None),
    "GetBucketMetadataConfiguration": (
        "s3:GetBucketMetadataTableConfiguration", None),
    "GetBucketMetadataTableConfiguration": (
        "s3:GetBucketMetadataTableConfiguration", None),
    "GetBucketMetricsConfiguration": ("s3:GetMetricsConfiguration", None),
    "GetBucketNotificationConfiguration": ("s3:GetBucketNotification", None),
    "GetBucketOwnershipControls": ("s3:GetBucketOwnershipControls", None),
    "GetBucketPolicy": ("s3:GetBucketPolicy", None),
    "GetBucketPolicyStatus": ("s3:GetBucketPolicyStatus", None),
    "GetBucketReplication": ("s3:GetReplicationConfiguration", None),
    "GetBucketRequestPayment": ("s3:GetBucketRequestPayment", None),
    "GetBucketTagging": ("s3:GetBucketTagging", None),
    "GetBucketVersioning": ("s3:GetBucketVersioning", None),
    "GetBucketWebsite": ("s3:GetBucketWebsite", None),
    "GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "GetObjectAcl": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "GetObjectAttributes": ("s3:GetObjectAttributes",
                            "s3:GetObjectVersionAttributes"),
    "GetObjectLegalHold": ("s3:GetObjectLegalHold", "s3:GetObjectLegalHold"),
    "GetObjectLockConfiguration": ("s3:GetBucketObjectLockConfiguration", None),
    "GetObjectRetention": ("s3:GetObjectRetention", "s3:GetObjectRetention"),
    "GetObjectTagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "GetObjectTorrent": ("s3:GetObjectTorrent", "s3:GetObjectVersionTorrent"),
    "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock", None),
    "HeadBucket": ("s3:ListBucket", None),
    "HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "ListBucketAnalyticsConfigurations": ("s3:GetAnalyticsConfiguration", None),
    "ListBucketIntelligentTieringConfigurations": (
        "s3:GetIntelligentTieringConfiguration", None),
    "ListBucketInventoryConfigurations": ("s3:GetInventoryConfiguration", None),
    "ListBucketMetricsConfigurations": ("s3:GetMetricsConfiguration", None),
    "ListBuckets": ("s3:ListAllMyBuckets", None),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", None),
    "ListObjectVersions": ("s3:ListBucketVersions", None),
    "ListObjects": ("s3:ListBucket", None),
    "ListObjectsV2": ("s3:ListBucket", None),
    "ListParts": ("s3:ListMultipartUploadParts", None),
    "PutBucketAbac": ("s3:PutBucketAbac", None),
    "PutBucketAccelerateConfiguration": ("s3:PutAccelerateConfiguration", None),
    "PutBucketAcl": ("s3:PutBucketAcl", None),
    "PutBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration", None),
    "PutBucketCors": ("s3:PutBucketCORS", None),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration", None),
    "PutBucketIntelligentTieringConfiguration": (
        "s3:PutIntelligentTieringConfiguration", None),
    "PutBucketInventoryConfiguration": ("s3:PutInventoryConfiguration", None),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration", None),
    "PutBucketLogging": ("s3:PutBucketLogging", None),
    "PutBucketMetricsConfiguration": ("s3:PutMetricsConfiguration", None),
    "PutBucketNotificationConfiguration": ("s3:PutBucketNotification", None),
    "PutBucketOwnershipControls": ("s3:PutBucketOwnershipControls", None),
    "PutBucketPolicy": ("s3:PutBucketPolicy", None),
    "PutBucketReplication": ("s3:PutReplicationConfiguration", None),
    "PutBucketRequestPayment": ("s3:PutBucketRequestPayment", None),
    "PutBucketTagging": ("s3:PutBucketTagging", None),
    "PutBucketVersioning": ("s3:PutBucketVersioning", None),
    "PutBucketWebsite": ("s3:PutBucketWebsite", None),
    "PutObject": ("s3:PutObject", None),
    "PutObjectAcl": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    "PutObjectLegalHold": ("s3:PutObjectLegalHold", "s3:PutObjectLegalHold"),
    "PutObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration", None),
    "PutObjectRetention": ("s3:PutObjectRetention", "s3:PutObjectRetention"),
    "PutObjectTagging": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock", None),
    "RenameObject": (None, None),  # refused on purpose: a second key, in a header
    "RestoreObject": ("s3:RestoreObject", "s3:RestoreObject"),
    "ListObjectAnnotations": ("s3:ListObjectAnnotations", None),
    "GetObjectAnnotation": ("s3:GetObjectAnnotation", None),
    "PutObjectAnnotation": ("s3:PutObjectAnnotation", None),
    "DeleteObjectAnnotation": ("s3:DeleteObjectAnnotation", None),
    "UpdateBucketMetadataAnnotationTableConfiguration": (
        "s3:UpdateBucketMetadataAnnotationTableConfiguration", None),
    "SelectObjectContent": ("s3:GetObject", None),
    "UpdateBucketMetadataInventoryTableConfiguration": (
        "s3:UpdateBucketMetadataInventoryTableConfiguration", None),
    "UpdateBucketMetadataJournalTableConfiguration": (
        "s3:UpdateBucketMetadataJournalTableConfiguration", None),
    "UpdateObjectEncryption": ("s3:UpdateObjectEncryption",
                               "s3:UpdateObjectEncryption"),
    "UploadPart": ("s3:PutObject", None),
    "UploadPartCopy": ("s3:PutObject", None),
}  # fmt: skip

# Operations whose request is the same on the wire as another's.
SAME_REQUEST_AS = {
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
    "ListDirectoryBuckets": "ListBuckets",
}
# S3 Object Lambda's answer to a transformed GET, sent to a Lambda-only endpoint.
NOT_FOR_A_STORE = {"WriteGetObjectResponse"}

SERVICE_MODEL = botocore.session.get_session().get_service_model("s3")
OPERATION_MODELS = [
    SERVICE_MODEL.operation_model(name) for name in SERVICE_MODEL.operation_names
]


class Captured(Exception):
    """Raised instead of sending, carrying the request botocore built."""


def _example(shape: Any, with_member: Callable[[str, Any], bool]) -> Any:
    """A value botocore accepts for ``shape``, with the members chosen."""
    if shape.type_name == "structure":
        members = shape.members.items()
        if shape.is_tagged_union:
            members = list(members)[:1]
            with_member = _any
        return {
            name: _example(member, _only_required)
            for name, member in members
            if with_member(name, shape)
        }
    examples: dict[str, Any] = {
        "list": lambda: [_example(shape.member, _only_required)],
        "map": lambda: {"k": "v"},
        "string": lambda: shape.enum[0] if shape.enum else "x" * _min_length(shape),
        "timestamp": lambda: datetime(2024, 1, 1),
        "blob": lambda: b"x",
        "boolean": lambda: True,
    }
    return examples.get(shape.type_name, lambda: 1)()


def _min_length(shape: Any) -> int:
    return max(1, int(shape.metadata.get("min", 1)))


def _any(name: str, shape: Any) -> bool:
    return True


def _only_required(name: str, shape: Any) -> bool:
    return name in shape.required_members


def _required_and_query(name: str, shape: Any) -> bool:
    member = shape.members[name]
    return (
        _only_required(name, shape)
        or member.serialization.get("location") == "querystring"
    )


def _params(model: OperationModel, with_member: Callable[[str, Any], bool]) -> Any:
    params = _example(model.input_shape, with_member) if model.input_shape else {}
    fixed = {"Bucket": "bucket", "Key": "dir/file.txt", "CopySource": "src/dir/a.txt"}
    return params | {name: value for name, value in fixed.items() if name in params}


@pytest.fixture(scope="module")
def client() -> Any:
    s3 = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"max_attempts": 0},
            inject_host_prefix=False,
        ),
    )

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        raise Captured(request)

    s3.meta.events.register("before-send.s3", capture)
    return s3


def _send(client: Any, model: OperationModel, params: Any) -> Operation:
    """Build the request with boto3 and classify it as the proxy would."""
    with pytest.raises(Captured) as captured:
        getattr(client, xform_name(model.name))(**params)
    request: AWSPreparedRequest = captured.value.args[0]
    url = urlsplit(request.url)
    bucket, _, key = url.path.removeprefix("/").partition("/")
    headers = {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }
    query = parse_qsl(url.query, keep_blank_values=True)
    return classify(request.method, unquote(bucket), unquote(key), query, headers)


def _expected_name(model: OperationModel) -> str:
    name = str(model.name)
    if name in NOT_FOR_A_STORE:
        return UNKNOWN
    return SAME_REQUEST_AS.get(name, name)


@pytest.mark.parametrize("model", OPERATION_MODELS, ids=lambda model: model.name)
def test_botocore_operation(client: Any, model: OperationModel) -> None:
    operation = _send(client, model, _params(model, _only_required))

    name = _expected_name(model)
    assert operation.name == name
    assert operation.action == (EXPECTED_ACTIONS[name][0] if name != UNKNOWN else None)


@pytest.mark.parametrize("model", OPERATION_MODELS, ids=lambda model: model.name)
def test_botocore_operation_with_every_query_parameter(
    client: Any, model: OperationModel
) -> None:
    operation = _send(client, model, _params(model, _required_and_query))

    name = _expected_name(model)
    versioned = EXPECTED_ACTIONS.get(name, (None, None))[1]
    assert operation.name == name
    if versioned and "s3:versionid" in operation.condition_context:
        assert operation.action == versioned


def test_every_operation_of_the_table_is_in_botocore() -> None:
    assert set(SERVICE_MODEL.operation_names) >= OPERATION_NAMES
    assert set(EXPECTED_ACTIONS) == OPERATION_NAMES


PRESIGNED = [
    ("get_object", {"Key": "dir/a b.txt"}, "GetObject", "s3:GetObject"),
    ("get_object", {"Key": "k", "VersionId": "v"}, "GetObject", "s3:GetObjectVersion"),
    ("put_object", {"Key": "k", "ACL": "public-read"}, "PutObject", "s3:PutObject"),
    ("upload_part", {"Key": "k", "UploadId": "u", "PartNumber": 1}, "UploadPart",
     "s3:PutObject"),
    ("list_objects_v2", {"Prefix": "u/"}, "ListObjectsV2", "s3:ListBucket"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "params", "name", "action"),
    PRESIGNED,
    ids=[f"{row[0]}-{len(row[1])}" for row in PRESIGNED],
)
def test_presigned_url(
    client: Any, method: str, params: dict[str, Any], name: str, action: str
) -> None:
    url = urlsplit(client.generate_presigned_url(method, {"Bucket": "b", **params}))
    bucket, _, key = url.path.removeprefix("/").partition("/")
    query = parse_qsl(url.query, keep_blank_values=True)
    http_method = "PUT" if method in {"put_object", "upload_part"} else "GET"

    operation = classify(http_method, unquote(bucket), unquote(key), query, {})

    assert (operation.name, operation.action) == (name, action)
