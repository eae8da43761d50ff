"""make handout and make gradescope: what goes in, and that each one grades
end to end (`make check` in the handout, run_autograder in a fake
/autograder)."""

import json
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness import packaging as package
from harness import scores
from harness.chapters import ROOT, exercises

RUN_LIMIT = 240   # seconds for one nested grading run (they take a few)


def _env(build: Path) -> dict[str, str]:
    """The environment of a nested run: its own build folder, none of this
    session's pytest-xdist variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(WORKBOOK_BUILD=str(build), NO_COLOR="1")
    return env


def _outcomes(results: Path) -> dict[str, str]:
    data = json.loads(results.read_text())
    return {f"{t['exercise']} {t['test']}[{t.get('case', '')}]": t["outcome"]
            for t in data["tests"] if "exercise" in t}


# -- the handout -------------------------------------------------------------------------------

def test_handout_has_no_solutions_and_grades_review_answers_from_hashed_keys(tmp_path):
    dest = package.make_handout(tmp_path / "handout", tar_path=tmp_path / "handout.tar.gz")
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert not any(f.startswith(("solutions/", "tests/mutants/", "tests/selftest/", "build/"))
                   for f in files)
    assert {"Makefile", "tests/grade.py", "chapters/01_hello/hello_server.c",
            "chapters/01_hello/points.toml", "tests/keys/01_hello.json",
            ".github/workflows/classroom.yml"} <= files
    # C files: the starters, the Check tests, the fault injector and make bench's
    # load generator only (not programs made from the references)
    assert all(f.startswith(("chapters/", "tests/check/", "tests/faults/", "tests/bench/"))
               for f in files if f.endswith(".c"))
    keys = {f for f in files if f.startswith("tests/keys/")}
    assert keys == {f"tests/keys/{ch}.json" for ch in package.chmod.CHAPTERS}
    # no plain key nor reference: no file is one, no answers file holds a key's line
    solutions = {p.read_bytes() for ch in package.chmod.CHAPTERS
                 for name in package._exercise_files(ch)
                 if (p := ROOT / "solutions" / ch / name).is_file()}
    assert not [f for f in files if (dest / f).read_bytes() in solutions]
    for f in files:
        if f.startswith("tests/keys/"):   # nothing but digests (and counts)
            entries = json.loads((dest / f).read_text())["questions"].values()
            digests = [v for e in entries for vs in e.values() if isinstance(vs, list)
                       for v in vs]
            assert digests and all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests), f
    for key in (ROOT / "solutions").glob("*/answers.txt"):
        answers = {ln.split(":", 1)[1].strip() for ln in key.read_text().splitlines()
                   if ln.startswith("q")}
        for f in files:
            if f.endswith("answers.txt"):
                text = (dest / f).read_text()
                assert not any(a in text for a in answers if len(a) > 3), (key, f)
    with tarfile.open(tmp_path / "handout.tar.gz") as tar:
        names = tar.getnames()
    assert "workbook/Makefile" in names and not any("solutions" in n for n in names)

    # a student's work: the reference programs (quick to grade), answers all right but q6
    for src in ("hello_server.c", "hello_client.c"):
        shutil.copy(ROOT / "solutions" / "01_hello" / src, dest / "chapters" / "01_hello")
    key = (ROOT / "solutions" / "01_hello" / "answers.txt").read_text()
    answers = "\n".join(ln if not ln.startswith("q6:") else "q6: 12345"
                        for ln in key.splitlines())
    (dest / "chapters" / "01_hello" / "answers.txt").write_text(answers + "\n")
    build = tmp_path / "build"
    proc = subprocess.run(["make", "-s", "check", "CHAPTER=01_hello", "JOBS=0"], cwd=dest,
                          env=_env(build), capture_output=True, text=True, timeout=RUN_LIMIT)
    assert proc.returncode != 0 and "points" in proc.stdout, proc.stdout + proc.stderr
    got = _outcomes(build / "student" / "results.json")
    review = {k: v for k, v in got.items() if "/review " in k}
    assert review == {f"01_hello/review test_review[q{n}]": "passed" if n < 6 else "failed"
                      for n in range(1, 7)}, proc.stdout
    assert all(v == "passed" for k, v in got.items() if "/review " not in k), proc.stdout
    # every point but q6's, as chapters/01_hello/points.toml says (never a figure
    # written here, so a point changed there changes nothing in this test)
    q6 = scores.chapter_points("01_hello").for_test("test_review", "q6")
    most = package.chapter_max_points("01_hello")
    assert f"{scores.fmt(most - q6)} of {scores.fmt(most)} points" in proc.stdout

    # the self-test is not offered to students
    proc = subprocess.run(["make", "-s", "test"], cwd=dest, env=_env(build),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "needs solutions/" in proc.stdout


def test_handout_refuses_a_chapter_holding_a_reference(tmp_path):
    for folder in ("chapters", "solutions"):
        (tmp_path / folder / "01_hello").mkdir(parents=True)
        (tmp_path / folder / "01_hello" / "hello_server.c").write_text("int main(void){}\n")
    assert package.check_starters(tmp_path) == ["chapters/01_hello/hello_server.c"]
    assert package.check_starters(ROOT) == []
    # a reference with a comment added and its lines re-indented is still the reference
    ref = (ROOT / "solutions" / "01_hello" / "hello_client.c").read_text()
    (tmp_path / "solutions" / "01_hello" / "hello_client.c").write_text(ref)
    (tmp_path / "chapters" / "01_hello" / "hello_client.c").write_text(
        "/* my own work, honestly */\n" + ref.replace("    ", "\t") + "// done\n")
    assert "chapters/01_hello/hello_client.c" in package.check_starters(tmp_path)


def test_make_handout_refuses_uncommitted_chapters(tmp_path):
    root = tmp_path / "wb"
    (root / "chapters" / "01_hello").mkdir(parents=True)
    (root / "chapters" / "01_hello" / "hello_server.c").write_text("/* TODO */\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", *cmd], cwd=root, check=True, env=env, capture_output=True)
    assert package.uncommitted(root) == []
    (root / "chapters" / "01_hello" / "hello_server.c").write_text("/* TODO */\n// edited\n")
    (root / "chapters" / "01_hello" / "notes.txt").write_text("new\n")
    assert package.uncommitted(root) == ["chapters/01_hello/hello_server.c",
                                         "chapters/01_hello/notes.txt"]
    with pytest.raises(package.PackageError, match="not committed"):
        package.make_handout(tmp_path / "out", root=root, committed_only=True)


def test_handout_leaves_the_instructors_material_out(tmp_path):
    dest = package.make_handout(tmp_path / "handout")
    assert not (dest / "docs" / "instructor-guide.md").exists()
    assert not (dest / "docs" / "maintainer-guide.md").exists()
    assert (dest / "docs" / "student-guide.md").exists()
    readme = (dest / "README.md").read_text()
    assert "## For instructors" not in readme and "## Where to start" in readme
    assert "## Layout" in readme  # the sections after it stay


# -- Gradescope -----------------------------------------------------------------------------------

def test_gradescope_zip_holds_what_the_autograder_needs(tmp_path):
    path = package.make_gradescope(tmp_path / "autograder.zip", list(package.chmod.CHAPTERS))
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        setup = z.read("setup.sh").decode()
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    assert {"setup.sh", "run_autograder", "workbook/Makefile", "workbook/tests/grade.py",
            "workbook/tests/package.py", "workbook/tests/harness/plugin.py",
            "workbook/tests/check/test_wire.c", "workbook/chapters/00_layered_model/wire.h",
            "workbook/gradescope.json"} <= names
    for ch in package.chmod.CHAPTERS:
        assert {f"workbook/chapters/{ch}/questions.toml", f"workbook/chapters/{ch}/points.toml",
                f"workbook/solutions/{ch}/answers.txt"} <= names
        for e in exercises(ch):   # neither the starters nor the reference programs
            for src in e.sources:
                assert f"workbook/chapters/{ch}/{src}" not in names
                assert f"workbook/solutions/{ch}/{src}" not in names
    assert not any(n.startswith(("workbook/tests/mutants/", "workbook/build/")) for n in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "apt-get update" in setup
    assert all(p in setup for p in package.deps.PACKAGES)
    only_hello = package.make_gradescope(tmp_path / "hello.zip", ["01_hello"])
    with zipfile.ZipFile(only_hello) as z:
        assert "wine" not in z.read("setup.sh").decode()
        assert not any(n.startswith(("workbook/chapters/04", "workbook/solutions/04"))
                       for n in z.namelist())


def _unzip(zip_path: Path, dest: Path) -> None:
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            z.extract(info, dest)
            os.chmod(dest / info.filename, (info.external_attr >> 16) & 0o777)


def _autograde(tmp_path: Path, fill) -> dict:
    """Unpack an autograder for 01_hello into a fake /autograder, let
    `fill(submission)` put a submission in, run run_autograder."""
    ag = tmp_path / "autograder"
    zip_path = package.make_gradescope(tmp_path / "autograder.zip", ["01_hello"])
    _unzip(zip_path, ag / "source")
    (ag / "submission").mkdir()
    fill(ag / "submission")
    proc = subprocess.run([str(ag / "source" / "run_autograder")],
                          env=_env(tmp_path / "unused") | {"AUTOGRADER_DIR": str(ag),
                                                           "AUTOGRADER_JOBS": "0"},
                          capture_output=True, text=True, timeout=RUN_LIMIT)
    assert proc.returncode == 0, proc.stderr
    return json.loads((ag / "results" / "results.json").read_text())


def _check_results(data: dict) -> None:
    assert set(data) >= {"score", "execution_time", "tests"}
    for t in data["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in ("passed", "failed")


def test_run_autograder_gives_the_references_full_marks(tmp_path):
    def fill(sub: Path) -> None:   # a whole repository, as a student's zip of it
        shutil.copytree(ROOT / "solutions" / "01_hello", sub / "workbook-main" / "chapters" /
                        "01_hello")
        (sub / "workbook-main" / "solutions" / "01_hello").mkdir(parents=True)  # ignored
    data = _autograde(tmp_path, fill)
    _check_results(data)
    total = sum(t["max_score"] for t in data["tests"])
    assert total == package.chapter_max_points("01_hello") > 0
    assert data["score"] == total, [t for t in data["tests"] if t["status"] != "passed"]
    assert "01_hello: graded workbook-main/chapters/01_hello/" in data["output"]


def test_run_autograder_gives_starters_part_marks_and_shows_compiler_errors(tmp_path):
    def fill(sub: Path) -> None:   # loose files: a starter, a broken file, no answers
        shutil.copy(ROOT / "chapters" / "01_hello" / "hello_server.c", sub)
        (sub / "hello_client.c").write_text("int main(void) { return 0 }\n")
    data = _autograde(tmp_path, fill)
    _check_results(data)
    assert 0 < data["score"] < sum(t["max_score"] for t in data["tests"])
    client = [t for t in data["tests"] if t["name"].startswith("01_hello/hello_client ")]
    assert client and all(t["status"] == "failed" for t in client)
    # the compiler's messages once, the other tests pointing to them
    assert sum("error:" in t["output"] for t in client) == 1, client
    assert all("the compiler's messages are under" in t["output"]
               for t in client if "error:" not in t["output"])
    assert "reports: " not in data["output"]  # the grader's own lines are not the student's
    review = [t for t in data["tests"] if t["name"].startswith("01_hello/review ")]
    assert len(review) == 6 and all(t["status"] == "failed" for t in review)


def test_run_autograder_writes_results_even_when_the_grader_cannot_run(tmp_path):
    ag = tmp_path / "autograder"
    ag.mkdir()
    script = ag / "run_autograder"
    script.write_text(package.RUN_AUTOGRADER)
    script.chmod(0o755)
    proc = subprocess.run([str(script)], env=_env(tmp_path) | {"AUTOGRADER_DIR": str(ag)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    data = json.loads((ag / "results" / "results.json").read_text())
    assert data["score"] == 0 and data["tests"][0]["status"] == "failed"


def test_autograde_failure_is_a_valid_result(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / package.CONFIG).write_text('{"chapters": ["no_such_chapter"]}')
    res = package.autograde(tmp_path / "sub", tmp_path / "results.json", tmp_path / "work",
                            root=tmp_path / "root")
    assert res["score"] == 0 and res["tests"][0]["status"] == "failed"
    assert json.loads((tmp_path / "results.json").read_text()) == res


def test_submission_layouts_are_found(tmp_path):
    chapters = ["01_hello", "04_iterative_echo"]
    whole = tmp_path / "whole"
    for d in ("repo/chapters/01_hello", "repo/solutions/04_iterative_echo", "repo/01_hello",
              "repo/tests/04_iterative_echo"):
        (whole / d).mkdir(parents=True)
    found, loose = package.locate(whole, chapters)
    assert found == {"01_hello": whole / "repo/chapters/01_hello"} and loose == {}

    bare = tmp_path / "bare"
    (bare / "04_iterative_echo").mkdir(parents=True)
    for f in ("hello_server.c", "answers.txt", "notes.txt"):
        (bare / f).write_text("x")
    found, loose = package.locate(bare, chapters)
    assert found == {"04_iterative_echo": bare / "04_iterative_echo"}
    assert loose == {"01_hello": [bare / "hello_server.c"]}   # answers.txt: which chapter?
    found, loose = package.locate(bare, ["01_hello"])
    assert loose == {"01_hello": [bare / "answers.txt", bare / "hello_server.c"]}


def test_run_autograder_keeps_the_key_from_student_code(tmp_path):
    """The two attacks seen on the Gradescope autograder: a hello_server that
    looks for the key through the grader's /proc/<pid>/cwd (and would greet
    with it), and a hello_client that #includes the key by its absolute
    path (gcc would quote it in its errors). Neither reaches it."""
    hostile = ROOT / "tests" / "hostile" / "01_hello"
    key = tmp_path / "autograder" / "source" / "workbook" / "solutions" / "01_hello" / "answers.txt"

    def fill(sub: Path) -> None:
        shutil.copy(hostile / "hello_server--reads-key-via-proc.c", sub / "hello_server.c")
        (sub / "hello_client.c").write_text(
            (hostile / "hello_server--includes-key-absolute.c.in").read_text()
            .replace("@KEY@", str(key)))
    data = _autograde(tmp_path, fill)
    _check_results(data)
    assert key.exists()
    text = json.dumps(data)
    assert "# Key for chapters/" not in text and "socket, bind, listen, accept" not in text
    server = [t for t in data["tests"] if t["name"].startswith("01_hello/hello_server ")]
    # it found no key, so it greeted with Hello World! (in one write(), which
    # the greeting test's fault injection interrupts: that test fails on its own)
    assert server and all(t["status"] == "passed" for t in server
                          if "greeting" not in t["name"]), server
    client = [t for t in data["tests"] if t["name"].startswith("01_hello/hello_client ")]
    assert client and "No such file" in client[0]["output"], client[0]
    assert all(t["status"] == "failed" for t in client)


def test_handout_ships_the_workflow_as_the_points_make_it_now(tmp_path, monkeypatch, capsys):
    """A point changed and `make classroom` forgotten: the handout's
    classroom.yml is the one the points make now, and the run says so."""
    monkeypatch.setattr(package, "classroom_yml",
                        lambda root=ROOT, chapters=None: "# the points of today\n")
    dest = package.make_handout(tmp_path / "handout")
    assert (dest / package.CLASSROOM_YML).read_text() == "# the points of today\n"
    assert "out of date" in capsys.readouterr().out
