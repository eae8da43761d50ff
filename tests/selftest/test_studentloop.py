"""make hint, make reset, make watch (tests/harness/studentloop.py).

Every test works on a small repository of its own under tmp_path, with its
own build folder: the real chapters/ are read (the hints) but never written.
"""

import argparse
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import chapters as chmod
from harness import studentloop as sl
from harness.procs import ProcessGroup

TOOLS = chmod.ROOT / "tests" / "tools.py"
HELLO_SERVER = chmod.find("01_hello", "hello_server")
HELLO_CLIENT = chmod.find("01_hello", "hello_client")
STARTER = "/* starter: TODO(01.1) */\n"


def make_tree(tmp_path: Path) -> sl.Paths:
    """A repository with one chapter, three hints per exercise."""
    chapter = tmp_path / "repo" / "chapters" / "01_hello"
    chapter.mkdir(parents=True)
    for name in ("hello_server.c", "hello_client.c"):
        (chapter / name).write_text(STARTER)
    (chapter / "answers.txt").write_text("q1:\n")
    (chapter / "hints.toml").write_text(
        '[hello_server]\nhints = ["first, gentle", "second", "third, nearly the answer"]\n'
        "[hello_client]\nhints = ['''\nc1\n''', 'c2', 'c3']\n")
    return sl.Paths(tmp_path / "repo", tmp_path / "build")


def call(command, paths: sl.Paths, monkeypatch, **options) -> tuple[int, str]:
    """A command in this process: its exit status and what it printed."""
    monkeypatch.setenv("WORKBOOK_BUILD", str(paths.build))
    args = argparse.Namespace(root=str(paths.root), ex=None, chapter=None, force=False)
    vars(args).update(options)
    out = io.StringIO()
    return command(args, out=out), out.getvalue()


def tools(paths: sl.Paths, *args: str) -> subprocess.CompletedProcess:
    """tests/tools.py on the temporary repository; stdin is not a terminal."""
    env = dict(os.environ, WORKBOOK_BUILD=str(paths.build))
    return subprocess.run([sys.executable, str(TOOLS), *args, "--root", str(paths.root)],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)


# -- make hint ------------------------------------------------------------------

def test_hints_come_one_more_each_time_and_are_remembered(tmp_path):
    paths = make_tree(tmp_path)
    state = paths.build / "hints.json"

    first = sl.reveal(paths, HELLO_SERVER)
    assert first.hints == ["first, gentle"] and first.new and not first.all_shown
    assert json.loads(state.read_text())["seen"] == {"01_hello/hello_server": 1}

    second = sl.reveal(paths, HELLO_SERVER)
    assert second.hints == ["first, gentle", "second"] and second.new
    # each exercise counts on its own
    assert sl.reveal(paths, HELLO_CLIENT).hints == ["c1"]
    assert json.loads(state.read_text())["seen"] == {"01_hello/hello_server": 2,
                                                      "01_hello/hello_client": 1}

    last = sl.reveal(paths, HELLO_SERVER)
    assert len(last.hints) == 3 and last.new and last.all_shown
    again = sl.reveal(paths, HELLO_SERVER)
    assert len(again.hints) == 3 and not again.new and again.all_shown


def test_make_hint_prints_the_hints_so_far_and_says_when_all_are_shown(tmp_path,
                                                                      monkeypatch):
    paths = make_tree(tmp_path)
    outs = [call(sl.cmd_hint, paths, monkeypatch, ex="01_hello/hello_server")
            for _ in range(4)]
    assert [rc for rc, _ in outs] == [0, 0, 0, 0], outs[0][1]
    text = [out for _, out in outs]
    assert "1 of 3 shown" in text[0] and "first, gentle" in text[0]
    assert "second" not in text[0]
    assert "2 of 3 shown" in text[1] and "  2. second" in text[1]
    assert "the last hint" in text[2]
    assert "there are no more" in text[3] and "third" in text[3]
    assert json.loads((paths.build / "hints.json").read_text())["seen"] == {
        "01_hello/hello_server": 3}


def test_make_hint_with_an_unknown_exercise_lists_the_valid_ones(tmp_path):
    paths = make_tree(tmp_path)
    result = tools(paths, "hint", "--ex", "01_hello/hello_sever")
    assert result.returncode == 2
    assert "No exercise '01_hello/hello_sever'" in result.stdout
    assert "01_hello/hello_server" in result.stdout and "04_windows_echo/echo_client_win" \
        in result.stdout
    assert not (paths.build / "hints.json").exists()


def test_hint_for_a_chapter_is_for_the_first_exercise_not_passing(tmp_path):
    paths = make_tree(tmp_path)
    ex, why = sl.choose_in_chapter(paths, "01_hello")
    assert ex == HELLO_SERVER and "no `make check` results" in why

    student = paths.build / "student"
    student.mkdir(parents=True)
    (student / "results-submissions.json").write_text(json.dumps(
        [{"name": "student", "root": str(paths.chapters)}]))
    tests = [{"submission": "student", "exercise": "01_hello/hello_server", "outcome": o}
             for o in ("passed", "passed")]
    tests.append({"submission": "student", "exercise": "01_hello/hello_client",
                  "outcome": "failed"})
    (student / "results.json").write_text(json.dumps({"tests": tests}))
    ex, why = sl.choose_in_chapter(paths, "01_hello")
    assert ex == HELLO_CLIENT and "did not pass" in why

    tests[-1]["outcome"] = "passed"
    (student / "results.json").write_text(json.dumps({"tests": tests}))
    assert sl.choose_in_chapter(paths, "01_hello")[0] is None


def test_every_exercise_has_three_or_four_hints():
    paths = sl.Paths.resolve()
    for chapter in chmod.CHAPTERS:
        hints = sl.load_hints(paths, chapter)
        wanted = {e.name for e in sl.hinted_exercises() if e.chapter == chapter}
        assert set(hints) == wanted, f"chapters/{chapter}/hints.toml"
        for name, items in hints.items():
            assert 3 <= len(items) <= 4, f"{chapter}/{name} has {len(items)} hints"


def test_code_spans_in_a_hint_are_not_broken_across_lines():
    text = "word " * 14 + "`while ((n = read(fd, buf, sizeof buf)) > 0)` and more"
    lines = sl.format_hint(1, text, width=60).splitlines()
    assert any("`while ((n = read(fd, buf, sizeof buf)) > 0)`" in ln for ln in lines)
    assert sl.format_hint(2, "prose\n\n    code  stays\n").splitlines()[-1] == \
        " " * 5 + "    code  stays"


# -- make reset -----------------------------------------------------------------

def git_tree(tmp_path: Path) -> sl.Paths:
    """make_tree, committed to a git repository of its own."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    paths = make_tree(tmp_path)
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "starters"]):
        subprocess.run(["git", *argv], cwd=paths.root, env=env, check=True,
                       capture_output=True, timeout=30)
    return paths


def test_reset_restores_the_starter_and_keeps_a_backup(tmp_path):
    paths = git_tree(tmp_path)
    mine = paths.chapters / "01_hello" / "hello_server.c"
    mine.write_text("/* my work */\n")
    out = io.StringIO()
    assert sl.reset(paths, HELLO_SERVER, force=True, confirm=None, out=out) == 0
    assert mine.read_text() == STARTER
    saved = list((paths.build / "backups").glob("*/01_hello/hello_server.c"))
    assert [p.read_text() for p in saved] == ["/* my work */\n"]
    assert str(saved[0]) in out.getvalue()

    # a second reset in the same second keeps both backups
    mine.write_text("/* more work */\n")
    assert sl.reset(paths, HELLO_SERVER, force=True, confirm=None, out=io.StringIO()) == 0
    saved = sorted((paths.build / "backups").glob("*/01_hello/hello_server.c"))
    assert sorted(p.read_text() for p in saved) == ["/* more work */\n", "/* my work */\n"]


def test_reset_of_the_review_restores_answers_txt(tmp_path):
    paths = git_tree(tmp_path)
    answers = paths.chapters / "01_hello" / "answers.txt"
    answers.write_text("q1: listen\n")
    review = sl.find_exercise("01_hello/review", chmod.EXERCISES)
    assert sl.reset(paths, review, force=True, confirm=None, out=io.StringIO()) == 0
    assert answers.read_text() == "q1:\n"
    assert (list((paths.build / "backups").glob("*/01_hello/answers.txt"))[0].read_text()
            == "q1: listen\n")


def test_reset_asks_first_and_a_no_changes_nothing(tmp_path):
    paths = git_tree(tmp_path)
    mine = paths.chapters / "01_hello" / "hello_server.c"
    mine.write_text("/* my work */\n")
    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    assert sl.reset(paths, HELLO_SERVER, force=False, confirm=no, out=io.StringIO()) == 0
    assert asked and "[y/N]" in asked[0]
    assert mine.read_text() == "/* my work */\n" and not (paths.build / "backups").exists()
    assert sl.reset(paths, HELLO_SERVER, force=False, confirm=lambda q: True,
                    out=io.StringIO()) == 0
    assert mine.read_text() == STARTER


def test_make_reset_without_a_terminal_refuses_unless_forced(tmp_path, monkeypatch):
    paths = git_tree(tmp_path)
    mine = paths.chapters / "01_hello" / "hello_server.c"
    mine.write_text("/* my work */\n")
    refused = tools(paths, "reset", "--ex", "01_hello/hello_server")
    assert refused.returncode == 1 and "FORCE=1" in refused.stdout, refused.stdout
    assert mine.read_text() == "/* my work */\n" and not (paths.build / "backups").exists()

    rc, out = call(sl.cmd_reset, paths, monkeypatch, ex="01_hello/hello_server.c",
                   force=True)
    assert rc == 0 and mine.read_text() == STARTER and "backups" in out, out


def test_make_reset_outside_git_or_of_an_unknown_exercise(tmp_path, monkeypatch):
    paths = make_tree(tmp_path)  # not a git checkout
    rc, out = call(sl.cmd_reset, paths, monkeypatch, ex="01_hello/hello_server", force=True)
    assert rc == 1 and "not a git checkout" in out
    rc, out = call(sl.cmd_reset, paths, monkeypatch, ex="01_hello/nothing", force=True)
    assert rc == 2 and "01_hello/review" in out


# -- make watch -----------------------------------------------------------------

def inotifywaits_on(folder: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"inotifywait") and str(folder).encode() in argv:
            pids.append(int(entry.name))
    return pids


def start_watch(group: ProcessGroup, paths: sl.Paths, marker: Path, *args: str,
                env: dict | None = None):
    """watch with a command that only notes when it ran, and for which chapter."""
    command = shlex.join(["sh", "-c", 'echo "$(date +%s.%N) $1" >> "$2"', "sh",
                          "{chapter}", str(marker)])
    proc = group.start([sys.executable, str(TOOLS), "watch", "--root", str(paths.root),
                        "--command", command, *args],
                       env=env or dict(os.environ, WORKBOOK_BUILD=str(paths.build)),
                       limit=30)
    proc.wait_output(r"watching chapters/", timeout=15)
    return proc


INOTIFY = pytest.param("inotify", marks=pytest.mark.skipif(
    shutil.which("inotifywait") is None,
    reason="inotifywait is not installed (make deps installs inotify-tools)"))


@pytest.mark.parametrize("mode", [INOTIFY, "poll"])
def test_watch_reruns_the_check_within_a_second_of_a_save(tmp_path, mode):
    paths = make_tree(tmp_path)
    marker = tmp_path / "runs"
    group = ProcessGroup()
    try:
        proc = start_watch(group, paths, marker, "--max-runs", "1", "--timeout", "20",
                           *(["--poll"] if mode == "poll" else []))
        assert ("(inotify:" if mode == "inotify" else "(polling:") in proc.stdout_text()
        saved = time.time()
        (paths.chapters / "01_hello" / "hello_client.c").write_text("/* saved */\n")
        assert proc.wait_exit(15) == 0, proc.stdout_text() + proc.stderr_text()
        runs = marker.read_text().splitlines()
        assert len(runs) == 1 and runs[0].split()[1] == "01_hello"
        assert float(runs[0].split()[0]) - saved < 1.0, "the check started late"
        assert "stopped after 1 run" in proc.stdout_text()
        assert not inotifywaits_on(paths.chapters)
    finally:
        group.close()


def test_watch_runs_once_for_a_burst_of_saves_and_ignores_litter(tmp_path):
    paths = make_tree(tmp_path)
    marker = tmp_path / "runs"
    group = ProcessGroup()
    try:
        proc = start_watch(group, paths, marker, "--timeout", "1.5")
        folder = paths.chapters / "01_hello"
        (folder / ".hello_server.c.swp").write_text("x")   # an editor's swap file
        (folder / "hello_server").write_text("x")          # a program built by hand
        assert not marker.exists() or not marker.read_text()
        for name in ("hello_server.c", "hello_client.c", "answers.txt"):
            (folder / name).write_text("/* saved */\n")
        assert proc.wait_exit(15) == 0, proc.stdout_text() + proc.stderr_text()
        assert len(marker.read_text().splitlines()) == 1
        assert "time is up" in proc.stdout_text()
    finally:
        group.close()


def test_watch_ctrl_c_stops_it_and_its_inotifywait(tmp_path):
    paths = make_tree(tmp_path)
    group = ProcessGroup()
    try:
        proc = start_watch(group, paths, tmp_path / "runs", "--timeout", "20")
        proc.signal(signal.SIGINT)
        assert proc.wait_exit(10) == 0
        assert "watch: stopped" in proc.stdout_text()
        assert "Traceback" not in proc.stderr_text()
        assert not inotifywaits_on(paths.chapters)
    finally:
        group.close()


def test_watch_goes_on_by_polling_when_inotifywait_dies(tmp_path):
    if shutil.which("inotifywait") is None:
        pytest.skip("inotifywait is not installed (make deps installs inotify-tools)")
    paths = make_tree(tmp_path)
    group = ProcessGroup()
    try:
        proc = start_watch(group, paths, tmp_path / "runs", "--max-runs", "1",
                           "--timeout", "20")
        [pid] = inotifywaits_on(paths.chapters)
        os.kill(pid, signal.SIGKILL)
        proc.wait_output(r"polling every .* from now on", timeout=10)
        (paths.chapters / "01_hello" / "answers.txt").write_text("q1: listen\n")
        assert proc.wait_exit(15) == 0, proc.stdout_text() + proc.stderr_text()
        assert (tmp_path / "runs").read_text().split()[1] == "01_hello"
    finally:
        group.close()


def test_watch_falls_back_to_polling_without_inotifywait(tmp_path):
    paths = make_tree(tmp_path)
    bin_dir = tmp_path / "bin"  # a PATH with sh and date, and no inotifywait
    bin_dir.mkdir()
    for tool in ("sh", "date"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = dict(os.environ, WORKBOOK_BUILD=str(paths.build), PATH=str(bin_dir))
    group = ProcessGroup()
    try:
        proc = start_watch(group, paths, tmp_path / "runs", "--max-runs", "1",
                           "--timeout", "20", env=env)
        assert "(polling:" in proc.stdout_text() and "inotify-tools" in proc.stdout_text()
        (paths.chapters / "01_hello" / "hello_server.c").write_text("/* saved */\n")
        assert proc.wait_exit(15) == 0, proc.stdout_text() + proc.stderr_text()
        assert (tmp_path / "runs").read_text().split()[1] == "01_hello"
    finally:
        group.close()


def test_what_a_save_reruns():
    paths = sl.Paths(Path("/w"), Path("/w/build"))
    chapters = {"01_hello", "04_iterative_echo"}
    assert sl.chapter_of(Path("/w/chapters/01_hello/hello_server.c"), paths, chapters) \
        == "01_hello"
    assert sl.chapter_of(Path("/w/chapters/01_hello/answers.txt"), paths, chapters) \
        == "01_hello"
    for litter in ("01_hello/hello_server", "01_hello/.x.c.swp", "01_hello/x.c~",
                   "01_hello/4913", "00_layered_model/wire.c", "README.md"):
        assert sl.chapter_of(Path("/w/chapters") / litter, paths, chapters) is None, litter
    argv = sl.check_command(paths, "01_hello")
    assert argv[1].endswith("tests/grade.py") and argv[2:] == [
        "check", "--src", "/w/chapters", "--chapter", "01_hello"]
