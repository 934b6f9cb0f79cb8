"""Errors raised by mailproviders.

Hierarchy::

    Exception
     └── ImproperlyConfigured            the configuration cannot be used
          └── InvalidEmailProvider        a problem inside EMAIL_PROVIDERS (carries alias/option)
               └── EmailProviderDoesNotExist   an alias that is not configured (also a KeyError)

Failures while *sending* are not wrapped: the original exception (``smtplib.SMTPException``,
``OSError``, ``ValueError``...) propagates unchanged, so existing ``except`` clauses keep
working. It is enriched with ``sent_count`` and ``sent_messages`` (see :func:`record_sent`),
which tell how many of the messages handed to ``send_messages()`` were accepted before the
failure, so that a caller can retry only the rest. A message whose fate is unknown (the
connection was lost after its data was sent, before the server's reply) is listed in
``possibly_sent_messages`` instead (see :func:`record_possibly_sent`): retrying it may
deliver it twice.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = [
    "ConfigProblem",
    "EmailProviderDoesNotExist",
    "ImproperlyConfigured",
    "InvalidEmailProvider",
    "location",
    "possibly_sent_messages_of",
    "record_possibly_sent",
    "record_sent",
    "sent_messages_of",
]

#: Keys of a provider entry itself; any other option name lives under OPTIONS.
_PROVIDER_KEYS = ("BACKEND", "OPTIONS", "DEFAULTS", "RETRY", "RATE_LIMIT", "REDIRECT")


def location(alias: str | None, option: str | None) -> str:
    """Say where a configuration problem is, e.g. ``EMAIL_PROVIDERS['default'].OPTIONS.port``.

    ``alias=None`` means a top-level setting; ``option`` is then the setting's name.
    """
    if alias is None:
        return option or "settings"
    where = f"EMAIL_PROVIDERS[{alias!r}]"
    if not option:
        return where
    if option.split(".", 1)[0] in _PROVIDER_KEYS:
        return f"{where}.{option}"
    return f"{where}.OPTIONS.{option}"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One configuration problem: where it is and what is wrong.

    ``alias`` is ``None`` for settings outside ``EMAIL_PROVIDERS``; ``option`` is ``None``
    when the problem is not a single option (e.g. an unknown DSN scheme). ``message`` never
    contains a secret value.
    """

    alias: str | None
    option: str | None
    message: str

    def __str__(self) -> str:
        return f"{location(self.alias, self.option)}: {self.message}"


class ImproperlyConfigured(Exception):
    """The configuration cannot be used.

    Carries every problem found as ``errors`` (a list of :class:`ConfigProblem`), and
    ``alias``/``option`` of the first one for convenience. The message lists them all.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        alias: str | None = None,
        option: str | None = None,
        errors: Sequence[ConfigProblem] | None = None,
    ) -> None:
        if errors is None:
            errors = [ConfigProblem(alias, option, message or "invalid configuration")]
        self.errors: list[ConfigProblem] = list(errors)
        first = self.errors[0] if self.errors else ConfigProblem(None, None, "")
        self.alias: str | None = alias if alias is not None else first.alias
        self.option: str | None = option if option is not None else first.option
        if len(self.errors) == 1:
            text = str(self.errors[0])
        else:
            lines = [f"{len(self.errors)} configuration problems:"]
            lines.extend(f"  - {problem}" for problem in self.errors)
            text = "\n".join(lines)
        super().__init__(text)


class InvalidEmailProvider(ImproperlyConfigured):
    """A provider in ``EMAIL_PROVIDERS`` is invalid: bad BACKEND, OPTIONS or DEFAULTS."""


class EmailProviderDoesNotExist(InvalidEmailProvider, KeyError):
    """No provider is configured under ``alias``.

    Also a ``KeyError``, so ``providers[alias]`` behaves like a mapping lookup. ``alias``
    is keyword-only: code that ignores this error to skip sending when nothing is
    configured must not silence another problem reported with it.
    """

    def __init__(self, *, alias: str, configured: Iterable[str] = ()) -> None:
        known = self._configured = sorted(configured)
        if known:
            hint = "configured aliases: " + ", ".join(repr(name) for name in known)
            close = _closest(alias, known)
            if close is not None:
                hint = f"did you mean {close!r}? ({hint})"
        else:
            hint = "no email provider is configured at all"
        text = (
            f"{hint}. Configure it, e.g. with the environment variable "
            f"EMAIL_PROVIDERS__{alias}=console:// (or "
            f"smtp+starttls://user:password@host:587), or in code: "
            f"mailproviders.configure(EMAIL_PROVIDERS={{{alias!r}: 'console://'}})"
        )
        super().__init__(
            errors=[ConfigProblem(alias, None, f"no email provider named {alias!r}; {text}")],
            alias=alias,
        )

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message; keep it readable.
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its keyword arguments (pickling calls the class with ``args``).
        rebuild = functools.partial(type(self), alias=str(self.alias), configured=self._configured)
        return rebuild, (), self.__dict__


def _closest(alias: str, known: list[str]) -> str | None:
    """The configured alias ``alias`` was probably meant as: same letters in another
    case first, else a close spelling."""
    same = [name for name in known if name.casefold() == alias.casefold()]
    if same:
        return same[0]
    import difflib  # only on this error path

    close = difflib.get_close_matches(alias, known, n=1)
    return close[0] if close else None


def record_sent(
    exc: BaseException, sent: Sequence[EmailMessage], count: int | None = None
) -> None:
    """Attach partial-failure information to ``exc`` before it propagates.

    Sets ``exc.sent_count`` (``count``, by default ``len(sent)``) and ``exc.sent_messages``
    (the accepted messages, in order) and adds a note. Safe to call again as the exception
    bubbles up: the outermost call wins.
    """
    count = len(sent) if count is None else count
    exc.sent_count = count  # type: ignore[attr-defined]
    exc.sent_messages = list(sent)  # type: ignore[attr-defined]
    word = "message was" if count == 1 else "messages were"
    _replace_note(
        exc,
        "mailproviders: ",
        f"{count} {word} accepted before this error (see exc.sent_count / exc.sent_messages)",
    )


def _replace_note(exc: BaseException, prefix: str, text: str | None) -> None:
    """Drop ``exc``'s notes starting with ``prefix``, then add ``prefix + text`` (if any)."""
    notes: list[str] = getattr(exc, "__notes__", [])
    notes[:] = [note for note in notes if not note.startswith(prefix)]
    if not hasattr(exc, "__notes__"):
        exc.__notes__ = notes
    if text is not None:
        notes.append(prefix + text)


def sent_messages_of(exc: BaseException) -> list[EmailMessage]:
    """Return the messages that were accepted before ``exc`` was raised (``[]`` if unknown)."""
    sent: Any = getattr(exc, "sent_messages", None)
    return list(sent) if sent else []


def record_possibly_sent(exc: BaseException, messages: Sequence[EmailMessage]) -> None:
    """Mark ``messages`` as possibly delivered on ``exc`` before it propagates.

    Used when the connection was lost after a message's data was sent but before the
    server replied: the server may have accepted it. Sets ``exc.possibly_sent_messages``
    (replacing an earlier value) and a note; such messages are not counted in
    ``sent_count`` and must not be resent blindly.
    """
    exc.possibly_sent_messages = list(messages)  # type: ignore[attr-defined]
    word = "message" if len(messages) == 1 else "messages"
    text = (
        f"{len(messages)} {word} sent without a reply from the server "
        "(see exc.possibly_sent_messages); resending may deliver them twice"
    )
    _replace_note(exc, "possibly delivered: ", text if messages else None)


def possibly_sent_messages_of(exc: BaseException) -> list[EmailMessage]:
    """Return the messages ``exc`` marks as possibly delivered (``[]`` if none or unknown)."""
    messages: Any = getattr(exc, "possibly_sent_messages", None)
    return list(messages) if messages else []
