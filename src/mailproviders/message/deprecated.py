"""What older code did with messages and no longer does: the ``connection`` attribute and
a ``get_connection()`` override.

The attribute goes through the compatibility hook (``mailproviders._hooks.compat``): the
legacy layer keeps it working with a deprecation warning. The value is kept in the
message's ``_connection`` attribute, which the library reads without a warning.
"""

from __future__ import annotations

from typing import Any

from mailproviders import _hooks

__all__ = ["ConnectionAttribute", "check_sendable"]


class ConnectionAttribute:
    """``EmailMessage.connection``: deprecated; reading and setting it is reported to the
    compatibility hook (which warns, or rejects setting a backend when no legacy layer is
    installed). The value lives in the instance's ``_connection``."""

    def __get__(self, message: object, owner: type[Any] | None = None) -> Any:
        if message is None:
            return self
        _hooks.compat.message_connection_attribute(message, None, setting=False)
        return vars(message).get("_connection")

    def __set__(self, message: object, value: Any) -> None:
        _hooks.compat.message_connection_attribute(message, value, setting=True)
        vars(message)["_connection"] = value


def check_sendable(message: object) -> None:
    """Reject a message class that defines ``get_connection()``: older versions called it
    to choose the backend; ``send()`` no longer does, and silently ignoring it would send
    through another backend than the one it returns.

    Raises:
        AttributeError: naming the class and what to do instead.
    """
    if hasattr(message, "get_connection"):
        raise AttributeError(
            f"{type(message).__qualname__}.get_connection() is no longer called by send(); "
            "remove it and send with send(using='<alias>') (an EMAIL_PROVIDERS alias)"
        )
