"""SigV4 for S3: canonical forms, parsing, verification, signing.

The official vectors are in test_sigv4_vectors.py; this module holds the edge
cases, the cross-checks with the reference clients (botocore, awscrt) and the
property tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlencode, urlsplit

import boto3  # type: ignore[import-untyped]
import pytest
from awscrt import auth as crt_auth
from awscrt import http as crt_http
from botocore.config import Config  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy import errors, sigv4
from proxy.sigv4 import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    Headers,
    Scope,
)

AKID = "AKIDEXAMPLE"
SECRET = "wJalr/XUtn+FEMI=K7MDENG"
REGION = "eu-central-1"
NOW = datetime(2024, 2, 29, 23, 59, 30, tzinfo=UTC)
AMZ_DATE = "20240229T235930Z"
HOST = ("host", "127.0.0.1:9000")
SIGNATURE = "0123456789abcdef" * 4
CREDENTIAL = f"{AKID}/20240229/{REGION}/s3/aws4_request"
SIGNED = "host;x-amz-content-sha256;x-amz-date"


# Helpers


def signed_headers(
    method: str = "GET",
    path: str = "/bucket/key",
    query: str = "",
    headers: Headers = (HOST,),
    *,
    payload_hash: str = EMPTY_SHA256,
    now: datetime = NOW,
    secret: str = SECRET,
    region: str = REGION,
    service: str = "s3",
) -> list[tuple[str, str]]:
    added = sigv4.sign_request(
        method,
        path,
        query,
        headers,
        access_key_id=AKID,
        secret=secret,
        region=region,
        payload_hash=payload_hash,
        now=now,
        service=service,
    )
    return [*headers, *added]


def verify(
    headers: Headers,
    method: str = "GET",
    path: str = "/bucket/key",
    query: str = "",
    *,
    now: datetime = NOW,
    secret: str = SECRET,
    regions: Sequence[str] = (REGION,),
    max_skew: timedelta = timedelta(minutes=15),
) -> bytes:
    auth = sigv4.parse_auth(method, path, query, headers)
    return sigv4.verify_request(
        auth,
        secret,
        method,
        path,
        query,
        headers,
        now=now,
        regions=regions,
        max_skew=max_skew,
    )


def presign(
    method: str = "GET",
    path: str = "/bucket/key",
    query: str = "",
    headers: Headers = (HOST,),
    *,
    expires: int = 3600,
    now: datetime = NOW,
    signed: Sequence[str] = ("host",),
    token: str | None = None,
    service: str = "s3",
) -> str:
    """Return the query of a presigned URL, signed as the S3 reference says."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = Scope(amz_date[:8], REGION, service)
    params = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{AKID}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": ";".join(signed),
    }
    if token is not None:
        params["X-Amz-Security-Token"] = token
    full = "&".join(filter(None, [query, urlencode(params, quote_via=quote, safe="")]))
    creq = sigv4.canonical_request(
        method, path, full, headers, signed, UNSIGNED_PAYLOAD
    )
    key = sigv4.derive_signing_key(SECRET, scope)
    signature = sigv4.compute_signature(
        key, sigv4.string_to_sign(amz_date, scope, creq)
    )
    return f"{full}&X-Amz-Signature={signature}"


def auth_headers(authorization: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        HOST,
        ("x-amz-date", AMZ_DATE),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("authorization", authorization),
        *extra,
    ]


def authorization(
    credential: str = CREDENTIAL,
    signed: str = SIGNED,
    signature: str = SIGNATURE,
    separator: str = ", ",
) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={credential}{separator}"
        f"SignedHeaders={signed}{separator}Signature={signature}"
    )


def parse(headers: Headers, query: str = "") -> sigv4.SignedRequestAuth:
    return sigv4.parse_auth("GET", "/bucket/key", query, headers)


# canonical_uri


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", "/"),
        ("/", "/"),
        ("/bucket/a/../b", "/bucket/a/../b"),
        ("/bucket/./x", "/bucket/./x"),
        ("/bucket/a//b", "/bucket/a//b"),
        ("/bucket/dir/", "/bucket/dir/"),
        ("//", "//"),
        ("/b/()!*'@", "/b/%28%29%21%2A%27%40"),
        ("/b/%28%29%21%2A%27%40", "/b/%28%29%21%2A%27%40"),
        ("/b/a%2Fb", "/b/a%2Fb"),
        ("/b/a%2fb", "/b/a%2Fb"),
        ("/b/%e2%82%ac", "/b/%E2%82%AC"),
        ("/b/%41%7e%2D%2e%5F", "/b/A~-._"),
        ("/b/a+b", "/b/a%2Bb"),
        ("/b/a%2Bb", "/b/a%2Bb"),
        ("/b/a b", "/b/a%20b"),
        ("/b/a%20b", "/b/a%20b"),
        ("/b/\u20ac", "/b/%E2%82%AC"),
        ("/b/\u1234", "/b/%E1%88%B4"),
        ("/b/$&,:;=", "/b/%24%26%2C%3A%3B%3D"),
        ("/b/%25", "/b/%25"),
        ("/b/~tilde", "/b/~tilde"),
        ("/b/\udcff", "/b/%FF"),  # a raw non-UTF-8 byte, surrogate-escaped
    ],
)
def test_canonical_uri(raw: str, canonical: str) -> None:
    assert sigv4.canonical_uri(raw) == canonical


@pytest.mark.parametrize("raw", ["/b/%G1", "/b/%", "/b/%4", "/b/100%", "/%zz/x"])
def test_canonical_uri_refuses_malformed_percent_encoding(raw: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="percent-encoding in the path"):
        sigv4.canonical_uri(raw)


def test_canonical_uri_refuses_a_lone_surrogate() -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid Unicode"):
        sigv4.canonical_uri("/b/\ud800")


# canonical_query


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", ""),
        ("lifecycle", "lifecycle="),
        ("uploads=", "uploads="),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1&a=10", "a=1&a=10&a=2"),
        ("a=&a", "a=&a="),
        ("a=1&&b=2&", "a=1&b=2"),
        ("prefix=a+b", "prefix=a%2Bb"),
        ("prefix=a%2Bb", "prefix=a%2Bb"),
        ("prefix=a/b", "prefix=a%2Fb"),
        ("prefix=a%2fb", "prefix=a%2Fb"),
        ("k=a=b", "k=a%3Db"),
        ("k=a%3db", "k=a%3Db"),
        ("k=a b", "k=a%20b"),
        ("k=%41%7E", "k=A~"),
        ("\u1234=bar", "%E1%88%B4=bar"),
        ("=value", "=value"),
        ("B=1&a=1", "B=1&a=1"),  # byte order: upper case sorts first
        ("a-b=1&a=2&a.b=3", "a=2&a-b=1&a.b=3"),
    ],
)
def test_canonical_query(raw: str, canonical: str) -> None:
    assert sigv4.canonical_query(raw) == canonical


def test_canonical_query_omits_by_decoded_name() -> None:
    raw = "X-Amz-Signature=abc&x=1&X%2DAmz%2DSignature=def"
    assert sigv4.canonical_query(raw, omit={"X-Amz-Signature"}) == "x=1"


@pytest.mark.parametrize("raw", ["a=%", "a%=1", "a=%GG", "a=1&b=%2"])
def test_canonical_query_refuses_malformed_percent_encoding(raw: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="query string"):
        sigv4.canonical_query(raw)


# canonical headers, through canonical_request


def test_canonical_headers_trim_collapse_and_join_repeats() -> None:
    headers = [
        ("Host", "h"),
        ("X-Amz-Meta-A", "  one \t  two  "),
        ("x-amz-meta-a", "three"),
        ("Expect", "100-continue"),
    ]
    creq = sigv4.canonical_request(
        "PUT",
        "/b/k",
        "",
        headers,
        ["expect", "host", "x-amz-meta-a"],
        "UNSIGNED-PAYLOAD",
    )
    assert creq == (
        "PUT\n/b/k\n\nexpect:100-continue\nhost:h\nx-amz-meta-a:one two,three\n\n"
        "expect;host;x-amz-meta-a\nUNSIGNED-PAYLOAD"
    )


def test_absent_signed_header_canonicalises_empty() -> None:
    creq = sigv4.canonical_request(
        "GET", "/", "", [("host", "h")], ["host", "range"], "x"
    )
    assert "\nrange:\n" in creq


# parse_auth: header authentication


def test_parse_header_auth() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.e30.sig"
    headers = auth_headers(authorization(), ("X-Amz-Security-Token", token))
    auth = parse(headers)
    assert auth == sigv4.SignedRequestAuth(
        location="header",
        access_key_id=AKID,
        scope=Scope("20240229", REGION, "s3"),
        signed_headers=("host", "x-amz-content-sha256", "x-amz-date"),
        signature=SIGNATURE,
        amz_date=AMZ_DATE,
        payload_hash=EMPTY_SHA256,
        expires=None,
        security_token=token,
    )
    assert SIGNATURE not in repr(auth)
    assert token not in repr(auth)
    assert token not in str(auth)
    assert str(auth.scope) == f"20240229/{REGION}/s3/aws4_request"


@pytest.mark.parametrize(
    "value",
    [
        authorization(separator=","),
        authorization(separator=" ,  "),
        f"AWS4-HMAC-SHA256 Signature={SIGNATURE},SignedHeaders={SIGNED},"
        f" Credential={CREDENTIAL}",
        f"AWS4-HMAC-SHA256 SignedHeaders={SIGNED}, Credential={CREDENTIAL}, "
        f"Signature={SIGNATURE}",
        "  " + authorization() + "  ",
    ],
)
def test_parse_header_auth_tolerates_spacing_and_order(value: str) -> None:
    auth = parse(auth_headers(value))
    assert (auth.access_key_id, auth.signature) == (AKID, SIGNATURE)


MALFORMED_HEADER = [
    ("empty", "", "must start with"),
    ("bearer", "Bearer abc", "must start with"),
    ("scheme only", "AWS4-HMAC-SHA256", "Credential="),
    ("lower-case scheme", authorization().lower(), "must start with"),
    ("no fields", "AWS4-HMAC-SHA256 ", "exactly Credential"),
    ("credential only", f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}", "missing"),
    (
        "missing signed headers",
        f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, Signature={SIGNATURE}",
        "missing SignedHeaders",
    ),
    ("unknown field", authorization() + ", Foo=bar", "exactly Credential"),
    ("trailing comma", authorization() + ",", "exactly Credential"),
    ("no equals", authorization().replace("Signature=", "Signature:"), "exactly"),
    (
        "space before =",
        authorization().replace("Credential=", "Credential ="),
        "exactly",
    ),
    ("repeated field", authorization() + f", Signature={SIGNATURE}", "more than once"),
    ("credential 4 parts", authorization(f"{AKID}/20240229/{REGION}/s3"), "Credential"),
    (
        "credential 6 parts",
        authorization(f"{AKID}/x/20240229/{REGION}/s3/aws4_request"),
        "Credential",
    ),
    (
        "credential terminator",
        authorization(f"{AKID}/20240229/{REGION}/s3/aws4"),
        "Credential",
    ),
    (
        "empty key id",
        authorization(f"/20240229/{REGION}/s3/aws4_request"),
        "Credential",
    ),
    ("empty region", authorization(f"{AKID}/20240229//s3/aws4_request"), "Credential"),
    ("empty service", authorization(f"{AKID}/20240229/r//aws4_request"), "Credential"),
    ("short date", authorization(f"{AKID}/2024022/{REGION}/s3/aws4_request"), "Cred"),
    (
        "dashed date",
        authorization(f"{AKID}/2024-02-29/{REGION}/s3/aws4_request"),
        "Cred",
    ),
    (
        "unicode digits",
        authorization(
            f"{AKID}/\u0662\u0660\u0662\u0664\u0660\u0662\u0662\u0669/r/s3/aws4_request"
        ),
        "Credential",
    ),
    (
        "unsorted",
        authorization(signed="x-amz-date;host;x-amz-content-sha256"),
        "sorted",
    ),
    ("duplicate", authorization(signed="host;host;x-amz-date"), "once"),
    ("upper case", authorization(signed="Host;x-amz-date"), "lower-case"),
    ("empty list", authorization(signed=""), "lower-case"),
    ("empty name", authorization(signed="host;;x-amz-date"), "lower-case"),
    ("trailing semicolon", authorization(signed="host;x-amz-date;"), "lower-case"),
    ("space in list", authorization(signed="host; x-amz-date"), "lower-case"),
    ("short signature", authorization(signature=SIGNATURE[:-1]), "64"),
    ("long signature", authorization(signature=SIGNATURE + "0"), "64"),
    ("upper-case signature", authorization(signature=SIGNATURE.upper()), "64"),
    ("non-hex signature", authorization(signature="g" * 64), "64"),
    ("empty signature", authorization(signature=""), "64"),
]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(value, message, id=name)
        for name, value, message in MALFORMED_HEADER
    ],
)
def test_malformed_authorization_header(value: str, message: str) -> None:
    with pytest.raises(errors.AuthorizationHeaderMalformed, match=message) as info:
        parse(auth_headers(value))
    assert SIGNATURE not in info.value.message
    assert SIGNATURE.upper() not in info.value.message


def test_two_authorization_headers_are_refused() -> None:
    headers = auth_headers(authorization(), ("Authorization", authorization()))
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="more than one"):
        parse(headers)


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([HOST, ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo=")], ""),
        ([HOST], "AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%3D"),
        ([HOST], "AWSAccessKeyId=AKID"),
    ],
    ids=["header", "query", "query without signature"],
)
def test_signature_version_2_is_refused_with_advice(
    headers: list[tuple[str, str]], query: str
) -> None:
    with pytest.raises(errors.AccessDenied) as info:
        parse(headers, query)
    assert not isinstance(info.value, sigv4.MissingAuthentication)
    assert "Signature Version 4" in info.value.message
    assert "s3v4" in info.value.message


def test_sigv4a_is_refused() -> None:
    value = authorization().replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
    with pytest.raises(errors.AccessDenied, match="4A"):
        parse(auth_headers(value))
    query = presign().replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
    with pytest.raises(errors.AccessDenied, match="4A"):
        parse([HOST], query)


@pytest.mark.parametrize(
    "query",
    [presign(), "X-Amz-Credential=x", "Signature=abc&AWSAccessKeyId=AKID"],
)
def test_both_mechanisms_are_refused(query: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="Only one auth mechanism"):
        parse(auth_headers(authorization()), query)


def test_presigned_v4_and_v2_at_once_count_as_v4() -> None:
    with pytest.raises(errors.AuthorizationQueryParametersError):
        parse([HOST], "X-Amz-Algorithm=AWS4-HMAC-SHA256&AWSAccessKeyId=AKID")


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([HOST], ""),
        ([HOST], "prefix=a&list-type=2"),
        ([], ""),
        ([HOST], "X-Amz-Date=x"),
    ],
)
def test_no_authentication_is_its_own_error(
    headers: list[tuple[str, str]], query: str
) -> None:
    with pytest.raises(sigv4.MissingAuthentication) as info:
        parse(headers, query)
    assert isinstance(info.value, errors.AccessDenied)
    assert info.value.status == 403
    assert info.value.code == "AccessDenied"


def test_missing_authentication_renders_as_access_denied() -> None:
    document = sigv4.MissingAuthentication().to_xml("/bucket/key", "id")
    assert b"<Code>AccessDenied</Code>" in document


@pytest.mark.parametrize(
    "headers",
    [
        [HOST, ("x-amz-content-sha256", EMPTY_SHA256)],
        [HOST, ("x-amz-content-sha256", EMPTY_SHA256), ("x-amz-date", "2024-02-29")],
        [
            HOST,
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20240230T000000Z"),
        ],
        [HOST, ("x-amz-content-sha256", EMPTY_SHA256), ("x-amz-date", "")],
        [HOST, ("x-amz-content-sha256", EMPTY_SHA256), ("Date", "yesterday")],
        [
            HOST,
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("Date", "Fri, 24 May 0999 00:00:00 GMT"),
        ],
        [
            HOST,
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", AMZ_DATE),
            ("X-Amz-Date", AMZ_DATE),
        ],
        [
            HOST,
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "garbage"),
            ("Date", "Thu, 29 Feb 2024 23:59:30 GMT"),
        ],
    ],
    ids=[
        "none",
        "iso extended",
        "impossible day",
        "empty",
        "bad Date",
        "Date year 999",
        "two x-amz-date",
        "bad x-amz-date beside a good Date",
    ],
)
def test_header_auth_needs_a_valid_date(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(errors.AccessDenied, match="valid Date or x-amz-date"):
        parse([*headers, ("Authorization", authorization())])


@pytest.mark.parametrize(
    "value",
    [
        "Thu, 29 Feb 2024 23:59:30 GMT",
        "Fri, 01 Mar 2024 00:59:30 +0100",
        "Thu, 29 Feb 2024 23:59:30 -0000",
    ],
)
def test_date_header_is_used_without_x_amz_date(value: str) -> None:
    headers = [HOST, ("x-amz-content-sha256", EMPTY_SHA256), ("Date", value)]
    auth = parse([*headers, ("Authorization", authorization())])
    assert auth.amz_date == AMZ_DATE


def test_x_amz_date_wins_over_date() -> None:
    headers = auth_headers(authorization(), ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"))
    assert parse(headers).amz_date == AMZ_DATE


def test_header_auth_needs_x_amz_content_sha256() -> None:
    headers = [HOST, ("x-amz-date", AMZ_DATE), ("Authorization", authorization())]
    with pytest.raises(errors.InvalidRequest, match="x-amz-content-sha256"):
        parse(headers)


@pytest.mark.parametrize(
    "value",
    [
        EMPTY_SHA256,
        UNSIGNED_PAYLOAD,
        STREAMING_PAYLOAD,
        STREAMING_PAYLOAD_TRAILER,
        STREAMING_UNSIGNED_TRAILER,
    ],
)
def test_payload_hash_values(value: str) -> None:
    headers = [HOST, ("x-amz-date", AMZ_DATE), ("X-Amz-Content-SHA256", value)]
    assert parse([*headers, ("Authorization", authorization())]).payload_hash == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        EMPTY_SHA256.upper(),
        EMPTY_SHA256 + "0",
        "unsigned-payload",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        f"{EMPTY_SHA256}, {EMPTY_SHA256}",
    ],
)
def test_bad_payload_hash_is_refused(value: str) -> None:
    headers = [HOST, ("x-amz-date", AMZ_DATE), ("x-amz-content-sha256", value)]
    with pytest.raises(errors.InvalidArgument, match="x-amz-content-sha256"):
        parse([*headers, ("Authorization", authorization())])


def test_repeated_payload_hash_headers_are_refused() -> None:
    headers = auth_headers(authorization(), ("x-amz-content-sha256", EMPTY_SHA256))
    with pytest.raises(errors.InvalidArgument):
        parse(headers)


def test_security_token_from_the_query_with_header_auth() -> None:
    assert (
        parse(
            auth_headers(authorization()), "X-Amz-Security-Token=t%2B1"
        ).security_token
        == "t+1"
    )


@pytest.mark.parametrize(
    ("header", "query"),
    [
        ("a", "X-Amz-Security-Token=b"),
        (None, "X-Amz-Security-Token=a&X-Amz-Security-Token=a"),
    ],
)
def test_conflicting_security_tokens_are_refused(
    header: str | None, query: str
) -> None:
    extra = [("x-amz-security-token", header)] if header is not None else []
    with pytest.raises(errors.InvalidArgument, match="security token"):
        parse(auth_headers(authorization(), *extra), query)


def test_same_token_in_header_and_query_is_accepted() -> None:
    headers = auth_headers(authorization(), ("x-amz-security-token", "t"))
    assert parse(headers, "X-Amz-Security-Token=t").security_token == "t"


# parse_auth: query (presigned) authentication


def test_parse_query_auth() -> None:
    auth = parse([HOST], presign(expires=604800, token="tok/en+"))
    assert auth.location == "query"
    assert auth.expires == 604800
    assert auth.payload_hash == UNSIGNED_PAYLOAD
    assert auth.security_token == "tok/en+"
    assert auth.signed_headers == ("host",)
    assert auth.scope == Scope("20240229", REGION, "s3")


def _query_without(name: str) -> str:
    return "&".join(p for p in presign().split("&") if not p.startswith(name + "="))


def _query_with(name: str, value: str) -> str:
    return f"{_query_without(name)}&{name}={value}"


QUERY_PARAMETERS = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
]


@pytest.mark.parametrize("name", QUERY_PARAMETERS)
def test_missing_query_parameter(name: str) -> None:
    with pytest.raises(errors.AuthorizationQueryParametersError, match="requires"):
        parse([HOST], _query_without(name))


@pytest.mark.parametrize("name", QUERY_PARAMETERS)
def test_repeated_query_parameter(name: str) -> None:
    query = presign()
    value = next(p for p in query.split("&") if p.startswith(name + "="))
    with pytest.raises(
        errors.AuthorizationQueryParametersError, match="more than once"
    ):
        parse([HOST], f"{query}&{value}")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1", "only supports"),
        ("X-Amz-Algorithm", "", "only supports"),
        ("X-Amz-Credential", "AKID%2F20240229%2Fr%2Fs3", "Credential"),
        ("X-Amz-Date", "2024-02-29T23:59:30Z", "ISO8601"),
        ("X-Amz-Date", "20240229T235930", "ISO8601"),
        ("X-Amz-Expires", "0", "between 1 and 604800"),
        ("X-Amz-Expires", "604801", "between 1 and 604800"),
        ("X-Amz-Expires", "9" * 5000, "between 1 and 604800"),
        ("X-Amz-Expires", "abc", "number"),
        ("X-Amz-Expires", "-1", "number"),
        ("X-Amz-Expires", "%2B60", "number"),
        ("X-Amz-Expires", "1e3", "number"),
        ("X-Amz-Expires", "", "number"),
        ("X-Amz-Expires", "%D9%A1", "number"),  # ARABIC-INDIC DIGIT ONE
        ("X-Amz-SignedHeaders", "x-amz-date%3Bhost", "sorted"),
        ("X-Amz-SignedHeaders", "Host", "lower-case"),
        ("X-Amz-Signature", "ABC", "64"),
    ],
)
def test_malformed_query_parameter(name: str, value: str, message: str) -> None:
    with pytest.raises(errors.AuthorizationQueryParametersError, match=message) as info:
        parse([HOST], _query_with(name, value))
    assert SIGNATURE not in info.value.message


@pytest.mark.parametrize("expires", ["1", "604800", "0003600"])
def test_expires_bounds_are_accepted(expires: str) -> None:
    assert parse([HOST], _query_with("X-Amz-Expires", expires)).expires == int(expires)


def test_query_payload_hash_is_the_signed_header_only() -> None:
    signed = ("host", "x-amz-content-sha256")
    headers = [HOST, ("x-amz-content-sha256", EMPTY_SHA256)]
    assert parse(headers, presign(signed=signed)).payload_hash == EMPTY_SHA256
    assert parse(headers, presign()).payload_hash == UNSIGNED_PAYLOAD
    bad = [HOST, ("x-amz-content-sha256", "nope")]
    with pytest.raises(errors.InvalidArgument):
        parse(bad, presign(signed=signed))


# verify_request


def test_round_trip_header_auth_returns_the_signing_key() -> None:
    key = verify(signed_headers())
    assert key == sigv4.derive_signing_key(SECRET, Scope("20240229", REGION, "s3"))


def test_round_trip_presigned() -> None:
    query = presign(query="response-content-type=text%2Fplain", token="t")
    assert verify([HOST], query=query) == sigv4.derive_signing_key(
        SECRET, Scope("20240229", REGION, "s3")
    )


def test_signing_key_is_cached() -> None:
    scope = Scope("20240229", REGION, "s3")
    sigv4.derive_signing_key(SECRET, scope)
    hits = sigv4._signing_key.cache_info().hits
    sigv4.derive_signing_key(SECRET, scope)
    assert sigv4._signing_key.cache_info().hits == hits + 1
    assert sigv4._signing_key.cache_info().maxsize == 1024


@pytest.mark.parametrize(
    "change",
    [
        lambda r: {**r, "secret": SECRET + "x"},
        lambda r: {**r, "path": "/bucket/other"},
        lambda r: {**r, "path": "/bucket/key/"},
        lambda r: {**r, "method": "PUT"},
        lambda r: {**r, "query": "x=1"},
        lambda r: {**r, "headers": [("host", "evil:9000"), *r["headers"][1:]]},
    ],
    ids=["secret", "path", "trailing slash", "method", "query", "host"],
)
def test_any_change_breaks_the_signature(
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    request = change(
        {
            "headers": signed_headers(),
            "path": "/bucket/key",
            "secret": SECRET,
            "method": "GET",
            "query": "",
        }
    )
    with pytest.raises(errors.SignatureDoesNotMatch) as info:
        verify(**request)
    assert info.value.status == 403
    assert info.value.extra == {}


def test_presigned_tampering_breaks_the_signature() -> None:
    query = presign().replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify([HOST], query=query)


def test_wrong_region_names_the_expected_one() -> None:
    headers = signed_headers(region="us-east-1")
    with pytest.raises(errors.AuthorizationHeaderMalformed) as info:
        verify(headers, regions=(REGION, "eu-west-1"))
    assert (
        info.value.message == f"The region 'us-east-1' is wrong; expecting '{REGION}'"
    )
    assert info.value.extra == {"Region": REGION}


def test_any_accepted_region_verifies() -> None:
    verify(signed_headers(region="eu-west-1"), regions=(REGION, "eu-west-1"))


def test_wrong_region_presigned() -> None:
    with pytest.raises(errors.AuthorizationQueryParametersError, match="region"):
        verify([HOST], query=presign(), regions=("us-east-1",))


@pytest.mark.parametrize("region", ["eu\x00west", "r" * 65, "<x>"])
def test_odd_region_is_not_echoed(region: str) -> None:
    with pytest.raises(errors.AuthorizationHeaderMalformed) as info:
        verify(signed_headers(region=region))
    assert region not in info.value.message
    assert "(not shown)" in info.value.message


def test_no_accepted_region() -> None:
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="expecting ''"):
        verify(signed_headers(), regions=())


@pytest.mark.parametrize("service", ["s3-object-lambda", "iam", "S3"])
def test_wrong_service_is_refused(service: str) -> None:
    with pytest.raises(errors.AuthorizationHeaderMalformed, match=f"'{service}'"):
        verify(signed_headers(service=service))
    with pytest.raises(errors.AuthorizationQueryParametersError, match=f"'{service}'"):
        verify([HOST], query=presign(service=service))


def _auth(**changes: Any) -> sigv4.SignedRequestAuth:
    return dataclasses.replace(parse(signed_headers()), **changes)


def test_scope_date_must_match_the_request_date() -> None:
    headers = signed_headers()
    auth = _auth(scope=Scope("20240228", REGION, "s3"))
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="credential date"):
        sigv4.verify_request(
            auth, SECRET, "GET", "/bucket/key", "", headers, now=NOW, regions=[REGION]
        )


def test_scope_date_mismatch_in_a_parsed_request() -> None:
    # Credential dated the day before its x-amz-date: as S3, malformed.
    value = authorization(credential=f"{AKID}/20240228/{REGION}/s3/aws4_request")
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="credential date"):
        verify(auth_headers(value))


@pytest.mark.parametrize(
    "amz_date", ["", "20240229", "20241301T000000Z", "2024022T235930Z"]
)
def test_malformed_request_date_is_refused(amz_date: str) -> None:
    auth = _auth(amz_date=amz_date)
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="ISO8601"):
        sigv4.verify_request(
            auth, SECRET, "GET", "/bucket/key", "", [], now=NOW, regions=[REGION]
        )


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(0), True),
        (timedelta(minutes=15), True),
        (-timedelta(minutes=15), True),
        (timedelta(minutes=15, seconds=1), False),
        (-timedelta(minutes=15, seconds=1), False),
        (timedelta(days=1), False),
    ],
)
def test_clock_skew(offset: timedelta, accepted: bool) -> None:
    headers = signed_headers()
    now = NOW + offset
    if accepted:
        verify(headers, now=now)
        return
    with pytest.raises(errors.RequestTimeTooSkewed) as info:
        verify(headers, now=now)
    assert info.value.status == 403
    assert info.value.extra == {
        "RequestTime": AMZ_DATE,
        "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "MaxAllowedSkewMilliseconds": "900000",
    }


def test_max_skew_is_configurable() -> None:
    with pytest.raises(errors.RequestTimeTooSkewed) as info:
        verify(
            signed_headers(),
            now=NOW + timedelta(seconds=61),
            max_skew=timedelta(minutes=1),
        )
    assert info.value.extra["MaxAllowedSkewMilliseconds"] == "60000"


def test_naive_and_other_zone_now() -> None:
    verify(signed_headers(), now=NOW.replace(tzinfo=None))
    verify(signed_headers(), now=NOW.astimezone(timezone(timedelta(hours=2))))


@pytest.mark.parametrize(
    ("offset", "expires", "error"),
    [
        (timedelta(0), 1, None),
        (timedelta(seconds=3600), 3600, None),
        (timedelta(seconds=3601), 3600, "Request has expired"),
        (timedelta(days=6, hours=23), 604800, None),
        (timedelta(days=7), 604800, None),
        (timedelta(days=7, seconds=1), 604800, "Request has expired"),
        (-timedelta(minutes=15), 60, None),
        (-timedelta(minutes=15, seconds=1), 60, "Request is not valid yet"),
        (timedelta(hours=2), 86400, None),  # the header auth skew does not apply
    ],
)
def test_presigned_validity_window(
    offset: timedelta, expires: int, error: str | None
) -> None:
    query = presign(expires=expires)
    now = NOW + offset
    if error is None:
        verify([HOST], query=query, now=now)
        return
    with pytest.raises(errors.AccessDenied, match=error) as info:
        verify([HOST], query=query, now=now)
    if error == "Request has expired":
        expired_at = NOW + timedelta(seconds=expires)
        assert info.value.extra == {
            "X-Amz-Expires": str(expires),
            "Expires": expired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


@pytest.mark.parametrize("expires", [None, 0, 604801])
def test_presigned_expiry_bound_holds_for_hand_made_auth(expires: int | None) -> None:
    query = presign()
    auth = dataclasses.replace(parse([HOST], query), expires=expires)
    with pytest.raises(errors.AuthorizationQueryParametersError, match="X-Amz-Expires"):
        sigv4.verify_request(
            auth, SECRET, "GET", "/bucket/key", query, [HOST], now=NOW, regions=[REGION]
        )


@pytest.mark.parametrize(
    "extra",
    [
        [("x-amz-meta-owner", "mallory")],
        [("X-Amz-Acl", "public-read")],
        [("x-amz-security-token", "t")],
        [("x-amz-meta-a", "1"), ("x-amz-copy-source", "/other/key")],
    ],
)
def test_unsigned_x_amz_header_is_refused(extra: list[tuple[str, str]]) -> None:
    headers = [*signed_headers(), *extra]
    with pytest.raises(errors.AccessDenied, match="not signed") as info:
        verify(headers)
    assert info.value.extra == {
        "HeadersNotSigned": ", ".join(sorted(name.lower() for name, _ in extra))
    }


def test_unsigned_x_amz_header_is_refused_presigned() -> None:
    with pytest.raises(errors.AccessDenied, match="not signed"):
        verify([HOST, ("x-amz-acl", "public-read")], query=presign())


def test_signed_x_amz_header_presigned_verifies() -> None:
    headers = [HOST, ("x-amz-acl", "private")]
    verify(headers, query=presign(headers=headers, signed=("host", "x-amz-acl")))


def test_unsigned_ordinary_headers_are_allowed() -> None:
    verify([*signed_headers(), ("User-Agent", "x"), ("Expect", "100-continue")])


def test_host_must_be_signed() -> None:
    value = authorization(signed="x-amz-content-sha256;x-amz-date")
    with pytest.raises(errors.AccessDenied, match="not signed") as info:
        verify(auth_headers(value))
    assert info.value.extra == {"HeadersNotSigned": "host"}
    with pytest.raises(errors.AccessDenied, match="not signed"):
        verify([HOST], query=presign(signed=("x-amz-date",)))


def test_date_header_in_use_must_be_signed() -> None:
    headers = [
        HOST,
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("Date", "Thu, 29 Feb 2024 23:59:30 GMT"),
        ("Authorization", authorization(signed="host;x-amz-content-sha256")),
    ]
    with pytest.raises(errors.AccessDenied) as info:
        verify(headers)
    assert info.value.extra == {"HeadersNotSigned": "date"}


def test_date_header_round_trip() -> None:
    base = [
        HOST,
        ("Date", "Thu, 29 Feb 2024 23:59:30 GMT"),
        ("x-amz-content-sha256", EMPTY_SHA256),
    ]
    scope = Scope("20240229", REGION, "s3")
    signed = ["date", "host", "x-amz-content-sha256"]
    creq = sigv4.canonical_request("GET", "/b/k", "", base, signed, EMPTY_SHA256)
    signature = sigv4.compute_signature(
        sigv4.derive_signing_key(SECRET, scope),
        sigv4.string_to_sign(AMZ_DATE, scope, creq),
    )
    value = authorization(signed=";".join(signed), signature=signature)
    verify([*base, ("Authorization", value)], path="/b/k")


def test_verify_checks_in_s3_order() -> None:
    # Wrong service, region, time and signature at once: the service is named.
    headers = signed_headers(service="iam", region="x", now=NOW - timedelta(days=1))
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="'iam'"):
        verify([*headers, ("x-amz-meta-a", "1")], secret="wrong")


def test_non_utf8_header_bytes_are_signed_as_sent() -> None:
    # aiohttp hands over b"caf\xe9" as "caf\udce9" (surrogateescape).
    headers = [HOST, ("x-amz-meta-name", "caf\udce9")]
    verify(signed_headers(headers=headers))
    creq = sigv4.canonical_request(
        "GET", "/", "", headers, ["host", "x-amz-meta-name"], "x"
    )
    scope = Scope("20240229", REGION, "s3")
    digest = sigv4.string_to_sign(AMZ_DATE, scope, creq).rsplit("\n", 1)[1]
    assert digest == hashlib.sha256(creq.encode("ascii", "surrogateescape")).hexdigest()


def test_text_that_no_bytes_give_is_refused() -> None:
    value = authorization(signed="host;x-amz-content-sha256;x-amz-date;x-amz-meta-a")
    headers = auth_headers(value, ("x-amz-meta-a", "\ud800"))
    with pytest.raises(errors.InvalidArgument, match="invalid Unicode"):
        verify(headers)


# sign_request


def test_sign_request_adds_three_headers() -> None:
    added = sigv4.sign_request(
        "PUT",
        "/bucket/a b",
        "partNumber=1&uploadId=x",
        [("Host", "store:9000"), ("Content-Length", "3"), ("x-amz-meta-who", "sub")],
        access_key_id=AKID,
        secret=SECRET,
        region=REGION,
        payload_hash=UNSIGNED_PAYLOAD,
        now=NOW,
    )
    names = [name for name, _ in added]
    assert names == ["x-amz-date", "x-amz-content-sha256", "authorization"]
    assert dict(added)["x-amz-date"] == AMZ_DATE
    assert (
        "SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-meta-who," in dict(added)["authorization"]
    )


def test_sign_request_needs_host() -> None:
    with pytest.raises(ValueError, match="host"):
        signed_headers(headers=[("x-amz-meta-a", "1")])


@pytest.mark.parametrize(
    "name", ["Authorization", "X-Amz-Date", "x-amz-content-sha256"]
)
def test_sign_request_refuses_headers_it_adds(name: str) -> None:
    with pytest.raises(ValueError, match="adds"):
        signed_headers(headers=[HOST, (name, "x")])


# Cross-checks with the reference clients


class Captured(Exception):
    """Stops botocore before it sends anything."""


@pytest.fixture(scope="module")
def boto_s3() -> tuple[Any, list[Any]]:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        region_name=REGION,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
        ),
    )
    sent: list[Any] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append(request)
        raise Captured

    client.meta.events.register("before-send", capture)
    return client, sent


def botocore_request(
    boto_s3: tuple[Any, list[Any]], call: Callable[[Any], Any]
) -> tuple[str, str, str, list[tuple[str, str]]]:
    client, sent = boto_s3
    sent.clear()
    with pytest.raises(Captured):
        call(client)
    request = sent[0]
    url = urlsplit(request.url)
    headers = [
        (name, value.decode() if isinstance(value, bytes) else value)
        for name, value in request.headers.items()
    ]
    return request.method, url.path, url.query, headers


KEYS = [
    "plain.txt",
    "a b/c d",
    "a+b=c&d",
    "()!*'@$,;:",
    "a/../b",
    "./x",
    "a//b/",
    "%41%2F%25",
    "~tilde-_.",
    "\u00fcber/\u00df/\u20ac/\u4e2d\u6587",
    "emoji \U0001f600",
    "q?x#y",
    "tab\tnew",
]


@pytest.mark.parametrize("key", KEYS)
def test_botocore_put_object_verifies(boto_s3: Any, key: str) -> None:
    method, path, query, headers = botocore_request(
        boto_s3,
        lambda c: c.put_object(
            Bucket="bucket", Key=key, Body=b"data", Metadata={"k": "v v"}
        ),
    )
    verify(headers, method, path, query, now=datetime.now(UTC))


@pytest.mark.parametrize("key", KEYS)
def test_botocore_list_with_prefix_verifies(boto_s3: Any, key: str) -> None:
    method, path, query, headers = botocore_request(
        boto_s3,
        lambda c: c.list_objects_v2(
            Bucket="bucket", Prefix=key, Delimiter="/", StartAfter=key
        ),
    )
    verify(headers, method, path, query, now=datetime.now(UTC))


def test_botocore_multipart_and_copy_verify(boto_s3: Any) -> None:
    calls = [
        lambda c: c.upload_part(
            Bucket="b", Key="k k", PartNumber=3, UploadId="u+/=", Body=b"x"
        ),
        lambda c: c.copy_object(
            Bucket="b", Key="dst", CopySource={"Bucket": "s", "Key": "a b+c"}
        ),
        lambda c: c.delete_objects(Bucket="b", Delete={"Objects": [{"Key": "a"}]}),
        lambda c: c.get_object(Bucket="b", Key="k", Range="bytes=0-9", VersionId="v 1"),
        lambda c: c.get_bucket_lifecycle_configuration(Bucket="b"),
    ]
    for call in calls:
        method, path, query, headers = botocore_request(boto_s3, call)
        verify(headers, method, path, query, now=datetime.now(UTC))


@pytest.mark.parametrize("key", KEYS)
def test_botocore_presigned_url_verifies(boto_s3: Any, key: str) -> None:
    client, _ = boto_s3
    url = urlsplit(
        client.generate_presigned_url(
            "get_object",
            Params={"Bucket": "bucket", "Key": key, "ResponseContentType": "a/b c"},
            ExpiresIn=900,
        )
    )
    headers = [("host", url.netloc)]
    auth = sigv4.parse_auth("GET", url.path, url.query, headers)
    assert auth.location == "query"
    verify(headers, "GET", url.path, url.query, now=datetime.now(UTC))


def test_raw_spelling_of_a_botocore_path_still_verifies(boto_s3: Any) -> None:
    # Some clients send sub-delimiters raw and hex in lower case, yet sign
    # the canonical form; what reaches the proxy must verify all the same.
    method, path, query, headers = botocore_request(
        boto_s3, lambda c: c.get_object(Bucket="b", Key="(a)!*'@ b\u00e9")
    )
    respelled = path
    for char in "()!*'@":
        respelled = respelled.replace(quote(char, safe=""), char)
    respelled = respelled.replace("%C3%A9", "%c3%a9")
    assert respelled != path
    verify(headers, method, respelled, query, now=datetime.now(UTC))


def crt_sign(
    method: str, path: str, query: str, *, presign_for: int | None = None
) -> tuple[str, str, list[tuple[str, str]]]:
    """Sign with awscrt (aws-c-auth) configured as the S3 clients use it."""
    target = f"{path}?{query}" if query else path
    request = crt_http.HttpRequest(method, target, crt_http.HttpHeaders([HOST]))
    config = crt_auth.AwsSigningConfig(
        algorithm=crt_auth.AwsSigningAlgorithm.V4,
        signature_type=crt_auth.AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS
        if presign_for
        else crt_auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=crt_auth.AwsCredentialsProvider.new_static(AKID, SECRET),
        region=REGION,
        service="s3",
        date=NOW,
        use_double_uri_encode=False,
        should_normalize_uri_path=False,
        signed_body_value=UNSIGNED_PAYLOAD,
        signed_body_header_type=crt_auth.AwsSignedBodyHeaderType.NONE
        if presign_for
        else crt_auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
        expiration_in_seconds=presign_for,
    )
    signed = crt_auth.aws_sign_request(request, config).result(timeout=10)
    url = urlsplit(signed.path)
    return url.path, url.query, list(signed.headers)


@pytest.mark.parametrize(
    "path",
    [
        "/bucket/key",
        "/bucket/a%20b/c%2Bd",
        "/bucket/a/../b//c/",
        "/bucket/%E2%82%AC%28x%29",
    ],
)
@pytest.mark.parametrize("query", ["", "prefix=a%2Fb&list-type=2", "uploads="])
def test_awscrt_signatures_verify(path: str, query: str) -> None:
    signed_path, signed_query, headers = crt_sign("GET", path, query)
    verify(headers, "GET", signed_path, signed_query)
    signed_path, signed_query, headers = crt_sign("GET", path, query, presign_for=300)
    assert (
        sigv4.parse_auth("GET", signed_path, signed_query, headers).location == "query"
    )
    verify(headers, "GET", signed_path, signed_query)


# Properties

path_parts = st.one_of(
    st.text(st.characters(exclude_characters="%?#", codec="utf-8"), max_size=12),
    st.sampled_from(
        ["%2F", "%2f", "%41", "%7E", "%25", "%e2%82%ac", "%20", "+", "//", "/../"]
    ),
)
raw_paths = st.lists(path_parts, max_size=8).map(lambda parts: "/" + "".join(parts))


@given(raw_paths)
def test_canonical_uri_is_idempotent(raw: str) -> None:
    canonical = sigv4.canonical_uri(raw)
    assert sigv4.canonical_uri(canonical) == canonical


@given(raw_paths)
def test_canonical_uri_keeps_the_decoded_bytes(raw: str) -> None:
    canonical = sigv4.canonical_uri(raw)
    assert canonical.isascii()
    assert unquote_to_bytes(canonical) == unquote_to_bytes(raw.encode())


@given(st.text(max_size=40))
def test_canonical_uri_raises_only_invalid_argument(raw: str) -> None:
    with contextlib.suppress(errors.InvalidArgument):
        sigv4.canonical_uri(raw)


query_items = st.lists(
    st.tuples(
        st.text(
            st.characters(exclude_characters="%&=", codec="utf-8"),
            max_size=6,
        ),
        st.text(
            st.characters(exclude_characters="%&", codec="utf-8"),
            max_size=6,
        ),
    ),
    max_size=8,
)


@given(query_items, st.randoms())
def test_canonical_query_is_order_independent(
    items: list[tuple[str, str]], rng: random.Random
) -> None:
    raw = [f"{name}={value}" for name, value in items]
    shuffled = list(raw)
    rng.shuffle(shuffled)
    assert sigv4.canonical_query("&".join(raw)) == sigv4.canonical_query(
        "&".join(shuffled)
    )


@given(raw_paths, query_items)
@settings(max_examples=50, deadline=None)
def test_sign_then_verify(path: str, items: list[tuple[str, str]]) -> None:
    query = "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in items)
    verify(signed_headers("GET", path, query), "GET", path, query)


header_text = st.text(max_size=120)
token_text = st.one_of(
    header_text,
    st.sampled_from(
        [
            "AWS4-HMAC-SHA256 ",
            "Credential=",
            "SignedHeaders=",
            "Signature=",
            ", ",
            "/",
            ";",
        ]
    ),
)


@given(
    st.lists(token_text, max_size=10).map("".join),
    st.one_of(st.none(), header_text),
    st.one_of(st.none(), header_text),
    st.one_of(st.none(), header_text),
    header_text,
)
@settings(max_examples=300)
def test_parse_auth_raises_only_s3_errors(
    value: str,
    amz_date: str | None,
    date: str | None,
    content_sha: str | None,
    query: str,
) -> None:
    headers = [HOST, ("Authorization", value)]
    for name, item in [
        ("x-amz-date", amz_date),
        ("date", date),
        ("x-amz-content-sha256", content_sha),
    ]:
        if item is not None:
            headers.append((name, item))
    for candidate_headers, candidate_query in [
        (headers, ""),
        ([HOST], query),
        (headers[1:], query),
    ]:
        with contextlib.suppress(errors.S3Error):
            parse(candidate_headers, candidate_query)


@given(
    st.dictionaries(
        st.sampled_from([*QUERY_PARAMETERS, "X-Amz-Security-Token", "Signature"]),
        header_text,
    )
)
def test_parse_auth_raises_only_s3_errors_on_query(params: dict[str, str]) -> None:
    with contextlib.suppress(errors.S3Error):
        parse([HOST], urlencode(params, quote_via=quote))


wire_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n\x00")
    | st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
    max_size=30,
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["x-amz-meta-a", "X-Amz-Meta-B", "range", "content-type"]),
            wire_text,
        ),
        max_size=6,
    )
)
@settings(max_examples=100, deadline=None)
def test_sign_then_verify_any_header_values(extra: list[tuple[str, str]]) -> None:
    verify(signed_headers(headers=[HOST, *extra]))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["x-amz-meta-a", "host", "x-amz-date"]),
            st.text(max_size=20),
        ),
        max_size=4,
    )
)
@settings(max_examples=100, deadline=None)
def test_verify_raises_only_s3_errors_on_any_header_values(
    extra: list[tuple[str, str]],
) -> None:
    value = authorization(signed="host;x-amz-content-sha256;x-amz-date;x-amz-meta-a")
    with contextlib.suppress(errors.S3Error):
        verify(auth_headers(value, *extra))
