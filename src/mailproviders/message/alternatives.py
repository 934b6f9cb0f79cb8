"""Messages with alternative bodies: :class:`EmailMultiAlternatives`."""

from __future__ import annotations

import email.message
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mailproviders.message import arguments
from mailproviders.message.base import _STANDARD_BODIES, EmailMessage
from mailproviders.message.mime import EmailAlternative, EmailAttachment, add_alternative

__all__ = ["EmailMultiAlternatives"]


class EmailMultiAlternatives(EmailMessage):
    """An :class:`EmailMessage` with alternative bodies (e.g. HTML next to text).

    Raises:
        TypeError: as :class:`EmailMessage`.
    """

    alternative_subtype = "alternative"

    @arguments.positional_order(
        "bcc", "connection", "attachments", "headers", "alternatives", "cc", "reply_to"
    )
    def __init__(
        self,
        subject: str = "",
        body: str = "",
        from_email: str | None = None,
        to: Sequence[str] | None = None,
        *,
        bcc: Sequence[str] | None = None,
        connection: Any = None,
        attachments: Iterable[EmailAttachment | tuple[Any, ...] | email.message.MIMEPart]
        | None = None,
        headers: Mapping[str, Any] | None = None,
        alternatives: Iterable[EmailAlternative | tuple[str | bytes, str]] | None = None,
        cc: Sequence[str] | None = None,
        reply_to: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            subject,
            body,
            from_email,
            to,
            bcc=bcc,
            connection=connection,
            attachments=attachments,
            headers=headers,
            cc=cc,
            reply_to=reply_to,
        )
        self.alternatives: list[EmailAlternative] = []
        for alternative in alternatives or ():
            self.attach_alternative(*alternative)

    def attach_alternative(self, content: str | bytes, mimetype: str) -> None:
        """Add an alternative representation of the body.

        Raises:
            ValueError: ``content`` or ``mimetype`` is missing, or the type has no ``/``.
            TypeError: ``content`` is not str or bytes, or ``mimetype`` not a string.
        """
        if content is None or mimetype is None:
            raise ValueError("attach_alternative() needs both content and mimetype")
        if not isinstance(content, str | bytes):
            raise arguments.ArgumentTypeError(
                "content", f"must be str or bytes, not {type(content).__name__}"
            )
        arguments.optional_text("mimetype", mimetype)
        if "/" not in mimetype:
            raise ValueError(f"Invalid MIME type {mimetype!r} (expected type/subtype)")
        self.alternatives.append(EmailAlternative(content, mimetype))

    def body_contains(self, text: str) -> bool:
        """True when ``text`` is in the body and in every text/* alternative."""
        if text not in self.body:
            return False
        for content, mimetype in self.alternatives:
            if mimetype.startswith("text/"):
                decoded = (
                    content.decode(errors="replace") if isinstance(content, bytes) else content
                )
                if text not in decoded:
                    return False
        return True

    def _add_bodies(self, msg: email.message.EmailMessage) -> None:
        if self.body or not self.alternatives:
            super()._add_bodies(msg)
        if not self.alternatives:
            return
        msg.make_alternative()
        for content, mimetype in self.alternatives:
            add_alternative(msg, content, mimetype, self.encoding or "utf-8")
        if self.alternative_subtype != "alternative":  # set last, as for mixed_subtype
            msg.set_type(f"multipart/{self.alternative_subtype}")


_STANDARD_BODIES.append(EmailMultiAlternatives._add_bodies)
