"""Static typing of configurations (typing.py): mypy --strict on the files in tests/typing/.

The case files are copied to a temporary directory and checked in one mypy run (mypy is
slow); a line ending in ``# E`` must be reported as an error, no other line may be.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from mypy import api as mypy_api

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.backends.smtp import EmailBackend as SMTPBackend
from mailproviders.config import load_settings
from mailproviders.typing import provider

CASES = Path(__file__).resolve().parent / "typing" / "cases"
_ERROR_RE = re.compile(r"^(?P<file>[\w.]+\.py):(?P<line>\d+): error:", re.MULTILINE)


@pytest.fixture(scope="session")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[tuple[str, int]], str]:
    work = tmp_path_factory.mktemp("typing")
    for case in CASES.glob("*.py"):
        shutil.copy(case, work / case.name)
    cache = tmp_path_factory.mktemp("mypy-cache")
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--config-file=",
            f"--cache-dir={cache}",
            "--no-error-summary",
            "--show-absolute-path",
            *sorted(str(path) for path in work.glob("*.py")),
        ]
    )
    output = stdout.replace(str(work) + "/", "")
    found = {(match["file"], int(match["line"])) for match in _ERROR_RE.finditer(output)}
    return found, output + stderr


def _expected(name: str) -> set[tuple[str, int]]:
    lines = (CASES / name).read_text(encoding="utf-8").splitlines()
    return {(name, number) for number, line in enumerate(lines, 1) if line.endswith("# E")}


def _of(errors: set[tuple[str, int]], name: str) -> set[tuple[str, int]]:
    return {error for error in errors if error[0] == name}


def test_correct_config_passes(mypy_errors: tuple[set[tuple[str, int]], str]) -> None:
    errors, output = mypy_errors
    assert _of(errors, "config_ok.py") == set(), output
    assert "config_ok.py" not in output, output


@pytest.mark.parametrize("name", ["config_bad_builtin.py", "config_bad_provider.py"])
def test_wrong_options_fail(mypy_errors: tuple[set[tuple[str, int]], str], name: str) -> None:
    errors, output = mypy_errors
    expected = _expected(name)
    assert len(expected) >= 5
    assert _of(errors, name) == expected, output


def test_provider_builds_a_loadable_dict() -> None:
    stream = io.StringIO()
    entry = provider(SMTPBackend, host="smtp.example.com", port=587, use_tls=True)
    assert entry == {
        "BACKEND": SMTPBackend,
        "OPTIONS": {"host": "smtp.example.com", "port": 587, "use_tls": True},
    }
    console = {"BACKEND": "console", "OPTIONS": {"stream": stream}}
    settings = load_settings(EMAIL_PROVIDERS={"default": entry, "c": console})
    assert settings.EMAIL_PROVIDERS is not None
    assert (
        settings.EMAIL_PROVIDERS["default"].BACKEND == "mailproviders.backends.smtp.EmailBackend"
    )


def test_provider_rejects_misuse_at_run_time() -> None:
    with pytest.raises(TypeError, match="keyword"):
        provider(SMTPBackend, "positional")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="alias"):
        provider(SMTPBackend, alias="x")
    with pytest.raises(TypeError, match="BaseEmailBackend"):
        provider(dict)  # type: ignore[arg-type]
    assert issubclass(SMTPBackend, BaseEmailBackend)
