"""Configuration: one frozen, typed object, loaded and validated here.

The YAML file is read first; then every field can be overridden from the
environment as ``S3AP_<SECTION>__<FIELD>`` (for example
``S3AP_UPSTREAM__ENDPOINT``); then every secret field ``x`` may instead be read
from the file named by ``x_file`` (a Kubernetes secret mount). All problems are
collected and reported together, each naming its field.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .policy import PolicySet
from .tokens import TokenSettings

ENV_PREFIX = "S3AP_"


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def secret(default: Any = None) -> Any:
    """A field that may also be given as ``<name>_file``."""
    return field(default=default, metadata={"secret": True}, repr=False)


@dataclass(frozen=True)
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    path_prefix: str = ""
    virtual_host_base: str | None = None
    max_field_size: int = 65536
    max_line_size: int = 65536
    client_idle_timeout_seconds: float = 20.0
    max_requests_per_caller: int = 64
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    def problems(self, name: str) -> list[str]:
        found = _port_problems(f"{name}.port", self.port)
        prefix = self.path_prefix
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            found.append(
                f"{name}.path_prefix: must start with '/' and not end with '/'"
            )
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            found.append(f"{name}.tls_cert_file: set together with tls_key_file")
        if self.max_requests_per_caller < 1:
            found.append(f"{name}.max_requests_per_caller: must be at least 1")
        if self.client_idle_timeout_seconds <= 0:
            found.append(f"{name}.client_idle_timeout_seconds: must be positive")
        for size_name in ("max_field_size", "max_line_size"):
            if getattr(self, size_name) < 8190:
                found.append(f"{name}.{size_name}: must be at least 8190")
        return found


@dataclass(frozen=True)
class AdminConfig:
    host: str = "127.0.0.1"
    port: int = 9090
    enabled: bool = True

    def problems(self, name: str) -> list[str]:
        return _port_problems(f"{name}.port", self.port)


@dataclass(frozen=True)
class UpstreamConfig:
    endpoint: str = ""
    region: str = "us-east-1"
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = secret("")
    addressing: str = "path"
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 60.0
    max_connections: int = 256
    ca_file: str | None = None
    checksum_trailers: str = "forward"

    def problems(self, name: str) -> list[str]:
        found = []
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found.append(f"{name}.endpoint: must be an http:// or https:// URL")
        elif parts.path not in ("", "/") or parts.query:
            found.append(f"{name}.endpoint: must have no path or query")
        if not self.access_key_id:
            found.append(f"{name}.access_key_id: required")
        if not self.secret_access_key:
            found.append(f"{name}.secret_access_key: required")
        if self.addressing not in ("path", "virtual"):
            found.append(f"{name}.addressing: must be 'path' or 'virtual'")
        for timeout in ("connect_timeout_seconds", "read_timeout_seconds"):
            if getattr(self, timeout) <= 0:
                found.append(f"{name}.{timeout}: must be positive")
        if self.checksum_trailers not in ("forward", "decode"):
            found.append(f"{name}.checksum_trailers: must be 'forward' or 'decode'")
        if self.max_connections < 1:
            found.append(f"{name}.max_connections: must be at least 1")
        return found


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str = ""
    secret_access_key: str = secret("")

    def problems(self, name: str) -> list[str]:
        found = []
        if not self.access_key_id:
            found.append(f"{name}.access_key_id: required")
        if len(self.secret_access_key) < 16:
            found.append(f"{name}.secret_access_key: must be at least 16 characters")
        return found


@dataclass(frozen=True)
class AuthConfig:
    regions: tuple[str, ...] = ("us-east-1",)
    max_clock_skew_seconds: int = 900
    keys: tuple[AccessKey, ...] = ()

    def problems(self, name: str) -> list[str]:
        found = []
        if not self.regions:
            found.append(f"{name}.regions: list at least one region")
        if not 0 < self.max_clock_skew_seconds <= 3600:
            found.append(f"{name}.max_clock_skew_seconds: must be 1 to 3600")
        for index, key in enumerate(self.keys):
            found += key.problems(f"{name}.keys[{index}]")
        ids = [key.access_key_id for key in self.keys]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            found.append(f"{name}.keys: access key id {duplicate!r} is listed twice")
        return found


@dataclass(frozen=True)
class JwtConfig:
    """How the session caller's JWT is verified (see :mod:`proxy.tokens`)."""

    hs256_secrets: tuple[str, ...] = secret(())
    jwks_url: str | None = None
    public_keys: tuple[str, ...] = ()
    public_key_files: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    issuer: str | None = None
    leeway_seconds: int = 30
    max_token_bytes: int = 16384
    jwks_refresh_seconds: float = 300
    jwks_min_refetch_seconds: float = 30
    jwks_timeout_seconds: float = 5.0
    cache_size: int = 10000

    def token_settings(self) -> TokenSettings:
        values = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(TokenSettings)
            if f.name != "public_keys"
        }
        keys = self.public_keys + tuple(_read_text(p) for p in self.public_key_files)
        return TokenSettings(public_keys=keys, **values)

    def problems(self, name: str) -> list[str]:
        unreadable = [
            f"{name}.public_key_files[{index}]: cannot be read"
            for index, path in enumerate(self.public_key_files)
            if not os.access(path, os.R_OK)
        ]
        if unreadable:
            return unreadable
        return [f"{name}: {problem}" for problem in self.token_settings().problems()]


@dataclass(frozen=True)
class SessionConfig:
    """Session callers: project ref + anon key signatures, a JWT as token.

    Sessions are off while ``access_key_ids`` is empty.
    """

    access_key_ids: tuple[str, ...] = ()
    secrets: tuple[str, ...] = secret(())
    full_access_roles: tuple[str, ...] = ("service_role",)
    allow_anonymous: bool = False
    anonymous_role: str = "anon"
    jwt: JwtConfig = JwtConfig()

    @property
    def enabled(self) -> bool:
        return bool(self.access_key_ids)

    def problems(self, name: str) -> list[str]:
        if not self.enabled:
            return []
        found = []
        if not self.secrets:
            found.append(f"{name}.secrets: list the anon key (and any other)")
        return found + self.jwt.problems(f"{name}.jwt")


@dataclass(frozen=True)
class ClaimHeadersConfig:
    """Headers that tell the store who the caller is.

    Every incoming header whose name starts with ``prefix`` is removed before
    these are added, so every name here must start with it. An empty name
    leaves that header out.
    """

    prefix: str = "x-s3proxy-"
    subject: str = "x-s3proxy-sub"
    role: str = "x-s3proxy-role"
    auth_mode: str = "x-s3proxy-auth-mode"
    access_key_id: str = "x-s3proxy-access-key-id"
    claims: str = "x-s3proxy-claims"
    forwarded_claims: tuple[str, ...] = ("sub", "role", "email", "aud", "exp")

    def problems(self, name: str) -> list[str]:
        if len(self.prefix) < 3 or not _is_token(self.prefix):
            return [f"{name}.prefix: must be a header name prefix like x-user-"]
        return [
            f"{name}.{field_name}: must start with the prefix {self.prefix!r}"
            for field_name, header in self.headers().items()
            if not _is_token(header)
            or not header.lower().startswith(self.prefix.lower())
        ]

    def headers(self) -> dict[str, str]:
        """The configured header names by what they carry, empty ones left out."""
        names = ("subject", "role", "auth_mode", "access_key_id", "claims")
        return {name: getattr(self, name) for name in names if getattr(self, name)}


def _is_token(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_" for c in name)


@dataclass(frozen=True)
class AuthorizationConfig:
    """IAM-style policies for session callers (see :mod:`proxy.policy`).

    ``policies`` maps a name to a policy document; ``attachments`` give them
    to roles and claim matches. ``policy_file`` is a YAML or JSON file with
    the same two keys, merged with what is written here.
    """

    policies: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[dict[str, Any], ...] = ()
    policy_file: str | None = None

    def problems(self, name: str) -> list[str]:
        found = PolicySet.validate(self.policies, self.attachments)
        return [f"{name}: {problem}" for problem in found]


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"
    access_log: bool = True

    def problems(self, name: str) -> list[str]:
        if self.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            return [f"{name}.level: must be debug, info, warning or error"]
        return []


@dataclass(frozen=True)
class Config:
    listen: ListenConfig = ListenConfig()
    admin: AdminConfig = AdminConfig()
    upstream: UpstreamConfig = UpstreamConfig()
    auth: AuthConfig = AuthConfig()
    session: SessionConfig = SessionConfig()
    claim_headers: ClaimHeadersConfig = ClaimHeadersConfig()
    authorization: AuthorizationConfig = AuthorizationConfig()
    logging: LoggingConfig = LoggingConfig()

    def problems(self, name: str = "") -> list[str]:
        found = []
        for section in dataclasses.fields(self):
            found += getattr(self, section.name).problems(section.name)
        if (
            self.admin.enabled
            and self.admin.port != 0
            and (self.admin.host, self.admin.port)
            == (self.listen.host, self.listen.port)
        ):
            found.append("admin.port: must differ from listen.port")
        key_ids = {key.access_key_id for key in self.auth.keys}
        for shared in sorted(key_ids & set(self.session.access_key_ids)):
            found.append(f"session.access_key_ids: {shared!r} is also a full key")
        return found


def _port_problems(name: str, port: int) -> list[str]:
    return [] if 0 <= port <= 65535 else [f"{name}: must be 0 to 65535"]


def load_config(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, override from the environment, type-check and validate."""
    problems: list[str] = []
    raw = _read_yaml(path, problems)
    if problems:
        raise ConfigError(problems)
    _apply_environment(raw, os.environ if environ is None else environ, problems)
    config: Config = _build(Config, raw, "", problems)
    authorization = with_policy_file(config.authorization, problems)
    config = dataclasses.replace(config, authorization=authorization)
    problems += config.problems()
    if problems:
        raise ConfigError(problems)
    return config


def with_policy_file(
    section: AuthorizationConfig, problems: list[str]
) -> AuthorizationConfig:
    """Merge the policies and attachments of ``policy_file`` into the section."""
    if not section.policy_file:
        return section
    document = _read_yaml(section.policy_file, problems)
    unknown = set(document) - {"policies", "attachments"}
    if unknown:
        problems.append(f"authorization.policy_file: unknown keys {sorted(unknown)}")
    policies = document.get("policies") or {}
    attachments = document.get("attachments") or []
    if not isinstance(policies, dict) or not isinstance(attachments, list):
        problems.append(
            "authorization.policy_file: policies must be a mapping, attachments a list"
        )
        return section
    return dataclasses.replace(
        section,
        policies={**section.policies, **policies},
        attachments=(*section.attachments, *attachments),
    )


def _read_yaml(path: str | os.PathLike[str] | None, problems: list[str]) -> Any:
    if path is None:
        return {}
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        problems.append(f"{path}: cannot be read ({error.strerror})")
        return {}
    except yaml.YAMLError as error:
        # The message quotes the offending line, which may hold a secret.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(f"{path}: is not valid YAML{where}")
        return {}
    if document is None:
        return {}
    if not isinstance(document, dict):
        problems.append(f"{path}: the top level must be a mapping")
        return {}
    return document


def _apply_environment(
    raw: dict[str, Any], environ: Mapping[str, str], problems: list[str]
) -> None:
    """Set ``S3AP_A__B=value`` as ``raw['a']['b'] = value``."""
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        target = raw
        for part in path[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(f"{name}: {part} is not a section")
                break
            target = child
        else:
            target[path[-1]] = value


def _build(cls: type[Any], raw: Any, name: str, problems: list[str]) -> Any:
    """Make a ``cls`` from a mapping, checking names and types."""
    if not isinstance(raw, dict):
        problems.append(f"{name or 'configuration'}: must be a mapping")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key in raw:
        base = key.removesuffix("_file") if isinstance(key, str) else key
        is_file_key = key != base and fields.get(base) is not None
        if key not in fields and not (is_file_key and fields[base].metadata):
            problems.append(f"{_join(name, str(key))}: unknown field")
    for field_name, spec in fields.items():
        path = _join(name, field_name)
        value = _field_value(raw, field_name, spec, path, problems)
        if value is not None:
            values[field_name] = _coerce(hints[field_name], value, path, problems)
    return cls(**values)


def _field_value(
    raw: dict[str, Any],
    field_name: str,
    spec: dataclasses.Field[Any],
    path: str,
    problems: list[str],
) -> Any:
    file_key = f"{field_name}_file"
    if not spec.metadata.get("secret") or raw.get(file_key) is None:
        return raw.get(field_name)
    if raw.get(field_name) not in (None, ""):
        problems.append(f"{path}: set either {field_name} or {file_key}, not both")
        return None
    try:
        text = _read_text(str(raw[file_key]))
    except OSError as error:
        problems.append(f"{path}_file: cannot be read ({error.strerror})")
        return None
    if isinstance(spec.default, tuple):
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text


def _coerce(hint: Any, value: Any, path: str, problems: list[str]) -> Any:
    """Convert ``value`` to the type ``hint`` names, or record a problem."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = next(arg for arg in args if arg is not type(None))
        return None if value is None else _coerce(inner, value, path, problems)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type[Any], hint), value, path, problems)
    if origin is tuple:
        return _coerce_tuple(args[0], value, path, problems)
    if origin is dict:
        if isinstance(value, str):
            value = _parse_yaml_value(value, path, problems)
        if not isinstance(value, dict):
            problems.append(f"{path}: must be a mapping")
            return {}
        return value
    return _coerce_scalar(hint, value, path, problems)


def _coerce_tuple(item: Any, value: Any, path: str, problems: list[str]) -> Any:
    if isinstance(value, str):
        value = _parse_yaml_value(value, path, problems)
        value = [value] if isinstance(value, str) else value
    if not isinstance(value, list):
        problems.append(f"{path}: must be a list")
        return ()
    return tuple(
        _coerce(item, element, f"{path}[{index}]", problems)
        for index, element in enumerate(value)
    )


def _parse_yaml_value(text: str, path: str, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        problems.append(f"{path}: is not valid YAML")
        return None


def _coerce_scalar(hint: Any, value: Any, path: str, problems: list[str]) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "yes", "on", "1"):
            return True
        if str(value).lower() in ("false", "no", "off", "0"):
            return False
        problems.append(f"{path}: must be true or false")
        return False
    if hint in (int, float):
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            number = hint(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        except (TypeError, ValueError, OverflowError):
            problems.append(f"{path}: must be a number")
            return hint()
    if not isinstance(value, str):
        # YAML reads 0x1f or 1e5 as numbers: a key or secret would change.
        problems.append(f"{path}: must be a string (quote it)")
        return ""
    return value


def _read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").strip()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
