#!/usr/bin/env python3
"""The workbook's driver: `make check`, `make test`, `make deps`, `make docs`.

    grade.py check [--chapter CH] [--sanitize]   grade the work in chapters/
    grade.py selftest                           prove the workbook sound
    grade.py deps [--install]                   what is missing, or install it
    grade.py docs [--check]                     regenerate exercises.md etc.

It builds every program first (tests/harness/build.py), then runs one pytest
session over all submissions (tests/harness/plugin.py), then reads the
outcomes and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import io
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import build as buildmod  # noqa: E402
from harness import chapters as chmod  # noqa: E402
from harness import deps, docs, jail, reports, scores  # noqa: E402

ROOT = chmod.ROOT
# WORKBOOK_BUILD moves the build folder (two runs at once, a read-only checkout)
BUILD = Path(os.environ.get("WORKBOOK_BUILD", ROOT / "build")).resolve()
TTY = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def paint(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if TTY else text


GREEN, RED, YELLOW, BOLD, DIM = "32", "31", "33", "1", "2"


# -- running pytest ---------------------------------------------------------

def run_pytest(subs: list[dict], results: Path, *, extra: list[str] | None = None,
               paths: list[str] | None = None, jobs: str = "auto",
               quiet: bool = True) -> int:
    manifest = results.with_name(results.stem + "-submissions.json")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(subs, indent=1, default=str))
    results.unlink(missing_ok=True)
    wine = Wine(needed=any(_has_windows(s) for s in subs))
    # test folders live in the jail's area, where its user can reach them
    basetemp = Path(tempfile.mkdtemp(prefix="pytest-", dir=jail.area()))
    cmd = [sys.executable, "-m", "pytest", "-c", str(ROOT / "tests" / "pytest.ini"),
           "--rootdir", str(ROOT / "tests"), f"--submissions={manifest}",
           f"--results={results}", f"--wineprefix={wine.prefix}", f"--basetemp={basetemp}",
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


class Wine:
    """The master Wine prefix (build/wine), made once with `wineboot`.

    No program uses it directly: each Windows program runs in a jail of its
    own with a private view of it and a wineserver of its own
    (harness/jail.py), so Wine 8's occasional server crash takes down one
    program, never the run. What this does is make the prefix on first use
    and, at the end, kill any Wine process still running in it (a grader
    that was killed may have left some)."""

    def __init__(self, needed: bool, prefix: Path | None = None) -> None:
        self.needed = needed and shutil.which("wine") is not None
        self.prefix = prefix or Path(os.environ.get("WORKBOOK_WINE", BUILD / "wine"))
        self.env = dict(os.environ, WINEPREFIX=str(self.prefix), WINEDEBUG="-all",
                        WINEDLLOVERRIDES="mscoree,mshtml=")
        self.env.pop("DISPLAY", None)

    def __enter__(self) -> "Wine":
        if not self.needed:
            return self
        self.sweep()
        if not (self.prefix / "system.reg").exists():
            print(paint(f"Setting up Wine in {self.prefix} (once; takes a few seconds)...", DIM),
                  flush=True)
            self.prefix.mkdir(parents=True, exist_ok=True)
            self._run(["wineboot", "-i"], 180)
            self._run(["wineserver", "-w"], 60)  # the registry is written when it ends
            self.sweep()
        return self

    def _run(self, argv: list[str], timeout: float) -> None:
        # Wine's background services inherit stdout and stderr: never capture
        # them, or the wait lasts as long as the services do
        try:
            subprocess.run(argv, env=self.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=timeout)
        except subprocess.TimeoutExpired:
            print(paint(f"warning: `{' '.join(argv)}` took over {timeout} s", YELLOW))

    def sweep(self) -> None:
        """Kill every Wine process (wineserver, a Windows program or service:
        their executable is Wine's) that runs in this Wine prefix itself."""
        mark = f"WINEPREFIX={self.prefix}\0".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if not os.path.basename(os.readlink(entry / "exe")).startswith("wine"):
                    continue
                environ = (entry / "environ").read_bytes() + b"\0"
            except OSError:
                continue
            if mark in environ:
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def __exit__(self, *exc: object) -> None:
        if self.needed:
            self.sweep()


@dataclass
class Outcome:
    exercise: str
    test: str
    case: str
    outcome: str
    message: str

    @property
    def label(self) -> str:
        return f"{self.test}[{self.case}]" if self.case else self.test


def load_results(path: Path) -> tuple[dict[str, list[Outcome]], list[dict]]:
    """Outcomes by submission, plus the tests that belong to no submission."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}, []
    by_sub: dict[str, list[Outcome]] = defaultdict(list)
    loose = []
    for t in sorted(data["tests"], key=lambda t: t.get("order", 0)):
        if "submission" in t:
            by_sub[t["submission"]].append(Outcome(t["exercise"], t["test"], t.get("case", ""),
                                                   t["outcome"], t.get("message", "")))
        else:
            loose.append(t)
    return by_sub, loose


# -- make check ---------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    out = BUILD / ("student-san" if args.sanitize else "student-vg" if args.valgrind
                   else "student")
    # this run's reports replace the last run's, whatever happens below
    (out / reports.JUNIT_NAME).unlink(missing_ok=True)
    chapters = [args.chapter] if args.chapter else list(chmod.CHAPTERS)
    for ch in chapters:
        if ch not in chmod.CHAPTERS:
            print(f"No chapter {ch!r}. Chapters: {', '.join(chmod.CHAPTERS)}")
            reports.write_failure(out, f"no chapter {ch!r} in this workbook")
            return 2
    exs = [e for e in chmod.EXERCISES if e.chapter in chapters]
    missing = deps.ensure(exs, "valgrind" if args.valgrind else "check") or \
        jail.refusal(jail.find())
    if missing:
        print(missing)
        reports.write_failure(out, missing)
        return 2
    if jail.find().mode != "bwrap":
        print(paint(f"note: {jail.find().describe()}", YELLOW), flush=True)
    src = Path(args.src).resolve()
    built = buildmod.build(exs, src, out, sanitize=args.sanitize)
    show_warnings(built, src)
    sub = {"name": "student", "kind": "student", "root": str(src), "build": str(out),
           "chapters": chapters, "sanitize": args.sanitize, "valgrind": args.valgrind}
    results = out / "results.json"
    jobs = args.jobs if args.jobs != "auto" else str(2 * (os.cpu_count() or 1))
    run_pytest([sub], results, jobs=jobs)
    by_sub, _ = load_results(results)
    outcomes = by_sub.get("student", [])
    if not outcomes:
        print(paint("The harness did not run (see the messages above).", RED))
        reports.write_failure(out, "the test harness did not run (pytest wrote no results: "
                              "a crash or a collection error; see the grader's output)",
                              execution_time=time.monotonic() - t0)
        return 2
    try:
        scored = [s for s in scores.score(results) if s.submission == "student"]
    except scores.PointsError as exc:
        print(paint(f"The points cannot be read: {exc}", RED))
        reports.write_failure(out, f"the points cannot be read: {exc}",
                              execution_time=time.monotonic() - t0)
        return 2
    ok = print_table(exs, outcomes, built, src, scored)
    elapsed = time.monotonic() - t0
    junit, gs = reports.write_reports(scored, out, execution_time=elapsed,
                                      compile_logs=reports.compile_logs_of(built))
    print(paint(f"({elapsed:.1f} s; reports: {_shown(junit)}, {_shown(gs)})", DIM))
    return 0 if ok else 1


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def show_warnings(built: dict[str, buildmod.BuildResult], src: Path) -> None:
    for r in built.values():
        if r.ok and r.warnings:
            print(paint(f"warnings in {r.exercise}:", YELLOW))
            print("\n".join("  " + ln for ln in r.log.strip().splitlines()[:20]))


def progress_bar(done: int, total: int, width: int = 24) -> str:
    filled = round(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"


def print_table(exs: list[chmod.Exercise], outcomes: list[Outcome],
                built: dict[str, buildmod.BuildResult], src: Path,
                scored: list[scores.Scored] | None = None) -> bool:
    by_ex: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_ex[o.exercise].append(o)
    points = scores.by_exercise(scored or []).get("student", {})
    rows, first_bad = [], None
    for e in exs:
        tests = by_ex.get(e.key, [])
        passed = sum(o.outcome == "passed" for o in tests)
        b = built.get(e.key)
        if b is not None and not b.ok:
            status = "missing file" if b.missing else "does not compile"
        elif tests and passed == len(tests):
            status = "done"
        else:
            status = "not yet" if passed == 0 else "partly"
        if status != "done" and first_bad is None:
            first_bad = (e, tests)
        earned, possible = points.get(e.key, (0.0, 0.0))
        shown = (f"{scores.fmt(earned)}/{scores.fmt(possible)}",) if scored is not None else ()
        rows.append((e.chapter, e.main_file if e.kind != "review" else "answers.txt",
                     f"{passed}/{len(tests)}", *shown, status))
    head = ("chapter", "file", "tests", *(("points",) if scored is not None else ()), "status")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    print()
    print(paint("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(), BOLD))
    for r in rows:
        colour = GREEN if r[-1] == "done" else (YELLOW if r[-1] == "partly" else RED)
        print("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  "
              + paint(r[-1], colour))
    done = sum(r[-1] == "done" for r in rows)
    total_tests = sum(len(by_ex.get(e.key, [])) for e in exs)
    passed_tests = sum(o.outcome == "passed" for o in outcomes)
    per_chapter = scores.by_chapter(scored or []).get("student", {})
    if per_chapter:
        print()
        for ch, (earned, possible) in per_chapter.items():
            print(f"  {ch.ljust(widths[0])}  {scores.fmt(earned)} of {scores.fmt(possible)} points")
        earned = sum(e for e, _ in per_chapter.values())
        possible = sum(p for _, p in per_chapter.values())
        print(paint(f"  {'total'.ljust(widths[0])}  {scores.fmt(earned)} of "
                    f"{scores.fmt(possible)} points", BOLD))
    print(f"\n{progress_bar(done, len(rows))} {done} of {len(rows)} exercises done "
          f"({passed_tests} of {total_tests} tests pass)")
    if first_bad is None:
        print(paint("Everything passes. Well done!", GREEN))
        return True
    e, tests = first_bad
    failed = [o for o in tests if o.outcome != "passed"]
    print(paint(f"\nFirst to work on: {e.chapter}/{e.main_file if e.kind != 'review' else 'answers.txt'}"
                f" ({e.task})", BOLD))
    if e.kind != "review":
        print(f"  open chapters/{e.chapter}/{e.main_file}; the contract is in "
              f"chapters/{e.chapter}/README.md")
    b = built.get(e.key)
    if b is not None and not b.ok:
        print("\n" + "\n".join(b.log.strip().splitlines()[:30]))
        return False
    for o in failed[:1]:
        print(paint(f"\n{o.label} failed:", RED))
        print("\n".join("  " + ln for ln in o.message.strip().splitlines()[:40]))
    if len(failed) > 1:
        print(paint(f"\n  ... and {len(failed) - 1} more failing test(s) of this exercise: "
                    + ", ".join(o.label for o in failed[1:6])
                    + (" ..." if len(failed) > 6 else ""), DIM))
    print(paint(f"\nnext up: {e.chapter}/{e.main_file if e.kind != 'review' else 'answers.txt'}"
                f" — {e.task}", BOLD))
    return False


# -- make test ----------------------------------------------------------------

def starter_tree(dest: Path) -> Path:
    """The starters as committed (so a student's edits never count), or the
    working copy when this is not a git checkout."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        data = subprocess.run(["git", "archive", "HEAD", "chapters"], cwd=ROOT,
                              capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            # filter= exists from Python 3.11.4 (and in security updates)
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, **extra)
        # files not committed yet (a maintainer's new chapter) come from the tree
        for f in (ROOT / "chapters").rglob("*"):
            target = dest / f.relative_to(ROOT)
            if f.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)
    except (OSError, subprocess.CalledProcessError, tarfile.TarError):
        shutil.copytree(ROOT / "chapters", dest / "chapters", dirs_exist_ok=True)
    return dest / "chapters"


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


def cmd_selftest(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    missing = deps.ensure(list(chmod.EXERCISES), "selftest") or jail.refusal(jail.find())
    if missing:
        print(missing)
        return 2
    print(paint(f"sandbox: {jail.find().describe()}", DIM), flush=True)
    demo = start_demo_class()  # runs beside everything below; checked at the end
    work = BUILD / "selftest"
    ref_root = ROOT / "solutions"
    start_root = starter_tree(work / "starter-src")
    mutants, problems = load_mutants()

    print(paint("Building references (with AddressSanitizer and UBSan), starters and "
                f"{len(mutants)} mutants...", BOLD), flush=True)
    exs = list(chmod.EXERCISES)
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
    mutant_builds = {}
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
        mutant_builds[m.name] = buildmod.build(target, tree_root, work / "mutants-build" /
                                               m.path.stem, werror=True)
        subs.append({"name": m.name, "kind": "mutant", "root": str(tree_root),
                     "build": str(work / "mutants-build" / m.path.stem),
                     "only_exercises": [e.key for e in target], "only_tests": m.caught_by})
    print(paint(f"  built in {time.monotonic() - t0:.1f} s; running the tests...", DIM),
          flush=True)

    results = work / "results.json"
    run_pytest(subs, results, paths=[str(ROOT / "tests" / "chapters"),
                                     str(ROOT / "tests" / "selftest")], jobs=args.jobs)
    by_sub, loose = load_results(results)
    checks = Verdicts()
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
    checks.record("demo class graded by make grade as tests/demo-class/expected.csv says",
                  *finish_demo_class(demo))
    return checks.finish(t0)


DEMO_LIMIT = 300  # seconds


def start_demo_class() -> subprocess.Popen:
    """tests/classgrade.py demo, in the background (it mostly waits)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "classgrade.py"), "demo", "--quiet", "--jobs",
         "4", "--expected", str(ROOT / "tests" / "demo-class" / "expected.csv")],
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
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[tuple[str, str]] = []

    def record(self, what: str, ok: bool, detail: str = "") -> None:
        if ok:
            self.passed += 1
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


# -- make deps / make docs --------------------------------------------------------

def cmd_deps(args: argparse.Namespace) -> int:
    return deps.main(install=args.install)


def cmd_docs(args: argparse.Namespace) -> int:
    stale = docs.generate(check_only=args.check)
    if args.check and stale:
        print("Out of date (run `make docs`): " + ", ".join(stale))
        return 1
    if not args.check:
        print("Updated: " + (", ".join(stale) if stale else "nothing (all current)"))
    return 0


def main() -> int:
    # a TERM (from timeout, or an instructor's script) ends the run the way
    # Ctrl-C does, so that the clean-ups (Wine, the test processes) still run
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="grade.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check")
    p.add_argument("--chapter")
    p.add_argument("--sanitize", action="store_true")
    p.add_argument("--valgrind", action="store_true",
                   help="run every native program under valgrind (slow)")
    p.add_argument("--src", default=str(ROOT / "chapters"))
    p.add_argument("--jobs", default="auto")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("selftest")
    p.add_argument("--jobs", default="auto")
    p.set_defaults(func=cmd_selftest)
    p = sub.add_parser("deps")
    p.add_argument("--install", action="store_true")
    p.set_defaults(func=cmd_deps)
    p = sub.add_parser("docs")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_docs)
    args = parser.parse_args()
    if args.cmd in ("check", "selftest") and not os.environ.get(jail.AREA_ENV):
        # the jail's area for this run: test folders, build staging; gone at the end
        area = jail.make_area()
        os.environ[jail.AREA_ENV] = str(area)
        try:
            return args.func(args)
        finally:
            shutil.rmtree(area, ignore_errors=True)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
