"""Errors of the HTTP API backends, classified for retries and failover.

:class:`APIError` is permanent: the provider refused the request (a 4xx other than 429),
so sending the same message again, here or elsewhere, would fail the same way.
:class:`APIUnavailable` is also an ``OSError``: connection refused, a timeout, a 429 or a
5xx answer — the provider did not take the message now, so failover moves on (see
:func:`mailproviders.backends.composite.is_transient`). A timeout after the request was
sent is an :class:`APIUnavailable` too, but the message is then listed in
``possibly_sent_messages`` and never resent. Messages name the provider alias, the API
and the HTTP status, never a key.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

__all__ = ["APIError", "APIUnavailable", "parse_retry_after"]


class APIError(Exception):
    """The provider's API refused the request; permanent.

    Attributes: ``alias`` (the provider alias), ``api`` (e.g. ``"Postmark"``), ``status``
    (HTTP status, ``None`` when no answer came), ``code`` (the API's own error code or
    name, if any), ``detail`` (its message), ``field_errors`` (field → message, where the
    API names fields) and ``retry_after`` (seconds, from a ``Retry-After`` header).
    """

    def __init__(
        self,
        detail: str,
        *,
        alias: str | None,
        api: str,
        status: int | None = None,
        code: str | None = None,
        field_errors: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.alias = alias
        self.api = api
        self.status = status
        self.code = code
        self.detail = detail
        self.field_errors = dict(field_errors or {})
        self.retry_after = retry_after
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"provider {self.alias!r} ({self.api} API)"
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP answer"
        code = f" [{self.code}]" if self.code else ""
        fields = "".join(f"; {name}: {text}" for name, text in self.field_errors.items())
        retry = f" (retry after {self.retry_after:g} s)" if self.retry_after is not None else ""
        return f"{where}: {status}{code}: {self.detail}{fields}{retry}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments: pickling (multiprocessing, logging handlers) needs this.
        keywords = {
            "alias": self.alias,
            "api": self.api,
            "status": self.status,
            "code": self.code,
            "field_errors": self.field_errors,
            "retry_after": self.retry_after,
        }
        return (_rebuild, (type(self), self.detail, keywords))


def _rebuild(cls: type[APIError], detail: str, keywords: dict[str, object]) -> APIError:
    return cls(detail, **keywords)  # type: ignore[arg-type]


class APIUnavailable(APIError, OSError):
    """The provider did not take the request now (connection, timeout, 429, 5xx): an
    ``OSError``, so failover moves the messages it did not accept to the next provider."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or
    ``None`` when absent or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
