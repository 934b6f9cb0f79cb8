"""The ``check``, ``verify``, ``send-test`` and ``schema`` commands.

Each takes the parsed arguments (``args.load(err)`` loads the configuration), the output
and error streams, and returns the exit status.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import traceback
from pathlib import Path
from typing import Any, TextIO

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.cli.health import print_health
from mailproviders.cli.show import failure, import_hint, line, summary, where
from mailproviders.config import json_schema
from mailproviders.config.sources import dotenv_names, near_misses
from mailproviders.exceptions import ConfigProblem, ImproperlyConfigured, InvalidEmailProvider
from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers

__all__ = ["cmd_check", "cmd_schema", "cmd_send_test", "cmd_verify"]


def _misses() -> list[str]:
    return near_misses(dict.fromkeys([*os.environ, *dotenv_names()]))


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate the configuration and print one line per provider; exit 1 when a backend
    cannot be imported or no provider is configured."""
    settings = args.load(err)
    configs = settings.EMAIL_PROVIDERS or {}
    summaries: list[dict[str, Any]] = []
    problems: list[ConfigProblem] = []
    for alias, config in configs.items():
        try:
            summaries.append(summary(alias, config))
        except InvalidEmailProvider as exc:
            problems += exc.errors
    misses = _misses()
    notes = [f"warning: {miss}" for miss in misses] if configs else []
    if configs and DEFAULT_PROVIDER_ALIAS not in configs:
        notes.append(
            f"warning: no provider is named {DEFAULT_PROVIDER_ALIAS!r}: sending without "
            "using=ALIAS fails (fine if the application always names an alias)"
        )
    errors = [f"configuration error: {import_hint(problem)}" for problem in problems]
    if not configs:
        found = f"; {'; '.join(misses)}" if misses else ""
        errors.append(
            f"error: no email provider is configured (set EMAIL_PROVIDERS__default=...){found}"
        )
    for provider in [] if args.json else summaries:
        print(line(provider), file=out)
    health = print_health(io.StringIO() if args.json else out) if args.health and configs else []
    opened = [f"{h.provider} -> {h.member}" for h in health if h.state != "closed"]
    if opened:
        errors.append(f"error: circuit open for {', '.join(opened)}")
    if args.json:
        report = {"ok": not errors, "providers": summaries, "errors": errors, "warnings": notes}
        if args.health:
            report["health"] = [dataclasses.asdict(h) for h in health]
        print(json.dumps(report, indent=2, default=str), file=out)
    for text in [*notes, *errors]:
        print(text, file=err)
    return 1 if errors else 0


def _verify_backend(backend: BaseEmailBackend) -> str | None:
    """Check what can be checked without sending; returns what was found, if anything."""
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
    server = where(backend).strip(" ()")
    return f"connected to {server}" if server else None


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Connect to each (or one) provider without sending; exit 1 if any fails."""
    settings = args.load(err)
    aliases = [args.using] if args.using else list(settings.EMAIL_PROVIDERS or {})
    failed = 0
    for alias in aliases:
        backend = None
        try:
            backend = providers.create_connection(alias)
            result = _verify_backend(backend)
        except Exception as exc:
            failed += 1
            if isinstance(exc, InvalidEmailProvider):
                text = "; ".join(import_hint(problem) for problem in exc.errors)
                print(f"{alias}: FAILED {text}", file=out)
            else:
                print(f"{alias}: FAILED{where(backend)} {failure(exc)}", file=out)
            if args.traceback:
                traceback.print_exc(file=err)
        else:
            print(f"{alias}: ok" + (f" ({result})" if result else ""), file=out)
    if not aliases:
        print("error: no email provider is configured", file=err)
        return 1
    return 1 if failed else 0


def cmd_send_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Send a short test message through a provider."""
    from mailproviders.message import EmailMessage

    args.load(err)
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
    except ImproperlyConfigured:
        raise  # reported by main(), with the hint for an import error
    except Exception as exc:
        if args.traceback:
            traceback.print_exc(file=err)
        try:
            server = where(providers.create_connection(alias))
        except Exception:  # the backend cannot even be built: that error says it all
            server = ""
        print(f"error: sending through {alias!r}{server} failed: {failure(exc)}", file=err)
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
