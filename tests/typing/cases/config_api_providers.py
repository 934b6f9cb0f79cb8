"""The TypedDicts of the HTTP API providers (SES, Mailgun, Postmark, SendGrid, Resend)."""

from pydantic import SecretStr

from mailproviders.typing import EmailProvidersDict

ok: EmailProvidersDict = {
    "default": "failover://ses,postmark",
    "ses": {"BACKEND": "ses", "OPTIONS": {"region": "eu-west-1", "configuration_set": "x"}},
    "postmark": {"BACKEND": "postmark", "OPTIONS": {"server_token": SecretStr("t")}},
    "mailgun": {"BACKEND": "mailgun", "OPTIONS": {"api_key": "k", "domain": "d", "region": "eu"}},
    "sendgrid": {"BACKEND": "sendgrid", "OPTIONS": {"api_key": "k", "timeout": 5.0}},
    "resend": {"BACKEND": "mailproviders.backends.http.resend.EmailBackend", "OPTIONS": {"api_key": "k"}},
}
bad_region: EmailProvidersDict = {"sg": {"BACKEND": "sendgrid", "OPTIONS": {"api_key": "k", "region": "mars"}}}  # E
# A required secret may come from its _file key: mypy accepts either (load time checks one).
from_file: EmailProvidersDict = {"pm": {"BACKEND": "postmark", "OPTIONS": {"server_token_file": "/run/t"}}}
bad_file: EmailProvidersDict = {"pm": {"BACKEND": "postmark", "OPTIONS": {"server_token_file": 1}}}  # E
