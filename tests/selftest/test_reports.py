"""Points, and the reports every grading run writes (JUnit XML, Gradescope's
results.json), and the GitHub Classroom workflow."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness import packaging as package
from harness import reports, scores
from harness.answers import load_questions
from harness.chapters import CHAPTERS, ROOT


def _root(tmp_path: Path, points: str | None = None) -> Path:
    """A workbook root with chapter 01_hello's questions and, if given, points."""
    ch = tmp_path / "root" / "chapters" / "01_hello"
    ch.mkdir(parents=True)
    ch.joinpath("questions.toml").write_text(
        (ROOT / "chapters" / "01_hello" / "questions.toml").read_text()
        .replace('id = "q2"', 'id = "q2"\npoints = 4', 1))
    if points is not None:
        ch.joinpath("points.toml").write_text(points)
    return tmp_path / "root"


def _results(tmp_path: Path, tests: list[dict]) -> Path:
    path = tmp_path / "results.json"
    for order, t in enumerate(tests):
        t.setdefault("order", order)
        t.setdefault("nodeid", f"x::{t.get('test', 'harness')}[{order}]")
        t.setdefault("duration", 0.5)
        t.setdefault("message", "" if t["outcome"] == "passed" else "it went wrong")
    path.write_text(json.dumps({"elapsed": 1.0, "tests": tests}))
    return path


def _t(test: str, outcome: str, case: str = "", ex: str = "01_hello/hello_server",
       sub: str = "student", **kw) -> dict:
    return dict(submission=sub, exercise=ex, test=test, case=case, outcome=outcome, **kw)


POINTS = """
[default]
test = 2
[tests]
test_hello_server_greeting = 5
"test_hello_server_usage[special]" = 7
[review]
q3 = 0.5
"""


def test_points_per_test_case_variant_and_question(tmp_path):
    root = _root(tmp_path, POINTS)
    res = _results(tmp_path, [
        _t("test_hello_server_greeting", "passed"),
        _t("test_hello_server_bad_port", "failed"),
        _t("test_hello_server_usage", "passed", case="special"),
        # two variants of one test: earned only if both pass
        _t("test_hello_server_stop", "passed", nodeid="x::s[student:01_hello-SIGTERM]"),
        _t("test_hello_server_stop", "failed", nodeid="x::s[student:01_hello-SIGINT]",
           message="SIGINT ignored"),
        _t("test_review", "passed", case="q1", ex="01_hello/review"),
        _t("test_review", "passed", case="q2", ex="01_hello/review"),
        _t("test_review", "failed", case="q3", ex="01_hello/review"),
        _t("test_hello_server_greeting", "skipped", sub="other"),
        {"nodeid": "selftest/test_x.py::test_harness", "outcome": "passed"},
    ])
    got = {(s.submission, scores.test_name(s)): s for s in scores.score(res, root)}
    assert len(got) == 8   # variants count once; the harness's own test not at all
    s = got["student", "01_hello/hello_server test_hello_server_greeting"]
    assert (s.points, s.max_points, s.outcome) == (5, 5, "passed")
    assert got["student", "01_hello/hello_server test_hello_server_bad_port"].max_points == 2
    assert got["student", "01_hello/hello_server test_hello_server_usage[special]"].points == 7
    stop = got["student", "01_hello/hello_server test_hello_server_stop"]
    assert (stop.points, stop.max_points, stop.outcome) == (0, 2, "failed")
    assert "SIGINT:\nSIGINT ignored" in stop.message and stop.duration == 1.0
    assert got["student", "01_hello/review test_review[q1]"].points == 1   # questions.toml default
    assert got["student", "01_hello/review test_review[q2]"].points == 4   # questions.toml points
    assert got["student", "01_hello/review test_review[q3]"].max_points == 0.5   # points.toml
    # skipped here (it needs what this machine lacks): counts neither way
    skipped = got["other", "01_hello/hello_server test_hello_server_greeting"]
    assert (skipped.points, skipped.max_points, skipped.outcome) == (0, 0, "skipped")
    chapters = scores.by_chapter(scores.score(res, root))
    assert chapters == {"student": {"01_hello": (5 + 7 + 1 + 4, 5 + 2 + 7 + 2 + 1 + 4 + 0.5)},
                        "other": {"01_hello": (0, 0)}}


def test_without_points_toml_every_test_is_worth_one(tmp_path):
    root = _root(tmp_path)
    res = _results(tmp_path, [_t("test_a", "passed"), _t("test_b", "failed")])
    assert [(s.points, s.max_points) for s in scores.score(res, root)] == [(1, 1), (0, 1)]
    assert scores.score(tmp_path / "missing.json", root) == []


@pytest.mark.parametrize("text", ["[tests]\ntest_a = -1", "[tests]\ntest_a = 'three'",
                                  "[bonus]\nx = 1", "[default]\ncheck = 2", "[tests\n",
                                  "[review]\nq1 = true", "[visibility]\ntest_a = 'later'"])
def test_bad_points_are_refused(text):
    with pytest.raises(scores.PointsError):
        scores.parse_points(text)


def test_gradescope_visibility_comes_from_points_toml(tmp_path):
    (tmp_path / "chapters" / "09_x").mkdir(parents=True)
    (tmp_path / "chapters" / "09_x" / "points.toml").write_text(
        '[visibility]\ndefault = "after_due_date"\ntest_a = "visible"\n'
        '"test_b[c2]" = "hidden"\nreview = "after_published"\n')

    def vis(test: str, case: str = "") -> str:
        s = scores.Scored("s", "09_x/e", test, case, "passed", "", 1, 1)
        return scores.visibility(s, tmp_path)
    assert vis("test_a") == "visible" and vis("test_b", "c2") == "hidden"
    assert vis("test_b", "c1") == "after_due_date" and vis("test_review", "q1") == "after_published"
    s = scores.Scored("s", "01_hello/hello_server", "test_x", "", "passed", "", 1, 1)
    assert scores.visibility(s) == "visible"   # no [visibility]: visible


def test_points_files_name_real_tests_and_questions():
    """A typo in points.toml would silently give the default: refuse it."""
    for chapter in CHAPTERS:
        path = ROOT / "chapters" / chapter / "points.toml"
        assert path.is_file(), f"{path} is missing"
        _, tests, review = scores.parse_points(path.read_text(), str(path))
        graded = package.graded_tests(chapter)
        names = {t for _, t, _ in graded} | {f"{t}[{c}]" for _, t, c in graded if c}
        unknown = sorted(set(tests) - names)
        assert not unknown, f"{path}: no such test: {unknown}"
        ids = {q.id for q in load_questions(ROOT / "chapters" / chapter / "questions.toml")}
        assert not set(review) - ids, f"{path}: no such question: {set(review) - ids}"
        shown = set(scores._visibility_table(chapter, ROOT)) - names - {"default", "review"}
        assert not shown, f"{path}: [visibility] names no such test: {sorted(shown)}"
        assert package.chapter_max_points(chapter) > len(graded), \
            f"{path}: no test weighs more than the default"


def test_fmt():
    assert [scores.fmt(x) for x in (3.0, 2.5, 0.0, 1 / 3, 12)] == ["3", "2.5", "0", "0.33", "12"]


# -- the reports -------------------------------------------------------------------------

def _scored() -> list[scores.Scored]:
    return [
        scores.Scored("student", "01_hello/hello_server", "test_hello_server_greeting", "",
                      "failed", "Expected: Hello\x00 World\x1b[31m <&> \ud800", 0, 3, 0.25),
        scores.Scored("student", "01_hello/hello_server", "test_hello_server_usage", "",
                      "passed", "", 1, 1, 0.1),
        scores.Scored("student", "01_hello/hello_client", "test_hello_client_greeting", "",
                      "failed", "does not compile (short)", 0, 3),
        scores.Scored("student", "01_hello/review", "test_review", "q1", "passed", "", 1, 1),
        scores.Scored("student", "04_iterative_echo/echo_server", "test_echo_server_echoes", "",
                      "skipped", "no wine", 0, 2),
    ]


def test_junit_parses_and_has_one_case_per_test(tmp_path):
    logs = {"01_hello/hello_client": "hello_client.c:3:1: error: expected ';'"}
    junit, gs = reports.write_reports(_scored(), tmp_path, execution_time=3.4, compile_logs=logs)
    assert sorted(p.name for p in tmp_path.iterdir()) == [reports.GRADESCOPE_NAME,
                                                          reports.JUNIT_NAME]  # no temporaries
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "2"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"01_hello", "04_iterative_echo"}
    hello = suites["01_hello"]
    assert (hello.get("tests"), hello.get("failures"), hello.get("errors")) == ("4", "2", "0")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", hello.get("timestamp"))
    # the attributes junit-10.xsd allows (Jenkins; GitLab reads the same)
    assert set(root.attrib) <= {"name", "time", "tests", "failures", "disabled", "errors"}
    for s in suites.values():
        assert set(s.attrib) <= {"name", "tests", "failures", "errors", "time", "disabled",
                                 "skipped", "timestamp", "hostname", "id", "package", "file",
                                 "log", "url", "version"}
        assert [c.tag for c in s][0] == "properties"
    assert hello.find("properties/property").get("value") == "2/8"
    cases = hello.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("01_hello.hello_server", "test_hello_server_greeting"),
        ("01_hello.hello_server", "test_hello_server_usage"),
        ("01_hello.hello_client", "test_hello_client_greeting"),
        ("01_hello.review", "test_review[q1]")]
    failure = cases[0].find("failure")
    assert failure.get("message").startswith("Expected: Hello\\x00 World\\x1b[31m <&>")
    assert cases[0].get("time") == "0.250"
    assert "error: expected ';'" in cases[2].find("failure").text
    assert cases[1].find("failure") is None and cases[1].find("skipped") is None
    assert suites["04_iterative_echo"].find("testcase/skipped").get("message") == "no wine"


def test_gradescope_results_follow_the_specification(tmp_path):
    logs = {"01_hello/hello_client": "hello_client.c:3:1: error: expected ';'"}
    _, path = reports.write_reports(_scored(), tmp_path, execution_time=3.4, compile_logs=logs)
    data = json.loads(path.read_text())
    assert data["score"] == 2 and data["execution_time"] == 3
    assert [t["name"] for t in data["tests"]] == [
        "01_hello/hello_server test_hello_server_greeting",
        "01_hello/hello_server test_hello_server_usage",
        "01_hello/hello_client test_hello_client_greeting",
        "01_hello/review test_review[q1]",
        "04_iterative_echo/echo_server test_echo_server_echoes"]
    for t in data["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in ("passed", "failed") and t["visibility"] == "visible"
        assert isinstance(t["score"], (int, float)) and t["score"] <= t["max_score"]
    assert [t["status"] for t in data["tests"]] == ["failed", "passed", "failed", "passed",
                                                   "failed"]
    assert "error: expected ';'" in data["tests"][2]["output"]   # the compiler's output
    assert data["tests"][0]["output"].startswith("Expected: Hello")
    assert "total: 2 of 10 points" in data["output"]


def test_a_run_that_could_not_grade_still_writes_valid_results(tmp_path):
    path = reports.write_failure(tmp_path, "pytest crashed", execution_time=1.2)
    data = json.loads(path.read_text())
    assert data["score"] == 0 and data["execution_time"] == 1
    assert len(data["tests"]) == 1 and data["tests"][0]["status"] == "failed"
    assert "pytest crashed" in data["tests"][0]["output"] and "pytest crashed" in data["output"]


def test_compile_logs_of_builds():
    from harness.build import BuildResult
    built = {"a/x": BuildResult("a/x", True, "bin"),
             "a/y": BuildResult("a/y", False, cmd="gcc y.c", log="y.c:1: error: boom"),
             "a/z": BuildResult("a/z", False, missing=["z.c"])}
    logs = reports.compile_logs_of(built)
    assert set(logs) == {"a/y", "a/z"}
    assert "$ gcc y.c" in logs["a/y"] and "error: boom" in logs["a/y"]
    assert "z.c" in logs["a/z"] and "missing" in logs["a/z"]


# -- GitHub Classroom ------------------------------------------------------------------------



def test_classroom_workflow_is_current_and_complete():
    path = ROOT / package.CLASSROOM_YML
    assert path.read_text() == package.classroom_yml(), \
        "stale: run `make classroom`"
    flow = yaml.safe_load(path.read_text())
    assert set(flow["on"]) >= {"push", "workflow_dispatch", "repository_dispatch"}
    assert flow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    job = flow["jobs"]["run-autograding-tests"]
    assert job["runs-on"] == "ubuntu-latest"
    assert "is_template" in job["if"] and "github-classroom[bot]" in job["if"]
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    chapters = package.classroom_chapters()
    # what the graded chapters need, installed once, before any of them runs
    assert steps[1]["run"] == f'sudo make deps CHAPTER="{" ".join(chapters)}"'
    graders = steps[2:-1]
    assert [g["name"] for g in graders] == chapters
    for g, chapter in zip(graders, chapters):
        assert g["run"].splitlines() == [f"sudo make check CHAPTER={chapter} || true",
                                         f'make classroom-result CHAPTER={chapter} '
                                         '>> "$GITHUB_OUTPUT"']
        assert 0 < int(g["timeout-minutes"]) <= 60 and g["id"][0].isalpha()
    reporter = steps[-1]
    assert reporter["uses"] == "education/autograding-grading-reporter@v1"
    ids = [g["id"] for g in graders]
    assert reporter["with"]["runners"].split(",") == ids
    # the reporter reads each runner's result from <ID upper-cased>_RESULTS
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}"
                               for i in ids}


def test_classroom_workflow_for_some_chapters_installs_only_what_they_need(tmp_path):
    text = package.classroom_yml(ROOT, ["01_hello"])
    flow = yaml.safe_load(text)
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    assert steps[1]["run"] == 'sudo make deps CHAPTER="01_hello"'
    assert [s["name"] for s in steps[2:-1]] == ["01_hello"]
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / package.CLASSROOM_YML).write_text(text)
    assert package.classroom_chapters(tmp_path) == ["01_hello"]  # make handout keeps it
    every = package.classroom_yml(ROOT, list(CHAPTERS))
    assert "# Chapters graded: all\n" in every   # so a chapter added later is graded too
    (tmp_path / package.CLASSROOM_YML).write_text(every.replace(CHAPTERS[-1], "99_gone"))
    assert package.classroom_chapters(tmp_path) == list(CHAPTERS)


def test_classroom_result_carries_the_points_test_by_test(tmp_path):
    """What the reporter adds up: each test's points as make check gave them."""
    import base64
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / reports.GRADESCOPE_NAME).write_text(json.dumps({"tests": [
        {"name": "01_hello/hello_server test_a", "status": "passed", "score": 3,
         "max_score": 3, "output": ""},
        {"name": "01_hello/hello_client test_b", "status": "failed", "score": 0,
         "max_score": 2, "output": "Expected: x"},
        {"name": "01_hello/hello_client test_s", "status": "failed", "score": 0,
         "max_score": 0, "output": "skipped: needs root"},
        {"name": "04_iterative_echo/echo_server test_c", "status": "passed", "score": 2,
         "max_score": 2}]}))
    line = package.classroom_result("01_hello", tmp_path)
    assert line.startswith("result=")
    got = json.loads(base64.b64decode(line[len("result="):]))
    assert got["max_score"] == 5   # what was possible here: the skipped test counts neither way
    assert [(t["name"], t["status"], t["score"]) for t in got["tests"]] == [
        ("01_hello/hello_server test_a", "pass", 3), ("01_hello/hello_client test_b", "fail", 0),
        ("01_hello/hello_client test_s", "fail", 0)]
    assert got["status"] == "fail" and got["tests"][1]["message"] == "Expected: x"
    nothing = json.loads(base64.b64decode(package.classroom_result(
        "01_hello", tmp_path / "none")[len("result="):]))
    assert nothing["tests"][0]["score"] == 0 and nothing["max_score"] > 0


def test_make_check_that_cannot_grade_still_writes_results(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["WORKBOOK_BUILD"] = str(tmp_path)
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "grade.py"), "check",
                           "--chapter", "99_nothing"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "No chapter" in proc.stdout
    data = json.loads((tmp_path / "student" / reports.GRADESCOPE_NAME).read_text())
    assert data["score"] == 0 and "99_nothing" in data["tests"][0]["output"]
    assert not (tmp_path / "student" / reports.JUNIT_NAME).exists()
