"""The ``mailproviders`` command: check, verify, send-test, schema, migrate."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr

from mailproviders import legacy
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.config import json_schema
from mailproviders.config.provider import ProviderConfig
from mailproviders.config.settings import MailSettings
from mailproviders.config.values import MASK
from mailproviders.exceptions import ImproperlyConfigured
from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers
from mailproviders.registry import short_name

__all__ = ["main"]


def _shown(value: Any, reveal: bool = False) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value() if reveal else MASK
    if isinstance(value, Path):
        return str(value)
    return value


def _summary(alias: str, config: ProviderConfig) -> dict[str, Any]:
    """What `check` shows of one provider; secrets masked."""
    options = {key: _shown(value) for key, value in config.OPTIONS.items()}
    if "password" in options and options["password"] is not None:
        options["password"] = MASK
    summary: dict[str, Any] = {
        "alias": alias,
        "backend": short_name(config.BACKEND),
        "options": options,
    }
    if config.DEFAULTS is not None:
        summary["defaults"] = config.DEFAULTS.model_dump(exclude_none=True)
    return summary


def _line(summary: dict[str, Any]) -> str:
    options = dict(summary["options"])
    parts = [f"{summary['alias']}: {summary['backend']}"]
    if "host" in options:
        port = options.pop("port", None)
        parts.append(f"{options.pop('host')}:{port if port is not None else 'default port'}")
        tls = "starttls" if options.pop("use_tls", False) else None
        tls = "ssl" if options.pop("use_ssl", False) else tls
        parts.append(f"tls={tls or 'none'}")
    parts.extend(f"{key}={value}" for key, value in options.items() if value is not None)
    return " ".join(str(part) for part in parts)


def _load(err: TextIO) -> MailSettings:
    """Load the configuration, printing deprecation warnings as plain lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", legacy.MailProvidersDeprecationWarning)
        settings = providers.settings
    for warning in caught:
        print(f"warning: {warning.message}", file=err)
    return settings


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate the configuration and print one line per provider."""
    settings = _load(err)
    configs = settings.EMAIL_PROVIDERS or {}
    summaries = [_summary(alias, config) for alias, config in configs.items()]
    if args.json:
        print(json.dumps({"ok": True, "providers": summaries}, indent=2, default=str), file=out)
    elif not summaries:
        print("no email provider is configured (set EMAIL_PROVIDERS__default=...)", file=out)
    for summary in summaries if not args.json else []:
        print(_line(summary), file=out)
    return 0


def _verify_backend(backend: BaseEmailBackend) -> str:
    """Check what can be checked without sending; returns a short description."""
    file_path = getattr(backend, "file_path", None)
    if file_path is not None:
        directory = Path(file_path)
        existing = directory
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(f"{existing} is not a writable directory")
        return f"directory {directory} is writable" + (
            "" if directory.exists() else " (to be created)"
        )
    stream = getattr(backend, "stream", None)
    if stream is not None and not isinstance(stream, str):
        if not stream.writable():
            raise OSError("the stream is not writable")
        return "stream is writable"
    with backend:  # SMTP: connect, TLS, EHLO, AUTH; no message is sent
        pass
    return "connected" if hasattr(backend, "host") else "ok"


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Connect to each (or one) provider without sending; exit 1 if any fails."""
    settings = _load(err)
    aliases = [args.using] if args.using else list(settings.EMAIL_PROVIDERS or {})
    failed = 0
    for alias in aliases:
        try:
            result = _verify_backend(providers.create_connection(alias))
        except Exception as exc:
            failed += 1
            print(f"{alias}: FAILED {type(exc).__name__}: {exc}", file=out)
            if args.traceback:
                traceback.print_exc(file=err)
        else:
            print(f"{alias}: ok ({result})", file=out)
    if not aliases:
        print("no email provider is configured", file=err)
        return 1
    return 1 if failed else 0


def cmd_send_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Send a short test message through a provider."""
    from mailproviders.message import EmailMessage

    _load(err)
    alias = args.using or DEFAULT_PROVIDER_ALIAS
    backend = providers.config(alias).BACKEND
    message = EmailMessage(
        subject="mailproviders test message",
        body=f"This is a test message sent through the {alias!r} provider ({backend}).\n",
        from_email=args.from_email,
        to=list(args.addresses),
    )
    try:
        sent = message.send(using=alias)
    except Exception as exc:
        if args.traceback:
            traceback.print_exc(file=err)
        print(f"error: sending through {alias!r} failed: {type(exc).__name__}: {exc}", file=err)
        return 1
    print(f"sent {sent} message(s) through {alias!r} ({backend})", file=out)
    refused = message.refused_recipients
    for address, (code, reply) in refused.items():
        print(f"refused {address}: {code} {reply}", file=out)
    return 0 if sent == 1 else 1


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the JSON Schema of the configuration."""
    print(json.dumps(json_schema(), indent=2), file=out)
    return 0


def cmd_migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the EMAIL_PROVIDERS equivalent of the legacy settings in effect."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", legacy.MailProvidersDeprecationWarning)
        values = legacy.legacy_values(providers.settings)
    if not values:
        print("nothing to migrate: no legacy EMAIL_* setting is set", file=err)
        return 0
    provider = legacy.legacy_provider(values)
    options = {k: _shown(v, args.reveal_secrets) for k, v in provider["OPTIONS"].items()}
    if not args.reveal_secrets and "password" in options:
        options["password"] = MASK
    provider = {"BACKEND": provider["BACKEND"], "OPTIONS": options}
    out.write(_RENDERERS[args.format](provider))
    return 0


def _render_env(provider: dict[str, Any]) -> str:
    prefix = f"EMAIL_PROVIDERS__{DEFAULT_PROVIDER_ALIAS}__"
    lines = [f"{prefix}BACKEND={provider['BACKEND']}"]
    for key, value in provider["OPTIONS"].items():
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        lines.append(f"{prefix}OPTIONS__{key}={text}")
    return "\n".join(lines) + "\n"


_RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "env": _render_env,
    "json": lambda p: json.dumps({DEFAULT_PROVIDER_ALIAS: p}, indent=2) + "\n",
    "python": lambda p: f"EMAIL_PROVIDERS = {{{DEFAULT_PROVIDER_ALIAS!r}: {p!r}}}\n",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mailproviders`` command."""
    parser = argparse.ArgumentParser(
        prog="mailproviders",
        description="Check, verify and try the email providers configured in EMAIL_PROVIDERS "
        "(read from the environment and a .env file in the working directory).",
    )
    parser.add_argument("--traceback", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate the configuration, one line per provider")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(run=cmd_check)
    verify = commands.add_parser("verify", help="connect to providers without sending")
    verify.add_argument("--using", metavar="ALIAS", help="verify only this provider")
    verify.set_defaults(run=cmd_verify)
    send = commands.add_parser("send-test", help="send a short test message")
    send.add_argument("--using", metavar="ALIAS", help="provider alias (default: 'default')")
    send.add_argument("--from", dest="from_email", metavar="ADDR", help="sender address")
    send.add_argument("addresses", nargs="+", metavar="ADDRESS", help="recipient address")
    send.set_defaults(run=cmd_send_test)
    schema = commands.add_parser("schema", help="print the JSON Schema of the configuration")
    schema.set_defaults(run=cmd_schema)
    migrate = commands.add_parser(
        "migrate", help="print EMAIL_PROVIDERS equivalent to the legacy EMAIL_* settings"
    )
    migrate.add_argument("--format", choices=sorted(_RENDERERS), default="env")
    migrate.add_argument("--reveal-secrets", action="store_true", help="print passwords")
    migrate.set_defaults(run=cmd_migrate)
    for sub in (check, verify, send, schema, migrate):
        sub.add_argument(
            "--traceback", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage)."""
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        status: int = args.run(args, out, err)
    except Exception as exc:
        label = "configuration error" if isinstance(exc, ImproperlyConfigured) else "error"
        detail = (
            str(exc) if isinstance(exc, ImproperlyConfigured) else f"{type(exc).__name__}: {exc}"
        )
        if args.traceback:
            traceback.print_exc(file=err)
        print(f"{label}: {detail}", file=err)
        return 1
    return status
