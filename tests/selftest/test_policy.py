"""Rules of the harness's own code that a test can check by reading it."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.chapters import ROOT

TESTS = ROOT / "tests"
# `make watch` starts one watcher from its only thread: a preexec_fn there is safe
SINGLE_THREADED = {"harness/studentloop.py"}


def _calls_with(path: Path, keyword: str) -> list[int]:
    tree = ast.parse(path.read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and any(k.arg == keyword for k in node.keywords)]


def test_no_preexec_fn_where_threads_start_programs():
    """Python forks the whole process to run a preexec_fn, which can deadlock
    with threads running (and costs 6x the CPU of the sh wrapper)."""
    found = []
    for path in [*TESTS.glob("*.py"), *(TESTS / "harness").glob("*.py")]:
        rel = str(path.relative_to(TESTS))
        if rel not in SINGLE_THREADED:
            found += [f"{rel}:{line}" for line in _calls_with(path, "preexec_fn")]
    assert found == [], "preexec_fn used at " + ", ".join(found)


def test_points_are_added_up_in_one_place():
    """scores.total is the one sum of points (issue: four places added them
    up, and one changed its rounding)."""
    found = []
    for path in [*TESTS.glob("*.py"), *(TESTS / "harness").glob("*.py")]:
        if path.name == "scores.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "sum"
                    and any(isinstance(n, ast.Attribute) and n.attr in ("points", "max_points")
                            for n in ast.walk(node))):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert found == [], "points summed outside scores.total at " + ", ".join(found)
