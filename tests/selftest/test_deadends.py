"""Dead ends of the student's loop, each closed: what `make check` shows
(review answers, repeated names, where to start), make from a chapter
folder, the wrong-socket hint, hints that start where the failure is,
readable payloads, and Ctrl-C as the normal end of make run / make try."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from harness import chapters as chmod
from harness import feedback, live, net, packaging
from harness import studentloop as sl
from harness.ports import wait_listening
from harness.procs import ProcessGroup
from harness.session import Outcome, _variant
from harness.table import failing_names, print_table

ROOT = chmod.ROOT


def _outcome(ex: chmod.Exercise, test: str, ok: bool, message: str = "", case: str = "",
             variant: str = "") -> Outcome:
    return Outcome(ex.key, test, case, "passed" if ok else "failed", message, variant)


def _table(exs, outcomes, capsys) -> str:
    print_table(exs, outcomes, {}, ROOT / "chapters")
    return capsys.readouterr().out


def _review(chapter: str, answers: dict[str, str | None]) -> list[Outcome]:
    """Review outcomes: None passes, "" has no answer, else a wrong answer."""
    ex = chmod.find(chapter, "review")
    out = []
    for qid, given in answers.items():
        if given is None:
            out.append(_outcome(ex, "test_review", True, case=qid))
        elif not given:
            out.append(_outcome(ex, "test_review", False, f"{chapter}/answers.txt (line 4): "
                                f"{qid} has no answer yet (a name).", case=qid))
        else:
            out.append(_outcome(ex, "test_review", False, f"{chapter}/answers.txt (line 5): "
                                f"{qid}: `{given}` is not right. Hint: think of {qid}.",
                                case=qid))
    return out


# -- 1. review feedback is never hidden behind another exercise -----------------------

def test_every_wrong_review_answer_is_listed_while_another_exercise_comes_first(capsys):
    exs = chmod.exercises("01_hello")
    server = chmod.find("01_hello", "hello_server")
    outcomes = [_outcome(server, "test_hello_server_greeting", False, "What the test did: x"),
                *_review("01_hello", {"q1": None, "q2": "listen", "q3": "", "q4": "b"})]
    out = _table(exs, outcomes, capsys)
    assert "First to work on: 01_hello/hello_server.c" in out
    assert "01_hello/answers.txt (line 5): q2: `listen` is not right. Hint: think of q2." in out
    assert "q4: `b` is not right" in out
    assert "01_hello/answers.txt: q3 has no answer yet" in out
    assert out.index("q2: `listen`") < out.index("First to work on")  # under the table


def test_an_untouched_answers_file_adds_no_lines_and_the_review_lists_each_answer(capsys):
    exs = [chmod.find("01_hello", "review")]
    untouched = _review("01_hello", {"q1": "", "q2": ""})
    out = _table(exs, untouched, capsys)
    assert "Review answers to fix" not in out and "q1 has no answer yet" in out
    started = _review("01_hello", {"q1": "bind", "q2": "", "q3": "accept"})
    out = _table(exs, started, capsys)
    assert out.count("is not right") == 2 and "q2 has no answer yet" in out
    assert "failed:" not in out  # no detail block repeating the first of them


def test_make_hint_for_the_review_says_where_the_hints_really_are(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_BUILD", str(tmp_path / "build"))
    out = io.StringIO()
    args = argparse.Namespace(root=None, ex="04_iterative_echo/review", chapter=None)
    assert sl.cmd_hint(args, out=out) == 0
    assert "under the table" in out.getvalue() and "under each wrong" not in out.getvalue()


# -- 2. make from a chapter folder; CHAPTER= as tab completion gives it ---------------

def _make(*args: str, cwd: Path = ROOT, dry: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env["WORKBOOK_BUILD"] = "/tmp/loop-build-deadends"
    return subprocess.run(["make", *(["-n"] if dry else []), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("target", ["check", "hint", "watch", "try", "trace"])
def test_make_in_a_chapter_folder_works_for_that_chapter(target):
    r = _make(target, cwd=ROOT / "chapters" / "04_iterative_echo")
    assert r.returncode == 0, r.stderr
    assert "--chapter 04_iterative_echo" in r.stdout, r.stdout


def test_make_run_in_a_chapter_folder_takes_the_exercise_of_that_chapter():
    r = _make("run", "EX=echo_server", cwd=ROOT / "chapters" / "04_iterative_echo")
    assert r.returncode == 0 and "--ex 04_iterative_echo/echo_server" in r.stdout, r.stdout


@pytest.mark.parametrize("given", ["01_hello/", "chapters/01_hello/", "chapters/01_hello"])
def test_chapter_as_tab_completion_gives_it(given):
    r = _make("check", f"CHAPTER={given}")
    assert r.returncode == 0 and re.search(r"--chapter 01_hello\b(?!/)", r.stdout), r.stdout


def test_make_check_refuses_a_variable_it_does_not_take():
    r = _make("check", "EX=04_iterative_echo/echo_server", dry=False)
    assert r.returncode == 2
    assert "make check does not take EX=" in r.stdout
    assert "make check CHAPTER=04_iterative_echo" in r.stdout
    r = _make("check", "CHAPTERS=01_hello", dry=False)
    assert r.returncode == 2 and "does not take CHAPTERS=" in r.stdout


def test_every_chapter_has_the_folder_makefile_and_it_is_no_exercise():
    names = set(packaging.workbook_files())
    files = set(packaging.gradescope_files(list(chmod.CHAPTERS)))
    for ch in chmod.CHAPTERS:
        assert (ROOT / "chapters" / ch / "Makefile").is_file(), ch
        assert "Makefile" not in packaging._exercise_files(ch)
        assert f"chapters/{ch}/Makefile" in names      # so the handout has it
        assert f"chapters/{ch}/Makefile" in files      # a given file, not the student's


# -- 3. writing to the listening socket --------------------------------------------------

WRONG_SERVER = r"""
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0), conn;
    (void)argc;
    signal(SIGPIPE, SIG_IGN);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 5))
        return 1;
    conn = accept(fd, NULL, NULL);
    if (write(fd, "Hello World!", 12) == -1)      /* the bug: fd, not conn */
        fprintf(stderr, "hello_server: write: %s\n", strerror(errno));
    close(conn);
    close(fd);
    return 1;
}
"""


class _Ended:
    """What report() reads of a program that has ended."""

    def __init__(self, argv: list[str], rc: int, stderr: str) -> None:
        self.argv, self.label, self.returncode = argv, Path(argv[0]).name, rc
        self.timed_out, self._err = False, stderr

    def stderr_text(self) -> str:
        return self._err


def test_a_write_to_the_listening_socket_gets_its_own_hint(tmp_path):
    src, exe = tmp_path / "wrong.c", tmp_path / "hello_server"
    src.write_text(WRONG_SERVER)
    subprocess.run(["gcc", "-o", str(exe), str(src)], check=True, timeout=60)
    port = net.free_port()
    group = ProcessGroup(cwd=tmp_path)
    try:
        proc = group.start([str(exe), str(port)], limit=20)
        wait_listening(proc, port, 10)   # without connecting: its one accept() is ours
        sock = net.connect(port)
        got, _ = net.recv_until_eof(sock, 5)
        sock.close()
        proc.wait_exit(10)
        err = proc.stderr_text()
    finally:
        group.close()
    assert got == b""
    text = feedback.report(did="connected", expected="Hello World!",
                           got=f"{feedback.show(got)}; "
                               f"{feedback.compare(b'Hello World!', got)}",
                           procs=[_Ended([str(exe), str(port)], proc.returncode, err)],
                           hint="some other hint")
    assert "Write to the descriptor accept() returned, not the listening socket" in text, \
        text + "\n(stderr: " + err + ")"
    assert "the first 0 bytes are right" not in text


def test_enotconn_alone_is_enough_and_a_closed_client_is_not_mistaken_for_it():
    err = "hello_server: write: Transport endpoint is not connected\n"
    assert feedback.wrote_to_listener([_Ended(["s"], 1, err)], "'Hello' (5 bytes)")
    # EPIPE after the client got part of it: the client went away, not this bug
    pipe = _Ended(["s"], 1, "echo_server: write: Broken pipe\n")
    assert not feedback.wrote_to_listener([pipe], "'Hel' (3 bytes)")
    assert feedback.wrote_to_listener([pipe], "(nothing: 0 bytes)")


def test_compare_never_says_the_first_0_bytes_are_right():
    assert feedback.compare(b"Hello World!", b"") == \
        "nothing came back: all 12 bytes are missing"
    assert feedback.compare(b"Hello World!", b"Hello") == \
        "the first 5 bytes are right, then it stopped: 7 bytes are missing"


# -- 4. make hint starts from the hint for the last failure ---------------------------

def _tree_with_starts(tmp_path: Path, failing: str) -> sl.Paths:
    chapter = tmp_path / "repo" / "chapters" / "01_hello"
    chapter.mkdir(parents=True)
    (chapter / "hints.toml").write_text(
        '[hello_server]\nstart_at = { test_hello_server_greeting = 3 }\n'
        'hints = ["h1", "h2", "h3", "h4"]\n')
    paths = sl.Paths(tmp_path / "repo", tmp_path / "build")
    student = paths.build / "student"
    student.mkdir(parents=True)
    (student / "results-submissions.json").write_text(json.dumps(
        [{"name": "student", "root": str(paths.chapters)}]))
    tests = [{"submission": "student", "exercise": "01_hello/hello_server",
              "test": name, "outcome": "passed" if name != failing else "failed",
              "order": i} for i, name in enumerate(
                  ["test_hello_server_usage", "test_hello_server_greeting"])]
    (student / "results.json").write_text(json.dumps({"tests": tests}))
    return paths


def test_make_hint_starts_from_the_hint_that_matches_the_last_failure(tmp_path,
                                                                      monkeypatch):
    paths = _tree_with_starts(tmp_path, "test_hello_server_greeting")
    monkeypatch.setenv("WORKBOOK_BUILD", str(paths.build))
    args = argparse.Namespace(root=str(paths.root), ex="01_hello/hello_server", chapter=None)
    out = io.StringIO()
    assert sl.cmd_hint(args, out=out) == 0
    text = out.getvalue()
    assert "1 of 4 shown; hint 3 is new" in text and "  3. h3" in text, text
    assert "test_hello_server_greeting" in text and "h1" not in text
    assert json.loads((paths.build / "hints.json").read_text())["seen"] == {
        "01_hello/hello_server": [3]}
    # then the others, from the first not seen
    again = sl.reveal(paths, chmod.find("01_hello", "hello_server"),
                      sl.last_failures(paths, chmod.find("01_hello", "hello_server")))
    assert again.numbers == [1, 3] and again.newest == 1


def test_without_a_matching_failure_the_hints_come_in_order(tmp_path):
    paths = _tree_with_starts(tmp_path, "test_hello_server_usage")
    ex = chmod.find("01_hello", "hello_server")
    shown = sl.reveal(paths, ex, sl.last_failures(paths, ex))
    assert shown.numbers == [1] and not shown.matched


def test_start_at_is_checked_and_names_real_tests(tmp_path):
    chapter = tmp_path / "repo" / "chapters" / "01_hello"
    chapter.mkdir(parents=True)
    (chapter / "hints.toml").write_text('[hello_server]\nstart_at = { test_x = 9 }\n'
                                        'hints = ["a", "b", "c"]\n')
    with pytest.raises(sl.UsageError, match="start_at"):
        sl.load_hints(sl.Paths(tmp_path / "repo", tmp_path / "build"), "01_hello")
    tests = " ".join(p.read_text() for p in (ROOT / "tests" / "chapters").glob("test_*.py"))
    paths = sl.Paths.resolve()
    for ch in chmod.CHAPTERS:
        for name, starts in sl.load_starts(paths, ch).items():
            for test in starts:
                contract = test.endswith(("_usage", "_bad_port", "_bind_fails", "_refused"))
                assert f"def {test}(" in tests or contract, \
                    f"chapters/{ch}/hints.toml [{name}] start_at: no test {test}"


# -- 5. readable random payloads, and the difference in view --------------------------

def test_random_text_is_readable_words_random_per_run_of_the_exact_length():
    for n in (1, 7, 40, 200, 1023):
        assert len(net.random_text(n)) == n
    text = net.random_text(400).decode()
    words = [w.strip(",.!?").rstrip("0123456789").lower() for w in text.split()[:-1]]
    assert words and all(w in net.WORDS for w in words), text
    assert net.random_text(400) != net.random_text(400)


def test_a_long_payload_is_shown_around_its_first_difference():
    sent = net.random_text(300)
    got = sent[:200] + b"#" + sent[201:]
    at = feedback.first_difference(sent, got)
    assert at == 200
    shown = feedback.show(got, at=at)
    assert "#" in shown and "around byte 200" in shown
    assert "#" not in feedback.show(got)  # the old cut hid it


# -- 6. each failing test named once ---------------------------------------------------

def test_more_failing_tests_name_each_test_once_with_its_cases():
    ex = chmod.find("04_iterative_echo", "echo_client")
    failed = [_outcome(ex, "test_echo_client_quit", False, variant="q"),
              _outcome(ex, "test_echo_client_quit", False, variant="Q"),
              _outcome(ex, "test_echo_client_eof", False)]
    assert failing_names(failed) == ["test_echo_client_quit[q, Q]", "test_echo_client_eof"]
    assert failing_names(failed[1:], {"test_echo_client_quit"}) == [
        "test_echo_client_quit[Q]", "test_echo_client_eof"]
    t = {"nodeid": "chapters/test_04_iterative_echo.py::test_echo_client_quit"
                   "[student:04_iterative_echo-Q]", "submission": "student",
         "exercise": "04_iterative_echo/echo_client", "case": ""}
    assert _variant(t) == "Q"
    assert _variant(dict(t, nodeid="x::test_review[student:01_hello:q1]",
                         exercise="01_hello/review", case="q1")) == ""


def test_the_table_lists_parametrized_failures_once(capsys):
    ex = chmod.find("04_iterative_echo", "echo_client")
    outcomes = [_outcome(ex, "test_echo_client_dialogue", False, "What the test did: x"),
                _outcome(ex, "test_echo_client_quit", False, variant="q"),
                _outcome(ex, "test_echo_client_quit", False, variant="Q")]
    out = _table([ex], outcomes, capsys)
    assert "test_echo_client_quit, test_echo_client_quit" not in out
    assert "test_echo_client_quit[q, Q]" in out


# -- 7. Ctrl-C is how make run and make try end -----------------------------------------

@pytest.mark.parametrize("name, status", [("run", 0), ("try", 0), ("trace", 130)])
def test_ctrl_c_ends_run_and_try_with_status_0(name, status, capsys):
    def interrupted(_args):
        raise KeyboardInterrupt
    assert live._guarded(name, interrupted)(argparse.Namespace()) == status


# -- 8. where to start -------------------------------------------------------------------

def test_a_fresh_clone_starts_with_01_hello(capsys):
    assert sorted(chmod.SUGGESTED_ORDER) == sorted(chmod.CHAPTERS)
    assert chmod.SUGGESTED_ORDER[0] == "01_hello"
    outcomes = [_outcome(e, "test_x", False, "What the test did: x")
                for e in chmod.EXERCISES]
    out = _table(list(chmod.EXERCISES), outcomes, capsys)
    assert "next up: 01_hello/hello_server.c" in out, out
    order = ", ".join(f"`{ch}`" for ch in chmod.SUGGESTED_ORDER)
    for doc in ("README.md", "exercises.md", "docs/student-guide.md"):
        text = " ".join((ROOT / doc).read_text(encoding="utf-8").split())
        assert order in text, f"{doc} does not give the order {order}"


def test_a_test_this_machine_cannot_run_is_no_failure(capsys):
    """Chapter 06's lossy network needs root: skipped for a student without
    it, the exercise is still done and make check says how to run it."""
    ex = chmod.find("06_udp", "uecho_client")
    outcomes = [_outcome(ex, "test_uecho_client_dialogue", True),
                Outcome(ex.key, "test_uecho_client_lossy_network", "", "skipped",
                        "Skipped: needs a network namespace of its own (root)", "")]
    ok = print_table([ex], outcomes, {}, ROOT / "chapters")
    out = capsys.readouterr().out
    assert ok and "Everything passes" in out and "1 of 1 exercises done" in out, out
    assert "not run here: 06_udp/uecho_client test_uecho_client_lossy_network" in out, out
    assert "sudo make check" in out


def test_make_check_starts_as_many_workers_as_the_last_run_says_it_needs(tmp_path):
    from harness.checkrun import workers_for
    last = tmp_path / "results.json"
    keys = {"01_hello/hello_server"}
    assert workers_for(last, keys) not in ("0", "2")          # no last run: two per core
    last.write_text(json.dumps({"tests": [
        {"exercise": "01_hello/hello_server", "duration": 0.4},
        {"exercise": "06_udp/uecho_client", "duration": 30.0}]}))
    assert workers_for(last, keys) == "0"                     # quick: no workers at all
    assert workers_for(last, {"06_udp/uecho_client"}) not in ("0", "2")   # slow: all
    last.write_text(json.dumps({"tests": [{"exercise": "01_hello/hello_server",
                                           "duration": 5.0}]}))
    assert workers_for(last, keys) == "2"
