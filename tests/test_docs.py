"""Every code block of the documentation runs, so the docs cannot rot.

In each Markdown file under docs/, blocks run in order in a fresh working directory:
- ```python blocks run in one namespace per file (later blocks see earlier names); a
  block whose first line is ``# file: NAME.py`` is written to NAME.py instead (the working
  directory is importable), the way a reader would save a module of their project;
- ```bash blocks run with bash -e, with this interpreter's bin directory first on PATH;
- ```dotenv blocks are written to .env in the working directory;
- ```text blocks are shown output or install lines and are not run.
Any other language is an error, so nothing is silently left unrun. In README.md only the
python blocks run (its bash blocks are the install-and-test commands themselves).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
RUNNABLE = {"python", "bash", "dotenv", "text"}


def blocks(path: Path) -> list[tuple[str, str, int]]:
    """(language, code, line number) of every fenced block in ``path``."""
    text = path.read_text(encoding="utf-8")
    return [
        (match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1)
        for match in FENCE.finditer(text)
    ]


def run_blocks(path: Path, languages: set[str], cwd: Path) -> int:
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    ran = 0
    for language, code, line in blocks(path):
        assert language in RUNNABLE, f"{path.name}:{line}: unknown block language {language!r}"
        if language not in languages:
            continue
        where = f"{path.name}:{line}"
        if language == "python" and code.startswith("# file: "):
            name = code.split("\n", 1)[0].removeprefix("# file: ").strip()
            (cwd / name).write_text(code, encoding="utf-8")
        elif language == "python":
            exec(compile(code, where, "exec"), namespace)
        elif language == "dotenv":
            (cwd / ".env").write_text(code, encoding="utf-8")
        elif language == "bash":
            env = {
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            }
            result = subprocess.run(
                ["bash", "-e", "-c", code],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
        ran += language != "text"
    return ran


def test_docs_exist() -> None:
    names = {path.name for path in DOCS}
    for required in (
        "index.md",
        "configuration.md",
        "sending.md",
        "backends.md",
        "testing.md",
        "migration.md",
        "cli.md",
    ):
        assert required in names


@pytest.mark.parametrize("path", DOCS, ids=[path.name for path in DOCS])
def test_doc_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run_blocks(path, {"python", "bash", "dotenv"}, tmp_path) > 0


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_blocks(ROOT / "README.md", {"python"}, tmp_path) > 0
