"""Regenerate schemas/email-providers.schema.json from the settings models.

Usage: python scripts/generate_schema.py [--check]
With --check, write nothing and exit 1 when the checked-in file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mailproviders.config.schema import render_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "email-providers.schema.json"


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` compare) the schema file; return the exit status."""
    text = render_schema()
    if "--check" in argv:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != text:
            print(f"{SCHEMA_FILE} is stale; run: python scripts/generate_schema.py")
            return 1
        return 0
    SCHEMA_FILE.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
