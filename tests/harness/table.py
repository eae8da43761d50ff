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
    rows = []
    # a test skipped here (this machine cannot run it: chapter 06's lossy
    # network needs root) counts neither way; a note below says so
    skipped = [o for o in outcomes if o.outcome == "skipped"]
    outcomes = [o for o in outcomes if o.outcome != "skipped"]
    by_ex = defaultdict(list)
    for o in outcomes:
        by_ex[o.exercise].append(o)
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
    for o in skipped[:3]:
        why = o.message.strip().splitlines()[0] if o.message.strip() else "skipped"
        print(paint(f"not run here: {o.exercise} {o.label} ({why.removeprefix('Skipped: ')}); "
                    "it counts neither way. `sudo make check` runs it (your programs "
                    "still run as nobody).", YELLOW))
    status_of = {e.key: r[-1] for e, r in zip(exs, rows)}
    # the first to work on follows the suggested order (chapters.py), not the numbers
    first_bad = next((e for e in chmod.in_suggested_order(exs) if status_of[e.key] != "done"),
                     None)
    if first_bad is None:
        print(paint("Everything passes. Well done!", GREEN))
        return True
    review_lines = review_feedback(exs, by_ex)
    if review_lines:
        print(paint("\nReview answers to fix (each with a hint, never the answer):", BOLD))
        print("\n".join("  " + ln for ln in review_lines))
    e, tests = first_bad, by_ex.get(first_bad.key, [])
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
    if e.kind == "review" and _started(tests):
        failed = []  # every wrong answer is listed above
    shared = {o.label for o in tests if sum(t.label == o.label for t in tests) > 1}
    for o in failed[:1]:
        name = f"{o.label}[{o.variant}]" if o.variant and o.label in shared else o.label
        print(paint(f"\n{name} failed:", RED))
        print("\n".join("  " + ln for ln in o.message.strip().splitlines()[:40]))
    if len(failed) > 1:
        names = failing_names(failed[1:], shared)
        print(paint(f"\n  ... and {len(failed) - 1} more failing test(s) of this exercise: "
                    + ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""), DIM))
    print(paint(f"\nnext up: {e.chapter}/{e.main_file if e.kind != 'review' else 'answers.txt'}"
                f" — {e.task}", BOLD))
    return False


def failing_names(failed: list[Outcome], shared: set[str] | None = None) -> list[str]:
    """Each failing test once, in order; a test with variants (pytest
    parameters, e.g. the quit line q or Q: the labels in `shared`) names
    the failing ones in brackets."""
    variants: dict[str, list[str]] = {}
    for o in failed:
        variants.setdefault(o.label, [])
        if o.variant and o.variant not in variants[o.label]:
            variants[o.label].append(o.variant)
    return [f"{name}[{', '.join(v)}]" if v and (len(v) > 1 or name in (shared or ()))
            else name
            for name, v in variants.items()]


NO_ANSWER = "has no answer yet"


def _started(tests: list[Outcome]) -> bool:
    """Some review question of the chapter has an answer (right or wrong)."""
    return any(o.outcome == "passed" or NO_ANSWER not in o.message for o in tests)


def review_feedback(exs: list[chmod.Exercise], by_ex: dict[str, list[Outcome]]) -> list[str]:
    """One line per wrong review answer, of every chapter whose answers.txt
    has been started (and one line naming the questions still unanswered):
    shown on every run, whichever exercise comes first."""
    lines: list[str] = []
    for e in chmod.in_suggested_order(exs):
        tests = by_ex.get(e.key, [])
        if e.kind != "review" or not _started(tests):
            continue
        unanswered: list[str] = []
        for o in tests:
            if o.outcome == "passed":
                continue
            first = (o.message.strip().splitlines() or [o.label])[0]
            if NO_ANSWER in first:
                unanswered.append(o.case or o.label)
            elif first not in lines:
                lines.append(first)
        if unanswered:
            lines.append(f"{e.chapter}/answers.txt: {', '.join(unanswered)} "
                         f"{'has' if len(unanswered) == 1 else 'have'} no answer yet")
    return lines
