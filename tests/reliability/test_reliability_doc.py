"""docs/reliability.md and the tests agree: every test it names exists, and every fault
test is named there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent.parent / "docs" / "reliability.md"
REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)`")
#: Files whose every test is a row of the document.
TABLE_FILES = ("test_faults_smtp.py", "test_faults_file_console.py")


def _tests_in(file_name: str) -> set[str]:
    # A file of this folder, else the one of that name anywhere under tests/.
    path = HERE / file_name
    if not path.exists():
        found = sorted(HERE.parent.rglob(file_name))
        if not found:
            return set()
        path = found[0]
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def _references() -> set[tuple[str, str]]:
    return set(REFERENCE.findall(DOC.read_text(encoding="utf-8")))


def test_every_named_test_exists() -> None:
    references = _references()
    assert len(references) > 30
    missing = [f"{f}::{t}" for f, t in sorted(references) if t not in _tests_in(f)]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_every_fault_test_is_in_the_document() -> None:
    references = _references()
    unlisted = [
        f"{file_name}::{name}"
        for file_name in TABLE_FILES
        for name in sorted(_tests_in(file_name))
        if (file_name, name) not in references
    ]
    assert not unlisted, f"fault tests missing from docs/reliability.md: {unlisted}"
