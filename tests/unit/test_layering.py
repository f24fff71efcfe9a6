"""The package's layers: no two parts of hearth import each other, however indirectly, and the
lower layers never import the higher ones (docs/architecture.md).

A part is a top-level module (``hearth/request.py``) or package (``hearth/wire/``). Every import
counts, lazy ones and those under ``TYPE_CHECKING`` too: a lazy import that runs back up is
still a cycle, only hidden until it runs.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "hearth"


def _part(module: str) -> str | None:
    """The part of hearth a dotted module name belongs to (``__init__`` for the package face)."""
    names = module.split(".")
    if names[0] != "hearth":
        return None
    return names[1] if len(names) > 1 else "__init__"


def _is_part(name: str) -> bool:
    return (SRC / f"{name}.py").is_file() or (SRC / name).is_dir()


def _imported(node: ast.AST) -> Iterator[str]:
    """The hearth parts one import statement names (relative imports stay inside a part)."""
    if isinstance(node, ast.Import):
        yield from filter(None, (_part(alias.name) for alias in node.names))
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            return
        part = _part(base)
        if part != "__init__":
            yield from filter(None, [part])
            return
        for alias in node.names:  # from hearth import errors (a module) / model (the face's)
            yield alias.name if _is_part(alias.name) else "__init__"


@functools.cache
def _edges() -> dict[str, dict[str, list[str]]]:
    """part → imported part → the files that import it."""
    edges: dict[str, dict[str, list[str]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        part = "__init__" if rel == Path("__init__.py") else rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(node):
                if target == part:
                    continue
                files = edges.setdefault(part, {}).setdefault(target, [])
                if str(rel) not in files:
                    files.append(str(rel))
    return edges


def _cycle(edges: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle of parts (first part repeated at the end), or None."""
    done: set[str] = set()

    def visit(part: str, path: list[str]) -> list[str] | None:
        if part in path:
            return [*path[path.index(part) :], part]
        if part in done:
            return None
        for target in edges.get(part, {}):
            found = visit(target, [*path, part])
            if found is not None:
                return found
        done.add(part)
        return None

    for part in sorted(edges):
        found = visit(part, [])
        if found is not None:
            return found
    return None


def test_no_two_parts_import_each_other() -> None:
    edges = _edges()
    cycle = _cycle(edges)
    if cycle is not None:
        steps = [f"{a} -> {b} ({', '.join(edges[a][b])})" for a, b in itertools.pairwise(cycle)]
        pytest.fail("hearth's parts import each other: " + "; ".join(steps))


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("wire", "server"),
        ("wire", "backends"),
        ("wire", "client"),
        ("backends", "client"),
        ("backends", "server"),
        ("request", "wire"),
        ("dict_messages", "wire"),
        ("tokens", "backends"),
        ("config", "mcp"),
        ("mcp", "agent"),
        ("mcp_spec", "mcp"),
        ("client", "agent"),
        ("server", "cluster"),
        ("batch", "cluster"),
        ("backends", "cluster"),
        ("cluster", "cli"),
    ],
)
def test_a_lower_layer_never_imports_a_higher_one(lower: str, higher: str) -> None:
    assert _is_part(lower) and _is_part(higher)
    importers = _edges().get(lower, {}).get(higher, [])
    assert not importers, f"hearth.{lower} must not import hearth.{higher}: {importers}"
