"""AWS Signature Version 4 for S3: parse, verify and sign requests.

Pure and synchronous, so that the official test vectors exercise exactly the
code that verifies inbound requests and signs outbound ones. The flow for an
inbound request is::

    auth = parse_auth(method, raw_path, raw_query, headers)
    signing_key = verify_request(auth, secret, ..., now=..., regions=...)

``parse_auth`` turns the ``Authorization`` header or the presigned query into
a :class:`SignedRequestAuth` (or refuses it as S3 would); ``verify_request``
checks scope, time and signed headers, rebuilds the canonical request with the
S3 rules (no path normalisation, single encoding) and compares signatures in
constant time. The signing key it returns seeds the aws-chunked decoder.
``sign_request`` signs an outbound request with header authentication.

Every refusal is an :class:`errors.S3Error`; messages never carry a
signature, a secret or a token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from itertools import pairwise
from typing import Literal
from urllib.parse import quote_from_bytes, unquote

from proxy import errors

__all__ = [
    "EMPTY_SHA256",
    "STREAMING_PAYLOAD",
    "STREAMING_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_TRAILER",
    "UNSIGNED_PAYLOAD",
    "Headers",
    "MissingAuthentication",
    "Scope",
    "SignedRequestAuth",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "compute_signature",
    "derive_signing_key",
    "parse_auth",
    "sign_request",
    "string_to_sign",
    "verify_request",
    "verify_signature",
]

Headers = Sequence[tuple[str, str]]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

MAX_EXPIRES = 604800  # seven days, the longest a presigned URL may live
PAYLOAD_MODES = frozenset(
    {
        UNSIGNED_PAYLOAD,
        STREAMING_PAYLOAD,
        STREAMING_PAYLOAD_TRAILER,
        STREAMING_UNSIGNED_TRAILER,
    }
)

_SIGV4A = "AWS4-ECDSA-P256-SHA256"
_MILLISECOND = timedelta(milliseconds=1)
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SCOPE_DATE = re.compile(r"[0-9]{8}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
_ESCAPE = re.compile(rb"%(?P<hex>[0-9A-Fa-f]{2})|(?P<bad>%)")
_BLANKS = re.compile(r"[ \t]+")
_ECHOABLE = re.compile(r"[A-Za-z0-9._~-]{1,64}")
_UNRESERVED = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)

_AUTHORIZATION_FIELDS = ("Credential", "SignedHeaders", "Signature")
_QUERY_V4_NAMES = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_QUERY_V2_NAMES = ("AWSAccessKeyId", "Signature")
_SIGNATURE_PARAM = "X-Amz-Signature"
_TOKEN_PARAM = "X-Amz-Security-Token"

_BOTH_MECHANISMS = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
    "Signature query string parameter or the Authorization header should be "
    "specified"
)
_SIGV2_REFUSED = (
    "Signature Version 2 is not supported; sign requests with AWS Signature "
    "Version 4 (boto3/AWS CLI: signature_version='s3v4')"
)
_SIGV4A_REFUSED = (
    "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not supported; sign "
    "requests with AWS Signature Version 4 (AWS4-HMAC-SHA256)"
)
_QUERY_PARAMS_REQUIRED = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, "
    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
    "X-Amz-Expires parameters."
)
_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"


class MissingAuthentication(errors.AccessDenied):
    """The request carries no signature at all (an anonymous request)."""

    default_message = "Anonymous access is not allowed; sign the request."


@dataclass(frozen=True)
class Scope:
    """The credential scope: the date, region and service a key is bound to."""

    date: str
    region: str
    service: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class SignedRequestAuth:
    """What a request says about its own signature, before verification.

    ``payload_hash`` is the value that goes into the canonical request: the
    ``x-amz-content-sha256`` header for header auth; for query auth that
    header when it is present and signed, else ``UNSIGNED-PAYLOAD``.
    """

    location: Literal["header", "query"]
    access_key_id: str
    scope: Scope
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    amz_date: str
    payload_hash: str
    expires: int | None
    security_token: str | None = field(repr=False)


# Canonical request (SigV4 task 1, S3 flavour)


def canonical_uri(raw_path: str) -> str:
    """Return the canonical URI of a path exactly as the client sent it.

    S3 keys are literal, so ``.``, ``..`` and ``//`` are kept; only the
    percent-encoding is normalised so that every spelling of a key signs
    the same.
    """
    if not raw_path:
        return "/"
    return _normalise_encoding(raw_path, safe="/", where="path")


def canonical_query(raw_query: str, *, omit: Collection[str] = ()) -> str:
    """Return the canonical query string: encoded pairs sorted by name, value."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        if omit and unquote(name) in omit:
            continue
        pairs.append(
            (
                _normalise_encoding(name, safe="", where="query string"),
                _normalise_encoding(value, safe="", where="query string"),
            )
        )
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    omit_query: Collection[str] = (),
) -> str:
    """Build the canonical request that the signature covers."""
    return "\n".join(
        [
            method,
            canonical_uri(raw_path),
            canonical_query(raw_query, omit=omit_query),
            _canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: Scope, canonical_request: str) -> str:
    """Build the string to sign from the canonical request (SigV4 task 2)."""
    digest = hashlib.sha256(_to_bytes(canonical_request, "request")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def derive_signing_key(secret: str, scope: Scope) -> bytes:
    """Derive the signing key for a scope (SigV4 task 3), cached."""
    return _signing_key(secret, scope.date, scope.region, scope.service)


def compute_signature(signing_key: bytes, string_to_sign: str) -> str:
    """Sign a string to sign with a derived key; lowercase hex (SigV4 task 4)."""
    message = _to_bytes(string_to_sign, "request")
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


@lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, _to_bytes(part, "scope"), hashlib.sha256).digest()
    return key


def _normalise_encoding(raw: str, *, safe: str, where: str) -> str:
    # Decode each %XX escape and encode every byte the one canonical way:
    # unreserved bytes bare, everything else %XX with upper-case hex. Raw
    # bytes outside `safe` are escaped because clients send them raw but
    # sign them encoded; a decoded "/" stays %2F since it is part of a key.
    data = _to_bytes(raw, where)
    parts = []
    position = 0
    for escape in _ESCAPE.finditer(data):
        if escape["bad"] is not None:
            raise errors.InvalidArgument(f"Malformed percent-encoding in the {where}.")
        parts.append(quote_from_bytes(data[position : escape.start()], safe=safe))
        parts.append(_encode_byte(int(escape["hex"], 16)))
        position = escape.end()
    parts.append(quote_from_bytes(data[position:], safe=safe))
    return "".join(parts)


def _to_bytes(text: str, where: str) -> bytes:
    # aiohttp decodes the path and header values as UTF-8 with
    # surrogateescape; encoding back the same way gives the bytes the client
    # signed, even those that are not UTF-8.
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise errors.InvalidArgument(f"The {where} holds invalid Unicode.") from exc


def _encode_byte(byte: int) -> str:
    return chr(byte) if byte in _UNRESERVED else f"%{byte:02X}"


def _canonical_headers(headers: Headers, signed_headers: Sequence[str]) -> str:
    # SigV4: every value of a signed header in the order received, trimmed,
    # inner runs of blanks collapsed, joined with ","; an absent signed header
    # canonicalises empty, which is what the client signed.
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)
    return "".join(
        f"{name}:{_canonical_value(received.get(name, []))}\n"
        for name in signed_headers
    )


def _canonical_value(values: list[str]) -> str:
    return ",".join(_BLANKS.sub(" ", value.strip(" \t")) for value in values)


# Parsing


def parse_auth(
    method: str, raw_path: str, raw_query: str, headers: Headers
) -> SignedRequestAuth:
    """Read the SigV4 signature a request carries, without verifying it.

    Raises :class:`MissingAuthentication` for an anonymous request and another
    :class:`errors.S3Error` for anything S3 would refuse before verifying.
    """
    params = _query_params(raw_query)
    authorization = _header_values(headers, "authorization")
    query_v4 = any(name in params for name in _QUERY_V4_NAMES)
    query_v2 = not query_v4 and any(name in params for name in _QUERY_V2_NAMES)
    if bool(authorization) + query_v4 + query_v2 > 1:
        raise errors.InvalidArgument(_BOTH_MECHANISMS)
    if authorization:
        return _parse_header_auth(authorization, params, headers)
    if query_v4:
        return _parse_query_auth(params, headers)
    if query_v2:
        raise errors.AccessDenied(_SIGV2_REFUSED)
    raise MissingAuthentication()


def _parse_header_auth(
    authorization: list[str], params: dict[str, list[str]], headers: Headers
) -> SignedRequestAuth:
    if len(authorization) > 1:
        raise errors.AuthorizationHeaderMalformed(
            "The request has more than one Authorization header."
        )
    fields = _authorization_fields(authorization[0])
    error = errors.AuthorizationHeaderMalformed
    access_key_id, scope = _parse_credential(fields["Credential"], error)
    return SignedRequestAuth(
        location="header",
        access_key_id=access_key_id,
        scope=scope,
        signed_headers=_parse_signed_headers(fields["SignedHeaders"], error),
        signature=_parse_signature(fields["Signature"], error),
        amz_date=_header_amz_date(headers),
        payload_hash=_header_payload_hash(headers),
        expires=None,
        security_token=_security_token(params, headers),
    )


def _authorization_fields(value: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in _authorization_rest(value).split(","):
        key, equals, item = part.strip().partition("=")
        if not equals or key not in _AUTHORIZATION_FIELDS:
            raise errors.AuthorizationHeaderMalformed(
                "The authorization header must hold exactly Credential=..., "
                "SignedHeaders=... and Signature=..., separated by commas."
            )
        if key in fields:
            raise errors.AuthorizationHeaderMalformed(
                f"The authorization header names {key} more than once."
            )
        fields[key] = item
    for key in _AUTHORIZATION_FIELDS:
        if key not in fields:
            raise errors.AuthorizationHeaderMalformed(
                f"The authorization header is missing {key}=."
            )
    return fields


def _authorization_rest(value: str) -> str:
    """Check the scheme of an Authorization value; return what follows it."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme == "AWS":
        raise errors.AccessDenied(_SIGV2_REFUSED)
    if scheme == _SIGV4A:
        raise errors.AccessDenied(_SIGV4A_REFUSED)
    if scheme != ALGORITHM:
        raise errors.AuthorizationHeaderMalformed(
            f"The authorization header must start with {ALGORITHM}."
        )
    return rest


def _parse_query_auth(
    params: dict[str, list[str]], headers: Headers
) -> SignedRequestAuth:
    error = errors.AuthorizationQueryParametersError
    algorithm = _one_param(params, "X-Amz-Algorithm")
    if algorithm == _SIGV4A:
        raise errors.AccessDenied(_SIGV4A_REFUSED)
    if algorithm != ALGORITHM:
        raise error(f'X-Amz-Algorithm only supports "{ALGORITHM}".')
    access_key_id, scope = _parse_credential(
        _one_param(params, "X-Amz-Credential"), error
    )
    signed_headers = _parse_signed_headers(
        _one_param(params, "X-Amz-SignedHeaders"), error
    )
    return SignedRequestAuth(
        location="query",
        access_key_id=access_key_id,
        scope=scope,
        signed_headers=signed_headers,
        signature=_parse_signature(_one_param(params, _SIGNATURE_PARAM), error),
        amz_date=_query_amz_date(_one_param(params, "X-Amz-Date")),
        payload_hash=_query_payload_hash(headers, signed_headers),
        expires=_parse_expires(_one_param(params, "X-Amz-Expires")),
        security_token=_security_token(params, headers),
    )


def _one_param(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name, [])
    if not values:
        raise errors.AuthorizationQueryParametersError(_QUERY_PARAMS_REQUIRED)
    if len(values) > 1:
        raise errors.AuthorizationQueryParametersError(
            f"The {name} parameter appears more than once."
        )
    return values[0]


def _parse_credential(value: str, error: type[errors.S3Error]) -> tuple[str, Scope]:
    parts = value.split("/")
    if (
        len(parts) != 5
        or parts[4] != "aws4_request"
        or not all(parts[:4])
        or not _SCOPE_DATE.fullmatch(parts[1])
    ):
        raise error(
            "The Credential is malformed; expecting "
            '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    return parts[0], Scope(date=parts[1], region=parts[2], service=parts[3])


def _parse_signed_headers(value: str, error: type[errors.S3Error]) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in names):
        raise error("SignedHeaders must list lower-case header names split by ';'.")
    # SigV4 task 1 lists signed headers sorted; anything else is not what a
    # client computed, and a repeated name would sign the same header twice.
    if any(first >= second for first, second in pairwise(names)):
        raise error("SignedHeaders must be sorted and list each header once.")
    return names


def _parse_signature(value: str, error: type[errors.S3Error]) -> str:
    if not _HEX64.fullmatch(value):
        raise error("The signature must be 64 lower-case hexadecimal characters.")
    return value


def _parse_expires(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise errors.AuthorizationQueryParametersError(
            "X-Amz-Expires should be a number."
        )
    # int() of a long run of digits is slow, and out of range anyway.
    expires = int(value) if len(value) <= 10 else MAX_EXPIRES + 1
    if not 1 <= expires <= MAX_EXPIRES:
        raise errors.AuthorizationQueryParametersError(
            f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds."
        )
    return expires


def _header_amz_date(headers: Headers) -> str:
    # S3 takes x-amz-date, and the Date header only when x-amz-date is absent.
    amz_date = _joined_header(headers, "x-amz-date")
    if amz_date is not None:
        if not _is_amz_date(amz_date):
            raise errors.AccessDenied(_NO_DATE)
        return amz_date
    http_date = _joined_header(headers, "date")
    if http_date is None:
        raise errors.AccessDenied(_NO_DATE)
    return _http_date_to_amz_date(http_date)


def _http_date_to_amz_date(value: str) -> str:
    try:
        moment = parsedate_to_datetime(value)
        amz_date = _as_utc(moment).strftime("%Y%m%dT%H%M%SZ")
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise errors.AccessDenied(_NO_DATE) from exc
    if not _is_amz_date(amz_date):  # a year before 1000 formats short
        raise errors.AccessDenied(_NO_DATE)
    return amz_date


def _query_amz_date(value: str) -> str:
    if not _is_amz_date(value):
        raise errors.AuthorizationQueryParametersError(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"."
        )
    return value


def _header_payload_hash(headers: Headers) -> str:
    value = _joined_header(headers, "x-amz-content-sha256")
    if value is None:
        raise errors.InvalidRequest(
            "Missing required header for this request: x-amz-content-sha256"
        )
    return _checked_payload_hash(value)


def _query_payload_hash(headers: Headers, signed_headers: Sequence[str]) -> str:
    value = _joined_header(headers, "x-amz-content-sha256")
    if value is None or "x-amz-content-sha256" not in signed_headers:
        return UNSIGNED_PAYLOAD
    return _checked_payload_hash(value)


def _checked_payload_hash(value: str) -> str:
    if value in PAYLOAD_MODES or _HEX64.fullmatch(value):
        return value
    raise errors.InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
        f"{STREAMING_UNSIGNED_TRAILER}, {STREAMING_PAYLOAD}, "
        f"{STREAMING_PAYLOAD_TRAILER} or a valid sha256 value."
    )


def _security_token(params: dict[str, list[str]], headers: Headers) -> str | None:
    header = _joined_header(headers, "x-amz-security-token")
    query = params.get(_TOKEN_PARAM, [])
    if len(query) > 1 or (query and header is not None and query[0] != header):
        raise errors.InvalidArgument(
            "The request carries more than one different security token."
        )
    return header if header is not None else next(iter(query), None)


def _query_params(raw_query: str) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for item in raw_query.split("&"):
        if item:
            name, _, value = item.partition("=")
            params.setdefault(unquote(name), []).append(unquote(value))
    return params


def _header_values(headers: Headers, name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def _joined_header(headers: Headers, name: str) -> str | None:
    # Joined as the canonical request joins them, so that what is checked
    # is exactly what was signed.
    values = _header_values(headers, name)
    return _canonical_value(values) if values else None


def _is_amz_date(value: str) -> bool:
    return _parse_amz_date(value) is not None


def _parse_amz_date(value: str) -> datetime | None:
    if not _AMZ_DATE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


# Verification


def verify_request(
    auth: SignedRequestAuth,
    secret: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    *,
    now: datetime,
    regions: Collection[str],
    max_skew: timedelta = timedelta(minutes=15),
) -> bytes:
    """Verify a parsed signature as S3 does; return the signing key.

    The checks run in S3's order: credential scope, time, signed headers and
    only then the signature itself. ``regions`` lists the accepted regions,
    the first being the one named in the error. A naive ``now`` is taken as
    UTC.
    """
    signed_at = _check_scope(auth, regions)
    _check_time(auth, signed_at, _as_utc(now), max_skew)
    _check_signed_headers(auth, headers)
    return verify_signature(auth, secret, method, raw_path, raw_query, headers)


def verify_signature(
    auth: SignedRequestAuth,
    secret: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
) -> bytes:
    """Compare the signature alone, in constant time; return the signing key.

    This is the last step of :func:`verify_request`, which callers want: it
    checks nothing about scope, time or which headers are signed.
    """
    omit = (_SIGNATURE_PARAM,) if auth.location == "query" else ()
    request = canonical_request(
        method,
        raw_path,
        raw_query,
        headers,
        auth.signed_headers,
        auth.payload_hash,
        omit_query=omit,
    )
    signing_key = derive_signing_key(secret, auth.scope)
    expected = compute_signature(
        signing_key, string_to_sign(auth.amz_date, auth.scope, request)
    )
    if not hmac.compare_digest(expected, auth.signature):
        raise errors.SignatureDoesNotMatch()
    return signing_key


def _check_scope(auth: SignedRequestAuth, regions: Collection[str]) -> datetime:
    """Check service, region and date of the scope; return the signing time."""
    error = _malformed(auth)
    if auth.scope.service != "s3":
        raise error(
            f"Incorrect service '{_echo(auth.scope.service)}' in the credential "
            "scope; this endpoint belongs to 's3'."
        )
    if auth.scope.region not in regions:
        expected = next(iter(regions), "")
        raise error(
            f"The region '{_echo(auth.scope.region)}' is wrong; expecting '{expected}'",
            extra={"Region": expected},
        )
    signed_at = _parse_amz_date(auth.amz_date)
    if signed_at is None:
        raise error("X-Amz-Date must be in the ISO8601 format yyyyMMdd'T'HHmmss'Z'.")
    if auth.scope.date != auth.amz_date[:8]:
        raise error("Invalid credential date. Date is not the same as X-Amz-Date.")
    return signed_at


def _check_time(
    auth: SignedRequestAuth, signed_at: datetime, now: datetime, max_skew: timedelta
) -> None:
    if auth.location == "header":
        if abs(now - signed_at) > max_skew:
            raise errors.RequestTimeTooSkewed(
                extra={
                    "RequestTime": auth.amz_date,
                    "ServerTime": _iso_time(now),
                    "MaxAllowedSkewMilliseconds": str(max_skew // _MILLISECOND),
                }
            )
        return
    _check_presigned_window(auth, signed_at, now, max_skew)


def _check_presigned_window(
    auth: SignedRequestAuth, signed_at: datetime, now: datetime, max_skew: timedelta
) -> None:
    # A presigned URL is valid from its X-Amz-Date (less the allowed skew)
    # until X-Amz-Expires seconds later; the 15-minute skew rule of header
    # auth does not apply to it.
    if auth.expires is None or not 1 <= auth.expires <= MAX_EXPIRES:
        raise errors.AuthorizationQueryParametersError(
            f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds."
        )
    if signed_at - now > max_skew:
        raise errors.AccessDenied("Request is not valid yet")
    expires_at = signed_at + timedelta(seconds=auth.expires)
    if now > expires_at:
        raise errors.AccessDenied(
            "Request has expired",
            extra={
                "X-Amz-Expires": str(auth.expires),
                "Expires": _iso_time(expires_at),
                "ServerTime": _iso_time(now),
            },
        )


def _check_signed_headers(auth: SignedRequestAuth, headers: Headers) -> None:
    # S3 requires host, every x-amz-* header sent, and (header auth) the
    # date header in use to be signed, so that none can be swapped in transit.
    present = {name.lower() for name, _ in headers}
    required = {"host"} | {name for name in present if name.startswith("x-amz-")}
    if auth.location == "header" and "x-amz-date" not in present:
        required.add("date")
    missing = sorted(required.difference(auth.signed_headers))
    if missing:
        raise errors.AccessDenied(
            "There were headers present in the request which were not signed",
            extra={"HeadersNotSigned": ", ".join(missing)},
        )


def _echo(value: str) -> str:
    # Request text goes into the error document only when it is short and
    # plain: a control character would make the XML ill-formed.
    return value if _ECHOABLE.fullmatch(value) else "(not shown)"


def _malformed(auth: SignedRequestAuth) -> type[errors.S3Error]:
    if auth.location == "header":
        return errors.AuthorizationHeaderMalformed
    return errors.AuthorizationQueryParametersError


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Signing


def sign_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    *,
    access_key_id: str,
    secret: str,
    region: str,
    payload_hash: str,
    now: datetime,
    service: str = "s3",
) -> list[tuple[str, str]]:
    """Sign a request with header auth; return the headers to add to it.

    Every header given is signed, plus the ``x-amz-date`` and
    ``x-amz-content-sha256`` returned with ``authorization``. The headers
    must include ``host`` and none of the three returned ones.
    """
    names = {name.lower() for name, _ in headers}
    if "host" not in names:
        raise ValueError("sign_request needs the host header")
    added_names = {"authorization", "x-amz-date", "x-amz-content-sha256"}
    if names & added_names:
        raise ValueError(f"sign_request adds {sorted(added_names)} itself")
    amz_date = _as_utc(now).strftime("%Y%m%dT%H%M%SZ")
    added = [("x-amz-date", amz_date), ("x-amz-content-sha256", payload_hash)]
    signed = sorted(names | {"x-amz-date", "x-amz-content-sha256"})
    scope = Scope(date=amz_date[:8], region=region, service=service)
    request = canonical_request(
        method, raw_path, raw_query, [*headers, *added], signed, payload_hash
    )
    signature = compute_signature(
        derive_signing_key(secret, scope), string_to_sign(amz_date, scope, request)
    )
    authorization = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return [*added, ("authorization", authorization)]
