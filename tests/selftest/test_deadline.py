"""make grade DEADLINE=...: the last commit before the deadline is graded
(harness/deadline.py), and the student's repository cannot run anything."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import pytest

from harness import batch, deadline


def _git(repo: Path, *args: str, when: str | None = None) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="s", GIT_AUTHOR_EMAIL="s@x", GIT_COMMITTER_NAME="s",
               GIT_COMMITTER_EMAIL="s@x", HOME=str(repo.parent))
    if when:
        env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A student's repository: an early hello_server.c, then a late one."""
    r = tmp_path / "class" / "stu"
    (r / "chapters" / "01_hello").mkdir(parents=True)
    _git(r, "init", "-q")
    src = r / "chapters" / "01_hello" / "hello_server.c"
    src.write_text("/* on time */\n")
    (r / "chapters" / "01_hello" / "answers.txt").write_text("q1: accept\n")
    _git(r, "add", "-A")
    _git(r, "commit", "-qm", "on time", when="2026-12-15T20:00:00+00:00")
    src.write_text("/* late */\n")
    _git(r, "commit", "-qam", "late", when="2026-12-16T09:00:00+00:00")
    return r


def test_the_last_commit_before_the_deadline_is_graded_and_later_ones_counted(repo, tmp_path):
    st = batch.locate(repo)
    due = deadline.parse("2026-12-15T23:59:00+00:00")
    pinned_st, pinned = deadline.pin(st, tmp_path / "at", due, ["01_hello"])
    assert pinned.later == 1 and len(pinned.commit) == 40
    taken = pinned_st.chapters / "01_hello"
    assert (taken / "hello_server.c").read_text() == "/* on time */\n"
    assert (taken / "answers.txt").read_text() == "q1: accept\n"
    assert "1 later commit(s) not graded" in pinned.describe("2026-12-15 23:59")
    # before the first commit: nothing to grade
    none_st, none = deadline.pin(st, tmp_path / "at2", deadline.parse("2026-01-01 00:00"),
                                 ["01_hello"])
    assert none_st.chapters is None and none.later == 2 and "no commit" in none.note


def test_the_repository_cannot_run_a_command_and_links_are_refused(repo, tmp_path):
    canary = tmp_path / "ran"
    hook = tmp_path / "monitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {canary}\n")
    hook.chmod(0o755)
    _git(repo, "config", "core.fsmonitor", str(hook))
    (repo / ".git" / "hooks" / "post-checkout").write_text(f"#!/bin/sh\ntouch {canary}\n")
    link = repo / "chapters" / "01_hello" / "hello_client.c"
    link.symlink_to("/etc/shadow")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "link", when="2026-12-15T21:00:00+00:00")
    canary.unlink(missing_ok=True)  # our own git above may have run it
    st, pinned = deadline.pin(batch.locate(repo), tmp_path / "at",
                              deadline.parse("2026-12-15T23:59+00:00"), ["01_hello"])
    assert not canary.exists(), "git ran the repository's fsmonitor or a hook"
    assert "hello_client.c (not a regular file" in pinned.note
    assert not (st.chapters / "01_hello" / "hello_client.c").exists()


def test_a_deadline_that_is_no_date_is_refused():
    with pytest.raises(deadline.DeadlineError):
        deadline.parse("friday")


def test_class_csv_shows_the_commit_and_the_late_commits():
    g = batch.Graded(batch.Student("stu", Path("stu"), None, "empty"), None, [], 1.0)
    g.pinned = {"line": "x", "commit": "abc123def456", "later": 2}
    text = batch.class_csv([batch.row_of(g, ["01_hello"])], ["01_hello"], {"01_hello": 22.0})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-2:] == ["commit", "later commits"]
    assert rows[2][0] == "stu" and rows[2][-2:] == ["abc123def456", "2"]
