"""The ``REDIRECT`` step: recipients a provider must not reach go to other addresses.

Used in development and staging (``"REDIRECT": {"to": ["dev@example.com"], "allow":
["*@example.com"]}``): every recipient whose address matches none of the ``allow`` globs
is removed from the message, and the ``to`` addresses receive it instead. The caller's
message is never changed; a copy is sent.

For an :class:`~mailproviders.EmailMessage`, envelope and headers are rewritten: the
redirected recipients leave To/Cc/Bcc, the ``to`` addresses are added to To, and the
original To and Cc are kept in ``X-Original-To`` / ``X-Original-Cc`` headers. Bcc
addresses are never written into a header (they were hidden from the other
recipients and stay hidden).

For a :class:`~mailproviders.message.rendered.RenderedMessage`, whose bytes are final
and whose envelope mixes To, Cc and Bcc, only the envelope is rewritten: the headers of
the data still show the original To/Cc (nobody is sent mail through them) and one
header is added in front, ``X-Mailproviders-Redirected``, giving how many envelope
recipients were replaced — never which, since some may have been Bcc.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from mailproviders.message.addresses import format_local_part, parse_mailbox
from mailproviders.message.rendered import RenderedMessage

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["is_allowed", "redirected"]

logger = logging.getLogger("mailproviders")

M = TypeVar("M", bound="EmailMessage")

#: Headers holding the original visible recipients of a redirected message.
ORIGINAL_TO = "X-Original-To"
ORIGINAL_CC = "X-Original-Cc"
#: Header added in front of the data of a redirected RenderedMessage.
RENDERED_MARK = "X-Mailproviders-Redirected"


def _forms(address: str) -> set[str]:
    """The address part of ``address`` as the envelope will carry it, in lower case, with
    its domain in ASCII (IDNA) and in Unicode: a pattern written either way matches.
    Empty for an address that does not parse as one mailbox (display-name tricks, two
    addresses in one string...): such an address is never allowed, so it is redirected."""
    try:
        mailbox = parse_mailbox(address, "REDIRECT")
    except (ValueError, TypeError):
        return set()
    forms = {mailbox.addr_spec.casefold()}
    if mailbox.domain:
        try:
            unicode_domain = mailbox.domain.lower().encode("ascii").decode("idna")
        except UnicodeError:  # an ASCII label that is not valid IDNA: the ASCII form only
            return forms
        forms.add(f"{format_local_part(mailbox.local_part)}@{unicode_domain}".casefold())
    return forms


def is_allowed(address: str, allow: Iterable[str]) -> bool:
    """Whether the address part of ``address`` matches one of the ``allow`` glob patterns
    (``*``, ``?``, ``[...]``), case-insensitively: ``*@example.com``, ``qa+*@corp.test``."""
    forms = _forms(address)
    return any(fnmatch.fnmatchcase(form, glob.casefold()) for glob in allow for form in forms)


def _keep(addresses: Sequence[str], allow: Sequence[str]) -> tuple[list[str], int]:
    """The allowed addresses and how many were not (empty entries, which no backend sends
    to, are neither)."""
    present = [address for address in addresses if address]
    kept = [address for address in present if is_allowed(address, allow)]
    return kept, len(present) - len(kept)


def _added(targets: Sequence[str], present: Iterable[str]) -> list[str]:
    """``targets`` not already among ``present`` (by address part, case-insensitively)."""
    seen = {form for address in present for form in _forms(address)}
    return [target for target in targets if not _forms(target) & seen]


def _copy(message: M) -> M:
    """A copy of ``message`` whose lists and dicts are its own (the rest is shared and
    never changed here)."""
    clone = copy.copy(message)
    for name, value in list(vars(clone).items()):
        if isinstance(value, list | dict):
            setattr(clone, name, copy.copy(value))
    return clone


def redirected(message: M, *, to: Sequence[str], allow: Sequence[str], alias: str | None) -> M:
    """``message`` with every recipient not matching ``allow`` replaced by ``to``.

    Returns ``message`` itself when every recipient is allowed, else a modified copy
    (the caller's object, its lists and headers, are left as they were); see the module
    documentation for what changes. Logs one INFO line per redirected message on the
    ``mailproviders`` logger with the alias and the counts (no address).
    """
    if isinstance(message, RenderedMessage):
        return _redirected_rendered(message, to, allow, alias)  # type: ignore[return-value]
    kept_to, moved_to = _keep(message.to, allow)
    kept_cc, moved_cc = _keep(message.cc, allow)
    kept_bcc, moved_bcc = _keep(message.bcc, allow)
    moved = moved_to + moved_cc + moved_bcc
    if not moved:
        return message
    clone = _copy(message)
    clone.to = kept_to + _added(to, kept_to + kept_cc + kept_bcc)
    clone.cc, clone.bcc = kept_cc, kept_bcc
    headers = {
        name: value
        for name, value in message.extra_headers.items()
        if name.lower() not in ("to", "cc", ORIGINAL_TO.lower(), ORIGINAL_CC.lower())
    }
    shown = {name.lower(): str(value) for name, value in message.extra_headers.items()}
    original_to = shown.get("to") or ", ".join(message.to)
    original_cc = shown.get("cc") or ", ".join(message.cc)
    if original_to:
        headers[ORIGINAL_TO] = original_to
    if original_cc:
        headers[ORIGINAL_CC] = original_cc
    clone.extra_headers = headers
    _log(alias, moved, len(message.recipients()), len(clone.recipients()))
    return clone


def _redirected_rendered(
    message: RenderedMessage, to: Sequence[str], allow: Sequence[str], alias: str | None
) -> RenderedMessage:
    kept, moved = _keep(message.to, allow)
    if not moved:
        return message
    clone = _copy(message)
    clone.to = kept + _added(to, kept)
    mark = f"{RENDERED_MARK}: {moved} of {len(message.to)} envelope recipient(s) replaced\r\n"
    clone.data = mark.encode("ascii") + message.data
    _log(alias, moved, len(message.to), len(clone.to))
    return clone


def _log(alias: str | None, moved: int, before: int, after: int) -> None:
    logger.info(
        "provider %r: REDIRECT replaced %d of %d recipient(s); the message goes to %d",
        alias,
        moved,
        before,
        after,
    )
