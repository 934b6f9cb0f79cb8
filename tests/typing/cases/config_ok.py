"""A correct configuration: mypy --strict reports nothing."""

from __future__ import annotations

import io
from pathlib import Path

from pydantic import SecretStr

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.backends.console import EmailBackend as ConsoleBackend
from mailproviders.backends.smtp import EmailBackend as SMTPBackend
from mailproviders.typing import (
    CustomProviderDict,
    EmailProvidersDict,
    SMTPProviderDict,
    provider,
)


class ApiBackend(BaseEmailBackend):
    def __init__(self, *, alias: str | None = None, api_key: SecretStr, retries: int = 3) -> None:
        super().__init__(alias=alias)
        self.api_key = api_key
        self.retries = retries

    def send_messages(self, messages: object) -> int:
        return 0


default: SMTPProviderDict = {
    "BACKEND": "mailproviders.backends.smtp.EmailBackend",
    "OPTIONS": {"host": "smtp.example.com", "port": 587, "use_tls": True, "password": "x"},
}

EMAIL_PROVIDERS: EmailProvidersDict = {
    "default": default,
    "short": {"BACKEND": "smtp", "OPTIONS": {"host": "h", "timeout": 10.0}},
    "implicit_smtp": {"OPTIONS": {"host": "h", "ssl_cafile": Path("/etc/ca.pem")}},
    "console": {"BACKEND": "console", "OPTIONS": {"stream": io.StringIO()}},
    "stderr": {"BACKEND": "console", "OPTIONS": {"stream": "stderr"}},
    "files": {"BACKEND": "file", "OPTIONS": {"file_path": "/var/mail"}},
    "tests": {"BACKEND": "locmem", "DEFAULTS": {"from_email": "t@example.com"}},
    "null": {"BACKEND": "dummy"},
    "dsn": "smtp+starttls://user:pass@smtp.example.com:587",
    "built": provider(SMTPBackend, host="smtp.example.com", port=465, use_ssl=True),
    "log": provider(ConsoleBackend, stream="stdout"),
    "api": provider(ApiBackend, api_key=SecretStr("k"), retries=5),
    "by_class": {"BACKEND": ApiBackend, "OPTIONS": {"api_key": SecretStr("k")}},
    "ha": {"BACKEND": "failover", "OPTIONS": {"using": ["default", "short"]}},
    "spread": {"BACKEND": "roundrobin", "OPTIONS": {"using": ["default", "dsn"]}},
    "ha_dsn": "failover://default,short",
}

api: CustomProviderDict = provider(ApiBackend, api_key=SecretStr("k"))
