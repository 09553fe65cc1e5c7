"""``s3-auth-proxy explain``: how the policies decide one request.

Given claims (or a token, read without verification) and a method and URL, it
classifies the request exactly as the proxy does and asks the policies about
every action the request needs, printing the statement that decided each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
from multidict import CIMultiDict

from . import addressing
from .authorization import Authorizer
from .config import Config
from .identity import AuthMode, Principal
from .operations import Operation, classify
from .policy import Decision, PolicySet

PER_REQUEST_NOTES = {
    "DeleteObjects": "each key of the body is decided on its own: s3:DeleteObject "
    "(s3:DeleteObjectVersion with a VersionId) on arn:aws:s3:::bucket/key",
    "ListBuckets": "only buckets the caller can use at all are listed",
}


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    decision: Decision


@dataclass
class Report:
    operation: Operation
    policies: tuple[str, ...]
    full_access: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        if self.full_access or self.operation.name == "DeleteObjects":
            return True
        return bool(self.checks) and all(c.decision.allowed for c in self.checks)

    def text(self) -> str:
        operation = self.operation
        lines = [
            f"operation  {operation.name}",
            f"bucket     {operation.bucket or '-'}",
            f"key        {operation.key if operation.key is not None else '-'}",
            f"policies   {', '.join(self.policies) or '(none attached)'}",
        ]
        lines += [f"context    {k}={v}" for k, v in operation.condition_context.items()]
        if self.full_access:
            lines.append("decision   ALLOW: a full-access role bypasses policies")
            return "\n".join(lines)
        if operation.action is None:
            lines.append("decision   DENY: session callers may not make this request")
        for check in self.checks:
            verdict = "ALLOW" if check.decision.allowed else "DENY"
            lines.append(f"action     {check.action} on {check.resource}")
            lines.append(f"decision   {verdict}: {check.decision.reason}")
        if operation.name in PER_REQUEST_NOTES:
            lines.append(f"note       {PER_REQUEST_NOTES[operation.name]}")
        return "\n".join(lines)


def explain(
    config: Config,
    method: str,
    url: str,
    headers: Sequence[str],
    *,
    claims: str | None = None,
    token: str | None = None,
) -> Report:
    """Classify the request and decide each action it needs."""
    principal = _principal(config, _claims(claims, token))
    operation = _operation(config, method.upper(), url, _headers(headers))
    section = config.authorization
    policies = PolicySet.from_config(section.policies, section.attachments)
    report = Report(
        operation, policies.policies_for(principal.claims), principal.full_access
    )
    authorizer = Authorizer(policies)
    if operation.name == "DeleteObjects":
        return report
    resource, context = operation.resource_arn, operation.condition_context
    needed = [(action, resource, context) for action in operation.required_actions]
    if operation.copy_source_arn and operation.copy_source_action:
        needed.append((operation.copy_source_action, operation.copy_source_arn, {}))
    for action, arn, facts in needed:
        decision = authorizer.decide(principal, action, arn, facts)
        report.checks.append(Check(action, arn, decision))
    return report


def _claims(claims: str | None, token: str | None) -> Mapping[str, Any]:
    try:
        if token is not None:
            decoded: dict[str, Any] = jwt.decode(
                token, options={"verify_signature": False}
            )
            return decoded
        parsed = json.loads(claims or "{}")
    except (jwt.PyJWTError, json.JSONDecodeError) as error:
        raise ValueError(f"the claims cannot be read: {error}") from error
    if not isinstance(parsed, dict):
        raise ValueError("the claims must be a JSON object")
    return parsed


def _principal(config: Config, claims: Mapping[str, Any]) -> Principal:
    role = claims.get("role")
    full_access = isinstance(role, str) and role in config.session.full_access_roles
    return Principal(AuthMode.SESSION, "", full_access, claims)


def _headers(lines: Sequence[str]) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"a header is 'Name: value', not {line!r}")
        headers.add(name.strip(), value.strip())
    return headers


def _operation(
    config: Config, method: str, url: str, headers: CIMultiDict[str]
) -> Operation:
    parts = urlsplit(url)
    listen = config.listen
    target = addressing.target_of(
        parts.path, parts.netloc, listen.path_prefix, listen.virtual_host_base
    )
    query = addressing.query_pairs(parts.query)
    return classify(method, target.bucket, target.key, query, headers)
