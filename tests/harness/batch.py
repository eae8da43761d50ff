"""Grading a class: many submissions, each in isolation (`make grade`).

A class folder holds one folder per student: a copy of their `chapters/`
or of the whole repository. For each student:

1. `stage` copies only what is theirs to grade into a fresh tree: each
   exercise's `.c` files and each chapter's `answers.txt` (regular files
   only, no links, at most MAX_FILE bytes); the headers come from the
   instructor's `chapters/`. Their own tests/ and solutions/ are never read.
2. A worker process (`classgrade.py one`) builds that tree and runs one
   pytest session over it, in a network namespace of its own where the
   kernel allows (`netns_probe`), inside a control group (sandbox.py) that
   is emptied when the worker ends; its Wine prefix belongs to its slot.
3. The driver scores the results (harness/scores.py) and writes the class
   table, a report per student and the tests that failed most often.

This module holds the pieces; tests/classgrade.py is the command.
"""

from __future__ import annotations

import csv
import ctypes
import fcntl
import io
import json
import os
import re
import shutil
import socket
import stat
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import chapters as chmod
from . import scores
from .scores import Scored, fmt, test_name

MAX_FILE = 1 << 20          # bytes: a bigger "source file" is not copied
CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


# -- finding and staging submissions ---------------------------------------------

@dataclass
class Student:
    name: str
    folder: Path                 # what the instructor collected
    chapters: Path | None        # the folder holding its chapter folders
    layout: str                  # "repository" | "chapters" | "empty"


def find_students(class_dir: Path) -> list[Student]:
    """One Student per folder of class_dir (hidden folders and files are not
    students), sorted by name."""
    found = []
    for entry in sorted(class_dir.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        found.append(locate(entry))
    return found


def locate(folder: Path) -> Student:
    """Where the chapter folders are: <folder>/chapters (a copy of the whole
    repository, maybe one folder down, as an unpacked archive often is), or
    <folder> itself (a copy of chapters/)."""
    candidates = [folder / "chapters"]
    subdirs = [d for d in _listdir(folder) if d.is_dir() and not d.is_symlink()
               and not d.name.startswith(".")]
    if len(subdirs) == 1:
        candidates.append(subdirs[0] / "chapters")
    for c in candidates:
        if c.is_dir() and not c.is_symlink():
            return Student(folder.name, folder, c, "repository")
    if any(d.name in chmod.CHAPTERS for d in subdirs):
        return Student(folder.name, folder, folder, "chapters")
    if len(subdirs) == 1 and any(d.name in chmod.CHAPTERS for d in _listdir(subdirs[0])):
        return Student(folder.name, folder, subdirs[0], "chapters")
    return Student(folder.name, folder, None, "empty")


def _listdir(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


@dataclass
class Staged:
    root: Path                                   # holds the chapter folders
    copied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # what was missing or refused


def stage(student: Student, dest: Path, chapters: list[str],
          instructor: Path = chmod.ROOT / "chapters") -> Staged:
    """A fresh tree at dest with the student's files for these chapters."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    staged = Staged(dest)
    if student.chapters is None:
        staged.notes.append("the folder holds no chapter folders (nothing was handed in)")
    for ch in chapters:
        target = dest / ch
        target.mkdir()
        for header in sorted((instructor / ch).glob("*.h")):
            shutil.copyfile(header, target / header.name)
        theirs = student.chapters / ch if student.chapters is not None else None
        if theirs is not None and not theirs.is_dir():
            staged.notes.append(f"{ch}: no folder {ch}/ (every exercise of the chapter "
                                f"scores 0)")
            continue
        if theirs is None:
            continue
        wanted = sorted({s for e in chmod.exercises(ch) for s in e.sources
                         if s.endswith(".c")} | {"answers.txt"})
        for name in wanted:
            why = _copy_regular(theirs / name, target / name)
            if why is None:
                staged.copied.append(f"{ch}/{name}")
            else:
                staged.notes.append(f"{ch}/{name}: {why}")
    return staged


def _copy_regular(src: Path, dst: Path) -> str | None:
    """Copy one file if it is a plain file of sensible size; else why not."""
    try:
        st = src.lstat()
    except FileNotFoundError:
        return "missing (its tests score 0)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link, not a file: not taken (its tests score 0)"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file: not taken (its tests score 0)"
    if st.st_size > MAX_FILE:
        return f"is {st.st_size} bytes, over the {MAX_FILE}-byte limit: not taken"
    with open(src, "rb") as f:
        data = f.read(MAX_FILE + 1)
    dst.write_bytes(data)
    return None


# -- isolation ---------------------------------------------------------------------

def enter_netns() -> None:
    """Move this process into a new network namespace with loopback up.
    Raises OSError when the kernel or our privileges do not allow it. Call
    it before starting threads or processes: they stay where they were."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
    if _small_tcp_table():
        # a namespace made from this one gets a TCP table of its own, sized
        # for a few test connections; the one above is dropped as we leave it
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, _SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _small_tcp_table(buckets: int = 1024) -> bool:
    """Ask that network namespaces made from this one get a TCP hash table
    of `buckets` entries (Linux 6.1+). By default a namespace shares the
    host's table, sized by the machine's memory (262144 buckets with 24
    GiB), and the harness reads /proc/net/tcp, which walks every bucket, a
    hundred times per chapter: 3.6 ms a read instead of 0.05 ms. Set here,
    in a namespace of our own, the host's own setting is never touched."""
    try:
        Path("/proc/sys/net/ipv4/tcp_child_ehash_entries").write_text(str(buckets))
        return True
    except OSError:  # an older kernel: keep the shared table
        return False


# -- the class's results -------------------------------------------------------------

@dataclass
class Graded:
    """One student's outcome, as the driver saw it."""
    student: Student
    staged: Staged | None
    scored: list[Scored]
    seconds: float
    problem: str = ""            # the harness could not grade (timeout, crash)
    compile_logs: dict[str, str] = field(default_factory=dict)
    build_states: dict[str, str] = field(default_factory=dict)  # reports.build_states
    untouched: set[str] = field(default_factory=set)  # exercises still the starter (untouched)
    warnings: dict[str, str] = field(default_factory=dict)  # the compiler's, by exercise
    pinned: dict | None = None   # DEADLINE: {line, commit, later} (harness/deadline.py)

    def chapter_points(self, chapter: str) -> tuple[float, float]:
        return scores.total([s for s in self.scored if s.chapter == chapter])

    @property
    def total(self) -> float:
        return scores.total(self.scored)[0]


def chapter_status(g: Graded, chapter: str) -> str:
    """What happened to a student's chapter, for the CSV: `graded`, `missing`
    (none of its files handed in), `starter` (every file still the starter),
    `does not compile` (one of its programs or more), or `not graded` (the
    harness could not grade this student: a time-out, a crash)."""
    if g.problem:
        return "not graded"
    keys = [e.key for e in chmod.exercises(chapter)]
    mine = [s for s in g.scored if s.chapter == chapter]
    if any(g.build_states.get(k) == "does not compile" for k in keys):
        return "does not compile"
    if not mine or all(could_not_run(s) for s in mine):
        return "missing"
    if keys and all(k in g.untouched for k in keys):
        return "starter"
    return "graded"


def row_of(g: Graded, chapters: list[str]) -> dict:
    """A student's line of class.csv, kept as students/<name>/row.json so that
    a later regrade of some students merges with the others (classrun)."""
    return {"student": g.student.name, "chapters": list(chapters),
            "points": {ch: g.chapter_points(ch)[0] for ch in chapters},
            "status": {ch: chapter_status(g, ch) for ch in chapters},
            "possible": {ch: g.chapter_points(ch)[1] for ch in chapters},
            "total": g.total,
            **({"commit": g.pinned["commit"], "later": g.pinned["later"]} if g.pinned else {})}


def class_csv(rows: list[dict], chapters: list[str], most: dict[str, float]) -> str:
    """student, one column of points per chapter, total, then one status
    column per chapter (chapter_status); the first row after the header is
    `(max)`, the points possible. One row per student, sorted by name. Fixed
    columns: a chapter a student lacks scores 0. Graded with DEADLINE, also
    the commit graded and how many commits came after the deadline."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    pinned = any("commit" in r for r in rows)  # graded with DEADLINE: two more columns
    more = ["commit", "later commits"] if pinned else []
    w.writerow(["student", *chapters, "total", *(f"{ch} status" for ch in chapters), *more])
    w.writerow(["(max)", *(fmt(most.get(ch, 0.0)) for ch in chapters),
                fmt(sum(most.get(ch, 0.0) for ch in chapters)), *("" for _ in chapters),
                *("" for _ in more)])
    for r in sorted(rows, key=lambda r: r["student"]):
        w.writerow([r["student"], *(fmt(r["points"].get(ch, 0.0)) for ch in chapters),
                    fmt(r["total"]), *(r["status"].get(ch, "") for ch in chapters),
                    *([r.get("commit", ""), str(r.get("later", ""))] if pinned else [])])
    return out.getvalue()


def possible(graded: list[Graded], chapters: list[str]) -> dict[str, float]:
    """Points possible per chapter: the most any student's run listed (the
    same for every run that finished)."""
    return {ch: max((g.chapter_points(ch)[1] for g in graded), default=0.0)
            for ch in chapters}


NOT_RUN = ("is missing (", "does not compile:", "answers.txt is missing")


def could_not_run(s: Scored) -> bool:
    """The test failed because its file is missing or does not compile."""
    return s.outcome == "failed" and any(m in s.message for m in NOT_RUN)


def untouched(staged_root: Path, chapters: list[str]) -> set[str]:
    """The exercises whose file a student handed in as the committed starter
    (the blank answers.txt for the review), unchanged."""
    from . import starters
    out = set()
    for ex in chmod.EXERCISES:
        if ex.chapter not in chapters:
            continue
        mine = staged_root / ex.chapter / ex.main_file
        try:
            if mine.read_bytes() == starters.committed_file(
                    f"chapters/{ex.chapter}/{ex.main_file}"):
                out.add(ex.key)
        except (OSError, starters.StarterError):
            continue
    return out


def failure_summary(graded: list[Graded], limit: int = 40) -> str:
    """The tests failed by the most students among those who tried (whose
    file was there, compiled and was not the untouched starter), with the
    usual way it failed."""
    failed: Counter[str] = Counter()
    not_run: Counter[str] = Counter()
    firsts: dict[str, Counter[str]] = defaultdict(Counter)
    ran: Counter[str] = Counter()
    for g in graded:
        for s in g.scored:
            name = test_name(s)
            if s.exercise in g.untouched:
                continue  # not tried yet: it says nothing about the test
            if could_not_run(s):
                not_run[name] += 1
                continue
            ran[name] += 1
            if s.outcome == "failed":
                failed[name] += 1
                firsts[name][_first_line(s.message)] += 1
    lines = [f"Tests failed most often, of {len(graded)} submission(s), among the "
             f"students who tried (an untouched starter is not counted): failed/ran, the "
             f"test, how it usually failed ('+N not run': N students' file was missing or "
             f"did not compile, scored 0).", ""]
    names = set(failed) | set(not_run)
    if not names:
        lines.append("  (no test failed)")
    ranked = sorted(names, key=lambda k: (-failed[k], -not_run[k], k))
    width = max((len(k) for k in ranked[:limit]), default=0)
    for name in ranked[:limit]:
        usual = (firsts[name].most_common(1)[0][0] if failed[name]
                 else "(its file was missing or did not compile)")
        extra = f" (+{not_run[name]} not run)" if not_run[name] else ""
        lines.append(f"  {failed[name]:>3}/{ran[name]:<3} {name.ljust(width)}  {usual}{extra}")
    if len(ranked) > limit:
        lines.append(f"  ... and {len(ranked) - limit} more")
    return "\n".join(lines) + "\n"


def _first_line(message: str, width: int = 100) -> str:
    """What a failure came to, in one line: its `Got:` line if it has one
    (ports, which differ from run to run, shown as <port>)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    got = [ln for ln in lines if ln.startswith("Got:")]
    line = (got or lines or ["(no message)"])[0]
    line = re.sub(r"\b(?:port )?[1-6]?\d{4}\b", lambda m: "port <port>"
                  if m.group().startswith("port") else "<port>", line)
    if len(line) <= width:
        return line
    cut = line[:width].rsplit(" ", 1)[0]  # at a space, never inside a word
    return (cut if len(cut) > width // 2 else line[:width]) + " ..."


def student_report(g: Graded, chapters: list[str], most: dict[str, float]) -> str:
    """A plain-text report for one student: what was taken, points per
    chapter, each failing test with the first lines of why."""
    st = g.student
    lines = [f"Student: {st.name}", f"Folder: {st.folder}",
             "Layout: " + {"repository": f"a copy of the repository ({st.chapters})",
                            "chapters": f"a copy of chapters/ ({st.chapters})",
                            "empty": "no chapter folders found"}[st.layout],
             f"Graded in {g.seconds:.1f} s", ""]
    if g.pinned:
        lines[-1:-1] = [g.pinned["line"]]
    if g.problem:
        lines += [f"PROBLEM: {g.problem}", ""]
    if g.staged is not None:
        if g.staged.notes:
            lines.append("Not graded (scored 0):")
            lines += [f"  - {n}" for n in g.staged.notes]
            lines.append("")
        lines.append("Files taken: " + (", ".join(g.staged.copied) or "none"))
        lines.append("")
    lines.append("Points:")
    for ch in chapters:
        earned, _ = g.chapter_points(ch)
        lines.append(f"  {ch:<20} {fmt(earned):>6} of {fmt(most.get(ch, 0.0))}")
    lines.append(f"  {'total':<20} {fmt(g.total):>6} of {fmt(sum(most.values()))}")
    lines.append("")
    by_ex: dict[str, list[Scored]] = defaultdict(list)
    for s in g.scored:
        by_ex[s.exercise].append(s)
    for ex in [e for e in chmod.EXERCISES if e.chapter in chapters]:
        tests = by_ex.get(ex.key, [])
        ok = sum(s.outcome == "passed" for s in tests)
        state = g.build_states.get(ex.key) or f"{ok}/{len(tests)} tests pass"
        if ex.key in g.untouched:
            state += " (the file is still the starter)"
        lines.append(f"{ex.key}: {state}")
        if ex.key in g.warnings:
            lines.append("    the compiler warned (as make check shows):")
            lines += ["      " + ln for ln in g.warnings[ex.key].splitlines()[:12]]
        if ex.key in g.compile_logs:
            lines += ["    " + ln for ln in g.compile_logs[ex.key].splitlines()[:12]]
            continue
        for s in tests:
            if s.outcome == "failed":
                lines.append(f"  FAILED {s.label} ({fmt(s.max_points)} point(s))")
                lines += ["    " + ln for ln in s.message.strip().splitlines()[:12]]
    return "\n".join(lines) + "\n"


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)
