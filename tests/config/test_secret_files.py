"""Secrets read from files: ``<option>_file`` OPTIONS keys in every configuration form and
``MAILPROVIDERS_SECRETS_DIR`` for top-level settings, on real files in a tmp directory."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import SecretStr

import mailproviders
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.config.schema import settings_schema
from mailproviders.exceptions import ImproperlyConfigured, InvalidEmailProvider
from mailproviders.handler import configure, providers
from mailproviders.sending import send_mail
from smtp_fixtures import PASSWORD, SMTPTestServer
from test_cli import run

CONTENT = "F1le-Secret-9d2b"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "smtp_password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


def auth_provider(server: SMTPTestServer, path: Path) -> dict[str, Any]:
    options = server.options()
    del options["password"]
    return {"BACKEND": "smtp", "OPTIONS": {**options, "password_file": str(path)}}


def test_password_file_logs_in_to_a_real_server(
    smtp_auth_server: SMTPTestServer, secret_file: Path
) -> None:
    configure(EMAIL_PROVIDERS={"default": auth_provider(smtp_auth_server, secret_file)})
    options = providers.config("default").OPTIONS
    assert "password_file" not in options
    assert options["password"] == SecretStr(PASSWORD)
    assert send_mail("s", "b", "from@example.com", ["to@example.com"]) == 1
    assert len(smtp_auth_server.messages) == 1 and smtp_auth_server.auth_attempts == 1


def test_password_file_from_environment_variables(
    smtp_auth_server: SMTPTestServer, secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = "EMAIL_PROVIDERS__default__OPTIONS__"
    for key, value in auth_provider(smtp_auth_server, secret_file)["OPTIONS"].items():
        monkeypatch.setenv(prefix + key, str(value).lower() if value is True else str(value))
    configure()
    assert providers.config("default").OPTIONS["password"] == SecretStr(PASSWORD)
    assert send_mail("s", "b", "from@example.com", ["to@example.com"]) == 1


def test_password_file_from_a_dotenv_file(
    smtp_auth_server: SMTPTestServer, secret_file: Path
) -> None:
    provider = auth_provider(smtp_auth_server, secret_file)
    Path(".env").write_text(f"EMAIL_PROVIDERS__default='{json.dumps(provider)}'\n")
    configure()
    assert send_mail("s", "b", "from@example.com", ["to@example.com"]) == 1


@pytest.mark.parametrize(
    ("written", "read"),
    [("pw\n", "pw"), ("pw\r\n", "pw"), ("pw\n\n", "pw\n"), ("pw", "pw"), (" pw \n", " pw ")],
)
def test_one_trailing_newline_is_removed(tmp_path: Path, written: str, read: str) -> None:
    path = tmp_path / "secret"
    path.write_bytes(written.encode())
    configure(EMAIL_PROVIDERS={"default": {"OPTIONS": {"host": "h", "password_file": path}}})
    assert providers.config("default").OPTIONS["password"].get_secret_value() == read


def load_error(options: dict[str, Any], backend: Any = "smtp") -> InvalidEmailProvider:
    with pytest.raises(InvalidEmailProvider) as raised:
        configure(EMAIL_PROVIDERS={"relay": {"BACKEND": backend, "OPTIONS": options}})
    return raised.value


def test_a_missing_file_names_alias_option_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    error = load_error({"host": "h", "password_file": str(missing)})
    [problem] = error.errors
    assert (problem.alias, problem.option) == ("relay", "password_file")
    assert str(missing) in str(error) and "no such file" in str(error)


def test_an_empty_path_says_so() -> None:
    [problem] = load_error({"host": "h", "password_file": ""}).errors
    assert problem.option == "password_file" and "empty string" in problem.message


def test_a_directory_is_an_error(tmp_path: Path) -> None:
    [problem] = load_error({"host": "h", "password_file": str(tmp_path)}).errors
    assert problem.option == "password_file" and "is a directory" in problem.message


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def writer() -> None:  # what a blocking read would wait for (and then accept)
        with suppress(BrokenPipeError), fifo.open("w") as stream:
            stream.write(CONTENT)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        [problem] = load_error({"host": "h", "password_file": str(fifo)}).errors
    finally:  # a reader of our own lets the writer finish
        descriptor = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        thread.join()
        os.close(descriptor)
    assert problem.option == "password_file"
    assert "expected a regular file" in problem.message and str(fifo) in problem.message


def test_an_oversized_file_is_refused_without_its_content(tmp_path: Path) -> None:
    from mailproviders.config.secretfiles import MAX_SECRET_BYTES

    path = tmp_path / "huge"
    path.write_text(CONTENT * (MAX_SECRET_BYTES // len(CONTENT) + 1))
    error = load_error({"host": "h", "password_file": str(path)})
    [problem] = error.errors
    assert "larger than" in problem.message and CONTENT not in str(error)
    path.write_text("k" * MAX_SECRET_BYTES)  # the cap itself is accepted
    configure(EMAIL_PROVIDERS={"relay": {"OPTIONS": {"host": "h", "password_file": str(path)}}})


def test_a_symlink_to_a_secret_is_followed_as_kubernetes_mounts_it(tmp_path: Path) -> None:
    (tmp_path / "..data").mkdir()
    (tmp_path / "..data" / "password").write_text(CONTENT + "\n")
    (tmp_path / "password").symlink_to(Path("..data") / "password")
    options = {"host": "h", "password_file": str(tmp_path / "password")}
    settings = configure(EMAIL_PROVIDERS={"relay": {"OPTIONS": options}})
    assert settings.EMAIL_PROVIDERS["relay"].OPTIONS["password"] == SecretStr(CONTENT)


@contextmanager
def unprivileged() -> Iterator[None]:
    """Run the block as user ``nobody`` when the tests run as root (root reads any file)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_an_unreadable_file_is_an_error_without_its_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = Path(tempfile.mkdtemp())  # traversable by everyone: only the file is closed
    monkeypatch.chdir(directory)  # where .env is looked for
    try:
        directory.chmod(0o755)
        path = directory / "secret"
        path.write_text(CONTENT)
        path.chmod(0o644)
        with unprivileged():  # readable: the same steps work
            configure(EMAIL_PROVIDERS={"relay": {"OPTIONS": {"host": "h", "password_file": path}}})
        path.chmod(0)
        with unprivileged(), pytest.raises(InvalidEmailProvider) as raised:
            configure(EMAIL_PROVIDERS={"relay": {"OPTIONS": {"host": "h", "password_file": path}}})
    finally:
        shutil.rmtree(directory)
    [problem] = raised.value.errors
    assert (problem.alias, problem.option) == ("relay", "password_file")
    assert "permission denied" in problem.message and str(path) in problem.message
    assert CONTENT not in str(raised.value) + repr(raised.value)


def test_both_the_secret_and_its_file_is_an_error(secret_file: Path) -> None:
    [problem] = load_error({"host": "h", "password": "x", "password_file": secret_file}).errors
    assert (problem.alias, problem.option) == ("relay", "password_file")
    assert "either password or password_file" in problem.message


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    [problem] = load_error({"host": "h", "password_file": str(tmp_path / "empty")}).errors
    assert "is empty" in problem.message


def test_an_api_key_from_a_file_is_a_masked_secret(tmp_path: Path) -> None:
    key = tmp_path / "mailgun_key"
    key.write_text(CONTENT + "\n")
    configure(
        EMAIL_PROVIDERS={
            "api": {
                "BACKEND": "mailgun",
                "OPTIONS": {"api_key_file": str(key), "domain": "mg.example.com"},
            }
        }
    )
    config = providers.config("api")
    assert config.OPTIONS["api_key"] == SecretStr(CONTENT)
    assert CONTENT not in repr(config) + str(config) + repr(providers.settings)
    # A required secret whose file is missing is reported once, as the file.
    [problem] = load_error({"api_key_file": str(tmp_path / "no"), "domain": "d"}, "mailgun").errors
    assert problem.option == "api_key_file"


class TokenBackend(BaseEmailBackend):
    def __init__(self, *, alias: str | None = None, token: SecretStr, region: str = "eu") -> None:
        super().__init__(alias=alias)
        self.token = token

    def send_messages(self, messages: Any) -> int:
        return 0


def test_a_custom_backend_secret_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(CONTENT)
    configure(
        EMAIL_PROVIDERS={
            "custom": {"BACKEND": TokenBackend, "OPTIONS": {"token_file": tmp_path / "token"}}
        }
    )
    backend = providers["custom"]
    assert isinstance(backend, TokenBackend)
    assert backend.token.get_secret_value() == CONTENT
    # Only secret options have a _file form.
    options = {"token": "t", "region_file": str(tmp_path / "token")}
    [problem] = load_error(options, TokenBackend).errors
    assert problem.option == "region_file" and "unknown option" in problem.message


def test_check_masks_the_secret_and_reports_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(CONTENT + "\n")
    options = {"host": "127.0.0.1", "username": "u", "password_file": str(tmp_path / "pw")}
    result = run("check", env={"EMAIL_PROVIDERS": json.dumps({"default": {"OPTIONS": options}})})
    assert result.returncode == 0, result.stderr
    assert "password=********" in result.stdout
    assert CONTENT not in result.stdout + result.stderr
    env = {"EMAIL_PROVIDERS__default__OPTIONS__host": "h"}
    env["EMAIL_PROVIDERS__default__OPTIONS__password_file"] = str(tmp_path / "gone")
    failed = run("check", env=env)
    assert failed.returncode == 1
    assert "EMAIL_PROVIDERS['default'].OPTIONS.password_file" in failed.stderr
    assert str(tmp_path / "gone") in failed.stderr


def test_the_schema_knows_the_file_forms(tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(settings_schema())
    good = {"EMAIL_PROVIDERS": {"a": {"OPTIONS": {"host": "h", "password_file": "/run/s"}}}}
    assert list(validator.iter_errors(good)) == []
    both = {"a": {"OPTIONS": {"host": "h", "password": "p", "password_file": "/run/s"}}}
    assert list(validator.iter_errors({"EMAIL_PROVIDERS": both}))
    api = {"BACKEND": "resend", "OPTIONS": {"api_key_file": "/run/s"}}
    assert list(validator.iter_errors({"EMAIL_PROVIDERS": {"a": api}})) == []
    assert list(validator.iter_errors({"EMAIL_PROVIDERS": {"a": {**api, "OPTIONS": {}}}}))


# --- MAILPROVIDERS_SECRETS_DIR: top-level settings from files named after them ----------


def test_settings_from_a_secrets_directory(
    tmp_path: Path, secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    provider = {
        "OPTIONS": {"host": "127.0.0.1", "username": "u", "password_file": str(secret_file)}
    }
    (secrets / "EMAIL_PROVIDERS").write_text(json.dumps({"default": provider}) + "\n")
    (secrets / "DEFAULT_FROM_EMAIL").write_text("noreply@example.com\n")
    (secrets / "SERVER_EMAIL").write_text("files@example.com\n")
    monkeypatch.setenv("MAILPROVIDERS_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("SERVER_EMAIL", "env@example.com")  # the environment wins
    settings = configure()
    assert settings.DEFAULT_FROM_EMAIL == "noreply@example.com"
    assert settings.SERVER_EMAIL == "env@example.com"
    assert providers.config("default").OPTIONS["password"] == SecretStr(PASSWORD)
    # Settings given in code are not read from the directory.
    assert (
        configure(DEFAULT_FROM_EMAIL="code@example.com").DEFAULT_FROM_EMAIL == "code@example.com"
    )


def test_secret_setting_from_the_directory_of_mailsettings(tmp_path: Path) -> None:
    (tmp_path / "DEFAULT_FROM_EMAIL").write_text("dir@example.com\n")
    settings = mailproviders.MailSettings(_secrets_dir=tmp_path)
    assert configure(settings).DEFAULT_FROM_EMAIL == "dir@example.com"


def test_a_secrets_dir_that_is_not_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPROVIDERS_SECRETS_DIR", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured) as raised:
        configure()
    assert raised.value.option == "MAILPROVIDERS_SECRETS_DIR"
    assert str(tmp_path / "missing") in str(raised.value)


def test_the_secrets_dir_can_be_named_in_the_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "DEFAULT_FROM_EMAIL").write_text("dotenv-dir@example.com\n")
    (tmp_path / ".env").write_text(f"MAILPROVIDERS_SECRETS_DIR={secrets}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILPROVIDERS_SECRETS_DIR", raising=False)
    assert configure().DEFAULT_FROM_EMAIL == "dotenv-dir@example.com"
    (tmp_path / ".env").write_text(f"MAILPROVIDERS_SECRETS_DIR={tmp_path / 'gone'}\n")
    with pytest.raises(ImproperlyConfigured) as raised:
        configure()
    assert raised.value.option == "MAILPROVIDERS_SECRETS_DIR"
