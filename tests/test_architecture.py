"""The package's layering (SPEC §2): no import cycles, legacy on top, small modules.

Imports are read with ``ast`` from the source files (nothing is imported): every
``import``/``from … import`` counts, inside functions too, except under
``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "mailproviders"
MAX_LINES = 300

#: Bottom to top. A module may import only from its own layer or lower ones.
LAYERS: list[tuple[str, ...]] = [
    ("exceptions", "_hooks"),
    ("message",),
    ("backends.base",),
    ("config", "registry"),
    ("backends", "typing"),
    ("handler",),
    ("delivery", "hooks"),
    ("sendplan", "sending", "asending"),
    ("testing", "pytest_plugin"),
    ("integrations",),
    ("legacy",),
    ("cli", "__main__", ""),
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = getattr(test, "id", getattr(test, "attr", ""))
            if name == "TYPE_CHECKING":
                skipped.update(id(sub) for child in node.body for sub in ast.walk(child))
    return skipped


def _known(name: str) -> str | None:
    """The longest module of the package that ``name`` is or lies in."""
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts) if parts else None


def _imports(module: str, path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if _known(t) == t else base for t in targets]
        else:
            continue
        for target in targets:
            dependency = _known(target)
            if dependency is not None and dependency != module:
                yield dependency


GRAPH = {module: set(_imports(module, path)) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    name = module.removeprefix(PACKAGE).removeprefix(".")
    best, length = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = name == prefix or name.startswith(prefix + ".") or prefix == name == ""
            if matches and len(prefix) > length:
                best, length = index, len(prefix)
    assert best >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return best


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in GRAPH[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_the_graph_was_read() -> None:
    assert len(MODULES) > 30
    assert "mailproviders.handler" in GRAPH["mailproviders.sendplan"]
    assert "mailproviders.legacy" in GRAPH["mailproviders"]


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_imports_flow_down_the_layers() -> None:
    upward = [
        f"{module} (layer {_layer(module)}) imports {dependency} (layer {_layer(dependency)})"
        for module, dependencies in GRAPH.items()
        for dependency in dependencies
        if _layer(dependency) > _layer(module)
    ]
    assert upward == []


def test_nothing_below_legacy_imports_it() -> None:
    top = {PACKAGE, f"{PACKAGE}.cli", f"{PACKAGE}.__main__"}
    users = [
        f"{module} -> {dependency}"
        for module, dependencies in GRAPH.items()
        if not module.startswith(f"{PACKAGE}.legacy") and module not in top
        for dependency in dependencies
        if dependency.startswith(f"{PACKAGE}.legacy")
    ]
    assert users == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


@pytest.mark.parametrize(
    "module",
    [
        m
        for m in sorted(MODULES)
        if m.startswith(("mailproviders.message", "mailproviders.backends"))
    ],
)
def test_backends_and_messages_read_no_global_settings(module: str) -> None:
    forbidden = {"mailproviders.handler", "mailproviders.config.settings", "mailproviders"}
    assert GRAPH[module] & forbidden == set()


def test_a_cycle_would_be_found(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check itself can fail: an import back from the message layer to the sending
    # layer is reported.
    monkeypatch.setitem(
        GRAPH, "mailproviders.message.base", GRAPH["mailproviders.message.base"] | {
            "mailproviders.sending"
        }
    )  # fmt: skip
    assert any("mailproviders.message.base" in cycle for cycle in _cycles())
