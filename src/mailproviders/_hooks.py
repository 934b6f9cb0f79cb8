"""Extension points: a lower layer calls them, an upper layer fills them in.

Imports flow one way (``exceptions`` → ``message`` → ``config``/``registry`` →
``backends`` → ``handler`` → ``sending`` → ``legacy``). Three things a lower layer needs
live higher up, so the upper layer plugs them in here when it is imported (the package
``__init__`` imports every layer that fills a slot, so they are always filled):

* :data:`message_defaults` — the process-wide sender and ``Date`` time zone a message uses
  when it is serialized outside a send function (filled by :mod:`mailproviders.handler`,
  which owns the settings). Send functions pass these explicitly instead.
* :data:`dispatch` — what ``EmailMessage.send()``/``asend()`` call (filled by the package
  ``__init__`` with :mod:`mailproviders.sending`).
* :data:`compat` — the calling conventions of older code (backend-level
  ``fail_silently``, ``connection=``, legacy ``EMAIL_*`` settings). The default here is
  strict: it rejects them. :mod:`mailproviders.legacy` replaces it with the lenient,
  warning implementation. The core never branches on legacy behaviour itself.
* :data:`member_send` — how a failover/round-robin backend sends through one member
  (filled by :mod:`mailproviders.delivery`, which applies the member's RATE_LIMIT and
  REDIRECT); the default calls the member's ``send_messages``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.config.settings import MailSettings
    from mailproviders.message.base import EmailMessage

__all__ = [
    "Compat",
    "Dispatch",
    "MessageDefaults",
    "compat",
    "dispatch",
    "member_send",
    "message_defaults",
]


class MessageDefaults(NamedTuple):
    """What a message uses for what it does not set itself."""

    from_email: str
    use_localtime: bool


def _builtin_defaults() -> MessageDefaults:
    return MessageDefaults("webmaster@localhost", False)


#: Returns the process-wide message defaults (``DEFAULT_FROM_EMAIL``, ``EMAIL_USE_LOCALTIME``).
message_defaults: Callable[[], MessageDefaults] = _builtin_defaults


class Dispatch(Protocol):
    """What ``EmailMessage.send()`` and ``asend()`` call."""

    def send(self, message: EmailMessage, *, fail_silently: bool, using: str | None) -> int:
        """Send ``message`` through provider ``using``; see ``sending.send_email_message``."""
        ...

    async def asend(self, message: EmailMessage, *, fail_silently: bool, using: str | None) -> int:
        """Async :meth:`send`."""
        ...


class _NoDispatch:
    def send(self, message: EmailMessage, *, fail_silently: bool, using: str | None) -> int:
        raise RuntimeError("mailproviders.sending is not installed (import mailproviders)")

    async def asend(self, message: EmailMessage, *, fail_silently: bool, using: str | None) -> int:
        raise RuntimeError("mailproviders.sending is not installed (import mailproviders)")


dispatch: Dispatch = _NoDispatch()


class Compat:
    """Calling conventions of older code. This base rejects them all; the legacy layer
    subclasses it with implementations that keep old code working and warn."""

    def backend_built(
        self, backend: BaseEmailBackend, extra: Mapping[str, Any], fail_silently: object
    ) -> None:
        """A backend was built outside ``providers`` (``alias=None``) with keywords its
        signature does not name (``extra``, from a custom backend's ``**kwargs``) or with
        the backend-level ``fail_silently`` (anything but ``NOT_GIVEN``)."""
        raise TypeError(
            f"{type(backend).__qualname__}() got unsupported keyword(s): "
            f"{', '.join(sorted(extra)) or 'fail_silently'}"
        )

    def backend_silenced(self, backend: BaseEmailBackend) -> bool:
        """Whether ``backend`` itself asks for every send error to be silenced."""
        return False

    def backend_attribute(self, backend: BaseEmailBackend, name: str) -> Any:
        """``backend.<name>`` was read and is not defined; return a value or raise."""
        raise AttributeError(f"{type(backend).__qualname__!r} object has no attribute {name!r}")

    def message_connection(self, message: EmailMessage) -> None:
        """``EmailMessage(connection=...)`` was given."""
        raise TypeError("EmailMessage(connection=...) is not supported; use send(using=...)")

    def message_connection_attribute(
        self, message: object, value: object, *, setting: bool
    ) -> None:
        """``message.connection`` was read, or (``setting``) set to ``value``; return to
        allow it. This base allows reading (``None``: nothing can set it) and setting None."""
        if setting and value is not None:
            raise TypeError("EmailMessage.connection is not supported; use send(using=...)")

    def send_target(
        self,
        using: str | None,
        connection: BaseEmailBackend | None,
        auth: tuple[str | None, str | None],
    ) -> tuple[BaseEmailBackend, str | None, bool]:
        """The backend for a send call given ``connection=`` or ``auth_user``/
        ``auth_password``: ``(backend, alias or None, silenced by the backend itself)``."""
        raise TypeError("connection=, auth_user= and auth_password= are not supported")

    def positional_arguments(self, function: str, names: tuple[str, ...]) -> None:
        """Keyword-only arguments ``names`` of ``function`` were given by position, in
        their historical order; return to accept them."""
        raise TypeError(f"{function}() takes {', '.join(names)} as keyword arguments only")

    def mime_attachment(self, kind: str) -> None:
        """An ``email.mime`` object of class ``kind`` was attached; return to accept it."""
        raise TypeError(
            f"{kind} attachments (email.mime) are not supported; attach an "
            "email.message.MIMEPart instead"
        )

    def lazy_text(self, value: object) -> str | None:
        """``value`` (not a ``str``) where a string is expected: the text of a lazy string
        (Django's ``gettext_lazy``), or ``None`` to reject it."""
        return None

    def address_pairs(self, setting: str, value: list[Any]) -> list[Any]:
        """``ADMINS``/``MANAGERS`` (``setting``) hold ``(name, address)`` pairs: return the
        list to validate (the default leaves it unchanged, so the pairs are rejected)."""
        return value

    def settings_loaded(self, settings: MailSettings) -> MailSettings:
        """Settings were loaded: return the settings to use (e.g. with providers derived
        from older settings). Raises ``ImproperlyConfigured`` for conflicts."""
        return settings


#: The implementation in use (replaced by ``mailproviders.legacy`` when it is imported).
compat: Compat = Compat()


def _member_send(backend: BaseEmailBackend, alias: str, messages: list[EmailMessage]) -> int:
    return backend.send_messages(messages)


#: ``member_send(backend, alias, messages)``: send through member ``alias`` of a composite.
member_send: Callable[[BaseEmailBackend, str, list[EmailMessage]], int] = _member_send
