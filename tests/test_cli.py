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
#: The console script installed with the package (what `pip install` puts on PATH).
SCRIPT = str(Path(sys.executable).with_name("mailproviders"))


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(
            ("EMAIL_", "DEFAULT_FROM", "SERVER_EMAIL", "ADMINS", "MANAGERS")
        )
    }
    return {**base, **(env or {})}


def run(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    script: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``python -m mailproviders ARGS`` (or the console script) in a clean environment."""
    command = [SCRIPT] if script else [sys.executable, "-m", "mailproviders"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        cwd=cwd or Path.cwd(),
        timeout=60,
        check=False,
    )


def test_help_for_every_command() -> None:
    for command in ("check", "verify", "send-test", "schema", "migrate"):
        result = run(command, "--help")
        assert result.returncode == 0
        assert "usage: mailproviders" in result.stdout
    top = run("--help").stdout
    assert "send-test" in top and "--app-dir DIR" in top
    assert "examples:" in top and "mailproviders check --json" in top


def test_version() -> None:
    from importlib.metadata import version

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mailproviders {version('mailproviders')}"


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
    env = {"EMAIL_PROVIDERS__default": "smtp+starttls://u:cli-s3cret-pw@mail.example.com:587"}
    result = run("check", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["errors"] == data["warnings"] == []
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
    # No "default": a warning only (an application may always name its alias).
    assert result.stderr.splitlines() == [
        "warning: no provider is named 'default': sending without using=ALIAS fails "
        "(fine if the application always names an alias)"
    ]


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
    assert (
        f"sending through 'default' (127.0.0.1:{port}) failed: ConnectionRefusedError"
        in result.stderr
    )
    with_tb = run("--traceback", "send-test", "you@example.com", env=env)
    assert with_tb.returncode == 1
    assert "Traceback" in with_tb.stderr


def test_send_test_unknown_alias() -> None:
    result = run("send-test", "--using", "nope", "x@example.com", env={})
    assert result.returncode == 1
    assert "'nope'" in result.stderr
    # The example hint is STARTTLS on 587 (plain smtp:// would send in clear text there).
    assert "EMAIL_PROVIDERS__nope=console:// (or smtp+starttls://user:password@host:587)" in (
        result.stderr
    )
    assert "smtp://user" not in result.stderr


@pytest.mark.parametrize(("given", "meant"), [("Default", "default"), ("defualt", "default")])
def test_send_test_alias_in_the_wrong_case_or_misspelt(given: str, meant: str) -> None:
    env = {"EMAIL_PROVIDERS__default": "console://", "EMAIL_PROVIDERS__other": "dummy://"}
    result = run("send-test", "--using", given, "x@example.com", env=env)
    assert result.returncode == 1
    assert f"no email provider named {given!r}; did you mean {meant!r}?" in result.stderr


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
    lines = result.stdout.splitlines()
    assert f"mail: ok (connected to 127.0.0.1:{options['port']})" in lines
    assert "mem: ok" in lines  # nothing to check: no "(ok)" after it
    assert any(line.startswith("files: ok (directory ") for line in lines)
    assert smtp_auth_server.auth_attempts == 1
    assert smtp_auth_server.messages == []
    assert not (tmp_path / "new").exists()  # nothing created


def test_verify_failure_exits_1(smtp_auth_server: Any) -> None:
    options = smtp_auth_server.options(password="wrong-password")
    env = {"EMAIL_PROVIDERS": json.dumps({"mail": {"BACKEND": "smtp", "OPTIONS": options}})}
    result = run("verify", "--using", "mail", env=env)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"mail: FAILED (127.0.0.1:{options['port']}) SMTPAuthenticationError")
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


def sourced(text: str, directory: Path) -> dict[str, str]:
    """The EMAIL_PROVIDERS variables a real bash gets from ``set -a; . ./file``."""
    (directory / "out.env").write_text(text, encoding="utf-8")
    dump = "import json, os; print(json.dumps(dict(os.environ)))"
    result = subprocess.run(
        ["bash", "-c", 'set -a; . ./out.env; exec "$0" -c "$1"', sys.executable, dump],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=directory,
        timeout=60,
        check=True,
    )
    variables: dict[str, str] = json.loads(result.stdout)
    return {k: v for k, v in variables.items() if k.startswith("EMAIL_PROVIDERS")}


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
    new_env = sourced(migrated.stdout, tmp_path)
    assert all(name.startswith("EMAIL_PROVIDERS__default__") for name in new_env)
    before = run("check", "--json", env=legacy)
    after = run("check", "--json", env=new_env)
    assert before.returncode == after.returncode == 0, after.stderr
    assert json.loads(before.stdout)["providers"] == json.loads(after.stdout)["providers"]
    assert "deprecated" in before.stderr and "deprecated" not in after.stderr
    # The secret itself survived the round trip, not just its mask.
    code = (
        "import mailproviders; b = mailproviders.providers.default; "
        "print(b.username, b.password.get_secret_value(), b.port, b.use_tls, b.timeout)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(new_env),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert shown.stdout.split() == ["legacy", "p@ss:w%rd", "2525", "True", "12.5"]


NASTY = [
    "pa ss #x $HOME",  # the reported case: a space, a comment mark, a variable
    "it's",
    'back\\slash \\\\ \\\' "double" \\n',
    "${HOME} ${HOME:-x} $(touch pwned) `touch pwned` ; & | < > * ?",
    "two\nlines\r\ttab",
    "pässwörd 日本 \u2028 \x85",
    "%41%%25 + = ' \" $",
]


@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
def test_migrate_env_output_is_safe_to_source_and_to_load(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailproviders.config import load_settings

    legacy = {
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_HOST_USER": value,
        "EMAIL_HOST_PASSWORD": value,
        "EMAIL_USE_TLS": "true",
    }
    migrated = run("migrate", "--format", "env", "--reveal-secrets", env=legacy)
    assert migrated.returncode == 0, migrated.stderr

    def options() -> tuple[str, str]:
        provider = load_settings().EMAIL_PROVIDERS["default"]  # type: ignore[index]
        return provider.OPTIONS["username"], provider.OPTIONS["password"].get_secret_value()

    # A POSIX shell: `set -a; . ./out.env` runs nothing and sets exactly the values.
    variables = sourced(migrated.stdout, tmp_path)
    assert not (tmp_path / "pwned").exists()
    with monkeypatch.context() as patch:
        for name, text in variables.items():
            patch.setenv(name, text)
        assert options() == (value, value)
    # The same file as .env, read by the configuration loader (the working directory's).
    Path(".env").write_text(migrated.stdout, encoding="utf-8")
    assert options() == (value, value)


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


# --- check: what it shows, what it imports, when it fails ------------------------------

APP_MODULE = """
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mailproviders.backends.base import BaseEmailBackend

Path("imported-marker").touch()  # proof that this module ran


class ApiBackend(BaseEmailBackend):
    def __init__(
        self, *, alias: str | None = None, api_key: SecretStr, region: str = "eu", note=None,
        **extra: Any,
    ) -> None:
        super().__init__(alias=alias)

    def send_messages(self, messages: Any) -> int:
        return 0
"""


def app_dir(tmp_path: Path, backend: str = "appmail.ApiBackend") -> Path:
    (tmp_path / "appmail.py").write_text(APP_MODULE)
    (tmp_path / ".env").write_text(
        f"EMAIL_PROVIDERS__default__BACKEND={backend}\n"
        "EMAIL_PROVIDERS__default__OPTIONS__api_key=k-123\n"
        "EMAIL_PROVIDERS__default__OPTIONS__region=us\n"
        "EMAIL_PROVIDERS__default__OPTIONS__note=n-456\n"
        "EMAIL_PROVIDERS__default__OPTIONS__token=t-789\n"
    )
    return tmp_path


def test_check_shows_only_options_marked_not_secret(tmp_path: Path) -> None:
    directory = app_dir(tmp_path)
    result = run("--app-dir", ".", "check", cwd=directory)
    assert result.returncode == 0, result.stderr
    # api_key is a SecretStr; note (no annotation) and token (**extra) may hold anything.
    assert result.stdout.splitlines() == [
        "default: appmail.ApiBackend api_key=******** region=us note=******** token=********"
    ]
    data = json.loads(run("--app-dir", str(directory), "check", "--json", cwd=directory).stdout)
    assert data["providers"][0]["options"] == {
        "api_key": "********",
        "region": "us",
        "note": "********",
        "token": "********",
    }


@pytest.mark.parametrize("script", [True, False], ids=["console-script", "python-m"])
def test_check_does_not_import_from_the_working_directory(tmp_path: Path, script: bool) -> None:
    directory = app_dir(tmp_path)
    for args in (["check"], ["check", "--json"]):
        result = run(*args, cwd=directory, script=script)
        assert result.returncode == 1
        assert not (directory / "imported-marker").exists()
        assert (
            "EMAIL_PROVIDERS['default'].BACKEND: cannot import backend 'appmail.ApiBackend'"
            in (result.stderr)
        )
        assert "--app-dir DIR" in result.stderr
        for secret in ("k-123", "n-456", "t-789"):
            assert secret not in result.stdout + result.stderr
    assert run("--app-dir", ".", "check", cwd=directory, script=script).returncode == 0
    assert (directory / "imported-marker").exists()


def test_check_backend_that_cannot_be_imported_is_an_error(tmp_path: Path) -> None:
    directory = app_dir(tmp_path, backend="appmail.ApiBackendd")  # a typo in the class name
    result = run("--app-dir", ".", "check", "--json", cwd=directory)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["providers"] == []
    [error] = data["errors"]
    assert (
        "EMAIL_PROVIDERS['default'].BACKEND: cannot import backend 'appmail.ApiBackendd'" in error
    )
    assert "k-123" not in result.stdout + result.stderr
    # verify and send-test name alias and BACKEND too, with the hint.
    for args in (["verify"], ["send-test", "x@example.com"]):
        other = run(*args, cwd=directory)
        assert other.returncode == 1
        assert "EMAIL_PROVIDERS['default'].BACKEND" in other.stdout + other.stderr
        assert "--app-dir" in other.stdout + other.stderr
        assert "Traceback" not in other.stderr


def test_check_without_any_provider_fails_and_names_near_misses(tmp_path: Path) -> None:
    assert run("check", cwd=tmp_path).returncode == 1
    (tmp_path / ".env").write_text("email_providers__default=console://\n")
    env = {"EMAIL_PROVIDERS_default": "console://"}
    result = run("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    for name in ("EMAIL_PROVIDERS_default", "email_providers__default"):
        assert f"{name} is ignored; did you mean EMAIL_PROVIDERS__default?" in result.stderr
    assert "error: no email provider is configured" in result.stderr
    data = json.loads(run("check", "--json", env=env, cwd=tmp_path).stdout)
    assert data["ok"] is False and data["providers"] == []


def test_check_warns_about_a_near_miss_beside_a_working_provider() -> None:
    env = {"EMAIL_PROVIDERS__default": "console://", "EMAIL_PROVIDERS___backup": "dummy://"}
    result = run("check", env=env)
    assert result.returncode == 0
    assert "warning: EMAIL_PROVIDERS___backup configures the alias '_backup'" in result.stderr


@pytest.mark.parametrize("where", ["environment", "dotenv"])
def test_deeply_nested_json_is_a_configuration_error(tmp_path: Path, where: str) -> None:
    # An environment string holds at most 128 KiB (Linux): 60,000 levels there.
    levels = 60_000 if where == "environment" else 100_000
    deep = '{"a":' + "[" * levels + "]" * levels + "}"
    env = {"EMAIL_PROVIDERS__default": deep} if where == "environment" else {}
    if where == "dotenv":
        (tmp_path / ".env").write_text(f"EMAIL_PROVIDERS__default='{deep}'\n")
    result = run("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("configuration error: EMAIL_PROVIDERS__default: JSON nested")
    assert "Recursion" not in result.stderr and "Traceback" not in result.stderr
