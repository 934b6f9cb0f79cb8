"""One HTTP exchange with an email API: the request (:class:`Call`) and what a failed
one means (:func:`response_error`, :func:`transport_error`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from mailproviders.backends.http.errors import APIError, APIUnavailable, parse_retry_after
from mailproviders.exceptions import record_possibly_sent

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["Call", "ErrorParts", "Scrubber", "response_error", "reveal", "transport_error"]

#: Failures after which the request had been written whole: the API may have acted on it.
_AFTER_SENDING = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)
_MAX_DETAIL = 500
#: ``(code, detail, field_errors)`` of a decoded error body.
ErrorParts = Callable[[Any], tuple[str | None, str, dict[str, str]]]


def reveal(value: str | SecretStr) -> str:
    """The text of a key given as ``str`` or ``SecretStr``."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class Scrubber:
    """Replaces the given secrets by ``***`` in text taken from an answer or an error."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(secret for secret in secrets if secret)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class Call:
    """One HTTP request: ``json`` body, or ``data`` form fields and ``files``."""

    method: str
    path: str
    json: Any = None
    data: list[tuple[str, str]] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.request``."""
        if self.data is None and self.files is None:
            return {"json": self.json} if self.json is not None else {}
        # httpx wants a mapping for data: repeated fields become lists.
        fields: dict[str, list[str]] = {}
        for key, value in self.data or []:
            fields.setdefault(key, []).append(value)
        return {"data": fields, "files": self.files or None}


def transport_error(
    exc: Exception,
    message: EmailMessage | None,
    *,
    alias: str | None,
    api: str,
    endpoint: str,
    timeout: float,
    scrub: Scrubber,
) -> APIUnavailable:
    """The error for a request that got no answer; ``message`` is marked possibly sent
    when the request had been written whole."""
    after = isinstance(exc, _AFTER_SENDING)
    what = "no answer" if isinstance(exc, httpx.TimeoutException) else "failed"
    where = "after sending the request to" if after else "before the request reached"
    detail = scrub(
        f"{type(exc).__name__} ({what}, timeout={timeout:g} s) {where} {endpoint}: {exc}"
    )
    error = APIUnavailable(detail, alias=alias, api=api)
    if after and message is not None:
        record_possibly_sent(error, [message])
    return error


def response_error(
    response: httpx.Response,
    parts: ErrorParts,
    *,
    alias: str | None,
    api: str,
    scrub: Scrubber,
    detail: str | None = None,
) -> APIError:
    """The error an unsuccessful answer means: :class:`APIUnavailable` for 429 and 5xx,
    else :class:`APIError`, with the API's code, message and field errors."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    try:
        code, text, fields = parts(body)
    except (AttributeError, KeyError, TypeError, ValueError):
        code, text, fields = None, str(body), {}
    status = response.status_code
    cls = APIUnavailable if status == 429 or status >= 500 else APIError
    return cls(
        scrub((detail or text or response.reason_phrase)[:_MAX_DETAIL]),
        alias=alias,
        api=api,
        status=status,
        code=code,
        field_errors={name: scrub(value) for name, value in fields.items()},
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
