"""Which S3 operation a request is: API name, IAM action, bucket and key.

:func:`classify` reads the method, the bucket and key that the caller already took
from the path or host, the decoded query and the headers, and names the operation
(``GetObject``), the IAM action a policy must allow for it (``s3:GetObject``) and
the resource that action applies to. It knows nothing of who is calling.

The cases are one flat table per level (service, bucket, object), keyed by method
and *subresource*: the one query parameter that selects the operation, such as
``tagging`` or ``uploadId``. A few rows also need a trait of the request (a copy
source header, a ``partNumber``, an ``id``); the most specific row that fits wins.

Anything that does not fit is ``Unknown`` with no action, so that a policy can never
allow it by accident:

* a method S3 does not have, or no row for the method and subresource;
* two subresources at once (``?acl&tagging``), or a parameter named twice;
* a query parameter that is neither a subresource of that level nor a parameter of
  some S3 operation (``x-id``, ``X-Amz-*`` presigning fields and ``response-*``
  overrides are parameters). Stores add subresources of their own (MinIO's
  ``?events``, ``?replication-reset``); taken for a plain ``ListObjects`` or
  ``CreateBucket`` they would run with the store's own credentials unchecked;
* a copy source that is not ``bucket/key`` with at most a ``versionId``;
* a header named twice with different values, among those that classification
  reads.

Some operations are given a name but no action on purpose, so that no policy,
however broad, lets a session caller make them: ``CreateSession`` (it hands out
credentials for the store itself) and ``RenameObject`` (it reads and deletes a
second key, named in a header).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote

__all__ = [
    "ARN_PREFIX",
    "OPERATION_NAMES",
    "UNKNOWN",
    "Operation",
    "classify",
    "resource_arn",
]

ARN_PREFIX = "arn:aws:s3:::"
UNKNOWN = "Unknown"


def resource_arn(bucket: str | None, key: str | None = None) -> str:
    """The ARN a policy's ``Resource`` is matched against.

    ``arn:aws:s3:::bucket/key`` for an object, ``arn:aws:s3:::bucket`` for a bucket
    and ``arn:aws:s3:::*`` for the service itself (``ListBuckets``), so that both
    ``"*"`` and ``"arn:aws:s3:::*"`` grant ``s3:ListAllMyBuckets``. The key is used
    exactly as the store will receive it: nothing is normalised.
    """
    if not bucket:
        return f"{ARN_PREFIX}*"
    if not key:
        return f"{ARN_PREFIX}{bucket}"
    return f"{ARN_PREFIX}{bucket}/{key}"


@dataclass(frozen=True)
class Operation:
    """One classified request.

    ``action`` is what a policy must allow on :attr:`resource_arn`; ``None`` means
    no policy can allow it (``name`` is then ``Unknown`` or one of the operations
    refused on purpose). ``extra_actions`` must be allowed on the same resource as
    well: headers that set an ACL, tags or a lock on what is written, or that bypass
    governance retention. For ``CopyObject`` and ``UploadPartCopy``,
    :attr:`copy_source_action` must also be allowed on :attr:`copy_source_arn`.
    ``DeleteObjects`` names its keys in the body: each needs ``s3:DeleteObject``
    (``s3:DeleteObjectVersion`` with a ``VersionId``) on its own ARN.
    """

    name: str
    action: str | None
    bucket: str | None
    key: str | None
    copy_source: tuple[str, str] | None = None
    copy_source_version_id: str | None = None
    extra_actions: tuple[str, ...] = ()
    context: tuple[tuple[str, str], ...] = ()

    @property
    def resource_arn(self) -> str:
        return resource_arn(self.bucket, self.key)

    @property
    def required_actions(self) -> tuple[str, ...]:
        """Every action needed on :attr:`resource_arn`; empty when unknown."""
        return (self.action, *self.extra_actions) if self.action else ()

    @property
    def copy_source_arn(self) -> str | None:
        return resource_arn(*self.copy_source) if self.copy_source else None

    @property
    def copy_source_action(self) -> str | None:
        """``s3:GetObject``, or ``s3:GetObjectVersion`` for a versioned source."""
        if self.copy_source is None:
            return None
        return "s3:GetObjectVersion" if self.copy_source_version_id else "s3:GetObject"

    @property
    def condition_context(self) -> dict[str, str]:
        """Request condition keys for policies: ``s3:prefix``, ``s3:versionid``..."""
        return dict(self.context)


# The table. A row reads: method, subresource ("" for none), API name, IAM action,
# the action when the query names a versionId, traits the request must have, and the
# group of headers that add actions.


class _Rule(NamedTuple):
    method: str
    subresource: str
    name: str
    action: str | None
    versioned: str | None = None
    needs: frozenset[str] = frozenset()
    extras: str = ""


_COPY = frozenset({"copy"})
_PART = frozenset({"part"})
_PART_COPY = frozenset({"part", "copy"})
_ID = frozenset({"id"})
_NAMED = frozenset({"named"})

# fmt: off
_SERVICE_RULES = (
    _Rule("GET", "", "ListBuckets", "s3:ListAllMyBuckets"),
)

_BUCKET_RULES = (
    _Rule("GET", "", "ListObjects", "s3:ListBucket"),
    _Rule("GET", "list-type=2", "ListObjectsV2", "s3:ListBucket"),
    _Rule("GET", "versions", "ListObjectVersions", "s3:ListBucketVersions"),
    _Rule("GET", "uploads", "ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    _Rule("HEAD", "", "HeadBucket", "s3:ListBucket"),
    _Rule("PUT", "", "CreateBucket", "s3:CreateBucket", extras="create-bucket"),
    _Rule("DELETE", "", "DeleteBucket", "s3:DeleteBucket"),
    _Rule("POST", "delete", "DeleteObjects", "s3:DeleteObject", extras="bypass"),
    _Rule("GET", "location", "GetBucketLocation", "s3:GetBucketLocation"),
    _Rule("GET", "versioning", "GetBucketVersioning", "s3:GetBucketVersioning"),
    _Rule("PUT", "versioning", "PutBucketVersioning", "s3:PutBucketVersioning"),
    _Rule("GET", "tagging", "GetBucketTagging", "s3:GetBucketTagging"),
    _Rule("PUT", "tagging", "PutBucketTagging", "s3:PutBucketTagging"),
    _Rule("DELETE", "tagging", "DeleteBucketTagging", "s3:PutBucketTagging"),
    _Rule("GET", "acl", "GetBucketAcl", "s3:GetBucketAcl"),
    _Rule("PUT", "acl", "PutBucketAcl", "s3:PutBucketAcl"),
    _Rule("GET", "policy", "GetBucketPolicy", "s3:GetBucketPolicy"),
    _Rule("PUT", "policy", "PutBucketPolicy", "s3:PutBucketPolicy"),
    _Rule("DELETE", "policy", "DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
    _Rule("GET", "policyStatus", "GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"),
    _Rule("GET", "lifecycle", "GetBucketLifecycleConfiguration",
          "s3:GetLifecycleConfiguration"),
    _Rule("PUT", "lifecycle", "PutBucketLifecycleConfiguration",
          "s3:PutLifecycleConfiguration"),
    _Rule("DELETE", "lifecycle", "DeleteBucketLifecycle",
          "s3:PutLifecycleConfiguration"),
    _Rule("GET", "cors", "GetBucketCors", "s3:GetBucketCORS"),
    _Rule("PUT", "cors", "PutBucketCors", "s3:PutBucketCORS"),
    _Rule("DELETE", "cors", "DeleteBucketCors", "s3:PutBucketCORS"),
    _Rule("GET", "website", "GetBucketWebsite", "s3:GetBucketWebsite"),
    _Rule("PUT", "website", "PutBucketWebsite", "s3:PutBucketWebsite"),
    _Rule("DELETE", "website", "DeleteBucketWebsite", "s3:DeleteBucketWebsite"),
    _Rule("GET", "logging", "GetBucketLogging", "s3:GetBucketLogging"),
    _Rule("PUT", "logging", "PutBucketLogging", "s3:PutBucketLogging"),
    _Rule("GET", "notification", "GetBucketNotificationConfiguration",
          "s3:GetBucketNotification"),
    _Rule("PUT", "notification", "PutBucketNotificationConfiguration",
          "s3:PutBucketNotification"),
    _Rule("GET", "encryption", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    _Rule("PUT", "encryption", "PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    _Rule("DELETE", "encryption", "DeleteBucketEncryption",
          "s3:PutEncryptionConfiguration"),
    _Rule("GET", "replication", "GetBucketReplication",
          "s3:GetReplicationConfiguration"),
    _Rule("PUT", "replication", "PutBucketReplication",
          "s3:PutReplicationConfiguration"),
    _Rule("DELETE", "replication", "DeleteBucketReplication",
          "s3:PutReplicationConfiguration"),
    _Rule("GET", "requestPayment", "GetBucketRequestPayment",
          "s3:GetBucketRequestPayment"),
    _Rule("PUT", "requestPayment", "PutBucketRequestPayment",
          "s3:PutBucketRequestPayment"),
    _Rule("GET", "accelerate", "GetBucketAccelerateConfiguration",
          "s3:GetAccelerateConfiguration"),
    _Rule("PUT", "accelerate", "PutBucketAccelerateConfiguration",
          "s3:PutAccelerateConfiguration"),
    _Rule("GET", "object-lock", "GetObjectLockConfiguration",
          "s3:GetBucketObjectLockConfiguration"),
    _Rule("PUT", "object-lock", "PutObjectLockConfiguration",
          "s3:PutBucketObjectLockConfiguration"),
    _Rule("GET", "ownershipControls", "GetBucketOwnershipControls",
          "s3:GetBucketOwnershipControls"),
    _Rule("PUT", "ownershipControls", "PutBucketOwnershipControls",
          "s3:PutBucketOwnershipControls"),
    _Rule("DELETE", "ownershipControls", "DeleteBucketOwnershipControls",
          "s3:PutBucketOwnershipControls"),
    _Rule("GET", "publicAccessBlock", "GetPublicAccessBlock",
          "s3:GetBucketPublicAccessBlock"),
    _Rule("PUT", "publicAccessBlock", "PutPublicAccessBlock",
          "s3:PutBucketPublicAccessBlock"),
    _Rule("DELETE", "publicAccessBlock", "DeletePublicAccessBlock",
          "s3:PutBucketPublicAccessBlock"),
    _Rule("GET", "analytics", "ListBucketAnalyticsConfigurations",
          "s3:GetAnalyticsConfiguration"),
    _Rule("GET", "analytics", "GetBucketAnalyticsConfiguration",
          "s3:GetAnalyticsConfiguration", needs=_ID),
    _Rule("PUT", "analytics", "PutBucketAnalyticsConfiguration",
          "s3:PutAnalyticsConfiguration"),
    _Rule("DELETE", "analytics", "DeleteBucketAnalyticsConfiguration",
          "s3:PutAnalyticsConfiguration"),
    _Rule("GET", "metrics", "ListBucketMetricsConfigurations",
          "s3:GetMetricsConfiguration"),
    _Rule("GET", "metrics", "GetBucketMetricsConfiguration",
          "s3:GetMetricsConfiguration", needs=_ID),
    _Rule("PUT", "metrics", "PutBucketMetricsConfiguration",
          "s3:PutMetricsConfiguration"),
    _Rule("DELETE", "metrics", "DeleteBucketMetricsConfiguration",
          "s3:PutMetricsConfiguration"),
    _Rule("GET", "inventory", "ListBucketInventoryConfigurations",
          "s3:GetInventoryConfiguration"),
    _Rule("GET", "inventory", "GetBucketInventoryConfiguration",
          "s3:GetInventoryConfiguration", needs=_ID),
    _Rule("PUT", "inventory", "PutBucketInventoryConfiguration",
          "s3:PutInventoryConfiguration"),
    _Rule("DELETE", "inventory", "DeleteBucketInventoryConfiguration",
          "s3:PutInventoryConfiguration"),
    _Rule("GET", "intelligent-tiering", "ListBucketIntelligentTieringConfigurations",
          "s3:GetIntelligentTieringConfiguration"),
    _Rule("GET", "intelligent-tiering", "GetBucketIntelligentTieringConfiguration",
          "s3:GetIntelligentTieringConfiguration", needs=_ID),
    _Rule("PUT", "intelligent-tiering", "PutBucketIntelligentTieringConfiguration",
          "s3:PutIntelligentTieringConfiguration"),
    _Rule("DELETE", "intelligent-tiering",
          "DeleteBucketIntelligentTieringConfiguration",
          "s3:PutIntelligentTieringConfiguration"),
    _Rule("POST", "metadataTable", "CreateBucketMetadataTableConfiguration",
          "s3:CreateBucketMetadataTableConfiguration"),
    _Rule("GET", "metadataTable", "GetBucketMetadataTableConfiguration",
          "s3:GetBucketMetadataTableConfiguration"),
    _Rule("DELETE", "metadataTable", "DeleteBucketMetadataTableConfiguration",
          "s3:DeleteBucketMetadataTableConfiguration"),
    _Rule("POST", "metadataConfiguration", "CreateBucketMetadataConfiguration",
          "s3:CreateBucketMetadataTableConfiguration"),
    _Rule("GET", "metadataConfiguration", "GetBucketMetadataConfiguration",
          "s3:GetBucketMetadataTableConfiguration"),
    _Rule("DELETE", "metadataConfiguration", "DeleteBucketMetadataConfiguration",
          "s3:DeleteBucketMetadataTableConfiguration"),
    _Rule("PUT", "metadataInventoryTable",
          "UpdateBucketMetadataInventoryTableConfiguration",
          "s3:UpdateBucketMetadataInventoryTableConfiguration"),
    _Rule("PUT", "metadataJournalTable",
          "UpdateBucketMetadataJournalTableConfiguration",
          "s3:UpdateBucketMetadataJournalTableConfiguration"),
    _Rule("PUT", "metadataAnnotationTable",
          "UpdateBucketMetadataAnnotationTableConfiguration",
          "s3:UpdateBucketMetadataAnnotationTableConfiguration"),
    _Rule("GET", "abac", "GetBucketAbac", "s3:GetBucketAbac"),
    _Rule("PUT", "abac", "PutBucketAbac", "s3:PutBucketAbac"),
    _Rule("GET", "session", "CreateSession", None),
)

_OBJECT_RULES = (
    _Rule("GET", "", "GetObject", "s3:GetObject", "s3:GetObjectVersion"),
    _Rule("HEAD", "", "HeadObject", "s3:GetObject", "s3:GetObjectVersion"),
    _Rule("PUT", "", "PutObject", "s3:PutObject", extras="write-object"),
    _Rule("PUT", "", "CopyObject", "s3:PutObject", needs=_COPY, extras="write-object"),
    _Rule("DELETE", "", "DeleteObject",
          "s3:DeleteObject", "s3:DeleteObjectVersion", extras="bypass"),
    _Rule("GET", "tagging", "GetObjectTagging",
          "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    _Rule("PUT", "tagging", "PutObjectTagging",
          "s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    _Rule("DELETE", "tagging", "DeleteObjectTagging",
          "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    _Rule("GET", "acl", "GetObjectAcl", "s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    _Rule("PUT", "acl", "PutObjectAcl", "s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    _Rule("GET", "attributes", "GetObjectAttributes",
          "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
    _Rule("GET", "retention", "GetObjectRetention", "s3:GetObjectRetention"),
    _Rule("PUT", "retention", "PutObjectRetention",
          "s3:PutObjectRetention", extras="bypass"),
    _Rule("GET", "legal-hold", "GetObjectLegalHold", "s3:GetObjectLegalHold"),
    _Rule("PUT", "legal-hold", "PutObjectLegalHold", "s3:PutObjectLegalHold"),
    _Rule("GET", "annotation", "ListObjectAnnotations", "s3:ListObjectAnnotations"),
    _Rule("GET", "annotation", "GetObjectAnnotation", "s3:GetObjectAnnotation",
          needs=_NAMED),
    _Rule("PUT", "annotation", "PutObjectAnnotation", "s3:PutObjectAnnotation",
          needs=_NAMED),
    _Rule("DELETE", "annotation", "DeleteObjectAnnotation",
          "s3:DeleteObjectAnnotation", needs=_NAMED),
    _Rule("POST", "restore", "RestoreObject", "s3:RestoreObject"),
    _Rule("POST", "select", "SelectObjectContent", "s3:GetObject"),
    _Rule("GET", "torrent", "GetObjectTorrent",
          "s3:GetObjectTorrent", "s3:GetObjectVersionTorrent"),
    _Rule("POST", "uploads", "CreateMultipartUpload",
          "s3:PutObject", extras="write-object"),
    _Rule("PUT", "uploadId", "UploadPart", "s3:PutObject", needs=_PART),
    _Rule("PUT", "uploadId", "UploadPartCopy", "s3:PutObject", needs=_PART_COPY),
    _Rule("POST", "uploadId", "CompleteMultipartUpload", "s3:PutObject"),
    _Rule("DELETE", "uploadId", "AbortMultipartUpload", "s3:AbortMultipartUpload"),
    _Rule("GET", "uploadId", "ListParts", "s3:ListMultipartUploadParts"),
    _Rule("PUT", "encryption", "UpdateObjectEncryption",
          "s3:UpdateObjectEncryption", extras="update-encryption"),
    _Rule("PUT", "renameObject", "RenameObject", None),
)
# fmt: on

# Headers that add an action on the same resource, by group: (headers, action).
# An empty header tuple means the action is always added.
_ACL_HEADERS = (
    "x-amz-acl",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
)
_LOCK_ENABLED = ("x-amz-bucket-object-lock-enabled",)
_EXTRAS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "": (),
    "write-object": (
        (_ACL_HEADERS, "s3:PutObjectAcl"),
        (("x-amz-tagging",), "s3:PutObjectTagging"),
        (
            ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"),
            "s3:PutObjectRetention",
        ),
        (("x-amz-object-lock-legal-hold",), "s3:PutObjectLegalHold"),
    ),
    "bypass": (
        (("x-amz-bypass-governance-retention",), "s3:BypassGovernanceRetention"),
    ),
    "create-bucket": (
        (_ACL_HEADERS, "s3:PutBucketAcl"),
        (_LOCK_ENABLED, "s3:PutBucketObjectLockConfiguration"),
        (_LOCK_ENABLED, "s3:PutBucketVersioning"),
        (("x-amz-object-ownership",), "s3:PutBucketOwnershipControls"),
    ),
    # AWS documents s3:PutObject next to s3:UpdateObjectEncryption for it.
    "update-encryption": (((), "s3:PutObject"),),
}

_COPY_SOURCE = "x-amz-copy-source"
# Headers classification reads; the same names in a presigned query count too.
_READ_HEADERS = frozenset(
    {_COPY_SOURCE}
    | {
        header
        for group in _EXTRAS.values()
        for headers, _ in group
        for header in headers
    }
)

_LEVELS = {"service": _SERVICE_RULES, "bucket": _BUCKET_RULES, "object": _OBJECT_RULES}
# Every name classify() can give besides Unknown: a bounded set, fit for a metric label.
OPERATION_NAMES = frozenset(rule.name for rules in _LEVELS.values() for rule in rules)
_SUBRESOURCES = {
    level: frozenset(rule.subresource.partition("=")[0] for rule in rules) - {""}
    for level, rules in _LEVELS.items()
}


def _index_rules() -> dict[tuple[str, str, str], tuple[_Rule, ...]]:
    """Rules by (level, method, subresource), most specific first."""
    index: dict[tuple[str, str, str], list[_Rule]] = {}
    for level, rules in _LEVELS.items():
        for rule in rules:
            index.setdefault((level, rule.method, rule.subresource), []).append(rule)
    return {
        key: tuple(sorted(rules, key=lambda rule: -len(rule.needs)))
        for key, rules in index.items()
    }


_RULES = _index_rules()

# Subresources whose value selects the operation, not only their presence.
_VALUED_SUBRESOURCES = frozenset({"list-type"})

# Query parameters of S3 operations that do not select one (botocore's model of
# every S3 operation, plus what SDKs add). X-Amz-* presigning fields are accepted by
# prefix.
_PARAMETERS = frozenset(
    {
        "annotation-prefix",
        "annotationName",
        "bucket-region",
        "continuation-token",
        "delimiter",
        "encoding-type",
        "fetch-owner",
        "id",
        "key-marker",
        "marker",
        "max-annotation-results",
        "max-buckets",
        "max-directory-buckets",
        "max-keys",
        "max-parts",
        "max-uploads",
        "part-number-marker",
        "partNumber",
        "prefix",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "select-type",
        "start-after",
        "upload-id-marker",
        "version-id-marker",
        "versionId",
        "x-id",
    }
)

# Request values policies may test in a Condition, by query parameter.
_LIST_CONTEXT = {
    "prefix": "s3:prefix",
    "delimiter": "s3:delimiter",
    "max-keys": "s3:max-keys",
}
_LISTS = frozenset(
    {"ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"}
)


class _Request(NamedTuple):
    """The parts of a request that classification reads, checked for ambiguity."""

    method: str
    level: str
    query: dict[str, str]
    headers: dict[str, str]


def classify(
    method: str,
    bucket: str | None,
    key: str | None,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
) -> Operation:
    """Name the S3 operation of a request; see the module docstring for the rules.

    ``bucket`` and ``key`` are decoded; an empty key is no key (S3 keys have at
    least one character), so ``GET /bucket/`` lists the bucket.
    """
    bucket, key = bucket or None, key or None
    unknown = Operation(UNKNOWN, None, bucket, key)
    request = _read_request(method, bucket, key, query, headers)
    if request is None:
        return unknown
    rule = _find_rule(request)
    if rule is None:
        return unknown
    return _build(rule, request, bucket, key) or unknown


def _read_request(
    method: str,
    bucket: str | None,
    key: str | None,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
) -> _Request | None:
    if key is not None and bucket is None:
        return None
    level = "object" if key else "bucket" if bucket else "service"
    names = [name for name, _ in query]
    if len(set(names)) != len(names):
        return None
    merged = _merge_headers(headers.items(), query)
    if merged is None:
        return None
    return _Request(method, level, dict(query), merged)


def _merge_headers(
    headers: Iterable[tuple[str, str]], query: Sequence[tuple[str, str]]
) -> dict[str, str] | None:
    """The headers classification reads, lower-cased, or None if one is ambiguous.

    A presigned URL may carry a header in its query instead; the store may honour
    either, so both count and must agree.
    """
    merged: dict[str, str] = {}
    hoisted = ((name, value) for name, value in query if name.lower() in _READ_HEADERS)
    for name, value in (*headers, *hoisted):
        name = name.lower()
        if name in _READ_HEADERS and merged.setdefault(name, value) != value:
            return None
    return merged


def _find_rule(request: _Request) -> _Rule | None:
    subresource = _subresource(request.level, request.query)
    if subresource is None:
        return None
    candidates = _RULES.get((request.level, request.method, subresource), ())
    traits = _traits(request)
    return next((rule for rule in candidates if rule.needs <= traits), None)


def _subresource(level: str, query: Mapping[str, str]) -> str | None:
    """The one subresource in the query, "" for none, None when unclassifiable."""
    subresources = _SUBRESOURCES[level]
    found = [name for name in query if name in subresources]
    strangers = [n for n in query if n not in subresources and not _is_parameter(n)]
    if len(found) > 1 or strangers:
        return None
    if not found:
        return ""
    name = found[0]
    return f"{name}={query[name]}" if name in _VALUED_SUBRESOURCES else name


def _is_parameter(name: str) -> bool:
    return name in _PARAMETERS or name.lower().startswith("x-amz-")


def _traits(request: _Request) -> frozenset[str]:
    traits = {
        "copy": _COPY_SOURCE in request.headers,
        "part": "partNumber" in request.query,
        "id": "id" in request.query,
        "named": "annotationName" in request.query,
    }
    return frozenset(trait for trait, present in traits.items() if present)


def _build(
    rule: _Rule, request: _Request, bucket: str | None, key: str | None
) -> Operation | None:
    version_id = request.query.get("versionId")
    action = (
        rule.versioned if rule.versioned and version_id is not None else rule.action
    )
    copy = _copy_source(request.headers) if "copy" in rule.needs else (None, None)
    if copy is None:
        return None
    source, source_version = copy
    return Operation(
        name=rule.name,
        action=action,
        bucket=bucket,
        key=key,
        copy_source=source,
        copy_source_version_id=source_version,
        extra_actions=_extra_actions(rule.extras, request.headers),
        context=_context(rule, request),
    )


def _copy_source(
    headers: Mapping[str, str],
) -> tuple[tuple[str, str] | None, str | None] | None:
    """``((bucket, key), versionId)`` from ``x-amz-copy-source``, None if malformed.

    The header is ``bucket/key`` URL-encoded, with an optional leading ``/`` and an
    optional ``?versionId=``. The ``?`` is split off before decoding, so an encoded
    ``%3F`` stays part of the key. A raw ``#`` is refused: URL parsers in stores
    would cut the key there, and the key authorized must be the key read.
    """
    path, question, version_query = headers[_COPY_SOURCE].partition("?")
    name, _, raw_version = version_query.partition("=")
    if question and (name != "versionId" or not raw_version or "&" in raw_version):
        return None
    source, version_id = _decode(path.removeprefix("/")), _decode(raw_version)
    if source is None or version_id is None or "#" in path:
        return None
    source_bucket, _, source_key = source.partition("/")
    if not source_bucket or not source_key:
        return None
    return (source_bucket, source_key), (version_id or None)


def _decode(text: str) -> str | None:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        return None


def _extra_actions(group: str, headers: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(
        action
        for names, action in _EXTRAS[group]
        if not names or any(name in headers for name in names)
    )


def _context(rule: _Rule, request: _Request) -> tuple[tuple[str, str], ...]:
    context: list[tuple[str, str]] = []
    if rule.name in _LISTS:
        context += [
            (condition_key, request.query[name])
            for name, condition_key in _LIST_CONTEXT.items()
            if name in request.query
        ]
    if "versionId" in request.query:
        context.append(("s3:versionid", request.query["versionId"]))
    if "copy" in rule.needs:
        context.append(("s3:x-amz-copy-source", request.headers[_COPY_SOURCE]))
    return tuple(context)
