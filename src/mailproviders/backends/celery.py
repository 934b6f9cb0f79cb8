"""Celery queue backend: render each message once and enqueue it for a worker.

``send_messages`` does not talk to a mail server: it renders each message
(:class:`~mailproviders.message.RenderedMessage`) and publishes a task named
``mailproviders.deliver`` carrying the rendered message as JSON (never pickle). A
Celery worker that ran :func:`mailproviders.integrations.celery.register_tasks` on its
app sends it through ``providers[deliver_with]``, retrying and de-duplicating there.
This module only enqueues by task name: it needs the broker, not the worker code.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Final

try:
    from celery import Celery  # type: ignore[import-untyped]
    from kombu.exceptions import OperationalError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "the Celery queue backend needs celery: pip install 'mailproviders[celery]'",
        name="celery",
    ) from exc

from pydantic import SecretStr, ValidationError

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.config.queue_options import CeleryOptions
from mailproviders.config.validate import problems_from_error
from mailproviders.exceptions import ConfigProblem, InvalidEmailProvider, record_sent
from mailproviders.message.rendered import RenderedMessage

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["PAYLOAD_VERSION", "TASK_NAME", "EmailBackend", "celery_app"]

#: The name the worker registers its task under (see mailproviders.integrations.celery).
TASK_NAME: Final = "mailproviders.deliver"
#: Version of the task's payload (a dict: the rendered message and how to deliver it).
PAYLOAD_VERSION: Final = 1

#: Celery apps built from a ``broker_url``, one per (URL, timeout): shared by every
#: backend instance, so their broker connections are pooled.
_built_apps: dict[tuple[str, float], Any] = {}
_built_lock = threading.Lock()


def _import_app(path: str, alias: str | None) -> Any:
    module_name, sep, name = path.partition(":")
    if not sep:
        module_name, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise InvalidEmailProvider(
            f"cannot import the Celery app {path!r}: {type(exc).__name__}: {exc}",
            alias=alias,
            option="app",
        ) from exc
    if not isinstance(found, Celery):
        raise InvalidEmailProvider(
            f"{path!r} is not a Celery app (got {type(found).__name__})",
            alias=alias,
            option="app",
        )
    return found


def celery_app(broker_url: str, *, timeout: float = 10.0) -> Any:
    """The Celery app this backend enqueues with for ``broker_url`` (built once, JSON
    only). A worker may use it too: ``register_tasks(celery_app(url))``."""
    key = (broker_url, timeout)
    with _built_lock:
        app = _built_apps.get(key)
        if app is None:
            app = Celery("mailproviders", broker=broker_url, set_as_current=False)
            app.conf.update(
                task_serializer="json",
                accept_content=["json"],
                result_serializer="json",
                broker_connection_timeout=timeout,
                broker_transport_options={
                    "socket_timeout": timeout,
                    "socket_connect_timeout": timeout,
                },
                task_publish_retry_policy={
                    "max_retries": 2,
                    "interval_start": 0,
                    "interval_step": 0.2,
                    "interval_max": 0.5,
                },
            )
            _built_apps[key] = app
        return app


class EmailBackend(BaseEmailBackend):
    """Enqueue messages for a Celery worker that delivers them through ``deliver_with``.

    Each message is rendered once (a :class:`RenderedMessage` is taken as it is) and
    published as one task; ``send_messages`` returns how many were enqueued. A broker
    that cannot be reached raises ``ConnectionError`` (an ``OSError``: ``failover``
    moves on, ``fail_silently`` silences it) carrying ``sent_count``/``sent_messages``.
    ``max_retries``, ``retry_delay`` and ``retry_delay_max`` travel with each task and
    govern the worker's retries. The broker is the one of the Celery ``app`` (an import
    path), or ``broker_url``.

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` naming the option for
    invalid options, and when ``app`` cannot be imported (at the first send).
    """

    def __init__(
        self,
        *,
        alias: str | None = None,
        deliver_with: str,
        queue: str | None = None,
        max_retries: int = 5,
        retry_delay: float = 10.0,
        retry_delay_max: float = 600.0,
        app: str | None = None,
        broker_url: str | SecretStr | None = None,
        timeout: float = 10.0,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        given = {
            "deliver_with": deliver_with,
            "queue": queue,
            "max_retries": max_retries,
            "retry_delay": retry_delay,
            "retry_delay_max": retry_delay_max,
            "app": app,
            "broker_url": broker_url,
            "timeout": timeout,
        }
        try:
            options = CeleryOptions.model_validate(given)
        except ValidationError as exc:
            raise InvalidEmailProvider(
                errors=problems_from_error(
                    exc,
                    alias=alias,
                    expected=CeleryOptions.EXPECTED,
                    known=CeleryOptions.model_fields,
                )
            ) from None
        problems = options.problems()
        if problems:
            raise InvalidEmailProvider(errors=[ConfigProblem(alias, *p) for p in problems])
        self.deliver_with = options.deliver_with
        self.queue = options.queue
        self.max_retries = options.max_retries
        self.retry_delay = options.retry_delay
        self.retry_delay_max = options.retry_delay_max
        self.app = options.app
        self._broker_url = options.broker_url
        self.timeout = options.timeout

    def celery(self) -> Any:
        """The Celery app messages are published with."""
        if self.app is not None:
            return _import_app(self.app, self.alias)
        assert self._broker_url is not None  # one of the two, checked in __init__
        return celery_app(self._broker_url.get_secret_value(), timeout=self.timeout)

    def open(self) -> None:
        """Check that the broker can be reached now (what ``mailproviders verify``,
        ``check --health`` and a failover's members rely on); raises ``ConnectionError``
        as a send would. Nothing is kept open (the app pools its broker connections)."""
        with self._broker_errors(None), self.celery().pool.acquire(block=True) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0.2, timeout=self.timeout
            )

    def payload(self, rendered: RenderedMessage) -> dict[str, Any]:
        """The task's one argument: the rendered message and how to deliver it."""
        return {
            "v": PAYLOAD_VERSION,
            "message": rendered.to_dict(),
            "deliver_with": self.deliver_with,
            "queued_by": self.alias,
            "max_retries": self.max_retries,
            "retry_delay": self.retry_delay,
            "retry_delay_max": self.retry_delay_max,
        }

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Enqueue ``messages`` (those without recipients are skipped); return how many
        were enqueued. Raises ``ConnectionError`` when the broker cannot be reached,
        ``ValueError`` for a message that cannot be rendered or has no Message-ID."""
        enqueued: list[EmailMessage] = []
        try:
            with ExitStack() as stack:
                producer = None  # one broker producer for the whole call
                for message in messages:
                    if not message.recipients():
                        continue
                    rendered = self._render(message)
                    with self._broker_errors(rendered):
                        if producer is None:
                            app = self.celery()
                            producer = stack.enter_context(app.producer_or_acquire())
                        app.send_task(
                            TASK_NAME,
                            args=[self.payload(rendered)],
                            queue=self.queue,
                            serializer="json",
                            producer=producer,
                            # shown by monitoring tools: the Message-ID, not the content
                            argsrepr=f"({rendered.message_id!r})",
                            kwargsrepr="{}",
                        )
                    enqueued.append(message)
        except Exception as exc:
            record_sent(exc, enqueued)
            raise
        return len(enqueued)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Async :meth:`send_messages`: the enqueue runs in a worker thread (the broker
        client blocks), so the event loop is never held up by the broker."""
        return await asyncio.to_thread(self.send_messages, messages)

    def _render(self, message: EmailMessage) -> RenderedMessage:
        if isinstance(message, RenderedMessage):
            rendered = message
        else:
            rendered = RenderedMessage.from_message(message, alias=self.deliver_with)
        if not rendered.message_id:
            raise ValueError(
                f"provider {self.alias!r}: a message without a Message-ID cannot be queued "
                "(the worker recognises a redelivered task by it)"
            )
        return rendered

    @contextmanager
    def _broker_errors(self, rendered: RenderedMessage | None) -> Iterator[None]:
        try:
            yield
        except (OperationalError, OSError) as exc:
            lost = "" if rendered is None else f"; message {rendered.message_id} was not queued"
            raise ConnectionError(
                f"provider {self.alias!r}: cannot enqueue to the Celery broker "
                f"({type(exc).__name__}: {exc}){lost}"
            ) from exc

    def __repr__(self) -> str:
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r}, "
            f"deliver_with={self.deliver_with!r}, queue={self.queue!r}>"
        )
