"""``python -m mailproviders``: the command line."""

from mailproviders.cli import main

raise SystemExit(main())
