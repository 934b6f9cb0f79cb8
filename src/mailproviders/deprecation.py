"""Everything that keeps legacy (Django-style) mail code working.

Legacy settings, ``get_connection()``, ``SMTPConnection`` and backend-level
``fail_silently`` live here; core modules call in through thin hooks.
"""

from __future__ import annotations

import os
import sys
import warnings

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
