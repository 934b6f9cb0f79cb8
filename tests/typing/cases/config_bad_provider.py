"""provider() checks options against the backend's __init__: lines marked `# E` fail."""

from __future__ import annotations

from pydantic import SecretStr

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.backends.filebased import EmailBackend as FileBackend
from mailproviders.backends.smtp import EmailBackend as SMTPBackend
from mailproviders.typing import provider


class MyBackend(BaseEmailBackend):
    def __init__(self, *, alias: str | None = None, api_key: SecretStr, region: str = "eu") -> None:
        super().__init__(alias=alias)
        self.api_key = api_key
        self.region = region

    def send_messages(self, messages: object) -> int:
        return 0


provider(SMTPBackend, port="x")  # E
provider(SMTPBackend, host="h", timeout="slow")  # E
provider(FileBackend)  # E
provider(MyBackend, api_key=SecretStr("k"), unknown=1)  # E
provider(MyBackend, api_key="plain")  # E
provider(MyBackend, region="us")  # E
provider(int, x=1)  # E
