"""The one table of built-in backends, and the one function that resolves a BACKEND.

Each :class:`BuiltinBackend` row says everything the rest of the package needs to know
about a built-in: its short names, its import path, its OPTIONS model, the name of its
TypedDict in :mod:`mailproviders.typing`, its DSN schemes (with the options each scheme
implies) and the shape of its DSN. DSN parsing, short-name expansion, the CLI, the JSON
Schema and the consistency test of :mod:`mailproviders.typing` all derive from it.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.config.api_options import (
    MailgunOptions,
    PostmarkOptions,
    ResendOptions,
    SendGridOptions,
    SESOptions,
)
from mailproviders.config.options import (
    BuiltinOptions,
    CompositeOptions,
    ConsoleOptions,
    FileOptions,
    NoOptions,
    SMTPOptions,
)
from mailproviders.config.queue_options import CeleryOptions
from mailproviders.config.values import mask_dsn
from mailproviders.exceptions import InvalidEmailProvider

__all__ = [
    "BUILTINS",
    "BUILTIN_BACKENDS",
    "BuiltinBackend",
    "backend_path",
    "builtin",
    "import_backend",
    "short_name",
]

_PREFIX: Final = "mailproviders.backends."

#: How a DSN of the backend is written: ``server`` (user:password@host:port),
#: ``directory`` (file:///path), ``aliases`` (failover://a,b), ``bare`` (console://) or
#: ``api`` (postmark+api://KEY@default: key(s) as user and password, ``default`` or a host).
DsnForm = Literal["server", "directory", "aliases", "bare", "api"]


@dataclass(frozen=True)
class BuiltinBackend:
    """One built-in backend."""

    names: tuple[str, ...]  #: short names, the canonical one first
    path: str  #: dotted path of the class
    options: type[BuiltinOptions]  #: the OPTIONS model
    typed_dict: str  #: name of the OPTIONS TypedDict in mailproviders.typing
    dsn_form: DsnForm
    #: DSN scheme → options the scheme implies
    schemes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: whether a provider of it may omit OPTIONS (nothing required)
    options_optional: bool = True
    #: whether it sends through other providers (``using``)
    composite: bool = False
    #: ``api`` DSNs: the options the user and the password part fill, in order
    dsn_userinfo: tuple[str, ...] = ()
    #: whether it enqueues for a worker that delivers through ``deliver_with``
    queue: bool = False

    @property
    def name(self) -> str:
        """The canonical short name."""
        return self.names[0]


BUILTINS: Final[tuple[BuiltinBackend, ...]] = (
    BuiltinBackend(
        names=("smtp",),
        path=_PREFIX + "smtp.EmailBackend",
        options=SMTPOptions,
        typed_dict="SMTPOptionsDict",
        dsn_form="server",
        schemes={"smtp": {}, "smtp+starttls": {"use_tls": True}, "smtps": {"use_ssl": True}},
        options_optional=False,
    ),
    BuiltinBackend(
        names=("console",),
        path=_PREFIX + "console.EmailBackend",
        options=ConsoleOptions,
        typed_dict="ConsoleOptionsDict",
        dsn_form="bare",
        schemes={"console": {}},
    ),
    BuiltinBackend(
        names=("filebased", "file"),
        path=_PREFIX + "filebased.EmailBackend",
        options=FileOptions,
        typed_dict="FileOptionsDict",
        dsn_form="directory",
        schemes={"file": {}},
        options_optional=False,
    ),
    BuiltinBackend(
        names=("locmem",),
        path=_PREFIX + "locmem.EmailBackend",
        options=NoOptions,
        typed_dict="NoOptionsDict",
        dsn_form="bare",
        schemes={"locmem": {}},
    ),
    BuiltinBackend(
        names=("dummy",),
        path=_PREFIX + "dummy.EmailBackend",
        options=NoOptions,
        typed_dict="NoOptionsDict",
        dsn_form="bare",
        schemes={"dummy": {}},
    ),
    BuiltinBackend(
        names=("failover",),
        path=_PREFIX + "failover.EmailBackend",
        options=CompositeOptions,
        typed_dict="CompositeOptionsDict",
        dsn_form="aliases",
        schemes={"failover": {}},
        options_optional=False,
        composite=True,
    ),
    BuiltinBackend(
        names=("roundrobin",),
        path=_PREFIX + "roundrobin.EmailBackend",
        options=CompositeOptions,
        typed_dict="CompositeOptionsDict",
        dsn_form="aliases",
        schemes={"roundrobin": {}},
        options_optional=False,
        composite=True,
    ),
    BuiltinBackend(
        names=("ses",),
        path=_PREFIX + "http.ses.EmailBackend",
        options=SESOptions,
        typed_dict="SESOptionsDict",
        dsn_form="api",
        schemes={"ses+api": {}},
        dsn_userinfo=("access_key_id", "secret_access_key"),
    ),
    BuiltinBackend(
        names=("mailgun",),
        path=_PREFIX + "http.mailgun.EmailBackend",
        options=MailgunOptions,
        typed_dict="MailgunOptionsDict",
        dsn_form="api",
        schemes={"mailgun+api": {}},
        options_optional=False,
        dsn_userinfo=("api_key", "domain"),
    ),
    BuiltinBackend(
        names=("postmark",),
        path=_PREFIX + "http.postmark.EmailBackend",
        options=PostmarkOptions,
        typed_dict="PostmarkOptionsDict",
        dsn_form="api",
        schemes={"postmark+api": {}},
        options_optional=False,
        dsn_userinfo=("server_token",),
    ),
    BuiltinBackend(
        names=("sendgrid",),
        path=_PREFIX + "http.sendgrid.EmailBackend",
        options=SendGridOptions,
        typed_dict="SendGridOptionsDict",
        dsn_form="api",
        schemes={"sendgrid+api": {}},
        options_optional=False,
        dsn_userinfo=("api_key",),
    ),
    BuiltinBackend(
        names=("resend",),
        path=_PREFIX + "http.resend.EmailBackend",
        options=ResendOptions,
        typed_dict="ResendOptionsDict",
        dsn_form="api",
        schemes={"resend+api": {}},
        options_optional=False,
        dsn_userinfo=("api_key",),
    ),
    BuiltinBackend(
        names=("celery",),
        path=_PREFIX + "celery.EmailBackend",
        options=CeleryOptions,
        typed_dict="CeleryOptionsDict",
        dsn_form="bare",
        schemes={"celery": {}},
        options_optional=False,
        queue=True,
    ),
)

_BY_PATH: Final = {backend.path: backend for backend in BUILTINS}
#: Short name → dotted path of every built-in backend.
BUILTIN_BACKENDS: Final[Mapping[str, str]] = MappingProxyType(
    {name: backend.path for backend in BUILTINS for name in backend.names}
)
_DOTTED_RE: Final = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def builtin(path: str) -> BuiltinBackend | None:
    """The row of the built-in backend at dotted ``path`` (or short name), else ``None``."""
    return _BY_PATH.get(BUILTIN_BACKENDS.get(path, path))


def short_name(path: str) -> str:
    """The canonical short name of a built-in backend's ``path``; other paths unchanged."""
    row = builtin(path)
    return row.name if row is not None else path


def backend_path(value: object) -> str:
    """Normalise a BACKEND value (short name, dotted path or class) to a dotted path.

    Raises ``ValueError`` saying what is expected (the caller knows the alias).
    """
    if isinstance(value, type):
        path = f"{value.__module__}.{value.__qualname__}"
        # A class given in code is remembered: one defined in a function has no
        # importable path.
        _given_classes[path] = value
        return path
    if isinstance(value, str):
        name = value.strip()
        if name in BUILTIN_BACKENDS:
            return BUILTIN_BACKENDS[name]
        if _DOTTED_RE.match(name):
            return name
    short = ", ".join(BUILTIN_BACKENDS)
    shown = repr(mask_dsn(value)) if isinstance(value, str) else type(value).__name__
    raise ValueError(
        f"expected a built-in backend name ({short}) or the dotted path of a backend "
        f"class, got {shown}"
    )


_given_classes: dict[str, type] = {}


@functools.cache
def _import_class(path: str) -> object:
    module_name, _, name = path.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, name)


def import_backend(path: str, alias: str | None) -> type[BaseEmailBackend]:
    """Import the backend class at dotted ``path`` (short names accepted); cached per path.

    Raises :class:`InvalidEmailProvider` (``alias``, option ``BACKEND``) naming the path
    when it cannot be imported or is not a ``BaseEmailBackend`` subclass.
    """
    dotted = BUILTIN_BACKENDS.get(path, path)
    try:
        found = _given_classes.get(dotted) or _import_class(dotted)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidEmailProvider(
            f"cannot import backend {dotted!r}: {type(exc).__name__}: {exc}",
            alias=alias,
            option="BACKEND",
        ) from exc
    if not (isinstance(found, type) and issubclass(found, BaseEmailBackend)):
        raise InvalidEmailProvider(
            f"{dotted!r} is not a subclass of mailproviders.backends.base.BaseEmailBackend",
            alias=alias,
            option="BACKEND",
        )
    return found
