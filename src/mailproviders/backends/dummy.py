"""Dummy backend: accepts every message and sends nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]


class EmailBackend(BaseEmailBackend):
    """Discard messages. :meth:`send_messages` returns how many it was given."""

    def __init__(
        self, *, alias: str | None = None, fail_silently: bool | NotGiven = NOT_GIVEN
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Return the number of ``messages`` (consumed once, never stored). Raises nothing."""
        return sum(1 for _ in messages)
