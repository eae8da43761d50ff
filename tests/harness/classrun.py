"""Grading a whole class (the commands are tests/classgrade.py's): each
student's work staged into a fresh tree and graded by a worker process of
its own (`classgrade.py one`), in its own network namespace where the
kernel allows it and in a control group of its own, N workers at a time
(harness/batch.py holds the pieces); the demo class of tests/demo-class/.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import batch, deadline, deps, jail, paths, sandbox, scores, session
from . import build as buildmod
from . import chapters as chmod
from . import reports
from .procs import become_subreaper, reap_orphans
from .starters import starter_tree
from .wine import Wine


ROOT = chmod.ROOT
DRIVER = ROOT / "tests" / "classgrade.py"  # the command; its `one` runs a worker
SUBMISSION_LIMIT = 900.0      # seconds one student's grading may take at most
# what one worker (one student's whole session) may use at most: its tests'
# own cages (sandbox.Limits) are nested inside and are much smaller
WORKER_LIMITS = sandbox.Limits(pids=4096, memory=8 << 30, cpu=float(os.cpu_count() or 1),
                               file_size=1 << 40, open_files=1 << 20)  # capped to the hard limits


def log(text: str) -> None:
    print(text, flush=True)


# -- one submission (runs inside its namespace) ------------------------------------------

def cmd_one(args: argparse.Namespace) -> int:
    """Build and test one staged submission. Runs as its own process, in a
    fresh network namespace with --netns (entered first, before any thread)."""
    if args.netns:
        try:
            batch.enter_netns()
        except OSError as exc:
            print(f"cannot enter a network namespace: {exc}", file=sys.stderr)
            return 3
    become_subreaper()  # programs that escape pytest's workers end up here

    out = Path(args.out)
    exs = [e for e in chmod.EXERCISES if e.chapter in args.chapters]
    built = buildmod.build(exs, Path(args.src), out / "build",
                           pch=Path(args.pch) if args.pch else None)
    sub = {"name": args.name, "kind": "student", "root": args.src, "build": str(out / "build"),
           "chapters": args.chapters}
    # the tests' working folders (the students' programs' cwd) are made in
    # the jail's area (harness/jail.py), one run's, removed when it ends
    rc = session.run_pytest([sub], out / "results.json", jobs=args.jobs)
    reap_orphans()
    batch.write_json(out / "compile.json", {
        "logs": reports.compile_logs_of(built), "states": reports.build_states(built),
        # what make check shows the student too: its warnings, for the report
        "warnings": {k: b.log.strip() for k, b in built.items() if b.ok and b.warnings}})
    return 0 if rc in (0, 1) else 2


def cmd_probe_netns(args: argparse.Namespace) -> int:
    try:
        batch.enter_netns()
    except OSError as exc:
        print(exc)
        return 1
    return 0


def netns_available() -> tuple[bool, str]:
    try:
        probe = subprocess.run([sys.executable, str(DRIVER), "probe-netns"], capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return probe.returncode == 0, (probe.stdout + probe.stderr).strip()


# -- the class ------------------------------------------------------------------------

class Slots:
    """Worker slots: each has its own folder (WORKBOOK_BUILD of its workers);
    a slot serves one student at a time. All share the master Wine prefix:
    each Windows program sees a private view of it (harness/jail.py)."""

    def __init__(self, base: Path, n: int) -> None:
        self.dirs = [base / f"slot{i}" for i in range(n)]
        self.free: queue.Queue[Path] = queue.Queue()
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
            self.free.put(d)


def grade_one(student: batch.Student, out_root: Path, chapters: list[str], slots: Slots,
              netns: bool, session_jobs: str, limit: float,
              cgroups: sandbox.Cgroups, pch: Path | None = None,
              due: tuple[str, int] | None = None) -> batch.Graded:
    t0 = time.monotonic()
    out = out_root / "students" / student.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pinned = None
    if due is not None:  # the last commit before the deadline (harness/deadline.py)
        student, pinned = deadline.pin(student, out / "at-deadline", due[1], chapters)
    staged = batch.stage(student, out / "chapters", chapters)
    slot = slots.free.get()
    cage = cgroups.cage(WORKER_LIMITS)
    problem = ""
    try:
        cmd = [sys.executable, str(DRIVER), "one", "--name", student.name,
               "--src", str(staged.root), "--out", str(out), "--jobs", session_jobs,
               "--chapters", *chapters] + (["--netns"] if netns else []) + (
                   ["--pch", str(pch)] if pch else [])
        env = dict(os.environ, WORKBOOK_BUILD=str(slot), PYTHONDONTWRITEBYTECODE="1")
        with open(out / "grader.log", "w") as logf:
            # into its cage through the sh wrapper (sandbox.wrapper), never a
            # preexec_fn: this runs in a thread pool, where fork()ing Python
            # to run one can deadlock
            wrap = sandbox.wrapper(WORKER_LIMITS, cage) if cage else []
            proc = subprocess.Popen([*wrap, *cmd], stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=logf, env=env, cwd=ROOT, start_new_session=True)
            try:
                rc = proc.wait(limit)
                if rc != 0:
                    problem = (f"the grader stopped with status {rc} (see "
                               f"{out / 'grader.log'})")
            except subprocess.TimeoutExpired:
                problem = f"grading took more than {limit:g} s and was stopped"
                _stop(proc)
    finally:
        if cage is not None:
            cage.kill_all()  # whatever the worker left, even if it died
            cage.remove()
        slots.free.put(slot)
    scored = [s for s in scores.score(out / "results.json") if s.submission == student.name]
    if not scored and not problem:
        problem = f"the harness wrote no results (see {out / 'grader.log'})"
    try:
        compiled = json.loads((out / "compile.json").read_text())
    except (OSError, ValueError):
        compiled = {}
    logs = compiled.get("logs", {})
    g = batch.Graded(student, staged, scored, time.monotonic() - t0, problem, logs,
                     compiled.get("states", {}), batch.untouched(staged.root, chapters),
                     compiled.get("warnings", {}))
    if pinned is not None:
        g.pinned = {"line": pinned.describe(due[0]), "commit": pinned.commit[:12],
                    "later": pinned.later}
    if scored:
        reports.write_reports(scored, out, execution_time=g.seconds, compile_logs=logs)
    else:
        reports.write_failure(out, problem, execution_time=g.seconds)
    return g


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def earlier_rows(out_root: Path, chapters: list[str], now: set[str],
                 fresh: bool = False) -> tuple[list[dict], Path | None]:
    """The rows of students graded earlier into out_root and not now, to merge
    into class.csv: a regrade of one student (or of some) keeps the others.
    Rows graded for other chapters cannot be merged: those students'
    folders are moved to out_root/earlier-<time>/ (so are all of them with
    `fresh`), and the path is returned."""
    kept, moved = [], []
    for row_file in sorted((out_root / "students").glob("*/row.json")):
        name = row_file.parent.name
        if name in now:
            continue
        try:
            row = json.loads(row_file.read_text())
        except (OSError, ValueError):
            row = {}
        if not fresh and row.get("chapters") == list(chapters) and row.get("student") == name:
            kept.append(row)
        else:
            moved.append(row_file.parent)
    if not moved:
        return kept, None
    aside = out_root / time.strftime("earlier-%Y%m%d-%H%M%S")
    aside.mkdir(parents=True, exist_ok=True)
    for folder in moved:
        shutil.move(str(folder), str(aside / folder.name))
    for name in ("class.csv", "failures.txt", "summary.json"):
        if (out_root / name).exists():
            shutil.copy2(out_root / name, aside / name)
    return kept, aside


def grade_class(class_dir: Path, out_root: Path, chapters: list[str], jobs: int,
                session_jobs: str = "0", limit: float = SUBMISSION_LIMIT,
                quiet: bool = False, fresh: bool = False,
                due: tuple[str, int] | None = None) -> tuple[list[batch.Graded], dict]:
    t0 = time.monotonic()
    say = (lambda *_: None) if quiet else log
    students = batch.find_students(class_dir)
    netns, why = netns_available()
    cg = sandbox.cgroups()
    if not netns and jobs > 1:
        say(f"network namespaces are not available here ({why}): grading one student at "
            f"a time, so that two students' servers cannot meet on a port")
        jobs = 1
    isolation = ("each student in a network namespace of its own" if netns else
                 f"no network namespaces ({why}): students graded one at a time")
    say(f"Grading {len(students)} submission(s) of {class_dir} ({', '.join(chapters)}), "
        f"{jobs} at a time; {isolation}; sandbox: {cg.describe()}; {jail.find().describe()}")
    out_root.mkdir(parents=True, exist_ok=True)
    slots = Slots(out_root / "slots", max(1, jobs))
    if any(e.kind == "windows" for e in chmod.EXERCISES if e.chapter in chapters) \
            and shutil.which("wine"):
        master = paths.wine_prefix()
        os.environ["WORKBOOK_WINE"] = str(master)  # the workers' WORKBOOK_BUILD is their slot
        if not (master / "system.reg").exists():
            with Wine(needed=True, prefix=master):  # made as `make check` makes it
                pass
    pch = None
    if any(e.kind == "windows" for e in chmod.EXERCISES if e.chapter in chapters) \
            and shutil.which(buildmod.WIN_CC):
        pch = buildmod.windows_pch(out_root / "pch")  # made once, used by every student
    done = 0
    lock = threading.Lock()

    def work(st: batch.Student) -> batch.Graded:
        nonlocal done
        g = grade_one(st, out_root, chapters, slots, netns, session_jobs, limit, cg, pch, due)
        with lock:
            done += 1
            say(f"  [{done}/{len(students)}] {st.name}: {scores.fmt(g.total)} points "
                f"({g.seconds:.1f} s)" + (f"  {g.problem}" if g.problem else ""))
        return g

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        graded = list(pool.map(work, students))
    most = batch.possible(graded, chapters)
    earlier, set_aside = earlier_rows(out_root, chapters, {g.student.name for g in graded},
                                      fresh)
    for g in graded:
        reports.write_atomic(out_root / "students" / g.student.name / "report.txt",
                             batch.student_report(g, chapters, most))
        reports.write_atomic(out_root / "students" / g.student.name / "row.json",
                             json.dumps(batch.row_of(g, chapters), indent=1))
    rows = [batch.row_of(g, chapters) for g in graded] + earlier
    for r in earlier:
        for ch in chapters:
            most[ch] = max(most[ch], r.get("possible", {}).get(ch, 0.0))
    reports.write_atomic(out_root / "class.csv", batch.class_csv(rows, chapters, most))
    reports.write_atomic(out_root / "failures.txt", batch.failure_summary(graded))
    if earlier:
        say(f"class.csv merges {len(graded)} graded now with {len(earlier)} kept from an "
            f"earlier grading in {out_root} ({', '.join(r['student'] for r in earlier[:8])}"
            f"{', ...' if len(earlier) > 8 else ''}); FRESH=1 starts a new table")
    if set_aside:
        say(f"earlier results for other chapters were moved to {set_aside}")
    elapsed = time.monotonic() - t0
    info = {"students": len(graded), "jobs": jobs, "netns": netns, "sandbox": cg.describe(),
            "seconds": round(elapsed, 1), "chapters": chapters,
            "possible": {ch: most[ch] for ch in chapters},
            "per_student_seconds": {g.student.name: round(g.seconds, 1) for g in graded}}
    batch.write_json(out_root / "summary.json", info)
    say(f"Graded {len(graded)} submission(s) in {elapsed:.1f} s. Outputs in {out_root}: "
        f"class.csv, failures.txt, students/<name>/report.txt")
    return graded, info


def cmd_grade(args: argparse.Namespace) -> int:
    class_dir = Path(args.submissions).resolve()
    if not args.submissions.strip() or not class_dir.is_dir():
        what = f"No folder {class_dir}" if args.submissions.strip() else "Which class?"
        log(f"{what}: make grade SUBMISSIONS=<a folder with one folder per student>")
        return 2
    chapters = args.chapter or list(chmod.CHAPTERS)
    for ch in chapters:
        if ch not in chmod.CHAPTERS:
            log(f"No chapter {ch!r}. Chapters: {', '.join(chmod.CHAPTERS)}")
            return 2
    missing = deps.ensure([e for e in chmod.EXERCISES if e.chapter in chapters]) or \
        jail.refusal(jail.find())
    if missing:
        log(missing)
        return 2
    due = None
    if args.deadline:
        try:
            due = (args.deadline, deadline.parse(args.deadline))
        except deadline.DeadlineError as exc:
            log(str(exc))
            return 2
    jobs = int(args.jobs) if args.jobs not in ("auto", "") else default_jobs()
    out = Path(args.out).resolve() if args.out else paths.build_dir() / "grade"
    graded, _ = grade_class(class_dir, out, chapters, jobs, args.session_jobs, args.timeout,
                            fresh=args.fresh, due=due)
    print()
    print((out / "class.csv").read_text(), end="")
    return 0 if graded and not any(g.problem for g in graded) else 1


def default_jobs() -> int:
    # the tests mostly wait on sockets and timers: two sessions per core
    return 2 * (os.cpu_count() or 1)


# -- the demo class ---------------------------------------------------------------------

def make_demo(spec_path: Path, dest: Path) -> list[str]:
    """Build the demo class described by tests/demo-class/class.toml into dest:
    one folder per student, made from the references, the starters, mutant
    patches and hostile files."""
    spec = tomllib.loads(spec_path.read_text())
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    chapters = spec["chapters"]
    starters = None
    if any(st.get("from") == "starters" for st in spec["student"].values()):
        # the starters as committed, never an edited checkout's
        starters = starter_tree(dest.parent / "starters")
    for name, st in spec["student"].items():
        top = dest / name
        top.mkdir()
        if st.get("empty"):
            continue
        base = top / "chapters" if st.get("layout") == "repository" else top
        if st.get("layout") == "repository":
            (top / "tests").mkdir()  # their own harness: never used
            (top / "tests" / "grade.py").write_text("raise SystemExit('not the grader')\n")
        for ch in st.get("handed_in", chapters):
            if ch in st.get("drop", []):
                continue
            src = (starters if st.get("from") == "starters" and starters
                   else ROOT / "solutions") / ch
            shutil.copytree(src, base / ch)
        for patch in st.get("mutants", []):
            ch = patch.split("/")[0]
            subprocess.run(["patch", "-s", "-p1", "-N", "--no-backup-if-mismatch", "-d",
                            str(base / ch), "-i", str(ROOT / "tests" / "mutants" /
                                                      f"{patch}.patch")],
                           check=True, capture_output=True)
        for target, source in st.get("files", {}).items():
            origin = (ROOT / "tests" / source if source.startswith("hostile/")
                      else spec_path.parent / "files" / source if "/" not in source
                      else (spec_path.parent / source).resolve())
            shutil.copyfile(origin, base / target)
            if origin.suffix == ".in":  # a template naming the real key by its path
                key = ROOT / "solutions" / target.split("/")[0] / "answers.txt"
                (base / target).write_text((base / target).read_text()
                                           .replace("@KEY@", str(key)))
        for target in st.get("remove", []):
            (base / target).unlink()
        for target, text in st.get("answers", {}).items():
            (base / target).write_text(text)
    return chapters


def contained(out: Path) -> list[str]:
    """What the demo's hostile students (tests/hostile/) achieved, if anything:
    a key quoted in any output of the grading, a file written where the
    grader lives (the workbook tree, the class's outputs)."""
    key_mark = "# Key for chapters/"  # the first line of every solutions/*/answers.txt
    breaches = []
    for path in out.rglob("*"):
        if "chapters" in path.relative_to(out).parts:
            continue  # what the students handed in (complete ones hand in the key's answers)
        if path.is_file() and path.suffix in (".txt", ".json", ".xml", ".csv", ".log"):
            if key_mark in path.read_text(errors="replace"):
                breaches.append(f"{path}: quotes an answer key")
    for top in (ROOT, out):
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in ("wine", ".git")]
            breaches += [f"{folder}/{f}: written by a hostile program" for f in files
                         if f.startswith(("pwned-by-", "hostile-fill-"))]
    return breaches


def _fails(g: batch.Graded) -> list[str]:
    return sorted({f"{s.exercise} {s.label}" for s in g.scored if s.outcome != "passed"})


def _either(class_toml: Path) -> dict[str, set[str]]:
    """Per student of the demo class, the tests whose outcome class.toml
    says depends on timing for that student (`either`: a hostile program
    that daemonizes or forks without end races with its jail's teardown):
    left out of the comparison, both ways."""
    if not class_toml.is_file():
        return {}
    students = tomllib.loads(class_toml.read_text()).get("student", {})
    return {name: set(st.get("either", [])) for name, st in students.items()}


def demo_expected(graded: list[batch.Graded], chapters: list[str],
                  class_toml: Path | None = None) -> str:
    """tests/demo-class/expected.toml from a grading: per student, each
    chapter's status and the tests that fail. No points: they follow from
    the chapters' points.toml, so changing a point needs no edit here."""
    lines = ["# How grading the demo class must come out (tests/classgrade.py demo",
             "# --expected): per student, each chapter's status (as in class.csv) and",
             "# the tests that fail. The points follow from the chapters' points.toml.",
             "# Rewrite it with: /usr/bin/python3 tests/classgrade.py demo "
             "--update-expected tests/demo-class/expected.toml", ""]
    either = _either(class_toml) if class_toml else {}
    for g in sorted(graded, key=lambda g: g.student.name):
        row = batch.row_of(g, chapters)
        lines.append(f"[{g.student.name}]")
        lines.append("status = { " + ", ".join(f'"{ch}" = "{row["status"][ch]}"'
                                             for ch in chapters) + " }")
        fails = [f for f in _fails(g) if f not in either.get(g.student.name, set())]
        lines.append("fails = [" + "".join(f'\n  "{f}",' for f in fails)
                     + ("\n]" if fails else "]"))
        lines.append("")
    return "\n".join(lines)


def compare_demo(graded: list[batch.Graded], chapters: list[str], expected: Path) -> list[str]:
    """What differs from expected.toml (demo_expected), one line each; and
    the points: each row must add up from points.toml (possible minus the
    points of the tests that fail)."""
    want = tomllib.loads(expected.read_text())
    either = _either(expected.parent / "class.toml")
    problems = []
    names = {g.student.name for g in graded}
    problems += [f"{n}: expected, but not graded" for n in sorted(set(want) - names)]
    for g in sorted(graded, key=lambda g: g.student.name):
        w = want.get(g.student.name)
        if w is None:
            problems.append(f"{g.student.name}: graded, but not in {expected.name}")
            continue
        row = batch.row_of(g, chapters)
        if row["status"] != w.get("status"):
            problems.append(f"{g.student.name}: status {row['status']}, expected "
                            f"{w.get('status')}")
        racy = either.get(g.student.name, set())
        got, exp = set(_fails(g)) - racy, set(w.get("fails", [])) - racy
        for f in sorted(got - exp):
            problems.append(f"{g.student.name}: fails {f} (expected to pass)")
        for f in sorted(exp - got):
            problems.append(f"{g.student.name}: passes {f} (expected to fail)")
        for ch in chapters:
            possible = g.chapter_points(ch)[1]
            if g.scored and abs(possible - package_max(ch)) > 1e-9:
                problems.append(f"{g.student.name}: {ch} has {possible} points possible, "
                                f"points.toml {package_max(ch)}")
        for sc in g.scored:
            if sc.points != (sc.max_points if sc.outcome == "passed" else 0.0):
                problems.append(f"{g.student.name}: {sc.exercise} {sc.label} {sc.outcome} "
                                f"earned {sc.points} of {sc.max_points}")
    return problems


def package_max(chapter: str) -> float:
    from .packaging import chapter_max_points
    return chapter_max_points(chapter)


def cmd_demo(args: argparse.Namespace) -> int:
    spec = ROOT / "tests" / "demo-class" / "class.toml"
    class_dir = paths.build_dir() / "demo-class" / "submissions"
    chapters = make_demo(spec, class_dir)
    out = paths.build_dir() / "demo-class" / "grade"
    shutil.rmtree(out, ignore_errors=True)  # a table of this run only
    jobs = int(args.jobs) if args.jobs not in ("auto", "") else default_jobs()
    graded, info = grade_class(class_dir, out, chapters, jobs, args.session_jobs,
                               quiet=args.quiet)
    got = (out / "class.csv").read_text()
    breaches = contained(out)
    if breaches:
        log("the demo class's hostile students reached what they must not:\n  "
            + "\n  ".join(breaches))
        return 1
    if args.update_expected:
        out = Path(args.update_expected)
        reports.write_atomic(out, demo_expected(graded, chapters, out.parent / "class.toml"))
        log(f"wrote {args.update_expected}")
    elif args.expected:
        problems = compare_demo(graded, chapters, Path(args.expected))
        if problems:
            log(f"the demo class was not graded as {args.expected} says:\n  "
                + "\n  ".join(problems) + "\n" + got)
            return 1
    elif not args.quiet:
        print(got, end="")
    return 0
