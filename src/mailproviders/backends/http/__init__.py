"""Backends that send through email providers' HTTP APIs.

:mod:`.ses` (Amazon SES v2, through boto3: ``mailproviders[ses]``), :mod:`.mailgun`,
:mod:`.postmark`, :mod:`.sendgrid` and :mod:`.resend` (through httpx:
``mailproviders[http]``). :mod:`.base` holds what the httpx ones share, :mod:`.translate`
turns a message into an API's fields, :mod:`.errors` classifies failures. See
docs/providers.md.
"""
