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
missing_key: EmailProvidersDict = {"pm": {"BACKEND": "postmark", "OPTIONS": {"message_stream": "s"}}}  # E
