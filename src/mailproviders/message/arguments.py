"""Checks of what callers hand to messages and send functions: types and nesting.

Each check names the argument as the caller wrote it (``recipient_list`` for
``send_mail``, ``to`` for :class:`~mailproviders.message.EmailMessage`...) and runs
before anything is serialized or any provider is touched. The errors are
:class:`ArgumentTypeError` and :class:`ArgumentValueError`: a ``TypeError`` and a
``ValueError`` that ``fail_silently`` never silences, since they are bugs in the calling
code, not delivery problems.
"""

from __future__ import annotations

import email.message
import email.policy
import functools
import reprlib
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from mailproviders import _hooks

__all__ = [
    "MAX_NESTING",
    "ArgumentTypeError",
    "ArgumentValueError",
    "address_list",
    "attachment",
    "check_message",
    "check_nesting",
    "datatuple_item",
    "header_names",
    "mime_part",
    "optional_text",
    "positional_order",
    "send_mail_arguments",
    "text",
]

#: How deep messages may be attached inside messages (message/rfc822 parts).
MAX_NESTING = 32

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60


class ArgumentTypeError(TypeError):
    """An argument of the wrong type; ``argument`` names it."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f'"{argument}" argument {problem}')
        self.argument = argument


class ArgumentValueError(ValueError):
    """An argument whose value cannot be used; ``argument`` names it."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f'"{argument}" argument {problem}')
        self.argument = argument


def _kind(value: object) -> str:
    return f"{type(value).__name__} {_repr.repr(value)}"


def address_list(argument: str, value: object) -> list[str]:
    """``value`` (a list or tuple of address strings, or None) as a new list. A ``None``
    item counts as an empty entry (``""``): skipped wherever addresses are used.

    Raises:
        ArgumentTypeError: a bare string, another container, or an item not a string.
    """
    if value is None:
        return []
    if isinstance(value, str):
        raise ArgumentTypeError(argument, "must be a list or tuple, not a string")
    if not isinstance(value, list | tuple):
        raise ArgumentTypeError(
            argument, f"must be a list or tuple of strings, not {_kind(value)}"
        )
    items: list[str] = []
    for index, item in enumerate(value):
        text = "" if item is None else _as_text(item)
        if not isinstance(text, str):
            raise ArgumentTypeError(argument, f"must hold strings; item {index} is {_kind(item)}")
        items.append(text)
    return items


def _as_text(value: object) -> object:
    """A lazy string (through the compatibility hook) as ``str``; anything else unchanged."""
    if value is None or isinstance(value, str):
        return value
    text = _hooks.compat.lazy_text(value)
    return value if text is None else text


def optional_text(argument: str, value: object) -> str | None:
    """``value`` when it is a string or None.

    Raises:
        ArgumentTypeError: anything else (bytes included: decode them first).
    """
    value = _as_text(value)
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(argument, f"must be a string or None, not {_kind(value)}")
    return value


def text(argument: str, value: object) -> str:
    """``value`` when it is a string; None gives ``""``.

    Raises:
        ArgumentTypeError: anything else.
    """
    return optional_text(argument, value) or ""


def header_names(argument: str, headers: Mapping[Any, Any]) -> None:
    """Header names must be strings, values anything but bytes (which would be
    ``str()``-ed into ``b'...'``).

    Raises:
        ArgumentTypeError: naming ``argument`` and the bad key or value.
    """
    for name, value in headers.items():
        if not isinstance(name, str):
            raise ArgumentTypeError(argument, f"must have string keys; got {_kind(name)}")
        if isinstance(value, bytes | bytearray | memoryview):
            raise ArgumentTypeError(argument, f"value of {name!r} must not be bytes")


_CONTENT_TYPES = (str, bytes, bytearray, memoryview, email.message.Message)


def attachment(filename: object, content: object, mimetype: object, message_type: type) -> None:
    """The arguments of ``attach()``: ``filename`` and ``mimetype`` strings or None;
    ``content`` text, bytes, or a message (``message_type`` or a standard-library one).

    Raises:
        ArgumentTypeError: naming ``filename``, ``content`` or ``mimetype``.
    """
    optional_text("filename", filename)
    optional_text("mimetype", mimetype)
    if content is not None and not isinstance(content, (*_CONTENT_TYPES, message_type)):
        raise ArgumentTypeError(
            "content", f"must be str, bytes or an email message, not {_kind(content)}"
        )


def _nested(message: object, message_type: type) -> list[object]:
    found = []
    for item in getattr(message, "attachments", ()):
        if isinstance(item, tuple) and len(item) == 3 and isinstance(item[1], message_type):
            found.append(item[1])
    return found


def check_nesting(owner: object, content: object, message_type: type) -> None:
    """``content`` (attached to ``owner``) must not contain ``owner`` at any depth, nor
    nest messages deeper than :data:`MAX_NESTING`. Iterative: no recursion to exhaust.

    Raises:
        ArgumentValueError: naming ``content``.
    """
    deepest: dict[int, int] = {}
    stack = [(content, 1)]
    while stack:
        item, depth = stack.pop()
        if item is owner:
            raise ArgumentValueError("content", "is the message itself, or contains it")
        if depth > MAX_NESTING:
            raise ArgumentValueError("content", f"nests messages more than {MAX_NESTING} deep")
        if deepest.get(id(item), 0) >= depth:
            continue
        deepest[id(item)] = depth
        stack.extend((child, depth + 1) for child in _nested(item, message_type))


def check_message(message: Any, message_type: type) -> None:
    """A message's attributes, as they are now (they may be changed after ``__init__``).

    Raises:
        ArgumentTypeError, ArgumentValueError: naming the attribute's argument.
    """
    for argument in ("to", "cc", "bcc", "reply_to"):
        address_list(argument, getattr(message, argument))
    optional_text("from_email", message.from_email)
    optional_text("subject", message.subject)
    optional_text("body", message.body)
    header_names("headers", message.extra_headers)
    for child in _nested(message, message_type):
        check_nesting(message, child, message_type)


def send_mail_arguments(  # noqa: PLR0917 - send_mail's arguments, in order
    subject: object,
    message: object,
    from_email: object,
    recipient_list: object,
    html_message: object,
    where: str = "",
) -> list[str]:
    """``send_mail``'s arguments, checked under the names the caller used (``where`` says
    which ``send_mass_mail`` datatuple item they come from); the recipients as a list.

    Raises:
        ArgumentTypeError: naming the argument (``recipient_list`` a bare string...).
    """
    for name, value in (("subject", subject), ("message", message), ("from_email", from_email)):
        optional_text(name + where, value)
    optional_text("html_message", html_message)
    return address_list("recipient_list" + where, recipient_list)


def datatuple_item(index: int, item: object) -> tuple[str, str, str | None, list[str]]:
    """Item ``index`` of ``send_mass_mail``'s datatuple, checked.

    Raises:
        ArgumentTypeError: not a 4-tuple, or an element of the wrong type (named, with
            the item's index).
    """
    if not isinstance(item, tuple | list) or len(item) != 4:
        raise ArgumentTypeError(
            "datatuple",
            "items must be (subject, message, from_email, recipient_list) tuples; "
            f"item {index} is {_kind(item)}",
        )
    subject, message, sender, recipients = item
    to = send_mail_arguments(
        subject, message, sender, recipients, None, f" (datatuple item {index})"
    )
    return text("subject", subject), text("message", message), sender, to


_P = ParamSpec("_P")
_R = TypeVar("_R")
_CO_COROUTINE = 0x80  # code flag of an ``async def`` (inspect.CO_COROUTINE, without inspect)


def positional_order(*names: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Keyword-only parameters that older code passes by position, in their old order.

    Positional arguments beyond the function's own are given to ``names`` by keyword after
    the compatibility hook agreed (the default hook raises ``TypeError``; the legacy layer
    warns). Too many arguments, or one also given by keyword, fail as Python makes them.
    The static signature is unchanged, so mypy still asks for keywords.
    """

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        code = function.__code__
        own = code.co_argcount
        name = function.__qualname__.removesuffix(".__init__")

        def moved(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            extra = args[own:]
            given = names[: len(extra)]
            if not extra or len(extra) > len(names) or any(n in kwargs for n in given):
                return args
            _hooks.compat.positional_arguments(name, given)
            kwargs.update(zip(given, extra, strict=True))
            return args[:own]

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            # Checked at call time, so an async function warns at its caller's line too.
            return function(*moved(args, kwargs), **kwargs)

        if code.co_flags & _CO_COROUTINE:
            import inspect  # only the async send functions pay for it

            if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
                inspect.markcoroutinefunction(call)
        return call

    return decorate


def mime_part(part: email.message.Message) -> email.message.MIMEPart:
    """``part``, a :class:`email.message.MIMEPart`, or an ``email.mime`` object (the older
    API, e.g. ``MIMEImage``) once the compatibility hook agreed: that object itself, which
    is attached as it is (later changes to it show in the message, as with a MIMEPart)."""
    if isinstance(part, email.message.MIMEPart):
        return part
    _hooks.compat.mime_attachment(type(part).__name__)
    # Typed as a MIMEPart: the standard library attaches any Message the same way.
    return part  # type: ignore[return-value]
