"""Policy evaluation: row-level security from JWT claims, IAM semantics, validation."""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.policy import (
    CONTEXT_KEYS,
    Decision,
    PolicyError,
    PolicySet,
    _can_start_with,
    _intersects,
    _units,
    _wildcards,
    wildcard_match,
)

V = "2012-10-17"


def allow(action: Any, resource: Any, sid: str | None = None, **more: Any) -> Any:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **more}
    return statement | ({"Sid": sid} if sid else {})


def deny(action: Any, resource: Any, sid: str | None = None, **more: Any) -> Any:
    return allow(action, resource, sid, **more) | {"Effect": "Deny"}


# --- the common case: own folder, public bucket, nothing else ----------------------

POLICIES: dict[str, Any] = {
    "own-folder": {
        "Version": V,
        "Statement": [
            allow(
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "arn:aws:s3:::data/${jwt:sub}/*",
                "ReadWriteOwn",
            ),
            allow(
                "s3:ListBucket",
                "arn:aws:s3:::data",
                "ListOwn",
                Condition={"StringLike": {"s3:prefix": ["${jwt:sub}/*",
                            "${jwt:sub}/"]}},
            ),
        ],
    },
    "public-read": {
        "Version": V,
        "Statement": [
            allow(["s3:GetObject", "s3:ListBucket"],
                ["arn:aws:s3:::public", "arn:aws:s3:::public/*"]),
        ],
    },
    "no-secrets": {
        "Version": V,
        "Statement": [deny("s3:*", "arn:aws:s3:::data/*/secret/*", "NoSecrets")],
    },
    "tenant": {
        "Version": V,
        "Statement": [
            allow("s3:*", "arn:aws:s3:::tenants/${jwt:app_metadata.tenant}/*",
                "Tenant"),
        ],
    },
}  # fmt: skip
ATTACHMENTS: list[dict[str, Any]] = [
    {"roles": ["authenticated"], "policies": ["own-folder", "public-read"]},
    {"roles": "authenticated", "policies": ["no-secrets", "public-read"]},
    {"roles": ["anon"], "policies": ["public-read"]},
    {
        "roles": ["authenticated"],
        "claims": {"app_metadata.tenant": ["acme", "initech"]},
        "policies": ["tenant"],
    },
]
POLICY_SET = PolicySet.from_config(POLICIES, ATTACHMENTS)

USER = {"role": "authenticated", "sub": "u1"}
ANON = {"role": "anon"}
ACME = {"role": "authenticated", "sub": "u1", "app_metadata": {"tenant": "acme"}}


def obj(key: str, bucket: str = "data") -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


EVALUATIONS = [
    # id, claims, action, resource, context, decided by (None: denied by default)
    ("own-read", USER, "s3:GetObject", obj("u1/a.txt"), None,
        "own-folder/ReadWriteOwn"),
    ("own-write-deep", USER, "s3:PutObject", obj("u1/a/b/c"), None,
        "own-folder/ReadWriteOwn"),
    ("own-action-case", USER, "S3:getobject", obj("u1/a"), None,
        "own-folder/ReadWriteOwn"),
    ("own-folder-itself", USER, "s3:GetObject", obj("u1"), None, None),
    ("other-folder", USER, "s3:GetObject", obj("u2/a.txt"), None, None),
    ("prefix-of-other-sub", USER, "s3:GetObject", obj("u10/a"), None, None),
    ("not-granted-action", USER, "s3:GetObjectAcl", obj("u1/a"), None, None),
    ("resource-case", USER, "s3:GetObject", obj("U1/a"), None, None),
    ("bucket-case", USER, "s3:GetObject", "arn:aws:s3:::Data/u1/a", None, None),
    # folder escapes: the key is literal, so "u1/../u2/x" is a key under u1/
    ("dot-segments-stay-literal", USER, "s3:GetObject", obj("u1/../u2/x"), None,
        "own-folder/ReadWriteOwn"),
    ("dot-segments-from-outside", USER, "s3:GetObject", obj("u2/../u1/x"), None, None),
    ("double-slash", USER, "s3:GetObject", obj("u1//x"), None,
        "own-folder/ReadWriteOwn"),
    ("leading-slash", USER, "s3:GetObject", obj("/u1/x"), None, None),
    ("deny-beats-allow", USER, "s3:GetObject", obj("u1/secret/k"), None,
        "no-secrets/NoSecrets"),
    ("deny-any-action", USER, "s3:DeleteObject", obj("u1/secret/k"), None,
        "no-secrets/NoSecrets"),
    # listing with s3:prefix
    ("list-own-prefix", USER, "s3:ListBucket", "arn:aws:s3:::data",
        {"s3:prefix": "u1/"}, "own-folder/ListOwn"),
    ("list-own-subprefix", USER, "s3:ListBucket", "arn:aws:s3:::data",
        {"s3:prefix": "u1/x/"}, "own-folder/ListOwn"),
    ("list-other-prefix", USER, "s3:ListBucket", "arn:aws:s3:::data",
        {"s3:prefix": "u2/"}, None),
    ("list-prefix-without-slash", USER, "s3:ListBucket", "arn:aws:s3:::data",
        {"s3:prefix": "u1"}, None),
    ("list-no-prefix", USER, "s3:ListBucket", "arn:aws:s3:::data", {}, None),
    ("list-empty-prefix", USER, "s3:ListBucket", "arn:aws:s3:::data", {"s3:prefix": ""},
        None),
    ("list-key-case", USER, "s3:ListBucket", "arn:aws:s3:::data", {"S3:Prefix": "u1/"},
        "own-folder/ListOwn"),
    # anonymous users and the public bucket
    ("anon-public", ANON, "s3:GetObject", obj("x", "public"), None, "public-read/#0"),
    ("anon-list-public", ANON, "s3:ListBucket", "arn:aws:s3:::public", None,
        "public-read/#0"),
    ("anon-write-public", ANON, "s3:PutObject", obj("x", "public"), None, None),
    ("anon-data", ANON, "s3:GetObject", obj("u1/x"), None, None),
    ("user-public", USER, "s3:GetObject", obj("x", "public"), None, "public-read/#0"),
    # nobody else
    ("no-role", {"sub": "u1"}, "s3:GetObject", obj("u1/x"), None, None),
    ("unknown-role", {"role": "admin", "sub": "u1"}, "s3:GetObject", obj("u1/x"), None,
        None),
    ("role-not-a-string", {"role": ["authenticated"], "sub": "u1"}, "s3:GetObject",
        obj("u1/x"), None, None),
    ("list-buckets", USER, "s3:ListAllMyBuckets", "arn:aws:s3:::*", None, None),
    # claims attachments and nested claims
    ("tenant", ACME, "s3:PutObject", obj("acme/x", "tenants"), None, "tenant/Tenant"),
    ("tenant-other", ACME, "s3:PutObject", obj("initech/x", "tenants"), None, None),
    ("tenant-second-value", {**ACME, "app_metadata": {"tenant": "initech"}},
        "s3:GetObject", obj("initech/x", "tenants"), None, "tenant/Tenant"),
    ("tenant-not-attached", {**ACME, "app_metadata": {"tenant": "umbrella"}},
        "s3:GetObject", obj("umbrella/x", "tenants"), None, None),
    ("tenant-missing", USER, "s3:GetObject", obj("acme/x", "tenants"), None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("claims", "action", "resource", "context", "statement"),
    [row[1:] for row in EVALUATIONS],
    ids=[row[0] for row in EVALUATIONS],
)
def test_evaluate(
    claims: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str] | None,
    statement: str | None,
) -> None:
    decision = POLICY_SET.evaluate(claims, action, resource, context)

    assert decision.statement == statement
    assert decision.allowed == (statement is not None and "no-secrets" not in statement)


def test_reasons() -> None:
    allowed = POLICY_SET.evaluate(USER, "s3:GetObject", obj("u1/a"))
    denied = POLICY_SET.evaluate(USER, "s3:GetObject", obj("u1/secret/a"))
    unmatched = POLICY_SET.evaluate(USER, "s3:GetObject", obj("u2/a"))
    nobody = POLICY_SET.evaluate({"role": "x"}, "s3:GetObject", obj("u2/a"))

    assert allowed.reason == "allowed by own-folder/ReadWriteOwn"
    assert denied == Decision(
        False, "denied by no-secrets/NoSecrets", "no-secrets/NoSecrets"
    )
    assert unmatched == Decision(False, "no statement allowed it", None)
    assert nobody == Decision(False, "no policy is attached to these claims", None)


def test_policies_for() -> None:
    assert POLICY_SET.policies_for(ACME) == (
        "own-folder",
        "public-read",
        "no-secrets",
        "tenant",
    )
    assert POLICY_SET.policies_for(ANON) == ("public-read",)
    assert POLICY_SET.policies_for({}) == ()


# --- claims that must not widen access ------------------------------------------------

FOLDER = PolicySet.from_config(
    {"p": {"Version": V,
            "Statement": [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:sub}/*",
                            "Own")]}},
    [{"roles": "user", "policies": "p"}],
)  # fmt: skip

SUBS = [
    # id, sub, key asked for, allowed
    ("plain", "u1", "u1/x", True),
    ("number", 42, "42/x", True),
    ("float", 1.5, "1.5/x", True),
    ("star-is-literal", "*", "*/x", True),
    ("star-matches-nothing-else", "*", "u2/x", False),
    ("question-is-literal", "u?", "u2/x", False),
    ("question-itself", "u?", "u?/x", True),
    ("star-inside", "u*", "u1/x", False),
    ("bracket-is-literal", "[u]", "[u]/x", True),
    ("bracket-no-class", "[u]", "u/x", False),
    ("slash-refused", "u1/../u2", "u1/../u2/x", False),
    ("slash-refused-plain", "a/b", "a/b/x", False),
    ("dot-dot-refused", "..", "../x", False),
    ("dot-refused", ".", "./x", False),
    ("dots-inside-fine", "a..b", "a..b/x", True),
    ("empty-refused", "", "/x", False),
    ("empty-refused-double-slash", "", "x", False),
    ("control-char-refused", "u1\n", "u1\n/x", False),
    ("nul-refused", "u1\x00", "u1\x00/x", False),
    ("bool-refused", True, "True/x", False),
    ("list-refused", ["u1"], "u1/x", False),
    ("object-refused", {"id": "u1"}, "u1/x", False),
    ("null-refused", None, "None/x", False),
    ("lookalike-slash-is-literal", "u1\u2215..\u2215u2", "u2/x", False),
    ("lookalike-own-folder", "u1\u2215..\u2215u2", "u1\u2215..\u2215u2/x", True),
    ("fullwidth-slash-literal", "u1\uff0fu2", "u1\uff0fu2/x", True),
    ("unicode-case", "\u00c9", "\u00e9/x", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sub", "key", "allowed"), [row[1:] for row in SUBS], ids=[row[0] for row in SUBS]
)
def test_sub_values(sub: Any, key: str, allowed: bool) -> None:
    decision = FOLDER.evaluate(
        {"role": "user", "sub": sub}, "s3:GetObject", f"arn:aws:s3:::b/{key}"
    )

    assert decision.allowed is allowed


def test_missing_sub_is_not_an_empty_string() -> None:
    decision = FOLDER.evaluate({"role": "user"}, "s3:GetObject", "arn:aws:s3:::b//x")

    assert not decision.allowed


# --- statements: deny, NotAction, NotResource, failing closed ----------------------


def one_policy(*statements: Any) -> PolicySet:
    return PolicySet.from_config(
        {"p": {"Version": V, "Statement": list(statements)}},
        [{"roles": ["user"], "policies": ["p"]}],
    )


STATEMENTS = [
    # id, statements, claims, action, resource, allowed
    ("not-action-allows-others",
        [{"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}],
     {}, "s3:GetObject", "arn:aws:s3:::b/k", True),
    ("not-action-excludes",
        [{"Effect": "Allow", "NotAction": ["s3:Delete*"], "Resource": "*"}],
     {}, "s3:DeleteObject", "arn:aws:s3:::b/k", False),
    ("not-resource-allows-others",
        [{"Effect": "Allow", "Action": "s3:*",
                "NotResource": "arn:aws:s3:::private/*"}],
     {}, "s3:GetObject", "arn:aws:s3:::b/k", True),
    ("not-resource-excludes",
        [{"Effect": "Allow", "Action": "s3:*",
                "NotResource": "arn:aws:s3:::private/*"}],
     {}, "s3:GetObject", "arn:aws:s3:::private/k", False),
    ("deny-not-resource-outside-folder",
        [allow("s3:*", "*"),
            {"Effect": "Deny", "Action": "s3:*",
                    "NotResource": "arn:aws:s3:::b/${jwt:sub}/*"}],
     {"sub": "u1"}, "s3:GetObject", "arn:aws:s3:::b/u2/k", False),
    ("deny-not-resource-inside-folder",
        [allow("s3:*", "*"),
            {"Effect": "Deny", "Action": "s3:*",
                    "NotResource": "arn:aws:s3:::b/${jwt:sub}/*"}],
     {"sub": "u1"}, "s3:GetObject", "arn:aws:s3:::b/u1/k", True),
    ("deny-fails-closed-without-claim",
        [allow("s3:*", "*"),
            {"Effect": "Deny", "Action": "s3:*",
                    "NotResource": "arn:aws:s3:::b/${jwt:sub}/*"}],
     {}, "s3:GetObject", "arn:aws:s3:::b/u1/k", False),
    ("deny-resource-fails-closed",
        [allow("s3:*", "*"), deny("s3:GetObject", "arn:aws:s3:::b/${jwt:sub}/secret")],
     {}, "s3:GetObject", "arn:aws:s3:::b/anything", False),
    ("deny-fails-closed-only-for-its-actions",
        [allow("s3:*", "*"), deny("s3:GetObject", "arn:aws:s3:::b/${jwt:sub}/secret")],
     {}, "s3:PutObject", "arn:aws:s3:::b/anything", True),
    ("deny-with-false-condition",
        [allow("s3:*", "*"),
            deny("s3:*", "arn:aws:s3:::b/${jwt:sub}",
                    Condition={"StringEquals": {"jwt:team": "red"}})],
     {"team": "blue"}, "s3:GetObject", "arn:aws:s3:::b/k", True),
    ("allow-any-of-resources",
        [allow("s3:GetObject",
                ["arn:aws:s3:::b/${jwt:sub}/*", "arn:aws:s3:::shared/*"])],
     {}, "s3:GetObject", "arn:aws:s3:::shared/k", True),
    ("star-resource", [allow("s3:GetObject", "*")], {}, "s3:GetObject",
        "arn:aws:s3:::any/k", True),
    ("star-action", [allow("*", "*")], {}, "sts:AssumeRole", "arn:aws:s3:::any", True),
    ("question-in-action", [allow("s3:GetObjec?", "*")], {}, "s3:GetObject",
        "arn:aws:s3:::b/k", True),
    ("escape-star", [allow("s3:GetObject", "arn:aws:s3:::b/${*}")], {}, "s3:GetObject",
        "arn:aws:s3:::b/*", True),
    ("escape-star-literal", [allow("s3:GetObject", "arn:aws:s3:::b/${*}")], {},
        "s3:GetObject", "arn:aws:s3:::b/x", False),
    ("escape-question", [allow("s3:GetObject", "arn:aws:s3:::b/${?}")], {},
        "s3:GetObject", "arn:aws:s3:::b/?", True),
    ("escape-dollar", [allow("s3:GetObject", "arn:aws:s3:::b/${$}{x}")], {},
        "s3:GetObject", "arn:aws:s3:::b/${x}", True),
    ("lone-dollar", [allow("s3:GetObject", "arn:aws:s3:::b/$x")], {}, "s3:GetObject",
        "arn:aws:s3:::b/$x", True),
    ("dotted-claim-name",
        [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:https://x.io/org}/*")],
     {"https://x.io/org": "o1"}, "s3:GetObject", "arn:aws:s3:::b/o1/k", True),
    ("nested-in-dotted-claim",
        [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:https://x.io/claims.org}/*")],
     {"https://x.io/claims": {"org": "o1"}}, "s3:GetObject", "arn:aws:s3:::b/o1/k",
         True),
    ("nested-not-an-object",
        [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:app_metadata.org}/*")],
     {"app_metadata": "o1"}, "s3:GetObject", "arn:aws:s3:::b/o1/k", False),
    ("nested-missing-leaf", [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:a.b.c}/*")],
     {"a": {"b": {"d": "x"}}}, "s3:GetObject", "arn:aws:s3:::b/x/k", False),
    ("nested-deep", [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:a.b.c}/*")],
     {"a": {"b": {"c": "x"}}}, "s3:GetObject", "arn:aws:s3:::b/x/k", True),
    ("two-variables", [allow("s3:GetObject", "arn:aws:s3:::${jwt:org}/${jwt:sub}/*")],
     {"org": "o", "sub": "u"}, "s3:GetObject", "arn:aws:s3:::o/u/k", True),
    ("newline-in-key", [allow("s3:GetObject", "arn:aws:s3:::b/a*z")], {},
        "s3:GetObject", "arn:aws:s3:::b/a\nz", True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("statements", "claims", "action", "resource", "allowed"),
    [row[1:] for row in STATEMENTS],
    ids=[row[0] for row in STATEMENTS],
)
def test_statements(
    statements: list[Any],
    claims: dict[str, Any],
    action: str,
    resource: str,
    allowed: bool,
) -> None:
    decision = one_policy(*statements).evaluate(
        {"role": "user", **claims}, action, resource
    )

    assert decision.allowed is allowed


def test_deny_failing_closed_says_why() -> None:
    policies = one_policy(
        allow("s3:*", "*"), deny("s3:*", "arn:aws:s3:::b/${jwt:sub}", "D")
    )

    decision = policies.evaluate({"role": "user"}, "s3:GetObject", "arn:aws:s3:::b")

    assert decision.reason == "denied by p/D (a claim it names is missing or unusable)"


# --- conditions --------------------------------------------------------------------

CONDITIONS = [
    # id, Condition, claims, context, allowed
    ("string-equals", {"StringEquals": {"jwt:team": "red"}}, {"team": "red"}, {}, True),
    ("string-equals-other", {"StringEquals": {"jwt:team": "red"}}, {"team": "blue"}, {},
        False),
    ("string-equals-any-value", {"StringEquals": {"jwt:team": ["blue", "red"]}},
        {"team": "red"}, {}, True),
    ("string-equals-case", {"StringEquals": {"jwt:team": "red"}}, {"team": "RED"}, {},
        False),
    ("string-equals-missing", {"StringEquals": {"jwt:team": "red"}}, {}, {}, False),
    ("string-equals-if-exists-missing", {"StringEqualsIfExists": {"jwt:team": "red"}},
        {}, {}, True),
    ("string-equals-if-exists-present", {"StringEqualsIfExists": {"jwt:team": "red"}},
        {"team": "blue"}, {}, False),
    ("string-equals-no-wildcards", {"StringEquals": {"jwt:team": "r*"}},
        {"team": "red"}, {}, False),
    ("string-equals-variable", {"StringEquals": {"jwt:owner": "${jwt:sub}"}},
        {"owner": "u1", "sub": "u1"}, {}, True),
    ("string-equals-variable-differs", {"StringEquals": {"jwt:owner": "${jwt:sub}"}},
        {"owner": "u1", "sub": "u2"}, {}, False),
    ("string-equals-variable-missing", {"StringEquals": {"jwt:owner": "${jwt:sub}"}},
        {"owner": "u1"}, {}, False),
    ("string-equals-number-claim", {"StringEquals": {"jwt:level": "3"}}, {"level": 3},
        {}, True),
    ("string-equals-number-value", {"StringEquals": {"jwt:level": 3}}, {"level": "3"},
        {}, True),
    ("string-equals-object-claim", {"StringEquals": {"jwt:team": "red"}},
        {"team": {"name": "red"}}, {}, False),
    ("string-equals-null-claim", {"StringEquals": {"jwt:team": "red"}}, {"team": None},
        {}, False),
    ("string-equals-empty-list-claim", {"StringEquals": {"jwt:team": "red"}},
        {"team": []}, {}, False),
    ("string-not-equals", {"StringNotEquals": {"jwt:team": "red"}}, {"team": "blue"},
        {}, True),
    ("string-not-equals-same", {"StringNotEquals": {"jwt:team": "red"}},
        {"team": "red"}, {}, False),
    ("string-not-equals-missing", {"StringNotEquals": {"jwt:team": "red"}}, {}, {},
        True),
    ("string-not-equals-any-of", {"StringNotEquals": {"jwt:team": ["red", "blue"]}},
        {"team": "blue"}, {}, False),
    ("string-not-equals-list-claim", {"StringNotEquals": {"jwt:teams": "red"}},
        {"teams": ["blue", "red"]}, {}, False),
    ("ignore-case", {"StringEqualsIgnoreCase": {"jwt:team": "Red"}}, {"team": "rED"},
        {}, True),
    ("ignore-case-other", {"StringEqualsIgnoreCase": {"jwt:team": "Red"}},
        {"team": "blue"}, {}, False),
    ("not-ignore-case", {"StringNotEqualsIgnoreCase": {"jwt:team": "Red"}},
        {"team": "RED"}, {}, False),
    ("not-ignore-case-other", {"StringNotEqualsIgnoreCase": {"jwt:team": "Red"}},
        {"team": "blue"}, {}, True),
    ("like", {"StringLike": {"s3:prefix": "home/*"}}, {}, {"s3:prefix": "home/a/b"},
        True),
    ("like-question", {"StringLike": {"s3:prefix": "v?"}}, {}, {"s3:prefix": "v1"},
        True),
    ("like-no-match", {"StringLike": {"s3:prefix": "home/*"}}, {},
        {"s3:prefix": "etc/"}, False),
    ("like-variable-literal", {"StringLike": {"s3:prefix": "${jwt:sub}/*"}},
        {"sub": "*"}, {"s3:prefix": "u2/x"}, False),
    ("like-variable-own", {"StringLike": {"s3:prefix": "${jwt:sub}/*"}}, {"sub": "*"},
        {"s3:prefix": "*/x"}, True),
    ("not-like", {"StringNotLike": {"s3:prefix": "private/*"}}, {},
        {"s3:prefix": "public/"}, True),
    ("not-like-match", {"StringNotLike": {"s3:prefix": "private/*"}}, {},
        {"s3:prefix": "private/x"}, False),
    ("not-like-missing", {"StringNotLike": {"s3:prefix": "private/*"}}, {}, {}, True),
    ("not-like-if-exists-missing", {"StringNotLikeIfExists": {"s3:prefix": "p/*"}}, {},
        {}, True),
    ("numeric-equals", {"NumericEquals": {"s3:max-keys": "10"}}, {},
        {"s3:max-keys": "10.0"}, True),
    ("numeric-equals-other", {"NumericEquals": {"s3:max-keys": 10}}, {},
        {"s3:max-keys": "11"}, False),
    ("numeric-not-equals", {"NumericNotEquals": {"s3:max-keys": 10}}, {},
        {"s3:max-keys": "11"}, True),
    ("numeric-less", {"NumericLessThan": {"s3:max-keys": 100}}, {},
        {"s3:max-keys": "99"}, True),
    ("numeric-less-equal-edge", {"NumericLessThan": {"s3:max-keys": 100}}, {},
        {"s3:max-keys": "100"}, False),
    ("numeric-less-equals", {"NumericLessThanEquals": {"s3:max-keys": 100}}, {},
        {"s3:max-keys": "100"}, True),
    ("numeric-greater", {"NumericGreaterThan": {"jwt:level": 2}}, {"level": 3}, {},
        True),
    ("numeric-greater-no", {"NumericGreaterThan": {"jwt:level": 2}}, {"level": 2}, {},
        False),
    ("numeric-greater-equals", {"NumericGreaterThanEquals": {"jwt:level": "2.5"}},
        {"level": 2.5}, {}, True),
    ("numeric-not-a-number", {"NumericLessThan": {"s3:max-keys": 100}}, {},
        {"s3:max-keys": "lots"}, False),
    ("numeric-nan", {"NumericLessThan": {"s3:max-keys": 100}}, {},
        {"s3:max-keys": "NaN"}, False),
    ("numeric-not-equals-not-a-number", {"NumericNotEquals": {"s3:max-keys": 1}}, {},
        {"s3:max-keys": "x"}, True),
    ("numeric-variable", {"NumericLessThanEquals": {"s3:max-keys": "${jwt:quota}"}},
        {"quota": 50}, {"s3:max-keys": "50"}, True),
    ("numeric-variable-not-a-number",
        {"NumericEquals": {"s3:max-keys": "${jwt:quota}"}}, {"quota": "many"},
        {"s3:max-keys": "5"}, False),
    ("numeric-missing-if-exists", {"NumericLessThanIfExists": {"s3:max-keys": 100}}, {},
        {}, True),
    ("bool-true", {"Bool": {"jwt:email_verified": "true"}}, {"email_verified": True},
        {}, True),
    ("bool-json-true", {"Bool": {"jwt:email_verified": True}}, {"email_verified": True},
        {}, True),
    ("bool-false-claim", {"Bool": {"jwt:email_verified": "true"}},
        {"email_verified": False}, {}, False),
    ("bool-string-claim", {"Bool": {"jwt:email_verified": "True"}},
        {"email_verified": "TRUE"}, {}, True),
    ("bool-missing", {"Bool": {"jwt:email_verified": "true"}}, {}, {}, False),
    ("bool-if-exists-missing", {"BoolIfExists": {"jwt:email_verified": "true"}}, {}, {},
        True),
    ("null-true-absent", {"Null": {"jwt:banned": "true"}}, {}, {}, True),
    ("null-true-present", {"Null": {"jwt:banned": "true"}}, {"banned": "x"}, {}, False),
    ("null-false-present", {"Null": {"jwt:banned": False}}, {"banned": "x"}, {}, True),
    ("null-false-absent", {"Null": {"s3:prefix": "false"}}, {}, {}, False),
    ("null-null-claim", {"Null": {"jwt:banned": "true"}}, {"banned": None}, {}, True),
    ("any-value", {"ForAnyValue:StringEquals": {"jwt:groups": ["admins", "ops"]}},
        {"groups": ["dev", "ops"]}, {}, True),
    ("any-value-none", {"ForAnyValue:StringEquals": {"jwt:groups": ["admins"]}},
        {"groups": ["dev", "ops"]}, {}, False),
    ("any-value-missing", {"ForAnyValue:StringEquals": {"jwt:groups": "admins"}}, {},
        {}, False),
    ("any-value-missing-if-exists",
        {"ForAnyValue:StringEqualsIfExists": {"jwt:groups": "a"}}, {}, {}, True),
    ("any-value-not-equals", {"ForAnyValue:StringNotEquals": {"jwt:groups": "dev"}},
        {"groups": ["dev", "ops"]}, {}, True),
    ("any-value-not-equals-all-excluded",
        {"ForAnyValue:StringNotEquals": {"jwt:groups": "dev"}}, {"groups": ["dev"]}, {},
        False),
    ("any-value-not-equals-missing",
        {"ForAnyValue:StringNotEquals": {"jwt:groups": "dev"}}, {}, {}, False),
    ("all-values", {"ForAllValues:StringEquals": {"jwt:groups": ["dev", "ops"]}},
        {"groups": ["dev", "ops"]}, {}, True),
    ("all-values-one-outside", {"ForAllValues:StringEquals": {"jwt:groups": ["dev"]}},
        {"groups": ["dev", "ops"]}, {}, False),
    ("all-values-missing", {"ForAllValues:StringEquals": {"jwt:groups": ["dev"]}}, {},
        {}, True),
    ("all-values-like", {"ForAllValues:StringLike": {"jwt:groups": "team-*"}},
        {"groups": ["team-a", "team-b"]}, {}, True),
    ("all-values-not-equals", {"ForAllValues:StringNotEquals": {"jwt:groups": "root"}},
        {"groups": ["a", "b"]}, {}, True),
    ("all-values-not-equals-one-in",
        {"ForAllValues:StringNotEquals": {"jwt:groups": "root"}},
        {"groups": ["a", "root"]}, {}, False),
    ("list-claim-plain-operator", {"StringEquals": {"jwt:groups": "ops"}},
        {"groups": ["dev", "ops"]}, {}, True),
    ("list-claim-with-objects", {"StringEquals": {"jwt:groups": "ops"}},
        {"groups": [{"x": 1}, "ops"]}, {}, True),
    ("context-list", {"StringEquals": {"s3:prefix": "b"}}, {},
        {"s3:prefix": ["a", "b"]}, True),
    ("context-number", {"NumericEquals": {"s3:max-keys": 5}}, {}, {"s3:max-keys": 5},
        True),
    ("context-empty-list", {"StringEquals": {"s3:prefix": "a"}}, {},
        {"s3:prefix": []}, False),
    ("context-jwt-ignored", {"StringEquals": {"jwt:team": "red"}}, {},
        {"jwt:team": "red"}, False),
    ("keys-and", {"StringEquals": {"jwt:team": "red", "jwt:level": "3"}},
        {"team": "red", "level": 2}, {}, False),
    ("operators-and",
        {"StringEquals": {"jwt:team": "red"}, "Null": {"jwt:banned": "true"}},
        {"team": "red", "banned": 1}, {}, False),
    ("operators-and-hold",
        {"StringEquals": {"jwt:team": "red"}, "Null": {"jwt:banned": "true"}},
        {"team": "red"}, {}, True),
    ("nested-claim-key", {"StringEquals": {"jwt:app_metadata.plan": "pro"}},
        {"app_metadata": {"plan": "pro"}}, {}, True),
    ("key-prefix-case", {"StringEquals": {"JWT:team": "red"}}, {"team": "red"}, {},
        True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("condition", "claims", "context", "allowed"),
    [row[1:] for row in CONDITIONS],
    ids=[row[0] for row in CONDITIONS],
)
def test_conditions(
    condition: dict[str, Any],
    claims: dict[str, Any],
    context: dict[str, Any],
    allowed: bool,
) -> None:
    policies = one_policy(allow("s3:*", "*", Condition=condition))

    decision = policies.evaluate(
        {"role": "user", **claims}, "s3:ListBucket", "arn:aws:s3:::b", context
    )

    assert decision.allowed is allowed


def test_condition_keys_match_what_operations_supply() -> None:
    from proxy.operations import classify

    listing = classify(
        "GET", "b", None, [("prefix", "p"), ("delimiter", "/"), ("max-keys", "1")], {}
    )
    copying = classify(
        "PUT", "b", "k", [("versionId", "v")], {"x-amz-copy-source": "s/k"}
    )

    assert (
        set(listing.condition_context) | set(copying.condition_context) == CONTEXT_KEYS
    )


# --- attachments -------------------------------------------------------------------

ATTACHED = [
    # id, claims test, claims, attached
    ("scalar", {"org": "acme"}, {"org": "acme"}, True),
    ("scalar-other", {"org": "acme"}, {"org": "umbrella"}, False),
    ("missing", {"org": "acme"}, {}, False),
    ("one-of-list", {"org": ["acme", "initech"]}, {"org": "initech"}, True),
    ("list-claim", {"groups": "ops"}, {"groups": ["dev", "ops"]}, True),
    ("number", {"level": 3}, {"level": 3}, True),
    ("number-vs-string", {"level": 3}, {"level": "3"}, False),
    ("bool-vs-number", {"admin": True}, {"admin": 1}, False),
    ("number-vs-bool", {"level": 1}, {"level": True}, False),
    ("bool", {"admin": True}, {"admin": True}, True),
    ("object-claim", {"org": "acme"}, {"org": {"name": "acme"}}, False),
    ("nested", {"app_metadata.org": "acme"}, {"app_metadata": {"org": "acme"}}, True),
    ("all-must-match", {"org": "acme", "level": 3}, {"org": "acme", "level": 2}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tests", "claims", "attached"),
    [row[1:] for row in ATTACHED],
    ids=[row[0] for row in ATTACHED],
)
def test_claim_attachments(
    tests: dict[str, Any], claims: dict[str, Any], attached: bool
) -> None:
    policies = PolicySet.from_config(
        {"p": {"Statement": [allow("s3:*", "*")]}},
        [{"roles": ["user"], "claims": tests, "policies": ["p"]}],
    )

    assert policies.policies_for({"role": "user", **claims}) == (
        ("p",) if attached else ()
    )


# --- which buckets a caller may see ------------------------------------------------

VISIBLE = [
    # id, statements, claims, actions, bucket, visible
    ("object-grant", [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:sub}/*")],
        {"sub": "u1"}, "s3:*", "b", True),
    ("other-bucket", [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:sub}/*")],
        {"sub": "u1"}, "s3:*", "c", False),
    ("bucket-prefix-is-not-bucket", [allow("s3:GetObject", "arn:aws:s3:::b/*")], {},
        "s3:*", "bb", False),
    ("bucket-wildcard", [allow("s3:GetObject", "arn:aws:s3:::team-*/*")], {}, "s3:*",
        "team-a", True),
    ("bucket-question", [allow("s3:GetObject", "arn:aws:s3:::b?")], {}, "s3:*", "b1",
        True),
    ("bucket-only", [allow("s3:ListBucket", "arn:aws:s3:::b")], {}, "s3:*", "b", True),
    ("star", [allow("s3:*", "*")], {}, "s3:*", "anything", True),
    ("claim-missing", [allow("s3:GetObject", "arn:aws:s3:::b/${jwt:sub}/*")], {},
        "s3:*", "b", False),
    ("variable-bucket", [allow("s3:*", "arn:aws:s3:::${jwt:org}-data/*")],
        {"org": "acme"}, "s3:*", "acme-data", True),
    ("variable-bucket-other", [allow("s3:*", "arn:aws:s3:::${jwt:org}-data/*")],
        {"org": "acme"}, "s3:*", "umbrella-data", False),
    ("action-disjoint", [allow("s3:GetObject", "*")], {}, ["s3:Put*", "s3:Delete*"],
        "b", False),
    ("action-overlap", [allow("s3:Get*", "*")], {}, ["s3:*Object"], "b", True),
    ("action-case", [allow("S3:GETOBJECT", "*")], {}, ["s3:getobject"], "b", True),
    ("other-service", [allow("sts:*", "*")], {}, "s3:*", "b", False),
    ("not-action", [{"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}],
        {}, "s3:*", "b", True),
    ("not-resource",
        [{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::x"}], {},
        "s3:*", "b", True),
    ("deny-ignored", [allow("s3:*", "*"), deny("s3:*", "arn:aws:s3:::b/*")], {}, "s3:*",
        "b", True),
    ("deny-only", [deny("s3:*", "*")], {}, "s3:*", "b", False),
    ("request-condition-maybe",
        [allow("s3:ListBucket", "arn:aws:s3:::b",
                Condition={"StringLike": {"s3:prefix": "${jwt:sub}/*"}})],
        {"sub": "u"}, "s3:*", "b", True),
    ("claim-condition-true",
        [allow("s3:*", "*", Condition={"StringEquals": {"jwt:team": "red"}})],
        {"team": "red"}, "s3:*", "b", True),
    ("claim-condition-false",
        [allow("s3:*", "*", Condition={"StringEquals": {"jwt:team": "red"}})],
        {"team": "blue"}, "s3:*", "b", False),
    ("claim-condition-unresolved",
        [allow("s3:*", "*", Condition={"StringEquals": {"jwt:team": "${jwt:sub}"}})],
        {"team": "blue"}, "s3:*", "b", False),
    ("literal-star-claim", [allow("s3:*", "arn:aws:s3:::${jwt:org}/*")], {"org": "*"},
        "s3:*", "b", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("statements", "claims", "actions", "bucket", "visible"),
    [row[1:] for row in VISIBLE],
    ids=[row[0] for row in VISIBLE],
)
def test_allows_any(
    statements: list[Any],
    claims: dict[str, Any],
    actions: Any,
    bucket: str,
    visible: bool,
) -> None:
    policies = one_policy(*statements)

    assert policies.allows_any({"role": "user", **claims}, actions, bucket) is visible


def test_allows_any_without_policies() -> None:
    assert not POLICY_SET.allows_any({"role": "nobody"}, "s3:*", "public")


# --- validation --------------------------------------------------------------------

GOOD = {"Version": V, "Statement": [allow("s3:GetObject", "arn:aws:s3:::b/*")]}


def statement_problem(**statement: Any) -> dict[str, Any]:
    return {"p": {"Version": V, "Statement": [statement]}}


INVALID = [
    # id, policies, attachments, expected problems (substrings, in order)
    ("not-a-mapping", {"p": ["x"]}, [], ['policy "p": must be a mapping']),
    ("unknown-field", {"p": GOOD | {"Statements": []}}, [],
        ['policy "p": unknown field "Statements"']),
    ("old-version", {"p": GOOD | {"Version": "2008-10-17"}}, [],
        ["Version must be \"2012-10-17\", not '2008-10-17'"]),
    ("no-statement", {"p": {"Version": V}}, [],
        ["Statement must be a statement or a list"]),
    ("statement-not-mapping", {"p": {"Statement": ["x"]}}, [],
        ['policy "p" statement #0: must be a mapping']),
    ("sid-twice",
        {"p": {"Statement": [allow("s3:*", "*", "A"), allow("s3:*", "*", "A")]}}, [],
        ["Sid 'A' is used twice"]),
    ("sid-not-string",
        statement_problem(Sid=3, Effect="Allow", Action="s3:*", Resource="*"), [],
        ["statement #0 (3): Sid must be a string"]),
    ("effect-case", statement_problem(Effect="allow", Action="s3:*", Resource="*"), [],
        ["Effect must be \"Allow\" or \"Deny\", not 'allow'"]),
    ("effect-missing", statement_problem(Action="s3:*", Resource="*"), [],
        ["not None"]),
    ("principal",
        statement_problem(Effect="Allow", Principal="*", Action="s3:*", Resource="*"),
        [], ['unknown field "Principal" (attach policies to roles instead)']),
    ("unknown-statement-field",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*", Foo=1), [],
        ['unknown field "Foo"']),
    ("action-and-not-action",
        statement_problem(Effect="Allow", Action="s3:*", NotAction="s3:x",
            Resource="*"),
        [], ["needs exactly one of Action and NotAction"]),
    ("no-action", statement_problem(Effect="Allow", Resource="*"), [],
        ["needs exactly one of Action and NotAction"]),
    ("action-empty-list", statement_problem(Effect="Allow", Action=[], Resource="*"),
        [], ["Action must be a string or a list of strings"]),
    ("action-not-strings",
        statement_problem(Effect="Allow", Action=["s3:x", 1], Resource="*"), [],
        ["Action must be a string or a list of strings"]),
    ("action-no-service",
        statement_problem(Effect="Allow", Action="GetObject", Resource="*"), [],
        ['action "GetObject" is not "*" or "service:Action"']),
    ("action-variable",
        statement_problem(Effect="Allow", Action="s3:${jwt:a}", Resource="*"), [],
        ["is not \"*\" or \"service:Action\""]),
    ("no-resource", statement_problem(Effect="Allow", Action="s3:*"), [],
        ["needs exactly one of Resource and NotResource"]),
    ("resource-not-arn",
        statement_problem(Effect="Allow", Action="s3:*", Resource="bucket/*"), [],
        ['resource "bucket/*" is not "*" or an ARN']),
    ("resource-short-arn",
        statement_problem(Effect="Allow", Action="s3:*", Resource="arn:aws:s3:::"), [],
        ["is not \"*\" or an ARN"]),
    ("unknown-variable",
        statement_problem(Effect="Allow", Action="s3:*",
            Resource="arn:aws:s3:::b/${aws:username}"),
        [], ['unknown variable "${aws:username}"']),
    ("default-value-syntax",
        statement_problem(Effect="Allow", Action="s3:*",
            Resource="arn:aws:s3:::b/${jwt:sub, 'x'}"),
        [], ["unknown variable"]),
    ("empty-variable",
        statement_problem(Effect="Allow", Action="s3:*",
            Resource="arn:aws:s3:::b/${jwt:}"),
        [], ["unknown variable"]),
    ("unclosed-variable",
        statement_problem(Effect="Allow", Action="s3:*",
            Resource="arn:aws:s3:::b/${jwt:sub"),
        [], ['"${" without a closing "}"']),
    ("condition-not-mapping",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*", Condition=["x"]),
        [], ["Condition must map operators"]),
    ("condition-operator-empty",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {}}),
        [], ["Condition StringEquals must map keys to values"]),
    ("condition-operator-not-mapping",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": "x"}),
        [], ["must map keys to values"]),
    ("unknown-operator",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringMatches": {"jwt:a": "x"}}),
        [], ["Condition StringMatches 'jwt:a': unknown operator"]),
    ("operator-case",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"stringequals": {"jwt:a": "x"}}),
        [], ["unknown operator"]),
    ("unknown-quantifier",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"ForSomeValues:StringEquals": {"jwt:a": "x"}}),
        [], ["unknown operator"]),
    ("null-if-exists",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"NullIfExists": {"jwt:a": "true"}}),
        [], ["unknown operator"]),
    ("null-quantified",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"ForAnyValue:Null": {"jwt:a": "true"}}),
        [], ["unknown operator"]),
    ("unknown-key",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {"aws:username": "x"}}),
        [], ["'aws:username': unknown key"]),
    ("empty-claim-key",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {"jwt:": "x"}}),
        [], ["unknown key"]),
    ("key-not-string",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {3: "x"}}),
        [], ["unknown key"]),
    ("values-object",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {"jwt:a": {"b": 1}}}),
        [], ["values must be strings, numbers or booleans"]),
    ("values-empty",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {"jwt:a": []}}),
        [], ["values must be strings, numbers or booleans"]),
    ("values-null",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {"jwt:a": None}}),
        [], ["values must be strings"]),
    ("numeric-not-number",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"NumericLessThan": {"s3:max-keys": "ten"}}),
        [], ["values must be numbers"]),
    ("numeric-infinity",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"NumericLessThan": {"s3:max-keys": "Infinity"}}),
        [], ["values must be numbers"]),
    ("bool-not-bool",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"Bool": {"jwt:a": "yes"}}),
        [], ['values must be "true" or "false"']),
    ("null-not-bool",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"Null": {"jwt:a": "yes"}}),
        [], ["without variables"]),
    ("null-variable",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"Null": {"jwt:a": "${jwt:b}"}}),
        [], ["without variables"]),
    ("condition-bad-variable",
        statement_problem(Effect="Allow", Action="s3:*", Resource="*",
            Condition={"StringEquals": {"jwt:a": "${x}"}}),
        [], ["unknown variable"]),
    ("attachment-not-mapping", {"p": GOOD}, ["p"],
        ["attachment #0: must be a mapping"]),
    ("attachment-unknown-field", {"p": GOOD},
        [{"roles": "a", "policies": "p", "role": "b"}],
        ['attachment #0: unknown field "role"']),
    ("attachment-no-roles", {"p": GOOD}, [{"policies": "p"}],
        ["roles must be a string or a non-empty list"]),
    ("attachment-empty-roles", {"p": GOOD}, [{"roles": [], "policies": "p"}],
        ["roles must be"]),
    ("attachment-no-policies", {"p": GOOD}, [{"roles": "a"}],
        ["policies must name one policy or more"]),
    ("attachment-undefined-policy", {"p": GOOD},
        [{"roles": "a", "policies": ["p", "q"]}],
        ['attachment #0: policy "q" is not defined']),
    ("attachment-claims-not-mapping", {"p": GOOD},
        [{"roles": "a", "policies": "p", "claims": ["x"]}],
        ["claims must map claim names to values"]),
    ("attachment-claim-object", {"p": GOOD},
        [{"roles": "a", "policies": "p", "claims": {"org": {"x": 1}}}],
        ['claim "org" must be a value or a list of values']),
    ("attachment-claim-empty-list", {"p": GOOD},
        [{"roles": "a", "policies": "p", "claims": {"org": []}}],
        ['claim "org" must be']),
    ("every-problem-at-once",
        {"p": GOOD | {"Version": "1"},
            "q": statement_problem(Effect="x", Action="s3:*", Resource="*")["p"]},
     [{"roles": "a", "policies": "z"}],
         ["Version must be", 'policy "q" statement #0: Effect',
                 'policy "z" is not defined']),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policies", "attachments", "expected"),
    [row[1:] for row in INVALID],
    ids=[row[0] for row in INVALID],
)
def test_invalid_configuration(
    policies: dict[str, Any], attachments: list[Any], expected: list[str]
) -> None:
    problems = PolicySet.validate(policies, attachments)

    assert len(problems) == len(expected), problems
    for problem, part in zip(problems, expected, strict=True):
        assert part in problem
    with pytest.raises(PolicyError) as error:
        PolicySet.from_config(policies, attachments)
    assert error.value.problems == tuple(problems)
    assert str(error.value) == "\n".join(problems)


VALID = [
    ("version-missing", {"Statement": [allow("s3:*", "*")]}),
    ("single-statement", {"Version": V, "Statement": allow("s3:*", "*")}),
    ("empty-statements", {"Version": V, "Statement": []}),
    ("id-field", {"Version": V, "Id": "x", "Statement": []}),
    ("every-operator", {"Version": V, "Statement": [allow("s3:*", "*", Condition={
        "StringEquals": {"jwt:a": "x"},
        "StringNotEqualsIfExists": {"jwt:a": "x"},
        "ForAnyValue:StringLike": {"jwt:a": "x*"},
        "ForAllValues:StringNotLike": {"jwt:a": "?"},
        "StringEqualsIgnoreCase": {"jwt:a": "x"},
        "StringNotEqualsIgnoreCase": {"jwt:a": "x"},
        "NumericEquals": {"s3:max-keys": 1},
        "NumericNotEquals": {"s3:max-keys": "1.5"},
        "NumericLessThan": {"s3:max-keys": "${jwt:n}"},
        "NumericLessThanEquals": {"s3:max-keys": 1},
        "NumericGreaterThan": {"s3:max-keys": 1},
        "NumericGreaterThanEqualsIfExists": {"s3:max-keys": 1},
        "Bool": {"jwt:b": False},
        "Null": {"s3:prefix": True},
    })]}),
    ("context-key-case",
        {"Version": V,
                "Statement": [allow("s3:*", "*",
                                Condition={"StringLike": {"S3:Prefix": "x"}})]}),
    ("arn-with-colons-in-key",
        {"Version": V, "Statement": [allow("s3:*", "arn:aws:s3:::b/a:b:c")]}),
    ("other-partition", {"Version": V, "Statement": [allow("s3:*", "arn:*:s3:::b")]}),
]  # fmt: skip


@pytest.mark.parametrize(
    "document", [row[1] for row in VALID], ids=[row[0] for row in VALID]
)
def test_valid_configuration(document: dict[str, Any]) -> None:
    assert PolicySet.validate({"p": document}, [{"roles": "r", "policies": "p"}]) == []


# --- the wildcard matcher ----------------------------------------------------------

WILDCARDS = [
    ("", "", True),
    ("", "a", False),
    ("*", "", True),
    ("*", "any/thing/at/all", True),
    ("?", "", False),
    ("?", "a", True),
    ("?", "ab", False),
    ("a*", "a", True),
    ("*a", "ba", True),
    ("*a", "ab", False),
    ("a*b*c", "aXbYbZc", True),
    ("a*b*c", "aXcYb", False),
    ("a?c", "abc", True),
    ("a?c", "a/c", True),
    ("**", "x", True),
    ("*?*", "", False),
    ("*ab*ab*", "abab", True),
    ("*ab*ab*", "aba", False),
    ("[ab]", "a", False),
    ("[ab]", "[ab]", True),
    ("a.b", "axb", False),
    ("a\\b", "a\\b", True),
    ("x*", "x\ny", True),
    ("é*", "é-ü", True),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), WILDCARDS)
def test_wildcard_match(pattern: str, text: str, matches: bool) -> None:
    assert wildcard_match(pattern, text) is matches


def reference_match(pattern: str, text: str) -> bool:
    """fnmatch with its character classes switched off: ``[`` is literal."""
    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]"))


ALPHABET = "ab[]*?/\n.é"


@given(st.text(alphabet=ALPHABET, max_size=10), st.text(alphabet=ALPHABET, max_size=14))
def test_wildcard_match_agrees_with_fnmatch(pattern: str, text: str) -> None:
    assert wildcard_match(pattern, text) == reference_match(pattern, text)


@given(st.text(alphabet="ab*?", max_size=8))
def test_wildcard_pattern_matches_its_own_literal_text(pattern: str) -> None:
    text = pattern.replace("*", "").replace("?", "a")

    assert wildcard_match(pattern, text)


def test_wildcard_match_is_fast_on_hostile_patterns() -> None:
    pattern = "*a" * 30 + "*b"

    assert not wildcard_match(pattern, "a" * 5000)


def some_text_matches_both(a: str, b: str) -> bool:
    """Brute force: a shortest common match is no longer than their fixed parts."""
    longest = sum(c != "*" for c in a) + sum(c != "*" for c in b)
    for length in range(longest + 1):
        for letters in itertools.product("abc", repeat=length):
            text = "".join(letters)
            if reference_match(a, text) and reference_match(b, text):
                return True
    return False


def pattern_units(pattern: str) -> tuple[Any, ...]:
    return tuple(_units(_wildcards(pattern)))


@given(st.text(alphabet="ab*?", max_size=4), st.text(alphabet="ab*?", max_size=4))
def test_intersects_agrees_with_brute_force(a: str, b: str) -> None:
    assert _intersects(pattern_units(a), pattern_units(b)) == some_text_matches_both(
        a, b
    )


@given(st.text(alphabet="ab/*?", max_size=8), st.text(alphabet="ab/", max_size=6))
def test_can_start_with_is_intersection_with_prefix_star(
    pattern: str, prefix: str
) -> None:
    starts = _can_start_with(pattern_units(pattern), prefix)

    assert starts == _intersects(pattern_units(pattern), pattern_units(prefix + "*"))


def test_allows_any_is_fast_enough_for_list_buckets() -> None:
    statements = [
        allow("s3:GetObject", f"arn:aws:s3:::b{i}/${{jwt:sub}}/*") for i in range(20)
    ]
    policies = one_policy(*statements)

    visible = [
        policies.allows_any({"role": "user", "sub": "u"}, "s3:*", f"b{i}")
        for i in range(400)
    ]

    assert sum(visible) == 20
