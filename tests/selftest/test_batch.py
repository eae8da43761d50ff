"""Grading a class (tests/harness/batch.py, tests/classgrade.py): finding
each student's chapters, staging only their files, the class table, the
failure summary, and the network namespace that keeps students apart."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness import batch, chapters
from harness.chapters import ROOT
from harness.scores import Scored

CLASSGRADE = ROOT / "tests" / "classgrade.py"


def _write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_batch_finds_each_layout(tmp_path):
    _write(tmp_path / "ann" / "chapters" / "01_hello" / "hello_server.c")      # repository
    _write(tmp_path / "ben" / "01_hello" / "hello_server.c")                   # chapters/
    _write(tmp_path / "cat" / "workbook-main" / "chapters" / "01_hello" / "a.c")  # unpacked
    (tmp_path / "dan").mkdir()                                                 # empty
    _write(tmp_path / ".git" / "x")                                            # not a student
    _write(tmp_path / "notes.txt")                                             # not a student
    found = {s.name: s for s in batch.find_students(tmp_path)}
    assert sorted(found) == ["ann", "ben", "cat", "dan"]
    assert found["ann"].layout == "repository" and found["ann"].chapters == tmp_path / "ann" / "chapters"
    assert found["ben"].layout == "chapters" and found["ben"].chapters == tmp_path / "ben"
    assert found["cat"].chapters == tmp_path / "cat" / "workbook-main" / "chapters"
    assert found["dan"].layout == "empty" and found["dan"].chapters is None


def test_batch_stages_only_the_students_files(tmp_path):
    theirs = tmp_path / "class" / "eve" / "chapters"
    _write(theirs / "01_hello" / "hello_server.c", "int main(void) { return 0; }\n")
    _write(theirs / "01_hello" / "answers.txt", "q1: x\n")
    _write(theirs / "01_hello" / "notes.c", "not an exercise's file")
    _write(theirs / "00_layered_model" / "wire.h", "#error the student's own header\n")
    (theirs / "00_layered_model" / "wire.c").write_bytes(b"x" * (batch.MAX_FILE + 1))
    (theirs / "00_layered_model" / "tcp_conversation.c").symlink_to("/etc/passwd")
    _write(tmp_path / "class" / "eve" / "tests" / "grade.py", "their own grader")
    _write(tmp_path / "class" / "eve" / "solutions" / "01_hello" / "answers.txt", "q1: x")
    student = batch.locate(tmp_path / "class" / "eve")
    staged = batch.stage(student, tmp_path / "staged", ["00_layered_model", "01_hello",
                                                         "04_iterative_echo"])
    got = sorted(str(p.relative_to(staged.root)) for p in staged.root.rglob("*") if p.is_file())
    assert got == ["00_layered_model/wire.h", "01_hello/answers.txt", "01_hello/hello_server.c"]
    # the header is the instructor's, never the student's
    assert (staged.root / "00_layered_model" / "wire.h").read_bytes() == \
        (ROOT / "chapters" / "00_layered_model" / "wire.h").read_bytes()
    notes = "\n".join(staged.notes)
    assert "wire.c: is" in notes and "over the" in notes
    assert "tcp_conversation.c: is a symbolic link" in notes
    assert "01_hello/hello_client.c: missing" in notes
    assert "04_iterative_echo: no folder" in notes


def _scored(student: str, chapter: str, test: str, ok: bool, worth: float = 1.0,
            message: str = "") -> Scored:
    return Scored(student, f"{chapter}/x", test, "", "passed" if ok else "failed",
                  message, worth if ok else 0.0, worth)


def _graded(name: str, scored: list[Scored], problem: str = "") -> batch.Graded:
    return batch.Graded(batch.Student(name, Path(name), None, "empty"), None, scored, 1.0,
                        problem)


def test_batch_class_table_has_fixed_columns_sorted_by_student():
    graded = [
        _graded("zoe", [_scored("zoe", "01_hello", "t1", True, 2.5),
                        _scored("zoe", "01_hello", "t2", False)]),
        _graded("adam", [], problem="timed out"),  # nothing ran: zeros, not a missing row
        _graded("mia", [_scored("mia", "00_layered_model", "t0", True),
                        _scored("mia", "01_hello", "t1", True, 2.5)]),
    ]
    chapters = ["00_layered_model", "01_hello"]
    most = batch.possible(graded, chapters)
    assert most == {"00_layered_model": 1.0, "01_hello": 3.5}
    text = batch.class_csv([batch.row_of(g, chapters) for g in graded], chapters, most)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["student", "00_layered_model", "01_hello", "total",
                     "00_layered_model status", "01_hello status"],
                    ["(max)", "1", "3.5", "4.5", "", ""],
                    ["adam", "0", "0", "0", "not graded", "not graded"],
                    ["mia", "1", "2.5", "3.5", "graded", "graded"],
                    ["zoe", "0", "2.5", "2.5", "missing", "graded"]]


def test_chapter_status_says_what_happened_to_each_chapter():
    g = _graded("ann", [_scored("ann", "01_hello", "t1", False)])
    g.build_states = {"01_hello/hello_server": "does not compile"}
    assert batch.chapter_status(g, "01_hello") == "does not compile"
    g.build_states = {"01_hello/hello_server": "file missing"}
    g.scored = [_scored("ann", "01_hello", "t1", False, message="hello_server.c is missing ("),
                _scored("ann", "04_iterative_echo", "t1", True)]
    assert batch.chapter_status(g, "01_hello") == "missing"
    g.build_states = {}
    g.scored = [_scored("ann", "01_hello", "t1", True)]
    g.untouched = {e.key for e in chapters.exercises("01_hello")}
    assert batch.chapter_status(g, "01_hello") == "starter"


def test_a_regrade_merges_with_the_students_graded_before(tmp_path):
    from harness import classrun
    for name, chs in (("bob", ["01_hello"]), ("cat", ["01_hello"]), ("old", ["00_layered_model"]),
                      ("ann", ["01_hello"])):
        (tmp_path / "students" / name).mkdir(parents=True)
        (tmp_path / "students" / name / "row.json").write_text(json.dumps(
            {"student": name, "chapters": chs, "points": {}, "status": {}, "total": 1}))
    kept, aside = classrun.earlier_rows(tmp_path, ["01_hello"], now={"ann"})
    assert [r["student"] for r in kept] == ["bob", "cat"]   # ann is graded now
    assert aside is not None and (aside / "old" / "row.json").exists()  # other chapters
    assert not (tmp_path / "students" / "old").exists()
    kept, aside = classrun.earlier_rows(tmp_path, ["01_hello"], now={"ann"}, fresh=True)
    assert kept == [] and {p.name for p in aside.iterdir()} >= {"bob", "cat"}


def test_the_demo_class_is_compared_by_failing_tests_not_by_figures(tmp_path):
    from harness import classrun
    g = _graded("ann", [_scored("ann", "01_hello", "test_a", True),
                        _scored("ann", "01_hello", "test_b", False)])
    expected = tmp_path / "expected.toml"
    expected.write_text(classrun.demo_expected([g], ["01_hello"]))
    assert 'fails = [\n  "01_hello/x test_b",\n]' in expected.read_text()
    problems = classrun.compare_demo([g], ["01_hello"], expected)
    # the figures: the made-up tests are not 01_hello's, so its possible points differ
    assert problems and all("points possible, points.toml" in p for p in problems)
    g2 = _graded("ann", [_scored("ann", "01_hello", "test_a", False),
                         _scored("ann", "01_hello", "test_b", True)])
    problems = classrun.compare_demo([g2], ["01_hello"], expected)
    assert "ann: fails 01_hello/x test_a (expected to pass)" in problems
    assert "ann: passes 01_hello/x test_b (expected to fail)" in problems
    assert classrun.compare_demo([], ["01_hello"], expected) == ["ann: expected, but not graded"]


def test_batch_failure_summary_ranks_tests_by_failures():
    graded = [_graded(n, [_scored(n, "01_hello", "t_often", False,
                                  message=f"What the test did: port {20000 + i}\nGot: nothing"),
                          _scored(n, "01_hello", "t_once", n != "a"),
                          _scored(n, "01_hello", "t_never", True)])
              for i, n in enumerate("abc")]
    text = batch.failure_summary(graded)
    lines = [ln for ln in text.splitlines() if "01_hello" in ln]
    assert "3/3" in lines[0] and "t_often" in lines[0] and "Got: nothing" in lines[0]
    assert "1/3" in lines[1] and "t_once" in lines[1]
    assert not any("t_never" in ln for ln in lines)
    # a test that could not run (file missing) is counted apart
    graded[0].scored.append(_scored("a", "01_hello", "t_missing", False,
                                    message="chapters/01_hello/x.c is missing (x.c not found)."))
    text = batch.failure_summary(graded)
    assert any("0/0" in ln and "t_missing" in ln and "(+1 not run)" in ln
               for ln in text.splitlines())


def _netns_ok() -> tuple[bool, str]:
    probe = subprocess.run([sys.executable, str(CLASSGRADE), "probe-netns"],
                           capture_output=True, text=True, timeout=30)
    return probe.returncode == 0, probe.stdout.strip()


def test_batch_network_namespace_keeps_submissions_apart():
    ok, why = _netns_ok()
    if not ok:
        pytest.skip(f"no network namespaces here: {why}")
    with socket.socket() as outside:
        outside.bind(("127.0.0.1", 0))
        outside.listen(1)
        port = outside.getsockname()[1]
        # inside a new namespace: loopback is up (it can listen and connect
        # to itself) and our listener is not there
        script = (
            "import sys, socket\n"
            f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
            "from harness import batch\n"
            "batch.enter_netns()\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "socket.create_connection(s.getsockname(), timeout=2).close()\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('reached')\n"
            "except ConnectionRefusedError:\n"
            "    print('refused')\n")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=30)
    assert out.stdout.strip() == "refused", out.stderr


def test_batch_grades_a_small_class_end_to_end(tmp_path):
    """Two students through the real driver: one complete (chapter 01), one
    whose hello_client.c does not compile and whose answers are missing."""
    cls = tmp_path / "class"
    for name in ("ok", "broken"):
        for f in ("hello_server.c", "hello_client.c", "answers.txt"):
            _write(cls / name / "01_hello" / f,
                   (ROOT / "solutions" / "01_hello" / f).read_text())
    _write(cls / "broken" / "01_hello" / "hello_client.c", "int main(void) { return x; }\n")
    (cls / "broken" / "01_hello" / "answers.txt").unlink()
    out = tmp_path / "out"
    env = dict(os.environ, WORKBOOK_BUILD=str(tmp_path / "build"))
    run = subprocess.run([sys.executable, str(CLASSGRADE), "grade", "--submissions", str(cls),
                          "--chapter", "01_hello", "--jobs", "2", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, env=env)
    rows = list(csv.reader(io.StringIO((out / "class.csv").read_text())))
    assert rows[0] == ["student", "01_hello", "total", "01_hello status"], \
        run.stdout + run.stderr
    assert rows[1][0] == "(max)" and rows[2][3] == "does not compile" and rows[3][3] == "graded"
    points = {r[0]: float(r[1]) for r in rows[2:]}
    assert float(rows[1][1]) == points["ok"]
    full = points["ok"]
    assert full > 0 and 0 < points["broken"] < full
    report = (out / "students" / "broken" / "report.txt").read_text()
    assert "01_hello/hello_client: does not compile" in report
    assert "01_hello/answers.txt: missing" in report
    for f in ("junit.xml", "gradescope-results.json", "results.json"):
        assert (out / "students" / "ok" / f).exists(), f
    summary = (out / "failures.txt").read_text()
    assert "0/1   01_hello/hello_client test_hello_client_greeting" in summary
    assert "(+1 not run)" in summary


def test_batch_report_says_does_not_compile_even_when_the_error_says_missing(tmp_path):
    """Why an exercise could not run comes from the build's own fields: a
    compiler error that happens to say "missing" (an unterminated string) is
    "does not compile", and only a file that is not there is "file missing"."""
    from harness import build as buildmod
    from harness import reports
    from harness.chapters import find
    src = tmp_path / "chapters" / "01_hello"
    src.mkdir(parents=True)
    (src / "hello_server.c").write_text('int main(void) { const char *s = "oops; }\n')
    exs = [find("01_hello", "hello_server"), find("01_hello", "hello_client")]
    built = buildmod.build(exs, src.parent, tmp_path / "build")
    logs = reports.compile_logs_of(built)
    assert "missing terminating" in logs["01_hello/hello_server"]
    g = batch.Graded(batch.Student("ann", tmp_path, src.parent, "chapters"), None, [], 1.0, "",
                     logs, reports.build_states(built))
    text = batch.student_report(g, ["01_hello"], {"01_hello": 21.0})
    assert "01_hello/hello_server: does not compile" in text
    assert "01_hello/hello_client: file missing" in text


def test_batch_report_has_the_warnings_and_untouched_starters_and_failures_rank_triers(tmp_path):
    """A student's report shows the compiler's warnings (as make check does)
    and says which files are still the starter; failures.txt ranks tests
    among the students who tried, and cuts no word in half."""
    from harness import build as buildmod
    from harness.chapters import find
    src = tmp_path / "chapters" / "01_hello"
    src.mkdir(parents=True)
    server = (ROOT / "solutions" / "01_hello" / "hello_server.c").read_text()
    (src / "hello_server.c").write_text(server.replace("int main(", "static int unused_x;\nint main(", 1))
    shutil.copy(ROOT / "chapters" / "01_hello" / "hello_client.c", src / "hello_client.c")
    exs = [find("01_hello", "hello_server"), find("01_hello", "hello_client")]
    built = buildmod.build(exs, src.parent, tmp_path / "build")
    warned = {k: b.log for k, b in built.items() if b.ok and b.warnings}
    assert "01_hello/hello_server" in warned
    untouched = batch.untouched(src.parent, ["01_hello"])
    assert untouched == {"01_hello/hello_client"}
    long = "Got: " + "word " * 40
    starter = _scored("ann", "01_hello", "t_starter", False, message=long)
    tried = _scored("bo", "01_hello", "t_tried", False, message=long)
    ann = batch.Graded(batch.Student("ann", tmp_path, src.parent, "chapters"), None,
                       [Scored("ann", "01_hello/hello_client", "t_starter", "", "failed", long,
                               0.0, 1.0)], 1.0, "", {}, {}, untouched, warned)
    bo = batch.Graded(batch.Student("bo", tmp_path, src.parent, "chapters"), None, [tried], 1.0)
    assert starter.exercise != "01_hello/hello_client"
    text = batch.student_report(ann, ["01_hello"], {"01_hello": 22.0})
    assert "the compiler warned" in text and "unused_x" in text
    assert "01_hello/hello_client: 0/1 tests pass (the file is still the starter)" in text
    summary = batch.failure_summary([ann, bo])
    assert "t_tried" in summary and "t_starter" not in summary
    row = next(ln for ln in summary.splitlines() if "t_tried" in ln)
    assert row.rstrip().endswith("word ...") and "wor ..." not in row
