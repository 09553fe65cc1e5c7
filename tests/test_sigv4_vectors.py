"""The official SigV4 test vectors, run through proxy.sigv4.

Three sets live in ``../shared/sigv4-vectors`` (see its README): the current
AWS signing suite from aws-c-auth, the older suite botocore ships, and the
worked examples of the Amazon S3 API reference. Both AWS suites sign for a
generic service called ``service``, so ``verify_request`` refuses them on the
service check (tested below); their signatures are checked with the same
lower-level functions that ``verify_request`` calls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from proxy import errors, sigv4

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "sigv4-vectors"
AWS_C_AUTH = VECTORS / "aws-c-auth-aws-signing-test-suite" / "v4"
BOTOCORE = VECTORS / "botocore-aws4_testsuite"
S3_EXAMPLES = VECTORS / "s3-doc-examples.json"

pytestmark = pytest.mark.skipif(
    not VECTORS.is_dir(),
    reason=f"the SigV4 vectors are not at {VECTORS} (shared/ beside the repo)",
)

_NORMALISES = (
    "normalises the path (dot segments, repeated slashes); S3 keys are literal"
)
_TOKEN_AFTER = (
    "adds X-Amz-Security-Token to the query after signing, so the canonical "
    "query cannot hold it; S3 signs the token"
)

# Cases that describe what other AWS services do and S3 does not.
NOT_APPLICABLE = {
    "aws-c-auth/get-relative-normalized": _NORMALISES,
    "aws-c-auth/get-relative-relative-normalized": _NORMALISES,
    "aws-c-auth/get-slash-dot-slash-normalized": _NORMALISES,
    "aws-c-auth/get-slash-normalized": _NORMALISES,
    "aws-c-auth/get-slash-pointless-dot-normalized": _NORMALISES,
    "aws-c-auth/get-slashes-normalized": _NORMALISES,
    "aws-c-auth/post-sts-header-after (presigned)": _TOKEN_AFTER,
    "botocore/normalize-path/get-relative": _NORMALISES,
    "botocore/normalize-path/get-relative-relative": _NORMALISES,
    "botocore/normalize-path/get-slash": _NORMALISES,
    "botocore/normalize-path/get-slash-dot-slash": _NORMALISES,
    "botocore/normalize-path/get-slash-pointless-dot": _NORMALISES,
    "botocore/normalize-path/get-slashes": _NORMALISES,
}
# post-sts-header-after with header auth is applicable: its signature checks
# out (the token is not among the signed headers), and verify_request refuses
# it for that unsigned x-amz-* header, as S3 does (tested below).

# Applicable, but only through the pure functions: aiohttp refuses these
# requests before any handler runs, so the proxy never sees them.
HTTP_PARSER_REFUSES = {
    "aws-c-auth/get-space-normalized",
    "aws-c-auth/get-space-unnormalized",
    "aws-c-auth/get-utf8",
    "aws-c-auth/get-header-value-multiline",
    "botocore/get-utf8",
    "botocore/get-header-value-multiline",
    "botocore/normalize-path/get-space",
}


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def payload_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def without(self, name: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers if k.lower() != name]

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name)


def parse_raw_request(text: str) -> RawRequest:
    """Parse the raw HTTP text of a vector, as leniently as the vectors need.

    The request target may hold a raw space (get-space) and header lines may
    be folded (get-header-value-multiline): a fold is joined with one space,
    as RFC 9112 lets a recipient do.
    """
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    request_line, *lines = head.split("\n")
    method, _, rest = request_line.partition(" ")
    target = rest.rsplit(" HTTP/", 1)[0]
    path, _, query = target.partition("?")
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line}")
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return RawRequest(method, path, query, headers, body.encode())


@dataclass(frozen=True)
class Expected:
    canonical_request: str
    string_to_sign: str
    signature: str


@dataclass(frozen=True)
class Case:
    """One signed request of a suite with what it must canonicalise to."""

    name: str
    secret: str
    region: str
    service: str
    timestamp: datetime
    request: RawRequest
    authorization: str | None  # header auth; None for a presigned request
    expected: Expected


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _aws_c_auth_case(folder: Path, kind: str) -> Case:
    context = json.loads(_read(folder / "context.json"))
    signed = parse_raw_request(_read(folder / f"{kind}-signed-request.txt"))
    request = dataclasses.replace(signed, headers=signed.without("authorization"))
    return Case(
        name=f"aws-c-auth/{folder.name}",
        secret=context["credentials"]["secret_access_key"],
        region=context["region"],
        service=context["service"],
        timestamp=datetime.fromisoformat(context["timestamp"].replace("Z", "+00:00")),
        request=request,
        authorization=signed.header("authorization") if kind == "header" else None,
        expected=Expected(
            _read(folder / f"{kind}-canonical-request.txt"),
            _read(folder / f"{kind}-string-to-sign.txt"),
            _read(folder / f"{kind}-signature.txt").strip(),
        ),
    )


def _botocore_case(folder: Path) -> Case:
    stem = folder / folder.name
    raw = parse_raw_request(_read(stem.with_suffix(".req")))
    # The .sreq holds the headers as sent (get-vanilla-with-session-token
    # has its token only there); the .req holds the exact body.
    sent = parse_raw_request(_read(stem.with_suffix(".sreq")))
    request = dataclasses.replace(raw, headers=sent.without("authorization"))
    authorization = _read(stem.with_suffix(".authz")).strip()
    return Case(
        name=f"botocore/{folder.relative_to(BOTOCORE).as_posix()}",
        secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="service",
        timestamp=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
        request=request,
        authorization=authorization,
        expected=Expected(
            _read(stem.with_suffix(".creq")),
            _read(stem.with_suffix(".sts")),
            authorization.rsplit("Signature=", 1)[1],
        ),
    )


def _aws_c_auth_folders() -> list[Path]:
    return sorted(p for p in AWS_C_AUTH.glob("*") if (p / "context.json").is_file())


def _botocore_folders() -> list[Path]:
    return sorted(p.parent for p in BOTOCORE.rglob("*.req"))


def _not_applicable(name: str) -> str | None:
    return NOT_APPLICABLE.get(name) or NOT_APPLICABLE.get(name.split(" ")[0])


def _params(cases: list[tuple[str, Any]]) -> list[Any]:
    params = []
    for name, value in cases:
        reason = _not_applicable(name)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(value, id=name, marks=marks))
    return params


def header_cases() -> list[Any]:
    if not VECTORS.is_dir():
        return []
    folders = _aws_c_auth_folders()
    cases = [(f"aws-c-auth/{f.name}", (f, "header")) for f in folders]
    cases += [
        (f"botocore/{f.relative_to(BOTOCORE).as_posix()}", (f, "botocore"))
        for f in _botocore_folders()
    ]
    return _params(cases)


def query_cases() -> list[Any]:
    if not VECTORS.is_dir():
        return []
    folders = _aws_c_auth_folders()
    return _params([(f"aws-c-auth/{f.name} (presigned)", f) for f in folders])


def load(spec: tuple[Path, str]) -> Case:
    folder, kind = spec
    return (
        _botocore_case(folder) if kind == "botocore" else _aws_c_auth_case(folder, kind)
    )


def parse_vector_auth(case: Case) -> sigv4.SignedRequestAuth:
    """parse_auth on a vector, whose payload hash is that of its body.

    The suites sign for a generic service without x-amz-content-sha256,
    which S3 (and parse_auth) require; an unsigned copy of it satisfies the
    parser and changes nothing that is signed.
    """
    headers = list(case.request.headers)
    if case.authorization is not None:
        headers.append(("Authorization", case.authorization))
    if not any(k.lower() == "x-amz-content-sha256" for k, _ in headers):
        headers.append(("x-amz-content-sha256", case.request.payload_hash))
    r = case.request
    auth = sigv4.parse_auth(r.method, r.path, r.query, headers)
    return dataclasses.replace(auth, payload_hash=r.payload_hash)


def check_case(case: Case) -> None:
    r = case.request
    auth = parse_vector_auth(case)
    assert auth.scope == sigv4.Scope(
        case.timestamp.strftime("%Y%m%d"), case.region, case.service
    )
    omit = ("X-Amz-Signature",) if auth.location == "query" else ()
    creq = sigv4.canonical_request(
        r.method,
        r.path,
        r.query,
        r.headers,
        auth.signed_headers,
        r.payload_hash,
        omit_query=omit,
    )
    assert creq == case.expected.canonical_request
    sts = sigv4.string_to_sign(auth.amz_date, auth.scope, creq)
    assert sts == case.expected.string_to_sign
    key = sigv4.derive_signing_key(case.secret, auth.scope)
    assert sigv4.compute_signature(key, sts) == case.expected.signature
    assert auth.signature == case.expected.signature
    assert sigv4.verify_signature(
        auth, case.secret, r.method, r.path, r.query, r.headers
    )


@pytest.mark.parametrize("spec", header_cases())
def test_header_vector(spec: tuple[Path, str]) -> None:
    check_case(load(spec))


@pytest.mark.parametrize("folder", query_cases())
def test_query_vector(folder: Path) -> None:
    check_case(_aws_c_auth_case(folder, "query"))


@pytest.mark.parametrize("spec", header_cases())
def test_header_vector_with_wrong_secret_is_refused(spec: tuple[Path, str]) -> None:
    case = load(spec)
    r = case.request
    auth = parse_vector_auth(case)
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify_signature(
            auth, "not-" + case.secret, r.method, r.path, r.query, r.headers
        )


@pytest.mark.parametrize("spec", header_cases())
def test_verify_request_refuses_the_generic_service(spec: tuple[Path, str]) -> None:
    case = load(spec)
    r = case.request
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="'service'"):
        sigv4.verify_request(
            parse_vector_auth(case),
            case.secret,
            r.method,
            r.path,
            r.query,
            r.headers,
            now=case.timestamp,
            regions={case.region},
        )


@pytest.mark.parametrize("folder", query_cases())
def test_verify_request_refuses_the_generic_service_presigned(folder: Path) -> None:
    case = _aws_c_auth_case(folder, "query")
    r = case.request
    with pytest.raises(errors.AuthorizationQueryParametersError, match="'service'"):
        sigv4.verify_request(
            parse_vector_auth(case),
            case.secret,
            r.method,
            r.path,
            r.query,
            r.headers,
            now=case.timestamp,
            regions={case.region},
        )


@pytest.mark.parametrize(
    "spec",
    [
        (AWS_C_AUTH / "post-sts-header-after", "header"),
        (BOTOCORE / "post-sts-token" / "post-sts-header-after", "botocore"),
    ],
    ids=["aws-c-auth", "botocore"],
)
def test_token_added_after_signing_is_refused(spec: tuple[Path, str]) -> None:
    case = load(spec)
    r = case.request
    auth = parse_vector_auth(case)
    as_s3 = dataclasses.replace(
        auth, scope=dataclasses.replace(auth.scope, service="s3")
    )
    with pytest.raises(errors.AccessDenied) as refused:
        sigv4.verify_request(
            as_s3,
            case.secret,
            r.method,
            r.path,
            r.query,
            r.headers,
            now=case.timestamp,
            regions={case.region},
        )
    assert "x-amz-security-token" in refused.value.extra["HeadersNotSigned"]


@pytest.mark.parametrize(
    "name", ["post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters"]
)
def test_sign_request_reproduces_signed_body_vectors(name: str) -> None:
    # With sign_body the suite signs x-amz-content-sha256 as sign_request does.
    folder = AWS_C_AUTH / name
    case = _aws_c_auth_case(folder, "header")
    request = parse_raw_request(_read(folder / "request.txt"))
    added = sigv4.sign_request(
        request.method,
        request.path,
        request.query,
        request.headers,
        access_key_id="AKIDEXAMPLE",
        secret=case.secret,
        region=case.region,
        payload_hash=request.payload_hash,
        now=case.timestamp,
        service=case.service,
    )
    assert dict(added)["authorization"] == case.authorization


def test_not_applicable_names_real_cases() -> None:
    names = {f"aws-c-auth/{f.name}" for f in _aws_c_auth_folders()}
    names |= {
        f"botocore/{f.relative_to(BOTOCORE).as_posix()}" for f in _botocore_folders()
    }
    assert names.issuperset(name.split(" ")[0] for name in NOT_APPLICABLE)
    assert names.issuperset(HTTP_PARSER_REFUSES)


def test_suites_are_complete() -> None:
    assert len(_aws_c_auth_folders()) == 38
    assert len(_botocore_folders()) == 34


# The Amazon S3 API reference examples: service s3, verified end to end.

S3_NOW = datetime(2013, 5, 24, tzinfo=UTC)


def s3_examples() -> list[Any]:
    if not S3_EXAMPLES.is_file():
        return []
    document = json.loads(_read(S3_EXAMPLES))
    return [pytest.param(case, id=case["name"]) for case in document["cases"]]


@pytest.fixture(scope="module")
def s3_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_read(S3_EXAMPLES))
    return document


def s3_request(case: dict[str, Any]) -> RawRequest:
    if "url" in case:
        url = urlsplit(case["url"])
        return RawRequest(case["method"], url.path, url.query, [], b"")
    path = case.get("raw_path", case["canonical_uri"])
    return RawRequest(case["method"], path, case.get("raw_query", ""), [], b"")


def s3_headers(case: dict[str, Any]) -> list[tuple[str, str]]:
    headers = list(case["headers"].items())
    if "url" not in case:
        headers.append(("Authorization", case["authorization"]))
    return headers


@pytest.mark.parametrize("case", s3_examples())
def test_s3_example_canonical_request(
    case: dict[str, Any], s3_document: dict[str, Any]
) -> None:
    r = s3_request(case)
    omit = ("X-Amz-Signature",) if "url" in case else ()
    creq = sigv4.canonical_request(
        r.method,
        r.path,
        r.query,
        list(case["headers"].items()),
        case["signed_headers"].split(";"),
        case["payload_hash"],
        omit_query=omit,
    )
    assert creq == case["canonical_request"]
    scope = sigv4.Scope("20130524", s3_document["region"], "s3")
    sts = sigv4.string_to_sign(s3_document["x-amz-date"], scope, creq)
    assert sts == case["string_to_sign"]
    key = sigv4.derive_signing_key(s3_document["secret_key"], scope)
    assert sigv4.compute_signature(key, sts) == case["signature"]


@pytest.mark.parametrize("case", s3_examples())
def test_s3_example_verifies_end_to_end(
    case: dict[str, Any], s3_document: dict[str, Any]
) -> None:
    r = s3_request(case)
    headers = s3_headers(case)
    auth = sigv4.parse_auth(r.method, r.path, r.query, headers)
    assert auth.access_key_id == s3_document["access_key"]
    assert auth.payload_hash == case["payload_hash"]
    key = sigv4.verify_request(
        auth,
        s3_document["secret_key"],
        r.method,
        r.path,
        r.query,
        headers,
        now=S3_NOW,
        regions=("us-east-1",),
    )
    assert key == sigv4.derive_signing_key(s3_document["secret_key"], auth.scope)


@pytest.mark.parametrize("case", s3_examples())
def test_s3_example_wrong_secret_is_refused(
    case: dict[str, Any], s3_document: dict[str, Any]
) -> None:
    r = s3_request(case)
    headers = s3_headers(case)
    auth = sigv4.parse_auth(r.method, r.path, r.query, headers)
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify_request(
            auth,
            s3_document["secret_key"] + "x",
            r.method,
            r.path,
            r.query,
            headers,
            now=S3_NOW,
            regions=("us-east-1",),
        )


@pytest.mark.parametrize("case", s3_examples())
def test_s3_example_sign_request_reproduces_authorization(
    case: dict[str, Any], s3_document: dict[str, Any]
) -> None:
    if "url" in case:
        pytest.skip("sign_request signs with header auth only")
    r = s3_request(case)
    unsigned = [
        (name, value)
        for name, value in case["headers"].items()
        if name not in ("x-amz-date", "x-amz-content-sha256")
    ]
    added = sigv4.sign_request(
        r.method,
        r.path,
        r.query,
        unsigned,
        access_key_id=s3_document["access_key"],
        secret=s3_document["secret_key"],
        region=s3_document["region"],
        payload_hash=case["payload_hash"],
        now=S3_NOW,
    )
    assert dict(added) == {
        "x-amz-date": "20130524T000000Z",
        "x-amz-content-sha256": case["payload_hash"],
        "authorization": f"AWS4-HMAC-SHA256 Credential={s3_document['access_key']}"
        f"/20130524/us-east-1/s3/aws4_request, SignedHeaders={case['signed_headers']}"
        f", Signature={case['signature']}",
    }
