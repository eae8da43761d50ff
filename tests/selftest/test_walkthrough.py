"""The student guide's "Walkthrough: chapter 01", replayed.

The section in docs/student-guide.md is the one source: its fenced blocks
that start with `$ make ...` are run, in order, in a fresh copy of the
workbook (the starters as committed, this tree's harness), and what the
command prints must be what the block shows, once the parts that vary are
normalised (ports, timings). Comments `<!-- replay: ... -->` say what the
student has done before the next command:

    <!-- replay: solutions/01_hello/hello_server.c -->
        the reference file stands in for the student's finished file
    <!-- replay: write chapters/01_hello/answers.txt -->
        the next fenced block is the file's whole content

When the harness's output changes on purpose, rewrite the blocks from a
fresh replay and review the diff:

    /usr/bin/python3 tests/selftest/test_walkthrough.py --update
"""

from __future__ import annotations

import difflib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":  # run as a script (--update): find the harness
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.chapters import ROOT  # noqa: E402
from harness.ports import HIGH, LOW  # noqa: E402

GUIDE = ROOT / "docs" / "student-guide.md"
SECTION = "## Walkthrough: chapter 01"
CHAPTER = "01_hello"
COMMAND_LIMIT = 120  # seconds one `make check` may take before it is killed
MARKER = re.compile(r"<!--\s*replay:\s*(.+?)\s*-->")
# the variables of an outer make or pytest would change how the inner run behaves
INHERITED = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKE_TERMOUT", "MAKE_TERMERR")


@dataclass
class Copy:
    source: str             # e.g. solutions/01_hello/hello_server.c


@dataclass
class Write:
    dest: str               # e.g. chapters/01_hello/answers.txt
    content: str


@dataclass
class Run:
    command: str            # e.g. make check CHAPTER=01_hello
    expected: str
    lines: tuple[int, int]  # the block's output lines in the guide [start, end)


def section_bounds(lines: list[str]) -> tuple[int, int]:
    start = next((i for i, ln in enumerate(lines) if ln.strip() == SECTION), None)
    assert start is not None, f"docs/student-guide.md has no section `{SECTION}`"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    return start, end


def parse(text: str) -> list[Copy | Write | Run]:
    """The section's steps, in order."""
    lines = text.splitlines()
    start, end = section_bounds(lines)
    steps: list[Copy | Write | Run] = []
    write_to: str | None = None
    i = start
    while i < end:
        line = lines[i]
        marker = MARKER.search(line)
        if marker:
            what = marker.group(1)
            if what.startswith("write "):
                write_to = what.split(None, 1)[1]
            else:
                steps.append(Copy(what))
        elif line.lstrip().startswith("```"):
            close = next(j for j in range(i + 1, end) if lines[j].lstrip().startswith("```"))
            body = lines[i + 1:close]
            if write_to is not None:
                steps.append(Write(write_to, "\n".join(body) + "\n"))
                write_to = None
            elif body and body[0].startswith("$ "):
                steps.append(Run(body[0][2:].strip(), "\n".join(body[1:]), (i + 2, close)))
            i = close
        i += 1
    return steps


def _port(match: re.Match[str]) -> str:
    return "<port>" if LOW <= int(match.group(0)) <= HIGH else match.group(0)


def normalise(text: str) -> str:
    """What does not vary from run to run: the test ports (tests/harness/ports.py)
    become <port>, timings (<time>); no trailing spaces, no blank lines at
    either end."""
    text = re.sub(r"\b\d{5}\b", _port, text)
    text = re.sub(r"(?<=\()\d+(\.\d+)? s(?=[);])", "<time>", text)
    lines = [ln.rstrip() for ln in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def fresh_copy(dest: Path) -> Path:
    """The workbook as a student clones it: this tree's Makefile, harness and
    references, and the chapter's starters as committed (files not committed yet, such
    as a new chapter's, come from the tree)."""
    dest.mkdir(parents=True)
    shutil.copy2(ROOT / "Makefile", dest / "Makefile")
    shutil.copytree(ROOT / "tests", dest / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", "mutants", "selftest"))
    # the answer keys of the review questions live with the references
    shutil.copytree(ROOT / "solutions", dest / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    chapter = f"chapters/{CHAPTER}"
    try:
        data = subprocess.run(["git", "archive", "HEAD", chapter], cwd=ROOT,
                              capture_output=True, check=True, timeout=30).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, **extra)
    except (OSError, subprocess.SubprocessError, tarfile.TarError):
        pass
    for f in (ROOT / chapter).iterdir():
        target = dest / chapter / f.name
        if f.is_file() and not target.exists() and "." in f.name:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
    return dest


def run(command: str, cwd: Path, build: Path) -> str:
    """Run one command of the guide as a student would; return its stdout
    (make's own `Error 1` line goes to stderr and is not shown in the guide)."""
    argv = shlex.split(command)
    assert argv and argv[0] == "make", f"the walkthrough runs only make targets: {command!r}"
    env = {k: v for k, v in os.environ.items()
           if k not in INHERITED and not k.startswith("PYTEST_")}
    # JOBS=0: one pytest process, not a pool: quicker for one chapter, and
    # lighter on a machine that is running the self-test around it
    env.update(WORKBOOK_BUILD=str(build), JOBS="0", NO_COLOR="1")
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate(timeout=COMMAND_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"`{command}` took more than {COMMAND_LIMIT} s")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        except ProcessLookupError:
            pass
    if proc.returncode not in (0, 2) or not out.strip():
        raise AssertionError(f"`{command}` exited with {proc.returncode}:\n{out}\n{err}")
    return out


def replay(steps: list[Copy | Write | Run], work: Path) -> list[tuple[Run, str]]:
    tree = fresh_copy(work / "workbook")
    results = []
    for step in steps:
        if isinstance(step, Copy):
            source = ROOT / step.source
            parts = Path(step.source).parts
            assert parts[0] == "solutions" and source.is_file(), step
            shutil.copy2(source, tree / "chapters" / Path(*parts[1:]))
        elif isinstance(step, Write):
            (tree / step.dest).write_text(step.content, encoding="utf-8")
        else:
            # the build folder where a student's is (the output names it)
            results.append((step, run(step.command, tree, tree / "build")))
    return results


def test_the_walkthrough_shows_what_make_check_prints(tmp_path):
    steps = parse(GUIDE.read_text(encoding="utf-8"))
    runs = [s for s in steps if isinstance(s, Run)]
    assert len(runs) >= 4, "the walkthrough should show at least four stages"
    assert sum(isinstance(s, Copy) for s in steps) >= 2
    for step, got in replay(steps, tmp_path):
        want, have = normalise(step.expected), normalise(got)
        diff = "\n".join(difflib.unified_diff(want.splitlines(), have.splitlines(),
                                              "the guide", "make check", lineterm=""))
        assert want == have, (
            f"docs/student-guide.md line {step.lines[0]}: `{step.command}` now prints "
            f"something else (if that is intended, run `/usr/bin/python3 "
            f"tests/selftest/test_walkthrough.py --update`):\n{diff}")


def test_normalise_hides_ports_and_timings_only():
    text = ("ran `hello_server 28704` (port 28704 is taken)  \n(0.9 s)\n(12.5 s; reports: x)\n"
            "expected 1-65535, 12 bytes, 3 s\n")
    assert normalise("\n" + text + "\n\n") == (
        "ran `hello_server <port>` (port <port> is taken)\n(<time>)\n(<time>; reports: x)\n"
        "expected 1-65535, 12 bytes, 3 s")


def update() -> int:
    """Rewrite the section's output blocks from a fresh replay."""
    import tempfile
    steps = parse(GUIDE.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        results = replay(steps, Path(tmp))
    lines = GUIDE.read_text(encoding="utf-8").splitlines()  # again: it may have changed
    if [s for s in parse("\n".join(lines)) if isinstance(s, Run)] != [r for r, _ in results]:
        print("docs/student-guide.md changed during the replay; run again")
        return 1
    for step, got in reversed(results):
        start, end = step.lines
        out = [ln.rstrip() for ln in got.splitlines()]
        while out and not out[0]:
            out.pop(0)
        while out and not out[-1]:
            out.pop()
        lines[start:end] = out
    GUIDE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"Rewrote {len(results)} blocks of `{SECTION}` in {GUIDE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        print(__doc__)
        sys.exit(2)
    sys.exit(update())
