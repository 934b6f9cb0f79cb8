"""Shared fixtures: environment isolation and message factories. SMTP servers live in
smtp_fixtures.py.

The test tree mirrors src/mailproviders/ (tests/message/, tests/config/, tests/backends/,
tests/legacy/); test modules have unique basenames, and the helper modules at the top of
tests/ are importable from every sub-directory (``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

pytest_plugins = ["smtp_fixtures", "redis_fixtures"]

# CI (CI=true) explores a fixed number of fresh examples on every run, not a derandomized
# fixed set: a property that fails only on some inputs is found over many runs, not never.
# The failing input is printed (with the blob to replay it); keep it as an explicit
# @example(...) on the test, so that every later run checks it too. Locally the default
# profile also explores new examples, and remembers failures in .hypothesis/.
hypothesis_settings.register_profile(
    "ci", max_examples=100, derandomize=False, database=None, deadline=None, print_blob=True
)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

_SETTING_PREFIXES = ("EMAIL_", "DEFAULT_FROM_EMAIL", "SERVER_EMAIL", "ADMINS", "MANAGERS")


@pytest.fixture(autouse=True)
def _isolated_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Each test starts with no mail settings in the environment, no .env in its working
    directory and no configuration loaded; whatever it configures is dropped after."""
    for name in list(os.environ):
        if name.upper().startswith(_SETTING_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    from mailproviders.backends.locmem import outbox
    from mailproviders.handler import providers

    providers.reset(None)
    outbox.clear()
    try:
        yield
    finally:
        providers.reset(None)
        outbox.clear()


@pytest.fixture
def make_message() -> Callable[..., EmailMessage]:
    """``make_message(n=0, **overrides)``: a plain text message ``Subject {n}`` /
    ``Body {n}`` from ``from@example.com`` to ``to@example.com``; ``overrides`` are
    ``EmailMessage`` arguments (``to=[]`` gives a message without recipients)."""

    def make(n: int = 0, **overrides: Any) -> EmailMessage:
        from mailproviders.message import EmailMessage

        arguments: dict[str, Any] = {
            "subject": f"Subject {n}",
            "body": f"Body {n}",
            "from_email": "from@example.com",
            "to": ["to@example.com"],
            **overrides,
        }
        return EmailMessage(**arguments)

    return make


@pytest.fixture
def make_messages(
    make_message: Callable[..., EmailMessage],
) -> Callable[..., list[EmailMessage]]:
    """``make_messages(count, **overrides)``: ``make_message(n, **overrides)`` for n in
    1..count."""

    def make(count: int, **overrides: Any) -> list[EmailMessage]:
        return [make_message(n, **overrides) for n in range(1, count + 1)]

    return make
