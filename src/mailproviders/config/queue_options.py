"""OPTIONS of the Celery queue backend, and the check of its ``deliver_with`` alias.

Like :mod:`mailproviders.config.options`, the model describes what
``mailproviders.backends.celery.EmailBackend`` accepts, so OPTIONS are checked at load
time without importing Celery. ``broker_url`` is a ``SecretStr``: a broker URL may hold
a password.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from typing import Annotated, ClassVar, Final, Required, TypedDict
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr

from mailproviders.config.options import BuiltinOptions
from mailproviders.exceptions import ConfigProblem

__all__ = ["CeleryOptions", "CeleryOptionsDict", "app_path", "queue_problems"]

_APP_PATH: Final = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*([:.][A-Za-z_]\w*)$")


def app_path(value: str) -> str:
    """``value`` if it can be the import path of a Celery app; raises ``ValueError``."""
    if not _APP_PATH.match(value) or ("." not in value and ":" not in value):
        raise ValueError(
            f"expected the import path of a Celery app, e.g. 'myproject.celery:app', got {value!r}"
        )
    return value


class CeleryOptions(BuiltinOptions):
    """OPTIONS of ``mailproviders.backends.celery.EmailBackend``.

    ``deliver_with`` names another alias of ``EMAIL_PROVIDERS``; that it exists, is not a
    queue and leads back to no queue that reaches it is checked across providers when the
    configuration is loaded (:func:`queue_problems`).
    """

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "deliver_with": "the alias of the provider the worker delivers with",
        "queue": "a non-empty Celery queue name",
        "max_retries": "an integer >= 0",
        "retry_delay": "a number of seconds > 0",
        "retry_delay_max": "a number of seconds > 0",
        "app": "the import path of a Celery app, e.g. 'myproject.celery:app'",
        "broker_url": "a broker URL such as redis://127.0.0.1:6379/0",
        "timeout": "a number of seconds > 0",
    }

    deliver_with: str = Field(
        min_length=1, description="Alias of the provider the worker sends through (required)."
    )
    queue: str | None = Field(
        None, min_length=1, description="Celery queue; default: the app's default queue."
    )
    max_retries: int = Field(
        5, ge=0, description="Retries of a message the provider certainly did not accept."
    )
    retry_delay: float = Field(
        10.0, gt=0, description="Seconds before the first retry; doubled for each next one."
    )
    retry_delay_max: float = Field(600.0, gt=0, description="Longest wait between retries.")
    app: Annotated[str, AfterValidator(app_path)] | None = Field(
        None, description="Import path of your Celery app ('module:attribute')."
    )
    broker_url: SecretStr | None = Field(
        None, description="Broker URL to enqueue to when no app is given (secret)."
    )
    timeout: float = Field(
        10.0, gt=0, description="Seconds to reach the broker (with broker_url)."
    )

    def problems(self) -> list[tuple[str, str]]:
        """Exactly one of ``app`` and ``broker_url``."""
        if (self.app is None) == (self.broker_url is None):
            given = "both were given" if self.app else "neither was given"
            return [
                (
                    "app",
                    "give either app (the import path of your Celery app, e.g. "
                    "'myproject.celery:app') or broker_url (e.g. redis://127.0.0.1:6379/0); "
                    + given,
                )
            ]
        if self.broker_url is not None and not _broker_url_ok(self.broker_url):
            return [("broker_url", _BAD_BROKER_URL)]
        if self.retry_delay > self.retry_delay_max:
            return [("retry_delay", "must not exceed retry_delay_max")]
        return []


_BAD_BROKER_URL: Final = (
    "expected a broker URL such as redis://127.0.0.1:6379/0 (a scheme, '://', and a port "
    "number if any); the value is not shown, it may hold a password"
)


def _broker_url_ok(url: SecretStr) -> bool:
    """Whether ``url`` (or each of a ``;``-separated failover list) has a scheme and a
    valid port, if one: what Celery would otherwise only report at the first send."""
    for each in url.get_secret_value().split(";"):
        parts = urlsplit(each.strip())
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme) or "://" not in each:
            return False
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError:
            return False
    return True


class CeleryOptionsDict(TypedDict, total=False):
    """``OPTIONS`` of the Celery queue backend (``deliver_with`` is required)."""

    deliver_with: Required[str]
    queue: str | None
    max_retries: int
    retry_delay: float
    retry_delay_max: float
    app: str | None
    broker_url: str | SecretStr | None
    broker_url_file: str
    timeout: float
    fail_silently: bool


def queue_problems(
    queues: Mapping[str, str],
    graph: Mapping[str, Sequence[str]],
    configured: Collection[str],
) -> list[ConfigProblem]:
    """Problems of queue providers: ``queues`` maps each one's alias to its
    ``deliver_with``, ``graph`` each composite provider's alias to its ``using``.

    ``deliver_with`` must be a configured alias, not a queue, and must not lead back to
    the queue through composite providers (the worker would enqueue it again, forever).
    """
    problems: list[ConfigProblem] = []
    known = ", ".join(repr(name) for name in sorted(configured))
    for alias, target in queues.items():
        if target not in configured:
            message = f"no provider named {target!r}; configured aliases: {known}"
        elif target == alias:
            message = "a queue provider cannot deliver with itself"
        elif target in queues:
            message = (
                f"{target!r} is a queue provider too; name the provider the worker delivers "
                "with (smtp, an API, failover...)"
            )
        elif alias in _reachable(target, {**graph, **{q: [d] for q, d in queues.items()}}):
            message = f"{target!r} sends through {alias!r} again: a cycle of providers"
        else:
            continue
        problems.append(ConfigProblem(alias, "deliver_with", message))
    return problems


def _reachable(start: str, edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        for target in edges.get(todo.popleft(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
