"""`make check SANITIZE=1`: a memory error the behaviour tests cannot see
becomes a failing test carrying the sanitizer's report."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.chapters import ROOT

# one byte past a 12-byte heap block: harmless to the greeting, fatal to ASan
SCRIBBLE = ("static void scribble(void)\n{\n    char *p = malloc(12);\n\n"
            "    if (p != NULL) {\n        p[12] = 'x';\n        free(p);\n    }\n}\n\n")


def _check(tmp: Path, sanitize: bool) -> dict[str, dict]:
    env = dict(os.environ, WORKBOOK_BUILD=str(tmp / "build"))
    cmd = [sys.executable, str(ROOT / "tests" / "grade.py"), "check", "--src",
           str(tmp / "chapters"), "--chapter", "01_hello", "--jobs", "2"]
    subprocess.run(cmd + (["--sanitize"] if sanitize else []), env=env, cwd=ROOT,
                   capture_output=True, timeout=300)
    out = tmp / "build" / ("student-san" if sanitize else "student") / "results.json"
    tests = json.loads(out.read_text())["tests"]
    return {t["test"]: t for t in tests if t.get("exercise") == "01_hello/hello_server"}


def test_sanitizer_report_fails_the_test(tmp_path: Path):
    chapter = tmp_path / "chapters" / "01_hello"
    shutil.copytree(ROOT / "solutions" / "01_hello", chapter)
    src = chapter / "hello_server.c"
    text = src.read_text()
    main = text.index("int main(")
    body = text.index("{\n", main) + 2  # just inside main's opening brace
    src.write_text(text[:main] + SCRIBBLE + text[main:body] + "    scribble();\n" + text[body:])
    plain = _check(tmp_path, sanitize=False)
    assert plain["test_hello_server_greeting"]["outcome"] == "passed"
    sanitized = _check(tmp_path, sanitize=True)
    greeting = sanitized["test_hello_server_greeting"]
    assert greeting["outcome"] == "failed"
    assert "AddressSanitizer" in greeting["message"] and "heap-buffer-overflow" in greeting["message"]
