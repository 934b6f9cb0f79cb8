"""Send a demonstration message through the "default" provider.

Configure the provider with environment variables, e.g.
``EMAIL_PROVIDERS__default=smtp+starttls://user:password@smtp.example.com:587``;
``scripts/demo`` defaults to ``console://``, which prints the message.
"""

from __future__ import annotations

import sys

import mailproviders


def main(argv: list[str]) -> int:
    recipients = argv or ["you@example.com"]
    message = mailproviders.EmailMultiAlternatives(
        subject="Hello from mailproviders — ünïcödé too",
        body="This message was sent through the 'default' provider.\n",
        from_email="Demo Sender <demo@example.com>",
        to=recipients,
    )
    message.attach_alternative("<p>This message was sent through <b>default</b>.</p>", "text/html")
    message.attach("notes.txt", "An attachment.\n", "text/plain")
    sent = message.send(using="default")
    backend = mailproviders.providers.settings.EMAIL_PROVIDERS["default"].BACKEND  # type: ignore[index]
    print(f"sent {sent} message(s) through 'default' ({backend})", file=sys.stderr)
    return 0 if sent == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
