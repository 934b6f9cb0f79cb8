"""Shared fixtures: environment isolation. SMTP servers live in smtp_fixtures.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

pytest_plugins = ["smtp_fixtures"]

# CI runs a fixed set of examples (derandomized), so that a green run stays green;
# locally every run explores new ones. Either way the same properties are checked.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None)
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
