"""Typed settings (placeholder until the configuration layer lands)."""

from __future__ import annotations

import threading
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MailSettings", "get_settings", "set_settings"]


class MailSettings(BaseSettings):
    """All settings mailproviders reads."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    EMAIL_PROVIDERS: dict[str, Any] | None = None
    DEFAULT_FROM_EMAIL: str = "webmaster@localhost"
    SERVER_EMAIL: str = "root@localhost"
    ADMINS: list[str] = []
    MANAGERS: list[str] = []
    EMAIL_SUBJECT_PREFIX: str = "[mailproviders] "
    EMAIL_USE_LOCALTIME: bool = False


_lock = threading.Lock()
_current: MailSettings | None = None


def get_settings() -> MailSettings:
    """The settings in effect, loaded lazily on first use."""
    global _current
    current = _current
    if current is None:
        with _lock:
            if _current is None:
                _current = MailSettings()
            current = _current
    return current


def set_settings(settings: MailSettings | None) -> None:
    """Replace the settings in effect (``None``: re-read the sources on next use)."""
    global _current
    with _lock:
        _current = settings
