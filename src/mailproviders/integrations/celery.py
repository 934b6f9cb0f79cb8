"""Worker side of the Celery queue provider: the ``mailproviders.deliver`` task.

Call :func:`register_tasks` on the worker's Celery app. The task receives what
``mailproviders.backends.celery.EmailBackend`` enqueued (a JSON payload holding a
:class:`~mailproviders.message.RenderedMessage`) and sends it through
``providers[deliver_with]`` of the worker's own configuration, under that provider's
``RATE_LIMIT`` and ``REDIRECT`` (as a failover member is; its ``RETRY`` gives way to the
task's retries, and hooks ran where the message was enqueued).

Delivery is at most once per Message-ID. Before sending, the task marks the Message-ID
``sending`` in Redis (``SET NX`` with a TTL); after the provider accepted it, ``sent``.
A task whose Message-ID is already marked is a redelivery or a duplicate and sends
nothing: ``sent`` is logged at INFO; ``sending`` or ``possibly-sent`` (a worker died
between the two marks, or the server may have accepted the message without replying)
at ERROR, since the message may or may not have been delivered — it is never sent twice,
and an operator can look it up by Message-ID. A failure that certainly delivered nothing
(:func:`~mailproviders.backends.composite.is_transient` and not possibly sent) removes
the mark and is retried with exponential backoff through Celery's ``retry``; any other
failure removes the mark (permanent errors) or keeps it (possibly sent) and fails the
task. Every log line names the provider alias, the Message-ID and the attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol

import redis

from mailproviders import _hooks
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.backends.celery import PAYLOAD_VERSION, TASK_NAME
from mailproviders.backends.composite import is_transient
from mailproviders.exceptions import possibly_sent_messages_of
from mailproviders.handler import providers as default_providers
from mailproviders.message.rendered import RenderedMessage

__all__ = ["TASK_NAME", "DeliveryRecords", "register_tasks"]

logger = logging.getLogger("mailproviders.celery")

#: How long a Message-ID's mark is kept (seconds): longer than any redelivery can come.
DEFAULT_RECORD_TTL: Final = 7 * 24 * 3600
_SENDING: Final = "sending"
_SENT: Final = "sent"
_POSSIBLY_SENT: Final = "possibly-sent"
# Delete the mark only while it is still this attempt's own.
_RELEASE: Final = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class Providers(Protocol):
    """What the task needs of the handler (``mailproviders.providers``)."""

    def __getitem__(self, alias: str, /) -> BaseEmailBackend:
        """A backend of provider ``alias``."""
        ...


class DeliveryRecords:
    """The per-Message-ID marks in Redis: ``sending <task id>``, ``sent``,
    ``possibly-sent``, each kept ``ttl`` seconds."""

    def __init__(
        self, client: redis.Redis, *, ttl: float, prefix: str = "mailproviders:delivery:"
    ) -> None:
        self.client = client
        self.ttl = max(1, int(ttl))
        self.prefix = prefix

    def key(self, message_id: str) -> str:
        """The Redis key of ``message_id``."""
        return self.prefix + message_id

    def claim(self, message_id: str, token: str) -> str | None:
        """Mark ``message_id`` as being sent by ``token``; ``None`` when this call did,
        else the mark found (``sent``, ``possibly-sent`` or ``sending <other>``)."""
        key = self.key(message_id)
        for _ in range(2):  # a mark that expires between SET and GET: try once more
            if self.client.set(key, f"{_SENDING} {token}", nx=True, ex=self.ttl):
                return None
            found = self.client.get(key)
            if found is not None:
                return found.decode() if isinstance(found, bytes) else str(found)
        return f"{_SENDING} (unknown)"

    def mark(self, message_id: str, state: str) -> None:
        """Record ``state`` (``sent`` or ``possibly-sent``) for ``message_id``."""
        self.client.set(self.key(message_id), state, ex=self.ttl)

    def release(self, message_id: str, token: str) -> None:
        """Remove ``token``'s ``sending`` mark (nothing was delivered)."""
        self.client.eval(_RELEASE, 1, self.key(message_id), f"{_SENDING} {token}")

    def state(self, message_id: str) -> str | None:
        """The mark of ``message_id``, or ``None``."""
        found = self.client.get(self.key(message_id))
        return found.decode() if isinstance(found, bytes) else found


def _store_url(app: Any, redis_url: str | None) -> str:
    if redis_url is not None:
        return redis_url
    for setting in ("broker_url", "result_backend"):
        url = app.conf.get(setting)
        if isinstance(url, str) and url.startswith(("redis://", "rediss://", "unix://")):
            return url
    raise ValueError(
        "register_tasks(app, redis_url=...): the app's broker and result backend are not "
        "Redis; give the Redis URL where delivered Message-IDs are recorded"
    )


def register_tasks(
    app: Any,
    *,
    redis_url: str | None = None,
    record_ttl: float = DEFAULT_RECORD_TTL,
    providers: Providers | None = None,
) -> Any:
    """Register the ``mailproviders.deliver`` task on the Celery ``app``; return it.

    Delivered Message-IDs are recorded in Redis at ``redis_url`` (default: the app's
    broker, else its result backend, when it is Redis) for ``record_ttl`` seconds.
    ``providers`` defaults to :data:`mailproviders.providers` (the worker's
    configuration: the ``deliver_with`` aliases must be configured there). The task is
    ``acks_late`` and ``reject_on_worker_lost``: a message whose worker died is
    redelivered, and the marks keep it from being sent twice. Call it once per app.

    Raises ``ValueError`` when no Redis URL is given or found.
    """
    client = redis.Redis.from_url(_store_url(app, redis_url))
    records = DeliveryRecords(client, ttl=record_ttl)

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK_NAME,
        shared=False,  # this app only: each app has its own records and providers
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        serializer="json",
        max_retries=None,
    )
    def deliver(task: Any, payload: Mapping[str, Any]) -> str:
        return _deliver(task, payload, records, providers or default_providers)

    return deliver


def _read(payload: Mapping[str, Any]) -> tuple[RenderedMessage, str]:
    if not isinstance(payload, Mapping) or payload.get("v") != PAYLOAD_VERSION:
        version = payload.get("v") if isinstance(payload, Mapping) else None
        raise ValueError(
            f"{TASK_NAME}: unsupported payload version {version!r} (this worker reads "
            f"{PAYLOAD_VERSION}); upgrade mailproviders on the worker"
        )
    alias = payload.get("deliver_with")
    if not isinstance(alias, str):
        raise ValueError(f"{TASK_NAME}: key 'deliver_with': expected an alias string")
    return RenderedMessage.from_dict(payload["message"]), alias


def _delay(payload: Mapping[str, Any], attempt: int) -> float:
    first = float(payload.get("retry_delay", 10.0))
    longest = float(payload.get("retry_delay_max", 600.0))
    return min(first * 2.0 ** (attempt - 1), longest)


def _deliver(
    task: Any, payload: Mapping[str, Any], records: DeliveryRecords, providers: Providers
) -> str:
    rendered, alias = _read(payload)
    message_id = rendered.message_id or ""
    attempt = int(task.request.retries) + 1
    max_retries = int(payload.get("max_retries", 5))
    token = str(task.request.id)
    where = (alias, message_id, attempt)
    try:
        found = records.claim(message_id, token)
    except redis.RedisError as exc:  # nothing sent yet: safe to try again
        logger.warning(
            "provider %r: message %s, attempt %d: cannot record it in Redis (%s); retrying",
            *where,
            exc,
        )
        raise task.retry(
            exc=exc, countdown=_delay(payload, attempt), max_retries=max_retries
        ) from exc
    if found == _SENT:
        logger.info("provider %r: message %s, attempt %d: already delivered; skipped", *where)
        return "duplicate"
    if found is not None:
        logger.error(
            "provider %r: message %s, attempt %d: marked %r by an earlier attempt (one that "
            "did not finish, or one the server may have accepted without replying); it may "
            "have been delivered, so it is not sent again",
            *where,
            found,
        )
        return "unknown"
    try:
        # As a failover member: the RATE_LIMIT and REDIRECT of ``alias`` apply (a staging
        # worker must not reach real recipients); its RETRY does not, Celery retries.
        _hooks.member_send(providers[alias], alias, [rendered])
    except Exception as exc:
        if possibly_sent_messages_of(exc):
            records.mark(message_id, _POSSIBLY_SENT)
            logger.error(
                "provider %r: message %s, attempt %d: may have been delivered (%s: %s); "
                "not retried",
                *where,
                type(exc).__name__,
                exc,
            )
            raise
        records.release(message_id, token)
        if is_transient(exc) and attempt <= max_retries:
            delay = _delay(payload, attempt)
            logger.warning(
                "provider %r: message %s, attempt %d: not accepted (%s: %s); retrying in %.1f s",
                *where,
                type(exc).__name__,
                exc,
                delay,
            )
            raise task.retry(exc=exc, countdown=delay, max_retries=max_retries) from exc
        logger.error(
            "provider %r: message %s, attempt %d: failed, not retried (%s: %s)",
            *where,
            type(exc).__name__,
            exc,
        )
        raise
    try:
        records.mark(message_id, _SENT)
    except redis.RedisError as exc:  # delivered; the "sending" mark still blocks a resend
        logger.error(
            "provider %r: message %s, attempt %d: delivered, but not recorded (%s)",
            *where,
            exc,
        )
    logger.info("provider %r: message %s, attempt %d: delivered", *where)
    return "sent"
