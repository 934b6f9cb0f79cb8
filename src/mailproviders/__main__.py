"""``python -m mailproviders``: the command line, importing as the console script does.

``python -m`` puts the working directory first on ``sys.path``; it is taken off again,
so that a ``.env`` in an untrusted directory cannot make the command import a module
lying next to it. Give ``--app-dir DIR`` (``--app-dir .`` for the working directory) to
import backends from a directory.
"""

import os
import sys

from mailproviders.cli import main

if sys.path and not sys.flags.safe_path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

raise SystemExit(main())
