"""The house holds: each package imports only the floors below it and its own modules,
and no module imports itself round a circle, counting imports inside functions too.
ARCHITECTURE.md draws the same floors."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from .conftest import REPO

# Bottom first. A module may import its own floor and any floor below it.
FLOORS = [
    [
        "digest.models",
        "digest.errors",
        "digest.addresses",
        "digest.tokens",
        "digest.bodies",
        "digest.language",
        "digest.relays",
        "digest.resources",
        "digest.config",
    ],
    ["digest.store"],
    ["digest.mail"],
    ["digest.content"],
    ["digest.delivery"],
    ["digest.lint"],
    ["digest.readers"],
    ["digest.returns"],
    ["digest.hooks"],
    ["digest.backups", "digest.starter", "digest.approval"],
    ["digest.staff"],
    ["digest.web"],
    ["digest.scheduler"],
    ["digest.cli", "digest.__main__"],
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / "digest").rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every digest module ``name`` imports, at the top or inside a function."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known}
    return {m for m in out if m in known and m != name}


def _floor(module: str) -> int:
    for number, floor in enumerate(FLOORS):
        if any(module == top or module.startswith(top + ".") for top in floor):
            return number
    raise AssertionError(f"{module} is on no floor: add it to FLOORS and ARCHITECTURE.md")


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def test_every_import_runs_down_the_floors() -> None:
    graph = _graph()
    upward = [
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module != "digest"
        for target in targets
        if target != "digest" and _floor(target) > _floor(module)
    ]
    assert upward == []


def test_no_module_imports_itself_round_a_circle() -> None:
    graph = _graph()
    # a package's face (its __init__) re-exports its modules: an edge into a package
    # stands for the modules it names, so only module-to-module edges count
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert [c for c in circles if not _through_a_face(c)] == []


def _through_a_face(circle: list[str]) -> bool:
    """A package importing one of its own modules and that module importing the package
    (``from digest import store``) is the face, not a circle of code."""
    return any(
        b.startswith(a + ".") or a.startswith(b + ".") for a, b in itertools.pairwise(circle)
    )
