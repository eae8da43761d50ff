"""How the harness's modules depend on each other: each one imports, no two
of them import each other in a circle (a circle works only as long as
someone imports late, inside a function, and breaks the day that import
moves), and none imports the drivers (grade, classgrade, package, tools),
which are built on the harness, not the other way round.

Read from the source with ast, so an import inside a function counts as
much as one at the top."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"
DRIVERS = {"grade", "classgrade", "package", "tools"}
KNOWN_DRIVER_IMPORTS: set[tuple[str, str]] = set()  # none may


def _modules() -> list[str]:
    return sorted(p.stem for p in HARNESS.glob("*.py") if p.stem != "__init__")


class _Imports(ast.NodeVisitor):
    """The harness modules and the other top-level modules a file imports,
    wherever the import is (not under `if TYPE_CHECKING:`, never run)."""

    def __init__(self, harness: set[str]) -> None:
        self.known = harness
        self.harness: set[str] = set()
        self.others: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
        for child in (node.orelse if name == "TYPE_CHECKING" else [*node.body, *node.orelse]):
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "harness" and len(parts) > 1:
                self.harness.add(parts[1])
            else:
                self.others.add(parts[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        parts = (node.module or "").split(".") if node.module else []
        if node.level == 1 or (node.level == 0 and parts[:1] == ["harness"]):
            inner = parts if node.level == 1 else parts[1:]
            if inner:
                self.harness.add(inner[0])
            else:  # from . import a, b: modules, or names of harness/__init__.py
                self.harness |= {a.name for a in node.names if a.name in self.known}
        elif node.level == 0:
            self.others.add(parts[0])
        else:  # from .. import x: a module beside the harness package (a driver?)
            self.others |= {parts[0]} if parts else {a.name for a in node.names}


def _imports(module: str) -> _Imports:
    found = _Imports(set(_modules()))
    found.visit(ast.parse((HARNESS / f"{module}.py").read_text(), f"{module}.py"))
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports in `graph` (as a path that ends where it
    starts), None if there is none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt, path + [node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


@pytest.mark.parametrize("module", _modules())
def test_each_harness_module_imports(module):
    importlib.import_module(f"harness.{module}")


def test_no_harness_modules_import_each_other_in_a_circle():
    graph = {m: _imports(m).harness for m in _modules()}
    circle = _cycle(graph)
    assert circle is None, "harness modules import each other: " + " -> ".join(circle)


def test_no_harness_module_imports_a_driver():
    found = {(m, d) for m in _modules() for d in _imports(m).others & DRIVERS}
    assert not found - KNOWN_DRIVER_IMPORTS, sorted(found - KNOWN_DRIVER_IMPORTS)


def test_an_import_inside_a_function_counts():
    found = _Imports({"procs", "sandbox"})
    found.visit(ast.parse("def f():\n    from .procs import x\n    import grade\n"
                          "if TYPE_CHECKING:\n    from . import sandbox\n"))
    assert (found.harness, found.others) == ({"procs"}, {"grade"})


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"procs": {"sandbox"}, "sandbox": {"procs"}}) == ["procs", "sandbox", "procs"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
