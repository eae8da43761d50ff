"""Run a Check unit-test suite (tests/check/test_<unit>.c, built against the
student's file) once per build and hand each pytest test its Check test's
result: one pytest test per Check test, as the review questions are one per
question. A chapter whose unit is graded by Check (00's wire.c, 03's addr.c)
uses this:

    cases = checksuite.cases

    @pytest.mark.role("addr")
    def test_addr(prog):
        checksuite.judge(prog)
"""

from __future__ import annotations

import fcntl
import re
import shutil
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import pytest

from . import jail
from .chapters import CHECK_SUITES, ROOT
from .feedback import describe_exit, tail
from .procs import ProcessGroup

CHECK_TIMEOUT = 20     # seconds per Check test (CK_DEFAULT_TIMEOUT): an upper bound;
                       # a differential test takes 0.3 s of CPU sanitized, more on a busy machine
SUITE_LIMIT = 60       # seconds for the whole Check run
VALGRIND_SLOWER = 12   # both, times this, under valgrind
NS = "{http://check.sourceforge.net/ns}"


@lru_cache(maxsize=None)
def _check_tests(suite: str) -> tuple[str, ...]:
    text = (ROOT / suite).read_text()
    return tuple(re.findall(r"tcase_add_test\s*\(\s*\w+\s*,\s*(\w+)\s*\)", text))


def cases(ex) -> list[tuple[str | None, str | None]]:
    """One case per Check test of a "check" exercise; one plain case otherwise."""
    if ex.kind == "check":
        return [(name, name) for name in _check_tests(CHECK_SUITES[ex.name])]
    return [(None, None)]


def run_suite(prog, binary: str) -> dict[str, tuple[str, str, str]]:
    """Run the Check binary once per build (whichever worker gets there
    first), in the jail, and return {test: (result, message, where)}."""
    out = Path(binary).with_suffix(".xml")
    with open(Path(binary).with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.exists() or out.stat().st_mtime < Path(binary).stat().st_mtime:
            work = jail.workdir("check")
            tmp = work / "check.xml"
            argv, slower = [binary], 1
            if prog.sub.valgrind:
                # make valgrind: the unit runs under memcheck too (it follows
                # Check's forks), some twenty times slower
                from .plugin import VALGRIND
                argv, slower = [*VALGRIND, binary], VALGRIND_SLOWER
            env = dict(prog.env, **({"WORKBOOK_CHECK_QUICK": "1"} if slower > 1 else {}),
                       CK_FORK="yes",
                       CK_DEFAULT_TIMEOUT=str(CHECK_TIMEOUT * slower),
                       CK_XML_LOG_FILE_NAME=str(tmp), CK_VERBOSITY="silent")
            group = ProcessGroup(cwd=work)
            try:
                proc = group.start(argv, env=env, limit=SUITE_LIMIT * slower,
                                   label=Path(binary).name,
                                   jail={"files": {binary: Path(binary)}})
                proc.wait_exit(SUITE_LIMIT * slower + 5)
            finally:
                group.close()
            _note_valgrind(prog, proc, out)
            _note_sanitizer(prog, proc, out)
            if not tmp.exists():
                pytest.fail(f"the Check tests of {prog.ex.main_file} did not finish "
                            f"({describe_exit(proc)}):\n{tail(proc.stderr_text())}",
                            pytrace=False)
            shutil.copyfile(tmp, out.with_suffix(".tmp.xml"))
            out.with_suffix(".tmp.xml").replace(out)
            shutil.rmtree(work, ignore_errors=True)
    results = {}
    ns = {"c": NS.strip("{}")}
    for test in ET.parse(out).getroot().iter(f"{NS}test"):
        results[test.findtext("c:id", "", ns)] = (test.get("result", ""),
                                                  test.findtext("c:message", "", ns),
                                                  test.findtext("c:fn", "", ns))
    return results


def _note_valgrind(prog, proc, out: Path) -> None:
    """Under valgrind: keep what it found beside the results (or nothing)."""
    found = out.with_suffix(".valgrind")
    found.unlink(missing_ok=True)
    if prog.sub.valgrind:
        from .plugin import VALGRIND_MARK
        err = proc.stderr_text()
        m = VALGRIND_MARK.search(err)
        if m:
            found.write_text(err[max(0, m.start() - 200):m.start() + 2500])


SANITIZER_MARK = re.compile(r"^.*(runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer)",
                            re.M)


def _note_sanitizer(prog, proc, out: Path) -> None:
    """Sanitized (make check SANITIZE=1): keep the first report beside the
    results, since Check records only "Early exit" for the test it ended."""
    found = out.with_suffix(".sanitizer")
    found.unlink(missing_ok=True)
    if prog.sub.sanitize:
        err = proc.stderr_text()
        m = SANITIZER_MARK.search(err)
        if m:
            found.write_text(err[m.start():m.start() + 2500])


def judge(prog) -> None:
    """Fail the current pytest test unless its Check test (prog.case) passed
    (and, under valgrind, unless memcheck found nothing in the whole run)."""
    binary = prog.require_build()
    results = run_suite(prog, binary)
    found = Path(binary).with_suffix(".valgrind")
    if prog.sub.valgrind and found.exists():
        pytest.fail(f"valgrind found a problem while the Check tests ran "
                    f"{prog.ex.main_file}:\n{found.read_text()}", pytrace=False)
    if prog.case not in results:
        pytest.fail(f"the Check test {prog.case} did not run (did {prog.ex.main_file} "
                    "crash the test program?)", pytrace=False)
    result, message, where = results[prog.case]
    if result != "success":
        kind = "crashed or timed out" if result == "error" else "failed"
        report = Path(binary).with_suffix(".sanitizer")
        said = (f"\nThe sanitizer's first report in this run of the Check tests:\n"
                f"{report.read_text()}" if result == "error" and report.exists() else "")
        pytest.fail(f"Check test {prog.case} {kind} ({where}):\n  {message}\n"
                    f"The test is in {CHECK_SUITES[prog.ex.name]}; your code in "
                    f"chapters/{prog.ex.chapter}/{prog.ex.main_file}.{said}", pytrace=False)
