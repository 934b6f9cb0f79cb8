"""Wrong built-in OPTIONS: every line marked `# E` must be a mypy error."""

from __future__ import annotations

from mailproviders.typing import EmailProvidersDict, FileProviderDict, SMTPProviderDict

A: EmailProvidersDict = {"default": {"BACKEND": "mailproviders.backends.smtp.EmailBackend", "OPTIONS": {"host": "h", "port": "587"}}}  # E
B: EmailProvidersDict = {"default": {"BACKEND": "smpt", "OPTIONS": {"host": "h"}}}  # E
C: EmailProvidersDict = {"default": {"BACKEND": "console", "OPTIONS": {"stream": "stdlog"}}}  # E
D: EmailProvidersDict = {"default": {"BACKEND": "locmem", "OPTIONS": {"hots": "x"}}}  # E
E: SMTPProviderDict = {"OPTIONS": {"port": 25}}  # E
F: FileProviderDict = {"BACKEND": "file", "OPTIONS": {}}  # E
G: SMTPProviderDict = {"OPTIONS": {"host": "h", "use_tls": "yes"}}  # E
H: EmailProvidersDict = {"ha": {"BACKEND": "failover", "OPTIONS": {"using": "a,b"}}}  # E
I: EmailProvidersDict = {"rr": {"BACKEND": "roundrobin", "OPTIONS": {}}}  # E
