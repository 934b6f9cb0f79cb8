"""What the ``mailproviders`` command prints: provider summaries with secrets masked,
``.env`` lines safe for a shell and for the ``.env`` reader, one-line failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, SecretStr

from mailproviders.config.policies import POLICY_KEYS
from mailproviders.config.provider import ProviderConfig
from mailproviders.config.validate import public_options
from mailproviders.config.values import MASK
from mailproviders.exceptions import ConfigProblem
from mailproviders.registry import short_name

__all__ = ["env_lines", "failure", "import_hint", "line", "shown", "summary", "where"]

#: Said after an import error: the command does not import from the working directory.
IMPORT_HINT: Final = (
    "the mailproviders command does not import from the working directory; "
    "give --app-dir DIR to import backends from DIR"
)


def shown(value: Any, reveal: bool = False) -> Any:
    """``value`` as printed: a ``SecretStr`` masked (unless ``reveal``), a path as text."""
    if isinstance(value, SecretStr):
        return value.get_secret_value() if reveal else MASK
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):  # a nested option, such as the SMTP pool
        return value.model_dump(mode="json")
    return value


def summary(alias: str, config: ProviderConfig) -> dict[str, Any]:
    """What ``check`` shows of one provider: an option's value only when the backend's
    options model marks it as not secret, else the mask.

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` (``alias``, option
    ``BACKEND``) when the backend cannot be imported.
    """
    public = public_options(config.BACKEND, alias)
    options = {
        key: None
        if value is None
        else shown(value)
        if key in public and not isinstance(value, SecretStr)
        else MASK
        for key, value in config.OPTIONS.items()
    }
    result: dict[str, Any] = {
        "alias": alias,
        "backend": short_name(config.BACKEND),
        "options": options,
    }
    if config.DEFAULTS is not None:
        result["defaults"] = config.DEFAULTS.model_dump(exclude_none=True)
    for key in POLICY_KEYS:
        policy = getattr(config, key)
        if policy is not None:
            result[key.lower()] = policy.model_dump(exclude_none=True)
    return result


def line(provider: dict[str, Any]) -> str:
    """One line of ``check``: alias, backend, server and TLS mode, the other options."""
    options = dict(provider["options"])
    parts = [f"{provider['alias']}: {provider['backend']}"]
    if "host" in options:
        port = options.pop("port", None)
        parts.append(f"{options.pop('host')}:{port if port is not None else 'default port'}")
        tls = "starttls" if options.pop("use_tls", False) else None
        tls = "ssl" if options.pop("use_ssl", False) else tls
        parts.append(f"tls={tls or 'none'}")
    parts.extend(
        f"{key}={json.dumps(value, separators=(',', ':')) if isinstance(value, dict) else value}"
        for key, value in options.items()
        if value is not None
    )
    parts.extend(_policy_text(provider))
    return " ".join(str(part) for part in parts)


def _policy_text(provider: dict[str, Any]) -> list[str]:
    """RETRY, RATE_LIMIT and REDIRECT of a provider summary, as ``check`` prints them."""
    parts = []
    if (retry := provider.get("retry")) is not None:
        parts.append(
            f"RETRY={retry['attempts']} attempts (backoff {retry['backoff']:g}s, "
            f"max {retry['max_delay']:g}s)"
        )
    if (limit := provider.get("rate_limit")) is not None:
        burst = limit.get("burst") or limit["messages"]
        parts.append(
            f"RATE_LIMIT={limit['messages']}/{limit['per']:g}s (burst {burst}, "
            f"max_wait {limit['max_wait']:g}s)"
        )
    if (redirect := provider.get("redirect")) is not None:
        allow = f" (allow {','.join(redirect['allow'])})" if redirect["allow"] else ""
        parts.append(f"REDIRECT={','.join(redirect['to'])}{allow}")
    return parts


def import_hint(problem: ConfigProblem) -> str:
    """``problem`` as printed, with :data:`IMPORT_HINT` when a backend was not found."""
    if problem.option == "BACKEND" and problem.message.startswith("cannot import"):
        return f"{problem} ({IMPORT_HINT})"
    return str(problem)


def failure(exc: BaseException) -> str:
    """``exc`` on one line: its type and message (a multi-line reply joined)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def where(backend: object) -> str:
    """`` (host:port)`` of a backend that talks to a server, else ``""``."""
    host, port = getattr(backend, "host", None), getattr(backend, "port", None)
    return f" ({host}:{port})" if isinstance(host, str) and port is not None else ""


# --- migrate --format env ------------------------------------------------------------


def _env_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _single_quotable(text: str) -> bool:
    """Whether ``'text'`` reads back as ``text`` in a POSIX shell and in the ``.env``
    reader: no quote or backslash (the reader decodes ``\\\\`` and ``\\'``), no ``${``
    (it expands variables even in single quotes), nothing unprintable."""
    return not any(mark in text for mark in ("'", "\\", "${")) and text.isprintable()


def _json_line_value(value: dict[str, Any]) -> str:
    # JSON whose text holds no quote, backslash pair or "$": ASCII escapes for those
    # (and ensure_ascii for the rest), so the single-quoted text means the same to both.
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("\\\\", "\\u005c").replace("'", "\\u0027").replace("$", "\\u0024")


def env_lines(alias: str, provider: dict[str, Any]) -> str:
    """``provider`` (BACKEND and OPTIONS of printable values) as ``.env`` lines that a
    POSIX shell (``set -a; . ./file``) and the ``.env`` reader both read back exactly.

    One line per option, single-quoted, when every value allows it; otherwise the whole
    provider as one JSON value (with a comment saying why)."""
    prefix = f"EMAIL_PROVIDERS__{alias}"
    pairs = {"BACKEND": provider["BACKEND"]}
    pairs |= {f"OPTIONS__{key}": _env_text(value) for key, value in provider["OPTIONS"].items()}
    if all(_single_quotable(text) for text in pairs.values()):
        return "".join(f"{prefix}__{key}='{text}'\n" for key, text in pairs.items())
    return (
        "# One JSON value: a value holds a quote, a backslash, '${' or a control character.\n"
        f"{prefix}='{_json_line_value(provider)}'\n"
    )
