"""The S3 errors that the proxy answers with.

Every refusal the proxy makes is an :class:`S3Error`. Each subclass carries the
S3 error code as its name and the HTTP status that S3 uses for that code, so
that any SDK shows its user the error it would get from S3 itself. Errors
raised by libraries (PyJWT, aiohttp, the XML parser) are translated into one of
these at the one place that calls the library, with the original chained.

Messages never contain a secret, a signature or a token.
"""

from __future__ import annotations

from typing import Any, ClassVar
from xml.sax.saxutils import escape


class S3Error(Exception):
    """A refusal that becomes an S3 XML error response.

    A direct subclass is named after its S3 error code; a subclass of one of
    those (a more specific refusal) answers with its parent's code.
    """

    code: ClassVar[str] = "InternalError"
    status = 400
    default_message = "The request could not be handled."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if S3Error in cls.__bases__ and "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(
        self,
        message: str | None = None,
        *,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.extra = dict(extra or {})
        super().__init__(self.message)

    def to_xml(self, resource: str, request_id: str) -> bytes:
        """Render the error document S3 returns, ``<Error>`` at its root."""
        fields = {"Code": self.code, "Message": self.message, **self.extra}
        fields |= {"Resource": resource, "RequestId": request_id}
        body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
        document = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'
        return document.encode()


# 400 Bad Request


class AuthorizationHeaderMalformed(S3Error):
    default_message = "The authorization header is malformed."


class AuthorizationQueryParametersError(S3Error):
    default_message = "The presigned URL's authentication parameters are malformed."


class XAmzContentSHA256Mismatch(S3Error):
    default_message = (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


class BadDigest(S3Error):
    default_message = "The checksum of the body does not match the one sent."


class InvalidDigest(S3Error):
    default_message = "The Content-MD5 or checksum value is not valid."


class IncompleteBody(S3Error):
    default_message = "The request body ended before the length the request declared."


class InvalidArgument(S3Error):
    default_message = "An argument of the request is not valid."


class InvalidRequest(S3Error):
    default_message = "The request is not valid."


class InvalidBucketName(S3Error):
    default_message = "The bucket name is not valid."


class MalformedXML(S3Error):
    default_message = "The XML body is not well formed or does not match the schema."


class ExpiredToken(S3Error):
    default_message = "The provided token has expired."


class InvalidToken(S3Error):
    default_message = "The provided token is malformed or otherwise invalid."


class RequestTimeout(S3Error):
    default_message = (
        "Your socket connection to the server was not read from or written to "
        "within the timeout period."
    )


class MaxMessageLengthExceeded(S3Error):
    default_message = "The request body is larger than the proxy accepts here."


# 403 Forbidden


class AccessDenied(S3Error):
    status = 403
    default_message = "Access Denied"


class InvalidAccessKeyId(S3Error):
    status = 403
    default_message = "The access key Id you provided does not exist in our records."


class SignatureDoesNotMatch(S3Error):
    status = 403
    default_message = (
        "The request signature we calculated does not match the signature you "
        "provided. Check your key and signing method."
    )


class RequestTimeTooSkewed(S3Error):
    status = 403
    default_message = (
        "The difference between the request time and the current time is too large."
    )


# Other statuses


class MissingContentLength(S3Error):
    status = 411
    default_message = "You must provide the Content-Length HTTP header."


class MethodNotAllowed(S3Error):
    status = 405
    default_message = "The specified method is not allowed against this resource."


class NotImplemented(S3Error):
    status = 501
    default_message = "A header or operation you provided is not implemented."


class InternalError(S3Error):
    status = 500
    default_message = "We encountered an internal error. Please try again."


class BadGateway(S3Error):
    status = 502
    default_message = "The upstream store answered with something that is not HTTP."


class SlowDown(S3Error):
    status = 503
    default_message = "Please reduce your request rate."


class ServiceUnavailable(S3Error):
    status = 503
    default_message = "The upstream store cannot be reached. Please try again."


class GatewayTimeout(S3Error):
    status = 504
    default_message = "The upstream store did not answer in time."
