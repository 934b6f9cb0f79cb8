"""RETRY, RATE_LIMIT and REDIRECT in provider dicts (tests/config/test_policies.py)."""

from __future__ import annotations

from mailproviders.typing import EmailProvidersDict, LocmemProviderDict, SMTPProviderDict

ok: EmailProvidersDict = {
    "default": {
        "OPTIONS": {"host": "smtp.example.com"},
        "RETRY": {"attempts": 3, "backoff": 1.0, "max_delay": 30},
        "RATE_LIMIT": "10/s",
        "REDIRECT": {"to": ["dev@example.com"], "allow": ["*@example.com"]},
    },
    "other": {"BACKEND": "locmem", "RETRY": 2, "RATE_LIMIT": {"messages": 600, "per": 60}},
}
smtp: SMTPProviderDict = {"OPTIONS": {"host": "h"}, "RETRY": {"attempts": "3"}}  # E
limit: LocmemProviderDict = {"BACKEND": "locmem", "RATE_LIMIT": {"per": 1}}  # E
redirect: LocmemProviderDict = {"BACKEND": "locmem", "REDIRECT": {"allow": []}}  # E
unknown: LocmemProviderDict = {"BACKEND": "locmem", "RETRY": {"tries": 1}}  # E
