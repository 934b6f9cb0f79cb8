"""``<option>_file`` keys of secret options in provider dicts (tests/config/test_secret_files.py)."""

from __future__ import annotations

from mailproviders.typing import EmailProvidersDict, SMTPProviderDict

ok: EmailProvidersDict = {
    "default": {"OPTIONS": {"host": "h", "username": "u", "password_file": "/run/secrets/pw"}},
    "api": {"BACKEND": "sendgrid", "OPTIONS": {"api_key_file": "/run/secrets/sendgrid"}},
    "mg": {"BACKEND": "mailgun", "OPTIONS": {"api_key_file": "/run/k", "domain": "example.com"}},
}
path_not_text: SMTPProviderDict = {"OPTIONS": {"host": "h", "password_file": 3}}  # E
misspelt: SMTPProviderDict = {"OPTIONS": {"host": "h", "passwd_file": "/run/k"}}  # E
