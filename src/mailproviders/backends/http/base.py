"""What the httpx-based API backends share: clients, sending, error classification.

A provider module says how a message becomes a request (:meth:`APIBackend._call`), what
a successful answer means (:meth:`APIBackend._accepted`), how its error bodies read
(:meth:`APIBackend._error_parts`) and which cheap authenticated request checks the key
(:meth:`APIBackend._verify_call`). Everything else — one request per message over one
reused connection, the sync and async paths, and the triage of failures — is here.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "the HTTP API backends (Mailgun, Postmark, SendGrid, Resend) need httpx: "
        "pip install 'mailproviders[http]'",
        name="httpx",
    ) from exc

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.backends.http.errors import APIUnavailable
from mailproviders.backends.http.exchange import (
    Call,
    Scrubber,
    response_error,
    reveal,
    transport_error,
)
from mailproviders.backends.http.translate import APIMessage, Features, translate
from mailproviders.config.api_options import endpoint_url
from mailproviders.exceptions import InvalidEmailProvider, record_sent
from mailproviders.message.rendered import RenderedMessage

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["APIBackend", "Call", "reveal"]


class APIBackend(BaseEmailBackend):
    """Base of the HTTP API backends: one request per message, ``httpx`` underneath.

    The sync client is created on first use and kept until :meth:`close`, so a cached
    instance reuses its connection across calls; the async client lives from
    :meth:`aopen` to :meth:`aclose`, or for one :meth:`asend_messages` call. :meth:`open`
    and :meth:`aopen` also check the key, once per instance, with the provider's cheap
    authenticated request.
    """

    cacheable: ClassVar[bool] = True
    features: ClassVar[Features]
    #: The provider's public endpoint (the DSN's ``@default``).
    default_endpoint: ClassVar[str]

    def __init__(
        self,
        *,
        alias: str | None,
        endpoint: str | None,
        timeout: float,
        fail_silently: bool | NotGiven = NOT_GIVEN,
        secrets: tuple[str, ...] = (),
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        try:
            self.endpoint = endpoint_url(endpoint or self.default_endpoint)
        except ValueError as exc:
            raise InvalidEmailProvider(str(exc), alias=alias, option="endpoint") from None
        if not timeout > 0:
            raise InvalidEmailProvider(
                f"expected a number of seconds > 0, got {timeout!r}", alias=alias, option="timeout"
            )
        self.timeout = float(timeout)
        self._scrub = Scrubber(secrets)
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._verified = False
        self._lock = threading.Lock()

    # -- what a provider module says ------------------------------------------------

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every request."""

    @abstractmethod
    def _call(self, message: APIMessage) -> Call:
        """The request that sends ``message``."""

    @abstractmethod
    def _accepted(self, message: EmailMessage, response: httpx.Response) -> None:
        """Record a successful answer on ``message`` (``provider_message_id``...)."""

    @abstractmethod
    def _error_parts(self, body: Any) -> tuple[str | None, str, dict[str, str]]:
        """``(code, detail, field_errors)`` of a decoded error body (JSON, else text)."""

    @abstractmethod
    def _verify_call(self) -> Call:
        """A cheap authenticated request that sends nothing."""

    def _verified_by(self, response: httpx.Response) -> bool:
        """Whether the answer to :meth:`_verify_call` shows the key was accepted."""
        return response.is_success

    # -- connections ----------------------------------------------------------------

    def _new_client(self, cls: type[Any]) -> Any:
        return cls(
            base_url=self.endpoint,
            timeout=self.timeout,
            headers={"Accept": "application/json", **self._auth_headers()},
            follow_redirects=False,
        )

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = self._new_client(httpx.Client)
            return self._client

    def open(self) -> None:
        """Create the connection pool and, the first time, check the key.

        Raises :class:`APIError` when the API refuses the key, :class:`APIUnavailable`
        when it cannot be reached or answers 429/5xx.
        """
        client = self._sync_client()
        if not self._verified:
            call = self._verify_call()
            response = self._request(client, call, None)
            self._verify(response)

    def close(self) -> None:
        """Close the sync connection pool, if any."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aopen(self) -> None:
        """Async :meth:`open`: the async connection pool lives until :meth:`aclose`."""
        if self._aclient is None:
            self._aclient = self._new_client(httpx.AsyncClient)
        if not self._verified:
            response = await self._arequest(self._aclient, self._verify_call(), None)
            self._verify(response)

    async def aclose(self) -> None:
        """Close the async connection pool, and the sync one if it was opened too."""
        client, self._aclient = self._aclient, None
        if client is not None:
            await client.aclose()
        self.close()

    def _verify(self, response: httpx.Response) -> None:
        if not self._verified_by(response):
            self._raise_for(response)
            self._raise_for(response, f"unexpected answer {response.status_code}")
        self._verified = True

    @asynccontextmanager
    async def _async_client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._aclient is not None:
            yield self._aclient
            return
        async with self._new_client(httpx.AsyncClient) as client:
            yield client

    # -- sending ----------------------------------------------------------------------

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send each message with one request; return how many the API accepted.

        Messages without recipients are skipped. Sets ``message.provider_message_id``
        (and ``refused_recipients`` where the API reports them). Raises ``ValueError``
        for what the API cannot carry (before its request), :class:`APIError` when the
        API refuses a message, :class:`APIUnavailable` (an ``OSError``) when it cannot
        take it now — after a timeout once the request was sent, with the message in
        ``possibly_sent_messages``; the exception carries ``sent_count``/``sent_messages``.
        """
        sent: list[EmailMessage] = []
        client = self._sync_client()
        with self._recording(sent):
            for message in messages:
                if message.recipients():
                    call = self._prepare(message)
                    self._finish(message, self._request(client, call, message))
                    sent.append(message)
        return len(sent)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Async :meth:`send_messages` with ``httpx.AsyncClient``: same results, same
        exceptions."""
        sent: list[EmailMessage] = []
        async with self._async_client() as client:
            with self._recording(sent):
                for message in messages:
                    if message.recipients():
                        call = self._prepare(message)
                        self._finish(message, await self._arequest(client, call, message))
                        sent.append(message)
        return len(sent)

    @contextmanager
    def _recording(self, sent: list[EmailMessage]) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            record_sent(exc, sent)
            raise

    def _prepare(self, message: EmailMessage) -> Call:
        message.refused_recipients = {}
        message.provider_message_id = None  # type: ignore[attr-defined]
        if isinstance(message, RenderedMessage):
            return self._raw_call(message)
        return self._call(translate(message, self.features, self.alias))

    def _raw_call(self, message: RenderedMessage) -> Call:
        """The request that sends ``message``'s bytes as they are (raw MIME), for an API
        that takes them; by default a ``ValueError`` naming the alias."""
        raise ValueError(
            f"provider {self.alias!r} ({self.features.api} API): cannot send a "
            "RenderedMessage: raw MIME is not supported by that API (send its bytes "
            "through an SMTP, Amazon SES or Mailgun provider)"
        )

    def _finish(self, message: EmailMessage, response: httpx.Response) -> None:
        self._raise_for(response)
        self._accepted(message, response)

    def _request(
        self, client: httpx.Client, call: Call, message: EmailMessage | None
    ) -> httpx.Response:
        try:
            return client.request(call.method, call.path, **call.kwargs())
        except httpx.TransportError as exc:
            raise self._transport_error(exc, message) from exc

    async def _arequest(
        self, client: httpx.AsyncClient, call: Call, message: EmailMessage | None
    ) -> httpx.Response:
        try:
            return await client.request(call.method, call.path, **call.kwargs())
        except httpx.TransportError as exc:
            raise self._transport_error(exc, message) from exc

    # -- failures -------------------------------------------------------------------

    def _transport_error(self, exc: Exception, message: EmailMessage | None) -> APIUnavailable:
        return transport_error(
            exc,
            message,
            alias=self.alias,
            api=self.features.api,
            endpoint=self.endpoint,
            timeout=self.timeout,
            scrub=self._scrub,
        )

    def _raise_for(self, response: httpx.Response, detail: str | None = None) -> None:
        """Raise the error an unsuccessful ``response`` means (nothing for a 2xx)."""
        if detail is None and 200 <= response.status_code < 300:
            return
        raise response_error(
            response,
            self._error_parts,
            alias=self.alias,
            api=self.features.api,
            scrub=self._scrub,
            detail=detail,
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r} "
            f"endpoint={self.endpoint!r}>"
        )
