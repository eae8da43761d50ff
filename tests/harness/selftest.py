"""`make test`: every reference passes, every starter fails, every mutant is
caught by the tests it names, every test can fail, the harness's own tests
pass, and the demo class is graded as expected."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import build as buildmod
from . import chapters as chmod
from . import batch, deps, jail, paths
from .chapters import ROOT
from .session import load_results, run_pytest
from .starters import FROM_TREE_ENV, StarterError, starter_tree
from .term import BOLD, DIM, GREEN, RED, YELLOW, paint


@dataclass
class Mutant:
    path: Path
    chapter: str
    replaces: str
    mistake: str
    caught_by: list[str]

    @property
    def name(self) -> str:
        return f"mutant:{self.chapter}/{self.path.stem}"


def load_mutants() -> tuple[list[Mutant], list[str]]:
    mutants, problems = [], []
    for path in sorted((ROOT / "tests" / "mutants").glob("*/*.patch")):
        text = path.read_text(errors="replace")[:3000]
        of = re.search(r"MUTANT of solutions/([^/\s]+)/(\S+)", text)
        caught = re.search(r"caught-by:\s*(.+)", text)
        mistake = re.search(r"mistake:\s*(.+)", text)
        if not (of and caught):
            problems.append(f"{path.relative_to(ROOT)}: header lacks `MUTANT of` or `caught-by`")
            continue
        tests = [t.strip() for t in re.split(r",\s*", caught.group(1).strip().rstrip("*/ "))
                 if t.strip()]
        mutants.append(Mutant(path, of.group(1), of.group(2),
                              mistake.group(1).strip() if mistake else "", tests))
    return mutants, problems


def run(jobs: str = "auto", seed: int | None = None, verbose: bool = False,
        chapter: str | None = None) -> int:
    """make test: prove the workbook sound (docs/instructor-guide.md).
    With `chapter` (make test CHAPTER=...), only that chapter's references,
    starters and mutants: the quick loop while writing a chapter; the
    harness's own tests and the demo class are left out."""
    t0 = time.monotonic()
    exs = chmod.exercises(chapter)
    if not exs:
        print(f"No chapter {chapter!r}. The chapters: {', '.join(chmod.CHAPTERS)}")
        return 2
    missing = deps.ensure(exs, "selftest") or jail.refusal(jail.find())
    if missing:
        print(missing)
        return 2
    print(paint(f"sandbox: {jail.find().describe()}", DIM), flush=True)
    _own_network()
    # the demo class runs beside everything below; checked at the end
    demo = start_demo_class() if chapter is None else None
    work = paths.build_dir() / "selftest"
    ref_root = ROOT / "solutions"
    try:
        start_root = starter_tree(work / "starter-src")
    except StarterError as exc:
        print(paint(f"The starters as committed cannot be read: {exc}", RED))
        print(f"(Set {FROM_TREE_ENV}=1 to grade the working tree's chapters/ as the starters.)")
        return 2
    mutants, problems = load_mutants()
    if chapter is not None:
        mutants = [m for m in mutants if m.chapter == chapter]
        problems = [p for p in problems if f"/{chapter}/" in p]

    print(paint("Building references (with AddressSanitizer and UBSan), starters and "
                f"{len(mutants)} mutants...", BOLD), flush=True)
    native = [e for e in exs if e.kind != "windows"]
    windows = [e for e in exs if e.kind == "windows"]
    ref_build = buildmod.build(native, ref_root, work / "ref", werror=True, sanitize=True)
    ref_build.update(buildmod.build(windows, ref_root, work / "ref", werror=True))
    start_build = buildmod.build(exs, start_root, work / "starter", werror=True)
    subs = [
        {"name": "reference", "kind": "reference", "root": str(ref_root),
         "build": str(work / "ref"), "sanitize": True},
        {"name": "starter", "kind": "starter", "root": str(start_root),
         "build": str(work / "starter")},
    ]
    if chapter is not None:
        for sub in subs:
            sub["chapters"] = [chapter]
    mutant_builds = {}
    to_build: list[tuple[Mutant, list, Path]] = []
    for m in mutants:
        tree = work / "mutants" / m.path.stem / m.chapter
        tree_root = tree.parent
        if tree.exists():
            shutil.rmtree(tree)
        shutil.copytree(ref_root / m.chapter, tree)
        applied = subprocess.run(["patch", "-s", "-p1", "-N", "--no-backup-if-mismatch",
                                  "-d", str(tree), "-i", str(m.path)],
                                 capture_output=True, text=True)
        if applied.returncode != 0:
            problems.append(f"{m.path.relative_to(ROOT)} no longer applies to "
                            f"solutions/{m.chapter}/{m.replaces} (the reference changed): "
                            f"{applied.stdout.strip()} {applied.stderr.strip()}")
            continue
        target = [e for e in exs if e.chapter == m.chapter
                  and (m.replaces in e.sources or (e.kind == "review"
                                                   and m.replaces == "answers.txt"))]
        if not target:
            problems.append(f"{m.path.relative_to(ROOT)}: no exercise uses {m.replaces}")
            continue
        to_build.append((m, target, tree_root))
        subs.append({"name": m.name, "kind": "mutant", "root": str(tree_root),
                     "build": str(work / "mutants-build" / m.path.stem),
                     "only_exercises": [e.key for e in target], "only_tests": m.caught_by})
    # each mutant is one or two files: built side by side, not one after another
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        built = pool.map(lambda job: buildmod.build(
            job[1], job[2], work / "mutants-build" / job[0].path.stem, werror=True, jobs=1),
            to_build)
        for (m, _, _), result in zip(to_build, built):
            mutant_builds[m.name] = result
    print(paint(f"  built in {time.monotonic() - t0:.1f} s; running the tests...", DIM),
          flush=True)

    results = work / "results.json"
    test_paths = [str(ROOT / "tests" / "chapters")]
    if chapter is None:
        test_paths.append(str(ROOT / "tests" / "selftest"))
    run_pytest(subs, results, paths=test_paths, jobs=jobs, seed=seed)
    by_sub, loose = load_results(results)
    checks = Verdicts(verbose)
    if not by_sub:
        checks.bad("the harness ran", "no results were written (see the output above)")
        return checks.finish(t0)

    # 1. every reference passes everything
    ref = by_sub.get("reference", [])
    for b in ref_build.values():
        checks.record(f"reference {b.exercise} compiles with -Werror", b.ok, b.log[:1500])
    fails = [o for o in ref if o.outcome != "passed"]
    checks.record(f"references pass all {len(ref)} tests", not fails and bool(ref),
                  "\n".join(f"{o.exercise} {o.label}:\n{_indent(o.message)}" for o in fails[:5]))

    # 2. every starter compiles warning-free and fails its exercise
    start = by_sub.get("starter", [])
    for e in exs:
        b = start_build.get(e.key)
        if b is not None:
            checks.record(f"starter {e.key} compiles with -Werror", b.ok, b.log[:1500])
        tests = [o for o in start if o.exercise == e.key]
        checks.record(f"starter {e.key} fails its tests",
                      bool(tests) and any(o.outcome != "passed" for o in tests),
                      f"{len(tests)} tests ran, none failed")

    # 3. every mutant is caught by the tests it names
    for p in problems:
        checks.bad("mutant headers", p)
    for m in mutants:
        outs = by_sub.get(m.name, [])
        broken = [b for b in mutant_builds.get(m.name, {}).values() if not b.ok]
        if broken:
            checks.bad(f"{m.name} compiles", broken[0].log[:1500])
            continue
        # a test is one function: caught when any of its variants fails
        verdict: dict[str, bool] = {}
        for o in outs:
            for name in (o.label, o.test):
                if name in m.caught_by:
                    verdict[name] = verdict.get(name, False) or o.outcome == "failed"
        for t in m.caught_by:
            if t not in verdict:
                checks.bad(f"{m.name}: {t}", "no such test ran for this exercise")
        escaped = [t for t, caught in verdict.items() if not caught]
        checks.record(f"{m.name} is caught ({m.mistake})", bool(verdict) and not escaped,
                      f"passed: {', '.join(escaped)}" if escaped else "no test ran")

    # 4. every behaviour test can fail: on the starter or on some mutant
    failed_somewhere = {(o.exercise, o.test, o.case) for s, outs in by_sub.items()
                        if s != "reference" for o in outs if o.outcome == "failed"}
    never = sorted({f"{o.exercise} {o.label}" for o in ref
                    if (o.exercise, o.test, o.case) not in failed_somewhere})
    checks.record("every test fails on the starter or on a mutant", not never,
                  "never failed: " + ", ".join(never[:20]))

    # 5. the harness's own tests
    for t in loose:
        if t["outcome"] == "skipped":  # e.g. a tool this machine lacks: said, not failed
            print(paint(f"skipped harness: {t['nodeid'].split('::')[-1]}: "
                        f"{t.get('message', '')}", YELLOW))
            continue
        checks.record(f"harness: {t['nodeid'].split('::')[-1]}", t["outcome"] == "passed",
                      t.get("message", ""))

    # 6. the demo class, graded as `make grade` grades a class
    if demo is None:
        print(paint(f"chapter {chapter} only: the harness's own tests and the demo class "
                    "were left out (make test runs everything)", YELLOW))
        return checks.finish(t0)
    checks.record("demo class graded by make grade as tests/demo-class/expected.toml says",
                  *finish_demo_class(demo))
    return checks.finish(t0)


DEMO_LIMIT = 300  # seconds


def _own_network() -> None:
    """Run the rest in a network namespace of our own (when root), as make
    grade runs each student: loopback only, and a TCP table of 1024 buckets
    instead of the host's (262144 here), which every read of /proc/net/tcp
    walks; the harness's waits read it every 5 ms (3.6 ms a read on the
    host's table, 0.05 ms on ours). Nothing after this needs the network:
    what had to be installed is installed. Elsewhere: the host's."""
    if os.geteuid() != 0:
        return
    try:
        batch.enter_netns()
    except OSError:
        pass


def start_demo_class() -> subprocess.Popen:
    """tests/classgrade.py demo, in the background (it mostly waits)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "classgrade.py"), "demo", "--quiet", "--jobs",
         "4", "--expected", str(ROOT / "tests" / "demo-class" / "expected.toml")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", start_new_session=True)


def finish_demo_class(proc: subprocess.Popen) -> tuple[bool, str]:
    try:
        out, _ = proc.communicate(timeout=DEMO_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return False, f"the demo class took more than {DEMO_LIMIT} s\n{out[-3000:]}"
    return proc.returncode == 0, out[-4000:]


def _indent(text: str, n: int = 30) -> str:
    return "\n".join("      " + ln for ln in text.strip().splitlines()[:n])


class Verdicts:
    """What the self-test proved, and what it could not. With `verbose`
    (make test VERBOSE=1), every proof is listed as it is made."""

    def __init__(self, verbose: bool = False) -> None:
        self.passed = 0
        self.failed: list[tuple[str, str]] = []
        self.verbose = verbose

    def record(self, what: str, ok: bool, detail: str = "") -> None:
        if ok:
            self.passed += 1
            if self.verbose:
                print(paint("ok", GREEN) + f"   {what}")
        else:
            self.bad(what, detail)

    def bad(self, what: str, detail: str) -> None:
        self.failed.append((what, detail))

    def finish(self, t0: float) -> int:
        for what, detail in self.failed:
            print(paint(f"FAIL {what}", RED))
            if detail.strip():
                print(_indent(detail, 40))
        print(paint(f"\nworkbook self-test: {time.monotonic() - t0:.1f} s", DIM))
        print(f"selftest: {self.passed} passed, {len(self.failed)} failed")
        return 0 if not self.failed else 1
