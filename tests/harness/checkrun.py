"""`make check`: one student's work, graded, as a table and reports."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from . import build as buildmod
from . import chapters as chmod
from . import deps, jail, paths, reports, scores
from .session import load_results, run_pytest
from .table import print_table, show_warnings, _shown
from .term import DIM, RED, YELLOW, paint


def workers_for(last: Path, keys: set[str]) -> str:
    """How many pytest workers this make check should start, from how long
    these exercises' tests took at the last run (its results.json): a worker
    costs about a quarter of a second of CPU to start, which is most of a
    quick chapter's time, and buys nothing when the tests take a second or
    two in all. Without a last run: two per core."""
    most = str(2 * (os.cpu_count() or 1))
    try:
        took = [t.get("duration", 0.0) for t in json.loads(last.read_text())["tests"]
                if t.get("exercise") in keys]
    except (OSError, ValueError, KeyError, TypeError):
        return most
    total = sum(took)
    if not took or total > 10.0:
        return most
    return "0" if total < 3.0 else "2"


def check(*, chapter: str | None, src: Path, sanitize: bool = False, valgrind: bool = False,
          jobs: str = "auto", seed: int | None = None) -> int:
    """make check: build the student's work, run its tests, print the table,
    write the reports. 0: everything passes, 1: something fails, 2: could not run."""
    t0 = time.monotonic()
    out = paths.build_dir() / ("student-san" if sanitize else "student-vg" if valgrind
                   else "student")
    # this run's reports replace the last run's, whatever happens below
    (out / reports.JUNIT_NAME).unlink(missing_ok=True)
    chapters = [chapter] if chapter else list(chmod.CHAPTERS)
    for ch in chapters:
        if ch not in chmod.CHAPTERS:
            print(f"No chapter {ch!r}. Chapters: {', '.join(chmod.CHAPTERS)}")
            reports.write_failure(out, f"no chapter {ch!r} in this workbook")
            return 2
    # valgrind runs Linux programs only: the Windows chapter is left out
    exs = [e for e in chmod.EXERCISES if e.chapter in chapters
           and not (valgrind and e.kind == "windows")]
    chapters = [ch for ch in chapters if any(e.chapter == ch for e in exs)]
    missing = deps.ensure(exs, "valgrind" if valgrind else "check") or \
        jail.refusal(jail.find())
    if missing:
        print(missing)
        reports.write_failure(out, missing)
        return 2
    if jail.find().mode != "bwrap":
        print(paint(f"note: {jail.find().describe()}", YELLOW), flush=True)
    src = Path(src).resolve()
    built = buildmod.build(exs, src, out, sanitize=sanitize)
    show_warnings(built, src)
    sub = {"name": "student", "kind": "student", "root": str(src), "build": str(out),
           "chapters": chapters, "sanitize": sanitize, "valgrind": valgrind}
    results = out / "results.json"
    jobs = jobs if jobs != "auto" else workers_for(results, {e.key for e in exs})
    run_pytest([sub], results, jobs=jobs, seed=seed)
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
