"""Everything that keeps legacy (Django-style) mail code working.

Legacy settings, ``get_connection()``, ``SMTPConnection`` and backend-level
``fail_silently`` live here; core modules call in through thin hooks.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend

__all__ = ["MailProvidersDeprecationWarning", "warn_deprecated"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class MailProvidersDeprecationWarning(DeprecationWarning):
    """A legacy API or setting was used; the message names its replacement."""


def _caller_stacklevel() -> int:
    """Stack level of the first frame outside this package (the user's line)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_deprecated(message: str) -> None:
    """Emit a :class:`MailProvidersDeprecationWarning` attributed to the caller's line."""
    warnings.warn(message, MailProvidersDeprecationWarning, stacklevel=_caller_stacklevel())


def legacy_fail_silently(backend: object) -> bool:
    """The deprecated backend-level ``fail_silently`` a legacy connection was built with."""
    return bool(vars(backend).get("fail_silently", False))


def connection_with_auth(
    alias: str, username: str | None, password: str | None
) -> BaseEmailBackend:
    """A new instance of ``alias`` with ``auth_user``/``auth_password`` overriding its login."""
    from mailproviders.handler import providers

    warn_deprecated(
        "auth_user/auth_password are deprecated; configure username and password in the "
        f"provider's OPTIONS (EMAIL_PROVIDERS[{alias!r}]) and send with using={alias!r}"
    )
    options = {
        key: value
        for key, value in (("username", username), ("password", password))
        if value is not None
    }
    return providers.create_connection(alias, **options)
