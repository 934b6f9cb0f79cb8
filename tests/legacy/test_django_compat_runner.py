"""Django 6.1.3's own mail tests, run through scripts/django-compat, stay where issue 14 left
them: no failure without a tag (a row of docs/migration.md's differences table, or a
wording-only difference), and at least 200 of ``tests.py`` passing.

The runner downloads Django's sdist and builds a Python 3.13 virtualenv under
``~/.cache/mailproviders/django-compat`` on first use (about a minute), then takes about
15 s. It imports mailproviders from this checkout (``PYTHONPATH``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_django_mail_suite_has_no_untagged_failure(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "django-compat"), "--json", str(report)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.exists(), f"the runner did not finish:\n{run.stdout}\n{run.stderr[-3000:]}"
    results = json.loads(report.read_text())
    untagged = {module: by_tag.get("untagged", []) for module, by_tag in results.items()}
    assert set(results) == {"tests", "test_backends", "test_handler", "test_deprecated"}
    assert not any(untagged.values()), untagged
    assert len(results["tests"].get("passed", [])) >= 200, run.stdout
    assert run.returncode == 0, run.stdout
