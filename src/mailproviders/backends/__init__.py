"""Email backends.

Built-ins, each configured only through keyword options of its ``__init__``:

- :mod:`mailproviders.backends.smtp` — deliver through an SMTP server;
- :mod:`mailproviders.backends.console` — write messages to a text stream;
- :mod:`mailproviders.backends.filebased` — write messages to files in a directory;
- :mod:`mailproviders.backends.locmem` — keep copies in ``mailproviders.outbox`` (tests);
- :mod:`mailproviders.backends.dummy` — discard messages.

A custom backend subclasses :class:`mailproviders.backends.base.BaseEmailBackend` and
implements ``send_messages``.
"""
