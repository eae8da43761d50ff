"""One pytest session over submissions, and the one reader of its results.

run_pytest writes the submissions' manifest, runs pytest (with the plugin
of harness/plugin.py, spread over cores by pytest-xdist) with the test
folders in the jail's area and the Wine prefix made, and load_results reads
the outcomes it wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import chapters as chmod
from . import faults, jail
from .chapters import ROOT
from .paths import build_dir
from .results import read_results
from .wine import Wine


def run_pytest(subs: list[dict], results: Path, *, extra: list[str] | None = None,
               paths: list[str] | None = None, jobs: str = "auto",
               quiet: bool = True, seed: int | None = None) -> int:
    """`seed`: the run seed of fault injection (harness/faults.py); random
    when None."""
    manifest = results.with_name(results.stem + "-submissions.json")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(subs, indent=1, default=str))
    results.unlink(missing_ok=True)
    lib = faults.build_library(build_dir() / "faults")  # loud if it cannot
    wine = Wine(needed=any(_has_windows(s) for s in subs))
    # test folders live in the jail's area, where its user can reach them
    basetemp = Path(tempfile.mkdtemp(prefix="pytest-", dir=jail.area()))
    cmd = [sys.executable, "-m", "pytest", "-c", str(ROOT / "tests" / "pytest.ini"),
           "--rootdir", str(ROOT / "tests"), f"--submissions={manifest}",
           f"--results={results}", f"--wineprefix={wine.prefix}", f"--basetemp={basetemp}",
           f"--faults-lib={lib}", f"--fault-seed={faults.run_seed(seed)}",
           *(paths or [str(ROOT / "tests" / "chapters")])]
    if jobs == "auto":
        # the tests mostly wait on sockets and processes, not on the CPU
        jobs = str(max(4, 4 * (os.cpu_count() or 1)))
    if jobs != "0":
        cmd += ["-n", jobs, "--dist", "load"]
    cmd += ["-q", "--no-header", "-rN", "--no-summary"] if quiet else ["-q"]
    cmd += extra or []
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env[jail.AREA_ENV] = str(jail.area())
    try:
        with wine:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=quiet, text=True,
                                  errors="replace")
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)
    if quiet and (proc.returncode not in (0, 1) or not results.exists()):
        # pytest itself failed (a collection error, a crash): show everything
        print(proc.stdout[-20000:], proc.stderr[-5000:], sep="\n")
    return proc.returncode


def _has_windows(sub: dict) -> bool:
    chapters = sub.get("chapters")
    only = sub.get("only_exercises")
    wanted = [e for e in chmod.EXERCISES if e.kind == "windows"
              and (chapters is None or e.chapter in chapters)
              and (only is None or e.key in only)]
    return bool(wanted)


@dataclass
class Outcome:
    exercise: str
    test: str
    case: str
    outcome: str
    message: str
    variant: str = ""   # a test's own parameters beyond the program (pytest's id), e.g. "Q"

    @property
    def label(self) -> str:
        return f"{self.test}[{self.case}]" if self.case else self.test


def _variant(t: dict) -> str:
    """The part of a test's pytest id that is not the program's (plugin.py
    names it submission:chapter[:case]): the test's own parameters, such as
    test_echo_client_quit's quit line."""
    nodeid = str(t.get("nodeid", ""))
    if not nodeid.endswith("]") or "[" not in nodeid:
        return ""
    inner = nodeid[nodeid.index("[") + 1:-1]
    chapter = str(t.get("exercise", "")).partition("/")[0]
    prog = ":".join(x for x in (t.get("submission"), chapter, t.get("case")) if x)
    return "-".join(part for part in inner.split("-") if part != prog)


def load_results(path: Path) -> tuple[dict[str, list[Outcome]], list[dict]]:
    """Outcomes by submission, plus the tests that belong to no submission."""
    data = read_results(path)
    if data is None:
        return {}, []
    by_sub: dict[str, list[Outcome]] = defaultdict(list)
    loose = []
    for t in sorted(data["tests"], key=lambda t: t.get("order", 0)):
        if "submission" in t:
            by_sub[t["submission"]].append(Outcome(t["exercise"], t["test"], t.get("case", ""),
                                                   t["outcome"], t.get("message", ""),
                                                   _variant(t)))
        else:
            loose.append(t)
    return by_sub, loose
