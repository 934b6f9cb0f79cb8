"""``get_connection()``, ``SMTPConnection``, and the ``connection=``/``auth_*`` arguments."""

from __future__ import annotations

import email.utils
import inspect
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers
from mailproviders.legacy.fail_silently import is_silenced
from mailproviders.legacy.settings import SMTP_BACKEND, legacy_provider, legacy_values
from mailproviders.legacy.warnings import CONNECTION_ARGUMENT, warn_deprecated
from mailproviders.message.addresses import parse_mailbox
from mailproviders.message.arguments import positional_order
from mailproviders.registry import import_backend

if TYPE_CHECKING:
    from mailproviders.backends.smtp import EmailBackend as SMTPBackend

__all__ = ["get_connection", "prep_address", "send_target", "smtp_connection_class"]


def _accepted_options(backend_class: type[Any], options: dict[str, Any]) -> dict[str, Any]:
    """Drop (with a warning) the options ``backend_class.__init__`` does not take."""
    parameters = inspect.signature(backend_class.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        warn_deprecated(
            f"{backend_class.__qualname__} does not take the option(s) {', '.join(unknown)}; "
            "they are ignored. Remove them (unknown options are an error in EMAIL_PROVIDERS)."
        )
    return {key: value for key, value in options.items() if key not in unknown}


def _reveal(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def legacy_options(path: str, options: dict[str, Any]) -> tuple[type[Any], dict[str, Any]]:
    """The class at ``path`` and its options from the legacy settings, ``options`` winning.

    Raises ``RuntimeError`` when ``EMAIL_PROVIDERS`` (and no legacy setting) is configured.
    """
    settings = providers.settings
    legacy = legacy_values(settings)
    if settings.EMAIL_PROVIDERS is not None and not legacy:
        raise RuntimeError(
            "get_connection(backend, ...) is not supported with EMAIL_PROVIDERS. "
            f"get_connection({path!r}) builds a backend from the legacy settings, but "
            "EMAIL_PROVIDERS is configured: use mailproviders.providers['<alias>']."
        )
    backend_class = import_backend(path, None)
    from_settings = legacy_provider({**legacy, "EMAIL_BACKEND": path})["OPTIONS"]
    merged = {key: _reveal(value) for key, value in from_settings.items()} | options
    return backend_class, _accepted_options(backend_class, merged)


@positional_order("fail_silently")
def get_connection(
    backend: str | None = None, *, fail_silently: bool = False, **kwargs: Any
) -> BaseEmailBackend:
    """Deprecated: use ``mailproviders.providers[alias]``.

    With no arguments, returns ``providers.default``. With keyword arguments only, a new
    instance of the default provider with those options overriding its OPTIONS
    (``fail_silently`` included). With a backend path, that backend built directly from
    the legacy settings; ``RuntimeError`` when ``EMAIL_PROVIDERS`` is configured.
    """
    warn_deprecated(
        "get_connection() is deprecated. Use mailproviders.providers['default'] (or "
        "providers['<alias>']) and pass fail_silently to the send call."
    )
    options = dict(kwargs)
    if fail_silently:
        options["fail_silently"] = True
    if backend is not None:
        backend_class, accepted = legacy_options(backend, options)
        return backend_class(**accepted)  # type: ignore[no-any-return]
    if not options:
        return providers.default
    config = providers.config(DEFAULT_PROVIDER_ALIAS)
    backend_class = import_backend(config.BACKEND, DEFAULT_PROVIDER_ALIAS)
    accepted = _accepted_options(backend_class, options)
    return providers.create_connection(DEFAULT_PROVIDER_ALIAS, **accepted)


def send_target(
    using: str | None,
    connection: BaseEmailBackend | None,
    auth: tuple[str | None, str | None],
) -> tuple[BaseEmailBackend, str | None, bool]:
    """The backend of a send call given ``connection=`` or ``auth_user``/``auth_password``
    (see ``mailproviders._hooks.Compat.send_target``)."""
    if connection is not None:
        if using is not None:
            raise TypeError(
                "'connection' is not compatible with 'using'. (Keep using=; connection= "
                "is deprecated.)"
            )
        if auth != (None, None):
            # The backend is already built: its credentials cannot change any more.
            raise TypeError(
                "auth_user and auth_password cannot be used with a connection. Pass "
                "auth_user and auth_password to get_connection() instead. (Better: set "
                "username and password in the provider's OPTIONS and send with "
                "using='<alias>'.)"
            )
        warn_deprecated(f"{CONNECTION_ARGUMENT} Send with using='<alias>' instead of connection=.")
        return connection, None, is_silenced(connection)
    if using is not None:
        # using= names a configured provider: its credentials are its OPTIONS'.
        raise TypeError(
            "'auth_user' and 'auth_password' are not compatible with 'using'. Set "
            f"'username' and 'password' OPTIONS in EMAIL_PROVIDERS instead. (Provider {using!r}.)"
        )
    alias = DEFAULT_PROVIDER_ALIAS
    warn_deprecated(
        "The 'auth_user' and 'auth_password' arguments are deprecated. Set 'username' and "
        f"'password' OPTIONS in EMAIL_PROVIDERS instead. (Provider {alias!r}; then send "
        f"with using={alias!r}.)"
    )
    options = {
        key: value
        for key, value in zip(("username", "password"), auth, strict=True)
        if value is not None
    }
    backend = providers.create_connection(alias, **options)
    return backend, alias, is_silenced(backend)


def prep_address(address: str, force_ascii: bool = True) -> str:
    """The addr-spec of the one address ``address`` (Django's ``smtp.EmailBackend.
    prep_address``, offered on the SMTP backend): with ``force_ascii``, its domain IDNA
    encoded; without, as written (for SMTPUTF8).

    Raises ``ValueError`` for an invalid address, and with ``force_ascii`` for a non-ASCII
    local part (it has no ASCII form).
    """
    mailbox = parse_mailbox(address, "address")
    if not force_ascii:
        return email.utils.parseaddr(address)[1]
    if not mailbox.local_part.isascii():
        raise ValueError(
            f"Invalid address {address!r}: local-part contains non-ASCII characters "
            "(it can only be sent with SMTPUTF8)"
        )
    return mailbox.addr_spec


def smtp_connection_class() -> type[SMTPBackend]:
    """Build ``SMTPConnection``, the deprecated alias of the SMTP backend (on first use:
    importing the SMTP backend costs the ``ssl`` and ``smtplib`` modules)."""
    from mailproviders.backends import smtp

    class SMTPConnection(smtp.EmailBackend):
        """Deprecated alias of ``mailproviders.backends.smtp.EmailBackend``."""

        def __init__(self, **kwargs: Any) -> None:
            warn_deprecated(
                "SMTPConnection is deprecated; configure an smtp provider in EMAIL_PROVIDERS "
                "and use mailproviders.providers['<alias>']"
            )
            _, accepted = legacy_options(SMTP_BACKEND, kwargs)
            super().__init__(**accepted)

    SMTPConnection.__module__ = "mailproviders.legacy"
    SMTPConnection.__qualname__ = "SMTPConnection"
    return SMTPConnection
