"""Real SMTP servers on 127.0.0.1 for the tests (aiosmtpd)."""
