"""The ``mailproviders`` command: check, verify, send-test, schema, migrate.

The console script ``mailproviders`` calls :func:`main`. Configuration may name backend
classes to import; the command imports them from installed packages only, unless
``--app-dir DIR`` puts DIR first on ``sys.path`` (the working directory is not searched:
a ``.env`` in an untrusted directory must not make it run code lying next to it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any, TextIO

from mailproviders import legacy
from mailproviders.cli.commands import cmd_check, cmd_schema, cmd_send_test, cmd_verify
from mailproviders.cli.show import env_lines, import_hint, shown
from mailproviders.config.settings import MailSettings
from mailproviders.config.values import MASK
from mailproviders.exceptions import ImproperlyConfigured
from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers

__all__ = ["build_parser", "main"]

_EXAMPLES = """\
examples:
  EMAIL_PROVIDERS__default=smtp+starttls://user:pw@smtp.example.com:587 mailproviders check
  mailproviders check --json
  mailproviders --app-dir . check         # backends named in BACKEND live in ./
  mailproviders verify --using default    # connect and log in, send nothing
  mailproviders send-test --from me@example.com you@example.com
  mailproviders migrate --format env > providers.env

exit status: 0 ok, 1 a problem was found (printed on stderr), 2 wrong usage.
"""


def _load(err: TextIO) -> MailSettings:
    """Load the configuration, printing deprecation warnings as plain lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", legacy.MailProvidersDeprecationWarning)
        settings = providers.settings
    for warning in caught:
        print(f"warning: {warning.message}", file=err)
    return settings


def cmd_migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the EMAIL_PROVIDERS equivalent of the legacy settings in effect."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", legacy.MailProvidersDeprecationWarning)
        values = legacy.legacy_values(providers.settings)
    if not values:
        print("nothing to migrate: no legacy EMAIL_* setting is set", file=err)
        return 0
    provider = legacy.legacy_provider(values)
    options = {k: shown(v, args.reveal_secrets) for k, v in provider["OPTIONS"].items()}
    if not args.reveal_secrets and "password" in options:
        options["password"] = MASK
    provider = {"BACKEND": provider["BACKEND"], "OPTIONS": options}
    out.write(_RENDERERS[args.format](provider))
    return 0


_RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "env": lambda p: env_lines(DEFAULT_PROVIDER_ALIAS, p),
    "json": lambda p: json.dumps({DEFAULT_PROVIDER_ALIAS: p}, indent=2) + "\n",
    "python": lambda p: f"EMAIL_PROVIDERS = {{{DEFAULT_PROVIDER_ALIAS!r}: {p!r}}}\n",
}


def _version() -> str:
    try:
        return metadata.version("mailproviders")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mailproviders`` command."""
    parser = argparse.ArgumentParser(
        prog="mailproviders",
        description="Check, verify and try the email providers configured in EMAIL_PROVIDERS "
        "(read from the environment and a .env file in the working directory).",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--traceback", action="store_true", help="show tracebacks of errors")
    parser.add_argument(
        "--app-dir",
        metavar="DIR",
        help="import backends named in the configuration from DIR too (first on sys.path); "
        "the working directory is not searched otherwise",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate the configuration, one line per provider")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--health",
        action="store_true",
        help="also try each member of the failover/round-robin providers (sending nothing) "
        "and print its circuit state; exit 1 if one is open",
    )
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
        sub.set_defaults(load=_load)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage)."""
    args = build_parser().parse_args(argv)
    if args.app_dir is not None:
        sys.path.insert(0, os.path.abspath(args.app_dir))
    out, err = sys.stdout, sys.stderr
    try:
        status: int = args.run(args, out, err)
    except Exception as exc:
        if args.traceback:
            traceback.print_exc(file=err)
        if isinstance(exc, ImproperlyConfigured):
            hints = [import_hint(problem) for problem in exc.errors]
            detail = hints[0] if len(hints) == 1 else str(exc)
            print(f"configuration error: {detail}", file=err)
        else:
            print(f"error: {type(exc).__name__}: {exc}", file=err)
        return 1
    return status
