"""The `mailproviders` command, run as a real subprocess with a real environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SECRET = "cli-s3cret-pw%@:"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMAIL_", "DEFAULT_FROM", "SERVER_EMAIL", "ADMINS", "MANAGERS"))
    }
    return subprocess.run(
        [sys.executable, "-m", "mailproviders", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd or Path.cwd(),
        timeout=60,
        check=False,
    )


def test_help_for_every_command() -> None:
    for command in ("check", "verify", "send-test", "schema", "migrate"):
        result = run(command, "--help")
        assert result.returncode == 0
        assert "usage: mailproviders" in result.stdout
    assert "send-test" in run("--help").stdout


def test_check_lists_providers_and_masks_password(smtp_server: Any) -> None:
    env = {
        "EMAIL_PROVIDERS__default": "smtp+starttls://app:cli-s3cret-pw%25%40%3A@mail.example.com:587",
        "EMAIL_PROVIDERS__Notify": "console://?stream=stderr",
    }
    result = run("check", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("default: smtp mail.example.com:587 tls=starttls") for line in lines
    )
    assert any(line.startswith("Notify: console") for line in lines)
    assert "username=app" in result.stdout
    assert "********" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert "cli-s3cret" not in result.stdout + result.stderr


def test_check_json(tmp_path: Path) -> None:
    env = {"EMAIL_PROVIDERS__default": "smtp://u:cli-s3cret-pw@mail.example.com:25"}
    result = run("check", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    (provider,) = data["providers"]
    assert provider["alias"] == "default"
    assert provider["options"]["password"] == "********"
    assert "cli-s3cret" not in result.stdout


def test_check_reports_every_error_and_exits_1() -> None:
    env = {
        "EMAIL_PROVIDERS__default__BACKEND": "smtp",
        "EMAIL_PROVIDERS__default__OPTIONS__host": "mail.example.com",
        "EMAIL_PROVIDERS__default__OPTIONS__port": "abc",
        "EMAIL_PROVIDERS__default__OPTIONS__password": "cli-s3cret-pw",
        "EMAIL_PROVIDERS__other": "nosuch://x",
    }
    result = run("check", env=env)
    assert result.returncode == 1
    assert "EMAIL_PROVIDERS['default'].OPTIONS.port" in result.stderr
    assert "'other'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "cli-s3cret" not in result.stdout + result.stderr


def test_check_reads_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("EMAIL_PROVIDERS__fromfile=dummy://\nUNRELATED=1\n")
    result = run("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "fromfile: dummy" in result.stdout


def test_send_test_through_smtp_server(smtp_server: Any) -> None:
    env = {"EMAIL_PROVIDERS__relay": f"smtp://{smtp_server.host}:{smtp_server.port}"}
    result = run(
        "send-test", "--using", "relay", "--from", "me@example.com", "you@example.com", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "sent 1 message(s) through 'relay'" in result.stdout
    (received,) = smtp_server.messages
    assert received.mail_from == "me@example.com"
    assert received.rcpt_tos == ["you@example.com"]


def test_send_test_console_default() -> None:
    result = run("send-test", "you@example.com", env={"EMAIL_PROVIDERS__default": "console://"})
    assert result.returncode == 0, result.stderr
    assert "To: you@example.com" in result.stdout
    assert "sent 1 message(s) through 'default'" in result.stdout


def test_send_test_failure_is_one_line(smtp_server: Any) -> None:
    port = smtp_server.port
    smtp_server.stop()
    env = {"EMAIL_PROVIDERS__default": f"smtp://127.0.0.1:{port}"}
    result = run("send-test", "you@example.com", env=env)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "sending through 'default' failed: ConnectionRefusedError" in result.stderr
    with_tb = run("--traceback", "send-test", "you@example.com", env=env)
    assert with_tb.returncode == 1
    assert "Traceback" in with_tb.stderr


def test_send_test_unknown_alias() -> None:
    result = run("send-test", "--using", "nope", "x@example.com", env={})
    assert result.returncode == 1
    assert "'nope'" in result.stderr


def test_verify(smtp_auth_server: Any, tmp_path: Path) -> None:
    options = smtp_auth_server.options()
    env = {
        "EMAIL_PROVIDERS": json.dumps(
            {
                "mail": {"BACKEND": "smtp", "OPTIONS": options},
                "files": {"BACKEND": "file", "OPTIONS": {"file_path": str(tmp_path / "new")}},
                "mem": "locmem://",
            }
        )
    }
    result = run("verify", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mail: ok" in result.stdout and "files: ok" in result.stdout
    assert smtp_auth_server.auth_attempts == 1
    assert smtp_auth_server.messages == []
    assert not (tmp_path / "new").exists()  # nothing created


def test_verify_failure_exits_1(smtp_auth_server: Any) -> None:
    options = smtp_auth_server.options(password="wrong-password")
    env = {"EMAIL_PROVIDERS": json.dumps({"mail": {"BACKEND": "smtp", "OPTIONS": options}})}
    result = run("verify", "--using", "mail", env=env)
    assert result.returncode == 1
    assert "mail: FAILED" in result.stdout
    assert "wrong-password" not in result.stdout + result.stderr


def test_schema_is_valid_json_schema() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("fmt", ["env", "json", "python"])
def test_migrate_masks_secrets_by_default(fmt: str) -> None:
    env = {"EMAIL_HOST": "mail.example.com", "EMAIL_HOST_PASSWORD": "cli-s3cret-pw"}
    result = run("migrate", "--format", fmt, env=env)
    assert result.returncode == 0, result.stderr
    assert "mail.example.com" in result.stdout
    assert "cli-s3cret" not in result.stdout + result.stderr


def test_migrate_round_trip(tmp_path: Path) -> None:
    legacy = {
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": "2525",
        "EMAIL_HOST_USER": "legacy",
        "EMAIL_HOST_PASSWORD": "p@ss:w%rd",
        "EMAIL_USE_TLS": "true",
        "EMAIL_TIMEOUT": "12.5",
    }
    migrated = run("migrate", "--reveal-secrets", env=legacy)
    assert migrated.returncode == 0, migrated.stderr
    new_env = dict(line.split("=", 1) for line in migrated.stdout.splitlines() if line)
    assert all(name.startswith("EMAIL_PROVIDERS__default__") for name in new_env)
    before = run("check", "--json", env=legacy)
    after = run("check", "--json", env=new_env)
    assert before.returncode == after.returncode == 0, after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert "deprecated" in before.stderr and "deprecated" not in after.stderr
    # The secret itself survived the round trip, not just its mask.
    code = (
        "import mailproviders; b = mailproviders.providers.default; "
        "print(b.username, b.password.get_secret_value(), b.port, b.use_tls, b.timeout)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}, **new_env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert shown.stdout.split() == ["legacy", "p@ss:w%rd", "2525", "True", "12.5"]


def test_check_reports_a_key_file_without_certificate(tmp_path: Path) -> None:
    # Known to the options model, so it fails at load time, not when the backend is built.
    key = tmp_path / "client.key"
    key.write_text("not really a key")
    env = {
        "EMAIL_PROVIDERS__default": "smtp://mail.example.com:25",
        "EMAIL_PROVIDERS__default__OPTIONS__ssl_keyfile": str(key),
    }
    result = run("check", env=env)
    assert result.returncode == 1
    assert "EMAIL_PROVIDERS['default'].OPTIONS.ssl_keyfile" in result.stderr
    assert "requires ssl_certfile" in result.stderr
