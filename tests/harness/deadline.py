"""`make grade DEADLINE=...`: for a submission that is a git repository,
grade its last commit before the deadline, not its working files, and say
which commit that was and how many came later.

A student's repository is hostile input: git reads its configuration, and
some settings there run commands (core.fsmonitor, hooks, filters, diff
drivers). So git is only asked for commits and raw objects (rev-list,
ls-tree, cat-file), with those settings overridden, and the files taken are
the same as batch.stage takes: each exercise's .c files and answers.txt,
regular blobs of at most batch.MAX_FILE bytes.

Commit dates are written by the student's own machine and can be forged;
the guide says so (a push time recorded by a server, GitHub Classroom's for
one, is the one to trust).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import batch
from . import chapters as chmod

SAFE = ["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
        "-c", "safe.directory=*", "-c", "core.untrackedCache=false", "--no-pager"]


class DeadlineError(ValueError):
    pass


def parse(text: str) -> int:
    """The deadline as a Unix time, from ISO 8601 (`2026-12-15 23:59`,
    `2026-12-15T23:59:00+09:00`); without a zone, the grader's local time."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DeadlineError(f"DEADLINE={text!r} is not a date and time: write it as "
                            "2026-12-15 23:59 (local time) or 2026-12-15T23:59+09:00") from None
    return int(when.timestamp())


@dataclass
class Pinned:
    commit: str = ""         # the commit graded ("" when none)
    date: str = ""           # its commit date, ISO
    later: int = 0           # commits after the deadline, not graded
    note: str = ""           # why nothing was graded, or what was refused

    def describe(self, deadline: str) -> str:
        if not self.commit:
            return f"Deadline {deadline}: {self.note}"
        late = (f"; {self.later} later commit(s) not graded" if self.later
                else "; no later commits")
        return (f"Deadline {deadline}: graded commit {self.commit[:12]} of {self.date}, "
                f"the last before it{late}")


def _git(repo: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return subprocess.run(["git", *SAFE, "-C", str(repo), *args], capture_output=True,
                          env=env, timeout=30, text=not binary, stdin=subprocess.DEVNULL)


def find_repo(folder: Path) -> Path | None:
    """The folder's git repository: the folder itself, or its one subfolder."""
    for cand in [folder, *[d for d in batch._listdir(folder) if d.is_dir()
                           and not d.is_symlink() and not d.name.startswith(".")]]:
        if (cand / ".git").exists() and not (cand / ".git").is_symlink():
            return cand
    return None


def pin(student: batch.Student, dest: Path, deadline: int,
        chapters: list[str]) -> tuple[batch.Student, Pinned]:
    """A Student made of the files of the last commit before the deadline,
    written under dest (the student's folder itself when it is no git
    repository: then graded as it is, and the note says so)."""
    repo = find_repo(student.folder)
    if repo is None:
        return student, Pinned(note="not a git repository: its files as handed in were graded")
    head = _git(repo, "rev-list", "-1", "--first-parent", f"--before=@{deadline}", "HEAD")
    if head.returncode != 0:
        return student, Pinned(note=f"git could not read the repository "
                                    f"({head.stderr.strip()[:200]}): its files were graded")
    commit = head.stdout.strip()
    later = _git(repo, "rev-list", "--count", f"--since=@{deadline + 1}", "HEAD")
    n_later = int(later.stdout.strip() or 0) if later.returncode == 0 else 0
    empty = batch.Student(student.name, student.folder, None, "empty")
    if not commit:
        return empty, Pinned(later=n_later, note="no commit before the deadline: nothing graded")
    date = _git(repo, "show", "-s", "--format=%cI", commit).stdout.strip()
    top = _git(repo, "ls-tree", "--name-only", commit).stdout.split("\n")
    prefix = "chapters/"
    if "chapters" not in top and not any(ch in top for ch in chmod.CHAPTERS):
        # the repository may hold the workbook one folder down
        subs = [t for t in top if t and _git(repo, "cat-file", "-t", f"{commit}:{t}/chapters")
                .stdout.strip() == "tree"]
        prefix = f"{subs[0]}/chapters/" if len(subs) == 1 else ""
    elif "chapters" not in top:
        prefix = ""
    pinned = Pinned(commit, date, n_later)
    refused = []
    out = dest / "chapters"
    out.mkdir(parents=True, exist_ok=True)
    for ch in chapters:
        wanted = sorted({s for e in chmod.exercises(ch) for s in e.sources
                         if s.endswith(".c")} | {"answers.txt"})
        for name in wanted:
            path = f"{prefix}{ch}/{name}"
            entry = _git(repo, "ls-tree", commit, "--", path).stdout.split()
            if not entry:
                continue  # batch.stage says it is missing
            mode, kind = entry[0], entry[1]
            size = _git(repo, "cat-file", "-s", f"{commit}:{path}").stdout.strip()
            if kind != "blob" or mode not in ("100644", "100755"):
                refused.append(f"{ch}/{name} (not a regular file in the commit)")
                continue
            if not size.isdigit() or int(size) > batch.MAX_FILE:
                refused.append(f"{ch}/{name} (over {batch.MAX_FILE} bytes)")
                continue
            blob = _git(repo, "cat-file", "blob", f"{commit}:{path}", binary=True)
            if blob.returncode == 0:
                (out / ch).mkdir(exist_ok=True)
                (out / ch / name).write_bytes(blob.stdout)
    if refused:
        pinned.note = "refused: " + ", ".join(refused)
    return batch.Student(student.name, student.folder, out, "repository"), pinned
