"""Configuration: YAML, environment overrides, secret files, every problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.config import ConfigError, load_config
from proxy.demo import home_folders_policy

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {
    "upstream": {
        "endpoint": "http://127.0.0.1:9000",
        "access_key_id": "store",
        "secret_access_key": "store-secret",
    }
}


def write(tmp_path: Path, document: Any, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def problems_of(tmp_path: Path, document: Any, **environ: str) -> list[str]:
    with pytest.raises(ConfigError) as invalid:
        load_config(write(tmp_path, document), environ)
    return invalid.value.problems


def test_minimal_configuration_and_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), {})
    assert config.upstream.endpoint == "http://127.0.0.1:9000"
    assert config.listen.port == 8080
    assert config.auth.max_clock_skew_seconds == 900
    assert not config.session.enabled


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, MINIMAL),
        {
            "S3AP_UPSTREAM__ENDPOINT": "https://store.internal:443",
            "S3AP_LISTEN__PORT": "9999",
            "S3AP_AUTH__REGIONS": "[eu-west-1, us-east-1]",
            "S3AP_LOGGING__ACCESS_LOG": "false",
            "OTHER": "ignored",
        },
    )
    assert config.upstream.endpoint == "https://store.internal:443"
    assert config.listen.port == 9999
    assert config.auth.regions == ("eu-west-1", "us-east-1")
    assert config.logging.access_log is False


def test_environment_alone_is_enough() -> None:
    config = load_config(
        None,
        {
            "S3AP_UPSTREAM__ENDPOINT": "http://127.0.0.1:9000",
            "S3AP_UPSTREAM__ACCESS_KEY_ID": "store",
            "S3AP_UPSTREAM__SECRET_ACCESS_KEY": "s",
            "S3AP_AUTH__KEYS": "[{access_key_id: AKIA1, secret_access_key: "
            "0123456789abcdefghij}]",
        },
    )
    assert config.auth.keys[0].access_key_id == "AKIA1"


def test_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "upstream").write_text("from-a-file\n")
    (tmp_path / "anon").write_text("anon-key-one\nanon-key-two\n")
    (tmp_path / "jwt").write_text("j" * 40 + "\n")
    document = {
        "upstream": {
            **MINIMAL["upstream"],
            "secret_access_key": None,
            "secret_access_key_file": str(tmp_path / "upstream"),
        },
        "session": {
            "access_key_ids": ["ref"],
            "secrets_file": str(tmp_path / "anon"),
            "jwt": {"hs256_secrets_file": str(tmp_path / "jwt")},
        },
    }
    config = load_config(write(tmp_path, document), {})
    assert config.upstream.secret_access_key == "from-a-file"
    assert config.session.secrets == ("anon-key-one", "anon-key-two")
    assert config.session.jwt.hs256_secrets == ("j" * 40,)
    assert "from-a-file" not in repr(config)


def test_every_problem_is_reported_with_its_field(tmp_path: Path) -> None:
    document = {
        "listen": {"port": 70000, "path_prefix": "no-slash", "tls_cert_file": "c"},
        "upstream": {"endpoint": "ftp://x", "addressing": "sideways"},
        "auth": {"keys": [{"access_key_id": "", "secret_access_key": "short"}]},
        "session": {"access_key_ids": ["ref"]},
        "claim_headers": {"subject": "x-other-sub"},
        "bogus": 1,
    }
    found = "\n".join(problems_of(tmp_path, document))
    for field in (
        "listen.port",
        "listen.path_prefix",
        "listen.tls_cert_file",
        "upstream.endpoint",
        "upstream.access_key_id",
        "upstream.addressing",
        "auth.keys[0].access_key_id",
        "auth.keys[0].secret_access_key",
        "session.secrets",
        "session.jwt",
        "claim_headers.subject",
        "bogus",
    ):
        assert field in found, field


def test_wrong_types(tmp_path: Path) -> None:
    document = {**MINIMAL, "listen": {"port": "eighty"}, "admin": {"enabled": "maybe"}}
    found = problems_of(tmp_path, document)
    assert "listen.port: must be a number" in found
    assert "admin.enabled: must be true or false" in found


def test_both_secret_and_file(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("x")
    upstream = {**MINIMAL["upstream"], "secret_access_key_file": str(tmp_path / "s")}
    found = problems_of(tmp_path, {"upstream": upstream})
    assert any("not both" in problem for problem in found)


def test_invalid_policies_are_reported(tmp_path: Path) -> None:
    document = {
        **MINIMAL,
        "authorization": {
            "policies": {"bad": {"Statement": [{"Effect": "Perhaps"}]}},
            "attachments": [{"roles": ["authenticated"], "policies": ["missing"]}],
        },
    }
    found = "\n".join(problems_of(tmp_path, document))
    assert "authorization:" in found and "bad" in found and "missing" in found


def test_example_configuration_is_valid_and_documents_every_field(
    tmp_path: Path,
) -> None:
    example = REPO / "config.example.yaml"
    secrets = {}
    for name, text in (
        ("UPSTREAM__SECRET_ACCESS_KEY", "s"),
        ("SESSION__SECRETS", "a"),
        ("SESSION__JWT__HS256_SECRETS", "j" * 40),
        ("AUTH__KEYS", ""),
    ):
        (tmp_path / name).write_text(text)
        secrets[f"S3AP_{name}_FILE"] = str(tmp_path / name)
    secrets["S3AP_AUTH__KEYS"] = (
        "[{access_key_id: AKIAEXAMPLESERVICE01, secret_access_key: "
        "0123456789abcdef0123}]"
    )
    del secrets["S3AP_AUTH__KEYS_FILE"]
    config = load_config(example, secrets)
    text = example.read_text()
    for section in (
        "listen",
        "admin",
        "upstream",
        "auth",
        "session",
        "claim_headers",
        "authorization",
        "logging",
    ):
        assert f"\n{section}:" in text, section
        for name in type(getattr(config, section)).__dataclass_fields__:
            assert name in text, f"{section}.{name} is not documented"


def test_example_policy_is_the_shipped_policy() -> None:
    example = yaml.safe_load((REPO / "config.example.yaml").read_text())
    shipped = home_folders_policy()
    assert example["authorization"]["policies"] == shipped["policies"]
    assert example["authorization"]["attachments"] == shipped["attachments"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_check_config_command(tmp_path: Path) -> None:
    good = run_cli("check-config", str(write(tmp_path, MINIMAL)))
    assert (good.returncode, good.stdout.strip().endswith("valid")) == (0, True)
    bad = run_cli("check-config", str(write(tmp_path, {"listen": {"port": -1}})))
    assert bad.returncode == 1
    assert "config: listen.port" in bad.stderr
    assert "config: upstream.endpoint" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_explain_command(tmp_path: Path) -> None:
    policies = yaml.safe_load((REPO / "config.example.yaml").read_text())
    example = str(
        write(tmp_path, {**MINIMAL, "authorization": policies["authorization"]})
    )
    own = run_cli(
        "explain",
        "--config",
        example,
        "--claims",
        '{"sub": "u1", "role": "authenticated"}',
        "GET",
        "/user-files/u1/photo.png",
    )
    assert own.returncode == 0, own.stderr
    assert "s3:GetObject on arn:aws:s3:::user-files/u1/photo.png" in own.stdout
    assert "ALLOW: allowed by home-folder/ReadWriteOwnFolder" in own.stdout
    other = run_cli(
        "explain",
        "--config",
        example,
        "--claims",
        '{"sub": "u1", "role": "authenticated"}',
        "PUT",
        "/user-files/u2/photo.png",
        "--header",
        "x-amz-copy-source: /user-files/u1/a",
    )
    assert other.returncode == 1
    assert "DENY: no statement allowed it" in other.stdout
    assert "CopyObject" in other.stdout


def test_numbers_must_be_finite(tmp_path: Path) -> None:
    document = {**MINIMAL, "listen": {"client_idle_timeout_seconds": float("nan")}}
    found = problems_of(tmp_path, document)
    assert "listen.client_idle_timeout_seconds: must be a number" in found


def test_a_yaml_error_does_not_echo_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text('upstream:\n  secret_access_key: "SUPERSECRETVALUE123\n  x: [\n')
    with pytest.raises(ConfigError) as invalid:
        load_config(path, {})
    assert len(invalid.value.problems) == 1
    assert "SUPERSECRET" not in str(invalid.value)
    assert "line" in invalid.value.problems[0]


def test_secrets_that_yaml_reads_as_numbers_must_be_quoted(tmp_path: Path) -> None:
    path = tmp_path / "hex.yaml"
    path.write_text(
        "upstream:\n  endpoint: http://127.0.0.1:9000\n  access_key_id: store\n"
        "  secret_access_key: 0x1234567890abcdef\n"
    )
    with pytest.raises(ConfigError) as invalid:
        load_config(path, {})
    assert "upstream.secret_access_key: must be a string (quote it)" in (
        invalid.value.problems
    )
    assert "1311768467294899695" not in str(invalid.value)


def test_both_listeners_may_take_any_free_port(tmp_path: Path) -> None:
    document = {**MINIMAL, "listen": {"port": 0}, "admin": {"port": 0}}
    assert load_config(write(tmp_path, document), {}).admin.port == 0
