"""pytest plugin (registered through the ``pytest11`` entry point): the ``mailoutbox`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers
from mailproviders.message import EmailMessage
from mailproviders.testing import outbox, override_providers


def _locmem_mapping() -> dict[str, Any]:
    """Every configured alias as a locmem provider, keeping its DEFAULTS."""
    mapping: dict[str, Any] = {}
    for alias, config in (providers.settings.EMAIL_PROVIDERS or {}).items():
        entry: dict[str, Any] = {"BACKEND": "locmem"}
        if config.DEFAULTS is not None:
            entry["DEFAULTS"] = config.DEFAULTS.model_dump(exclude_none=True)
        mapping[alias] = entry
    return mapping or {DEFAULT_PROVIDER_ALIAS: {"BACKEND": "locmem"}}


@pytest.fixture
def mailoutbox() -> Iterator[list[EmailMessage]]:
    """Send every provider's mail to the in-memory outbox for this test.

    Every configured alias becomes a locmem provider (a project with no configuration
    gets a locmem ``"default"``); the outbox is emptied before and after, and the previous
    configuration is restored. Each message in the outbox has ``sent_using`` set to the
    alias it was sent through.
    """
    outbox.clear()
    try:
        with override_providers(_locmem_mapping()):
            yield outbox
    finally:
        outbox.clear()
