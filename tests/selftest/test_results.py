"""Outcomes are written as each test finishes (harness/plugin.py,
harness/results.py): a session that is killed (a class-grading time limit,
a crash of pytest itself) still leaves the tests it finished, and a student
keeps the points they earned before it."""

from __future__ import annotations

import json
import subprocess
import sys

from harness import results
from harness.chapters import ROOT


def test_a_killed_session_keeps_what_it_finished(tmp_path):
    (tmp_path / "test_two.py").write_text(
        "import os, signal\n"
        "def test_first():\n    pass\n"
        "def test_second():\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-c", "/dev/null", "--rootdir", str(tmp_path), "-p", "harness.plugin",
         f"--results={out}", str(tmp_path / "test_two.py")],
        cwd=ROOT / "tests", capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(ROOT / "tests"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == -9, proc.stdout + proc.stderr   # killed mid-session
    assert not out.exists()
    data = results.read_results(out)
    assert data is not None and data["partial"]
    assert [(t["nodeid"].split("::")[-1], t["outcome"]) for t in data["tests"]] == \
        [("test_first", "passed")]


def test_a_finished_session_leaves_only_results_json(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_only():\n    pass\n")
    out = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-c", "/dev/null", "--rootdir", str(tmp_path), "-p", "harness.plugin",
         f"--results={out}", str(tmp_path / "test_one.py")],
        cwd=ROOT / "tests", capture_output=True, text=True, timeout=60, check=True,
        env={"PYTHONPATH": str(ROOT / "tests"), "PATH": "/usr/bin:/bin"})
    assert json.loads(out.read_text())["tests"][0]["outcome"] == "passed"
    assert not results.partial_path(out).exists()
    assert results.read_results(out)["tests"][0]["outcome"] == "passed"
