"""What `make check` prints: compiler warnings, the table of exercises,
points and progress, and the first thing to work on."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from . import build as buildmod
from . import chapters as chmod
from . import scores
from .session import Outcome
from .term import BOLD, DIM, GREEN, RED, YELLOW, paint


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
