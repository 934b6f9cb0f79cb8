"""Django adapter: Django's mail goes through mailproviders' providers.

Set ``EMAIL_BACKEND = "mailproviders.integrations.django.EmailBackend"`` (Django 4.2-6.0;
the provider is the ``MAILPROVIDERS_ALIAS`` setting, default ``"default"``), or, with
Django 6.1's ``MAILERS``, an entry with that ``BACKEND`` and ``"OPTIONS": {"using":
"<alias>"}``. Django renders each message; the adapter hands the bytes Django rendered,
with its envelope, to ``mailproviders.providers[alias]`` as a
:class:`~mailproviders.message.RenderedMessage`, so failover, round-robin, pools and
every backend apply to ``send_mail``, ``mail_admins``, ``AdminEmailHandler``...

:func:`providers_from_django_settings` builds ``EMAIL_PROVIDERS`` from a project's Django
mail settings (``EMAIL_HOST``... or ``MAILERS``). Needs ``mailproviders[django]``.
"""

from __future__ import annotations

import email.policy
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

try:
    import django  # type: ignore[import-untyped]
    from django.core.mail.backends.base import (  # type: ignore[import-untyped]
        BaseEmailBackend as DjangoBaseEmailBackend,
    )
except ImportError as exc:
    raise ImportError(
        "mailproviders.integrations.django needs Django: pip install 'mailproviders[django]'",
        name="django",
    ) from exc

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.config.settings import LEGACY_SMTP_OPTIONS
from mailproviders.exceptions import (
    EmailProviderDoesNotExist,
    possibly_sent_messages_of,
    record_possibly_sent,
    record_sent,
    sent_messages_of,
)
from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers
from mailproviders.message.rendered import RenderedMessage
from mailproviders.sendplan import on_failure

__all__ = ["ALIAS_SETTING", "EmailBackend", "providers_from_django_settings", "render"]

#: The Django setting naming the provider when ``EMAIL_BACKEND`` is the adapter.
ALIAS_SETTING: Final = "MAILPROVIDERS_ALIAS"
ADAPTER: Final = f"{__name__}.EmailBackend"
_DJANGO_SMTP: Final = "django.core.mail.backends.smtp.EmailBackend"

_DJANGO_BACKENDS: Final = {
    f"django.core.mail.backends.{name}.EmailBackend": short
    for name, short in (
        ("smtp", "smtp"),
        ("console", "console"),
        ("filebased", "file"),
        ("locmem", "locmem"),
        ("dummy", "dummy"),
    )
}
#: Django's ``EMAIL_*`` settings → SMTP option (``None``/empty values are left out).
_SMTP_SETTINGS: Final = LEGACY_SMTP_OPTIONS
#: The options of Django's built-in backends that mailproviders' backends take too.
_OPTIONS: Final = {
    "smtp": frozenset(_SMTP_SETTINGS.values()),
    "file": frozenset({"file_path"}),
    "console": frozenset({"stream"}),
    "locmem": frozenset(),
    "dummy": frozenset(),
}


def render(message: Any) -> RenderedMessage:
    """The :class:`RenderedMessage` of a Django ``EmailMessage``: the bytes Django's own
    SMTP backend would send (CRLF line ends) and the envelope Django would use.

    Raises what Django raises while rendering (``ValueError``...), and ``ValueError``
    for an invalid envelope address."""
    if django.VERSION >= (6, 0):  # the modern email API: message(policy=...)
        data = message.message(policy=email.policy.SMTP).as_bytes()
    else:
        data = message.message().as_bytes(linesep="\r\n")
    recipients = [str(address) for address in message.recipients()]
    return RenderedMessage(data, from_email=str(message.from_email), recipients=recipients)


class EmailBackend(DjangoBaseEmailBackend):  # type: ignore[misc]
    """A Django email backend sending through the mailproviders provider ``using``.

    ``using`` (a ``MAILERS`` option in Django 6.1) names the provider; when not given, the
    Django setting ``MAILPROVIDERS_ALIAS``, else ``"default"``. ``fail_silently`` (from
    ``send_mail(fail_silently=True)``...) follows mailproviders' rule: a provider that
    cannot be resolved always raises; any failure while sending is logged and the count
    of messages accepted is returned. :meth:`open`/:meth:`close` open and close the
    provider's connection, reused by every :meth:`send_messages` in between.
    """

    def __init__(
        self, fail_silently: bool = False, *, using: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)  # Django's own fail_silently handling is not wanted
        self.fail_silently = fail_silently
        if using is None:
            from django.conf import settings  # type: ignore[import-untyped]

            using = getattr(settings, ALIAS_SETTING, None) or DEFAULT_PROVIDER_ALIAS
        if not isinstance(using, str):
            raise TypeError(f"{ALIAS_SETTING} / the 'using' option must name an alias: {using!r}")
        #: The mailproviders alias this backend sends through.
        self.using: str = using
        self._backend: BaseEmailBackend | None = None
        self._lock = threading.RLock()

    def open(self) -> bool | None:
        """Open the provider's connection; ``True`` when opened now, ``False`` when it was
        open already, ``None`` when opening failed silently."""
        with self._lock:
            if self._backend is not None:
                return False
            backend = self._provider()  # an unknown alias always raises
            try:
                backend.open()
            except Exception as exc:
                on_failure(exc, alias=self.using, fail_silently=self.fail_silently)
                return None
            self._backend = backend
            return True

    def close(self) -> None:
        """Close the connection :meth:`open` opened (nothing otherwise)."""
        with self._lock:
            backend, self._backend = self._backend, None
            if backend is None:
                return
            try:
                backend.close()
            except Exception as exc:
                on_failure(exc, alias=self.using, fail_silently=self.fail_silently)

    def send_messages(self, email_messages: Iterable[Any]) -> int:
        """Render each Django message and send it through the provider; return how many
        were accepted (messages without recipients are skipped)."""
        messages = [message for message in email_messages if message.recipients()]
        if not messages:
            return 0
        with self._lock:
            backend = self._backend or self._provider()
            rendered: list[RenderedMessage] = []
            try:
                rendered.extend(render(message) for message in messages)
                return backend.send_messages(rendered)
            except Exception as exc:
                _as_django_messages(exc, dict(zip(map(id, rendered), messages, strict=False)))
                return on_failure(exc, alias=self.using, fail_silently=self.fail_silently)

    def _provider(self) -> BaseEmailBackend:
        try:
            return providers[self.using]
        except EmailProviderDoesNotExist as exc:
            exc.add_note(
                f"The Django adapter sends through the mailproviders provider {self.using!r} "
                f"(the {ALIAS_SETTING} setting, or the 'using' option of a MAILERS entry); "
                "to build it from Django's EMAIL_* settings, pass "
                "providers_from_django_settings(settings) to mailproviders.configure()."
            )
            raise

    def __repr__(self) -> str:
        return f"<{ADAPTER} using={self.using!r}>"


def _as_django_messages(exc: Exception, originals: Mapping[int, Any]) -> None:
    """Make ``exc.sent_messages``/``possibly_sent_messages`` name the caller's Django
    messages instead of the rendered copies, so that the caller can retry only the rest."""
    if hasattr(exc, "sent_messages"):
        sent = [originals.get(id(message), message) for message in sent_messages_of(exc)]
        record_sent(exc, sent, count=getattr(exc, "sent_count", None))
    if hasattr(exc, "possibly_sent_messages"):
        possibly = possibly_sent_messages_of(exc)
        record_possibly_sent(exc, [originals.get(id(message), message) for message in possibly])


def _provider(where: str, backend: str, options: Mapping[str, Any]) -> dict[str, Any]:
    short = _DJANGO_BACKENDS.get(backend)
    if short is None:
        raise ValueError(
            f"{where}: BACKEND {backend!r} is not one of Django's built-in backends; add "
            "that provider to EMAIL_PROVIDERS yourself"
        )
    unknown = sorted(set(options) - _OPTIONS[short])
    if unknown:
        raise ValueError(f"{where}: OPTIONS {unknown} have no mailproviders equivalent")
    kept = {key: value for key, value in options.items() if value is not None and value != ""}
    return {"BACKEND": short, "OPTIONS": kept}


def providers_from_django_settings(
    settings: Any, *, alias: str = DEFAULT_PROVIDER_ALIAS
) -> dict[str, dict[str, Any]]:
    """``EMAIL_PROVIDERS`` equivalent to a project's Django mail settings.

    With ``MAILERS`` (Django 6.1): one provider per entry, under the same alias (entries
    whose BACKEND is this adapter are left out: they point at providers). Otherwise one
    provider, ``alias``, from ``EMAIL_BACKEND`` and ``EMAIL_HOST``, ``EMAIL_PORT``,
    ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``, ``EMAIL_USE_SSL``,
    ``EMAIL_TIMEOUT``, ``EMAIL_SSL_CERTFILE``, ``EMAIL_SSL_KEYFILE`` (or
    ``EMAIL_FILE_PATH``); an ``EMAIL_BACKEND`` that is this adapter stands for SMTP.
    Empty values are left out, so mailproviders' defaults apply (a 30 s timeout).

    Raises ``ValueError`` naming the setting for a backend or option that has no
    mailproviders equivalent (a third-party Django backend).
    """
    mailers = getattr(settings, "MAILERS", None)
    if mailers is not None:
        result: dict[str, dict[str, Any]] = {}
        for name, entry in dict(mailers).items():
            backend = entry.get("BACKEND", _DJANGO_SMTP)
            if backend != ADAPTER:
                result[name] = _provider(f"MAILERS[{name!r}]", backend, entry.get("OPTIONS", {}))
        return result
    backend = getattr(settings, "EMAIL_BACKEND", None) or _DJANGO_SMTP
    if backend == ADAPTER:
        backend = _DJANGO_SMTP
    options: dict[str, Any] = {}
    if backend == _DJANGO_SMTP:
        options = {
            option: getattr(settings, name, None) for name, option in _SMTP_SETTINGS.items()
        }
    elif _DJANGO_BACKENDS.get(backend) == "file":
        options["file_path"] = getattr(settings, "EMAIL_FILE_PATH", None)
    return {alias: _provider("EMAIL_BACKEND", backend, options)}
