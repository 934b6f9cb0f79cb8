"""Provider DSN strings: ``smtp+starttls://user:password@host:587?timeout=10`` → provider dict.

A DSN is a one-line way to write a provider (handy in one environment variable). The
scheme names the backend and its TLS mode; user and password are percent-decoded; query
parameters become OPTIONS as strings, typed later by the backend's options model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import SplitResult, unquote, urlsplit

from mailproviders.config.api_options import is_loopback
from mailproviders.config.values import SCHEME_RE, mask_dsn
from mailproviders.exceptions import ConfigProblem, InvalidEmailProvider
from mailproviders.registry import BUILTINS, builtin

__all__ = ["DSN_SCHEMES", "parse_dsn"]

#: scheme → (BACKEND dotted path, fixed OPTIONS implied by the scheme), from the registry
DSN_SCHEMES: Final[Mapping[str, tuple[str, Mapping[str, Any]]]] = MappingProxyType(
    {scheme: (row.path, implied) for row in BUILTINS for scheme, implied in row.schemes.items()}
)
_STARTTLS_PORT: Final = 587
#: Schemes whose user part is an API key (no password after a ':' to mask it by).
_API_SCHEMES: Final = frozenset(
    s for row in BUILTINS if row.dsn_form == "api" for s in row.schemes
)


def _masked(dsn: str) -> str:
    """``dsn`` as errors show it: password masked; for an API scheme, or a scheme not
    known, the whole user part too (a key stands there)."""
    match = SCHEME_RE.match(dsn)
    scheme = match.group(1).lower() if match else ""
    if scheme in DSN_SCHEMES and scheme not in _API_SCHEMES:
        return mask_dsn(dsn)
    head, rest = (dsn[: match.end()], dsn[match.end() :]) if match else ("", dsn)
    if "@" in rest:
        return mask_dsn(head + "***@" + rest.rpartition("@")[2])
    # No "@": a key written without "@default" would stand where the host does.
    return head + "***" + rest[len(re.split(r"[/?#]", rest, maxsplit=1)[0]) :]


def _problem(
    alias: str, dsn: str, message: str, option: str | None = None
) -> InvalidEmailProvider:
    text = f"{message} (in DSN {_masked(dsn)!r})"
    return InvalidEmailProvider(errors=[ConfigProblem(alias, option, text)])


def _query_options(parts: SplitResult, *, alias: str, dsn: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in filter(None, parts.query.split("&")):
        key, _, value = pair.partition("=")
        key = unquote(key)
        if not key:
            raise _problem(alias, dsn, "empty query parameter name")
        if key in options:
            raise _problem(alias, dsn, "query parameter given twice", option=key)
        options[key] = unquote(value)
    return options


def _smtp_options(parts: SplitResult, scheme: str, *, alias: str, dsn: str) -> dict[str, Any]:
    try:
        port = parts.port
    except ValueError:
        raise _problem(alias, dsn, "expected an integer 1–65535 as port", option="port") from None  # noqa: RUF001
    if scheme == "smtps" and port == _STARTTLS_PORT:
        raise _problem(
            alias,
            dsn,
            "smtps:// means implicit TLS (usually port 465), but port 587 is for STARTTLS; "
            "write smtp+starttls://…:587 instead",
        )
    if not parts.hostname:
        raise _problem(alias, dsn, "an SMTP DSN needs a host, e.g. smtp://host:25", "host")
    if parts.path not in ("", "/"):
        raise _problem(
            alias, dsn, f"{scheme}:// takes no path after host:port, only ?options", "host"
        )
    options: dict[str, Any] = {"host": parts.hostname}
    if port is not None:
        options["port"] = port
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password is not None:
        options["password"] = unquote(parts.password)
    return options


def _file_path(parts: SplitResult, *, alias: str, dsn: str) -> str:
    # file:///abs/dir is absolute; file://relative/dir is relative to the working directory.
    netloc = "" if parts.netloc == "localhost" else unquote(parts.netloc)
    path = netloc + unquote(parts.path)
    if not path:
        raise _problem(
            alias, dsn, "a file DSN needs a directory, e.g. file:///var/mail", "file_path"
        )
    return path


def _aliases(parts: SplitResult, scheme: str, *, alias: str, dsn: str) -> list[str]:
    # The host part holds aliases, which keep their case (parts.hostname would lower it).
    if parts.path.strip("/") or "@" in parts.netloc:
        raise _problem(
            alias, dsn, f"{scheme}:// takes provider aliases only, e.g. {scheme}://primary,backup"
        )
    aliases = [unquote(name) for name in parts.netloc.split(",")]
    if not all(aliases):
        raise _problem(
            alias,
            dsn,
            f"{scheme}:// needs the aliases of other providers separated by commas, "
            f"e.g. {scheme}://primary,backup",
            "using",
        )
    return aliases


def _api_options(parts: SplitResult, scheme: str, *, alias: str, dsn: str) -> dict[str, Any]:
    # postmark+api://KEY@default, mailgun+api://KEY:DOMAIN@host:port: the user and password
    # fill the row's dsn_userinfo options; a host other than "default" is the endpoint.
    row = builtin(DSN_SCHEMES[scheme][0])
    names = row.dsn_userinfo  # type: ignore[union-attr]
    example = f"{scheme}://{':'.join(name.upper() for name in names)}@default"
    host = parts.netloc.rpartition("@")[2]
    keyless = "@" not in parts.netloc and not row.options_optional  # type: ignore[union-attr]
    if not host or keyless or parts.path.strip("/"):
        raise _problem(
            alias, dsn, f"expected @default (the public endpoint) or @host[:port], e.g. {example}"
        )
    if parts.password is not None and len(names) < 2:
        raise _problem(alias, dsn, f"expected one key before '@' (write ':' as %3A): {example}")
    given = (parts.username, parts.password)
    options: dict[str, Any] = {n: unquote(v) for n, v in zip(names, given, strict=False) if v}
    if host.lower() != "default":
        try:
            parts.port  # noqa: B018 - parsed only to reject a bad port
        except ValueError:
            raise _problem(alias, dsn, "expected an integer 1–65535 as port", "endpoint") from None  # noqa: RUF001
        options["endpoint"] = (
            f"{'http' if is_loopback(parts.hostname or '') else 'https'}://{host}"
        )
    return options


def _check_userinfo(parts: SplitResult, scheme: str, *, alias: str, dsn: str) -> None:
    # A password with an unencoded "/", "?" or "#" ends the host part early: the rest of
    # the password would become a path or an option name, and be shown in errors.
    if scheme == "file" and "@" in parts.netloc + parts.path:
        # file:///:secret@ would otherwise become a directory name, shown in repr().
        raise _problem(
            alias,
            dsn,
            "a file DSN takes no user or password; write an '@' of a directory name as %40",
        )
    after_host = parts.query + parts.fragment + ("" if scheme == "file" else parts.path)
    if "@" in after_host:
        raise _problem(
            alias,
            dsn,
            "'@' after the host: percent-encode special characters in the user and "
            "password ('/' as %2F, '?' as %3F, '#' as %23, '@' as %40)",
        )


def parse_dsn(dsn: str, *, alias: str) -> dict[str, Any]:
    """Parse a provider DSN into ``{"BACKEND": dotted path, "OPTIONS": {...}}``.

    Schemes: ``smtp``, ``smtp+starttls`` (``use_tls``), ``smtps`` (``use_ssl``; port 587 is
    rejected, suggesting ``smtp+starttls``), ``console``, ``file`` (``file:///dir``),
    ``locmem``, ``dummy``, ``failover`` and ``roundrobin`` (``failover://primary,backup``:
    the aliases of other providers, in order, as ``using``). User and password are
    percent-decoded; query parameters become OPTIONS (strings here, typed when the
    provider is validated); for SMTP, ``pool_<key>=…`` ones become the keys of ``pool``.

    Raises :class:`InvalidEmailProvider` naming ``alias`` for an unknown scheme or a
    malformed DSN; its message shows the DSN with the password masked.
    """
    text = dsn.strip()
    match = SCHEME_RE.match(text)
    if match is None:
        # Not echoed: a string that is not a DSN could be anything, a secret included.
        message = "expected a DSN (scheme://…, e.g. smtp://host:25) or a mapping; got a string"
        raise InvalidEmailProvider(errors=[ConfigProblem(alias, None, message)])
    scheme = match.group(1).lower()
    if scheme not in DSN_SCHEMES:
        known = ", ".join(f"{name}://" for name in DSN_SCHEMES)
        raise _problem(alias, text, f"unknown DSN scheme {scheme!r}; expected one of {known}")
    try:
        parts = urlsplit(text)
    except ValueError:
        # urllib's message quotes the whole user:password@host part: not repeated here.
        raise _problem(
            alias,
            text,
            "malformed DSN: the user, password or host part has characters that are not "
            "allowed there (percent-encode them)",
        ) from None
    _check_userinfo(parts, scheme, alias=alias, dsn=text)
    if "#" in text:
        # Dropping it silently would hide a typo or a password's unencoded "#".
        raise _problem(
            alias, text.partition("#")[0] + "#…", "a DSN takes no #fragment (write '#' as %23)"
        )
    backend, implied = DSN_SCHEMES[scheme]
    form = builtin(backend).dsn_form  # type: ignore[union-attr]
    options: dict[str, Any] = dict(implied)
    if form == "server":
        options.update(_smtp_options(parts, scheme, alias=alias, dsn=text))
    elif form == "directory":
        options["file_path"] = _file_path(parts, alias=alias, dsn=text)
    elif form == "aliases":
        options["using"] = _aliases(parts, scheme, alias=alias, dsn=text)
    elif form == "api":
        options.update(_api_options(parts, scheme, alias=alias, dsn=text))
    elif parts.netloc or parts.path.strip("/"):
        raise _problem(alias, text, f"{scheme}:// takes no host or path, only ?options")
    for key, value in _query_options(parts, alias=alias, dsn=text).items():
        if key in options:
            where = "by the scheme" if key in implied else "in the DSN already"
            raise _problem(alias, text, f"{key} is set {where}; give it once", option=key)
        options[key] = value
    if form == "server":
        _nest_pool(options, alias=alias, dsn=text)
    return {"BACKEND": backend, "OPTIONS": options}


def _nest_pool(options: dict[str, Any], *, alias: str, dsn: str) -> None:
    # ?pool_size=4&pool_max_idle=30 -> "pool": {"size": "4", "max_idle": "30"} (typed later)
    keys = [key for key in options if key.startswith("pool_")]
    if not keys:
        return
    if "pool" in options:
        raise _problem(alias, dsn, "give pool=… or pool_<key>=… options, not both", "pool")
    options["pool"] = {key.removeprefix("pool_"): options.pop(key) for key in keys}
