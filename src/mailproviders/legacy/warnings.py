"""The one deprecation warning class, and the helper that points it at the caller's line."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = [
    "CONNECTION_ARGUMENT",
    "PROVIDERS_ALIAS",
    "MailProvidersDeprecationWarning",
    "bad_header_error",
    "warn_deprecated",
]

# A deprecation message starts with a plain statement of what is deprecated, worded the
# way the warnings of the older API were, so that warning filters written for those
# (``warnings.filterwarnings("ignore", message=...)`` matches the start of the message)
# keep matching; our guidance follows (docs/migration.md, "Warning texts").
PROVIDERS_ALIAS = "an EMAIL_PROVIDERS alias"
CONNECTION_ARGUMENT = (
    "The 'connection' argument is deprecated. Switch to the 'using' argument with "
    f"{PROVIDERS_ALIAS}."
)

# The package directory: frames in it are library internals, whatever the module.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class MailProvidersDeprecationWarning(DeprecationWarning):
    """A legacy API or setting was used; the message names its replacement."""


def _caller_stacklevel() -> int:
    """Stack level of the first frame outside this package and pydantic (the user's line)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and (
        frame.f_code.co_filename.startswith(_PACKAGE_DIR)
        # Settings validators run inside pydantic: its frames are internals too.
        or str(frame.f_globals.get("__name__", "")).startswith("pydantic")
    ):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_deprecated(message: str) -> None:
    """Emit a :class:`MailProvidersDeprecationWarning` attributed to the caller's line
    (Python 3.11 has no ``skip_file_prefixes``, so the frames are counted here)."""
    warnings.warn(message, MailProvidersDeprecationWarning, stacklevel=_caller_stacklevel())


def bad_header_error() -> type[ValueError]:
    """``BadHeaderError``, deprecated: it is ``ValueError`` itself, so that
    ``except BadHeaderError`` still catches every invalid-header error (as in Django 6.1)."""
    warn_deprecated(
        "BadHeaderError is deprecated. Replace with ValueError. "
        "(It is ValueError: catch ValueError.)"
    )
    return ValueError
