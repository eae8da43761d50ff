"""Machine-readable reports of a grading run: JUnit XML and Gradescope's
results.json.

Both are made from the scored tests (harness/scores.py) of one submission:
one JUnit test case, and one Gradescope test, per harness test, Check test
and review question. Both are written atomically (a temporary file, then a
rename), so a reader never sees half a file. When the harness could not run
at all, `failure_results` still gives a valid results.json (score 0, one
test saying why).

    scored = scores.score(results_json)
    write_reports(scored, out_dir, execution_time=12.3, compile_logs={...})
"""

from __future__ import annotations

import json
import os
import re
import socket
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from . import scores
from .scores import Scored, fmt, test_name

JUNIT_NAME = "junit.xml"
GRADESCOPE_NAME = "gradescope-results.json"   # results.json is the harness's own file
OUTPUT_LIMIT = 8000    # characters of output per test (Gradescope shows it all)

# characters XML 1.0 cannot hold, even escaped (a program's output may have them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text an XML 1.0 document can hold: forbidden characters become \\xNN."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _cap(text: str, limit: int = OUTPUT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + "\n... (cut)"


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` by way of a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def output_of(s: Scored, compile_logs: dict[str, str] | None = None) -> str:
    """What a failed test shows: the compiler's output when the exercise did
    not build, otherwise the harness's message."""
    if s.outcome == "passed":
        return ""
    log = (compile_logs or {}).get(s.exercise)
    return _cap(log if log is not None else s.message)


# -- JUnit ------------------------------------------------------------------------

def junit_xml(scored: list[Scored], *, name: str = "workbook",
              compile_logs: dict[str, str] | None = None,
              timestamp: datetime | None = None) -> str:
    """JUnit XML as GitLab and Jenkins read it (the attributes and order of
    Jenkins' junit-10.xsd): <testsuites> holding one
    <testsuite> per chapter, one <testcase> per test (classname
    `<chapter>.<exercise>`, name `test[case]`), a <failure> for each failed
    one with the harness's message."""
    # the schema's timestamp has no time zone: UTC, written without one
    stamp = (timestamp or datetime.now(timezone.utc)).astimezone(timezone.utc) \
        .replace(microsecond=0, tzinfo=None).isoformat()
    chapters: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        chapters[s.chapter].append(s)
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
    for chapter, tests in chapters.items():
        failures = sum(s.outcome == "failed" for s in tests)
        skipped = sum(s.outcome == "skipped" for s in tests)
        elapsed = sum(s.duration for s in tests)
        suite = ET.SubElement(root, "testsuite", name=chapter, tests=str(len(tests)),
                              failures=str(failures), errors="0", skipped=str(skipped),
                              time=f"{elapsed:.3f}", timestamp=stamp,
                              hostname=xml_text(socket.gethostname() or "localhost"))
        props = ET.SubElement(suite, "properties")
        earned, possible = scores.total(tests)
        ET.SubElement(props, "property", name="points", value=f"{fmt(earned)}/{fmt(possible)}")
        for s in tests:
            exercise = s.exercise.split("/", 1)[1] if "/" in s.exercise else s.exercise
            case = ET.SubElement(suite, "testcase", name=xml_text(s.label),
                                 classname=f"{chapter}.{exercise}", time=f"{s.duration:.3f}")
            text = xml_text(output_of(s, compile_logs))
            if s.outcome == "failed":
                first = text.strip().splitlines()[0] if text.strip() else "failed"
                node = ET.SubElement(case, "failure", message=_cap(first, 500), type="failure")
                node.text = text
            elif s.outcome == "skipped":
                ET.SubElement(case, "skipped", message=_cap(text.strip() or "skipped", 500))
            out = ET.SubElement(case, "system-out")
            out.text = f"points: {fmt(s.points)} of {fmt(s.max_points)}"
        totals["tests"] += len(tests)
        totals["failures"] += failures
        totals["skipped"] += skipped
        totals["time"] += elapsed
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("time", f"{totals['time']:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# -- Gradescope ---------------------------------------------------------------------

def gradescope_results(scored: list[Scored], *, execution_time: float,
                       compile_logs: dict[str, str] | None = None,
                       output: str = "") -> dict:
    """Gradescope's results.json: the total score, and one test per harness
    test with its score, maximum, status and output."""
    # the compiler's messages once, under an exercise's first test; its other
    # tests point there instead of repeating them
    shown: dict[str, str] = {}

    def test_output(s: Scored) -> str:
        if s.outcome != "passed" and s.exercise in (compile_logs or {}):
            if s.exercise in shown:
                return (f"{s.exercise} does not compile: the compiler's messages are under "
                        f"{shown[s.exercise]}.")
            shown[s.exercise] = test_name(s)
        return output_of(s, compile_logs)
    tests = [{
        "name": test_name(s),
        "score": s.points,
        "max_score": s.max_points,
        "status": "passed" if s.outcome == "passed" else "failed",
        "output": test_output(s),
        "visibility": scores.visibility(s),
    } for s in scored]
    return {
        "score": scores.total(scored)[0],
        "execution_time": max(0, round(execution_time)),
        "output": output or summary(scored),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def failure_results(reason: str, *, execution_time: float = 0.0) -> dict:
    """A valid results.json for a run that could not grade anything."""
    return {
        "score": 0,
        "execution_time": max(0, round(execution_time)),
        "output": f"The submission could not be graded: {reason}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [{"name": "the grader ran", "score": 0, "max_score": 0,
                   "status": "failed", "output": _cap(reason), "visibility": "visible"}],
    }


def summary(scored: list[Scored]) -> str:
    """One line per chapter with its points, and the total."""
    chapters: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for s in scored:
        chapters[s.chapter][0] += s.points
        chapters[s.chapter][1] += s.max_points
    lines = [f"{ch}: {fmt(e)} of {fmt(p)} points" for ch, (e, p) in chapters.items()]
    total_e = sum(e for e, _ in chapters.values())
    total_p = sum(p for _, p in chapters.values())
    lines.append(f"total: {fmt(total_e)} of {fmt(total_p)} points")
    return "\n".join(lines)


# -- both ------------------------------------------------------------------------------

def write_reports(scored: list[Scored], out_dir: Path, *, execution_time: float,
                  compile_logs: dict[str, str] | None = None,
                  submission: str | None = None) -> tuple[Path, Path]:
    """Write out_dir/junit.xml and out_dir/gradescope-results.json for one
    submission (`submission` picks it from a run that graded several)."""
    mine = [s for s in scored if submission is None or s.submission == submission]
    junit = write_atomic(Path(out_dir) / JUNIT_NAME,
                         junit_xml(mine, compile_logs=compile_logs))
    gs = write_atomic(Path(out_dir) / GRADESCOPE_NAME,
                      json.dumps(gradescope_results(mine, execution_time=execution_time,
                                                    compile_logs=compile_logs), indent=1))
    return junit, gs


def write_failure(out_dir: Path, reason: str, *, execution_time: float = 0.0) -> Path:
    """The Gradescope file of a run that could not grade (no JUnit: nothing ran)."""
    return write_atomic(Path(out_dir) / GRADESCOPE_NAME,
                        json.dumps(failure_results(reason, execution_time=execution_time),
                                   indent=1))


def build_states(built: dict) -> dict[str, str]:
    """{exercise: why it cannot run} for the builds that failed: "file
    missing" or "does not compile", from the build's own fields (never
    guessed from the compiler's words)."""
    return {key: "file missing" if b.missing else "does not compile"
            for key, b in built.items() if not b.ok}


def compile_logs_of(built: dict) -> dict[str, str]:
    """{exercise: what its failed build said} from build.build()'s results."""
    logs = {}
    for key, b in built.items():
        if b.ok:
            continue
        if b.missing:
            logs[key] = f"{key}: file missing ({', '.join(b.missing)} not found)"
        else:
            logs[key] = f"{key} does not compile:\n$ {b.cmd}\n{b.log.strip()}"
    return logs
