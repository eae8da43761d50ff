"""Packages for a class (the commands are tests/package.py's): the students'
handout and a Gradescope autograder, grading one Gradescope submission, and
the GitHub Classroom workflow.

The handout is the repository without solutions/ and, of tests/, only the
harness (not the mutants, the self-tests and their material), with the
review questions' keys replaced by salted hashes (tests/keys/<ch>.json,
harness/keys.py), so that `make check` still grades everything. The
autograder zip holds setup.sh (the Debian/Ubuntu packages), run_autograder,
and a copy of the workbook without starters, reference programs or mutants.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

from . import chapters as chmod
from . import deps, keys, reports, scores
from .answers import load_questions

ROOT = chmod.ROOT
GIT_TIMEOUT = 30         # seconds for `git ls-files`
GRADE_TIMEOUT = 1200     # seconds for grading one submission (Gradescope has its own limit)
MAX_FILE = 4 << 20       # bytes: larger files of a submission are not copied
CONFIG = "gradescope.json"

# never in any package
ALWAYS_OUT = ("build/", ".git/", "compile_commands.json")
# not in the handout
HANDOUT_OUT = ("solutions/", ".ci/", "docs/instructor-guide.md", "docs/maintainer-guide.md")
# the README's section for instructors is left out of the handout's README
INSTRUCTORS_SECTION = "## For instructors"
# of tests/, only these folders are the harness (the others hold the mutants,
# the self-tests, programs made from the references for them, ...)
HARNESS_DIRS = ("harness", "chapters", "check", "faults", "bench")
# folders of a submission that never hold the student's chapters
NOT_CHAPTERS = {"solutions", "tests", "build", ".git", "__MACOSX", "node_modules"}


class PackageError(RuntimeError):
    """A package that cannot be made as asked (said to the instructor)."""


# -- which files ------------------------------------------------------------------------

def workbook_files(root: Path = ROOT) -> list[str]:
    """The workbook's files, relative: what git tracks plus new files it does
    not ignore; every file but build/ when this is not a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=root, capture_output=True,
                             check=True, timeout=GIT_TIMEOUT).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    keep = []
    for name in sorted(set(names)):
        path = root / name
        if (not path.is_file() or path.is_symlink() or "__pycache__" in Path(name).parts
                or name.endswith(".pyc") or name.startswith(ALWAYS_OUT)):
            continue
        keep.append(name)
    return keep


def _exercise_files(chapter: str) -> set[str]:
    """The files of a chapter that a student writes."""
    out = {"answers.txt"}
    for e in chmod.exercises(chapter):
        out.update(e.sources)
    return out


def _harness_or_other(name: str) -> bool:
    """False for a file of tests/ that is not part of the harness."""
    parts = Path(name).parts
    return parts[0] != "tests" or len(parts) == 2 or parts[1] in HARNESS_DIRS


def _copy(root: Path, names: list[str], dest: Path) -> None:
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


# -- make handout ---------------------------------------------------------------------------

def _normalised(text: str, name: str) -> str:
    """The text without comments and white space: a reference with a comment
    added, or re-indented, is still the reference."""
    if name.endswith((".c", ".h")):
        text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    else:  # answers.txt: its comments start with #
        text = re.sub(r"(?m)#.*$", " ", text)
    return re.sub(r"\s+", "", text)


def check_starters(root: Path = ROOT) -> list[str]:
    """Files of chapters/ that are their solution, comments and white space
    aside: a handout made now would give them away."""
    same = []
    for ch in chmod.CHAPTERS:
        for name in sorted(_exercise_files(ch)):
            mine, ref = root / "chapters" / ch / name, root / "solutions" / ch / name
            if mine.is_file() and ref.is_file() and _normalised(
                    mine.read_text(errors="replace"), name) == _normalised(
                    ref.read_text(errors="replace"), name):
                same.append(f"chapters/{ch}/{name}")
    return same


def _student_readme(text: str) -> str:
    """The README without its section for instructors (they have the
    repository; students need not read how their work is graded and kept)."""
    if INSTRUCTORS_SECTION not in text:
        return text
    head, rest = text.split(INSTRUCTORS_SECTION, 1)
    nxt = rest.find("\n## ")
    return head + (rest[nxt + 1:] if nxt != -1 else "")


def uncommitted(root: Path = ROOT) -> list[str]:
    """Files of chapters/ that differ from the last commit (changed, new or
    deleted): the handout is what was committed, so they must be committed
    (or put back) first. Not a git checkout: nothing to compare, []."""
    from . import starters
    try:
        starters.committed_file("chapters", root)  # a checkout with chapters/ committed?
    except starters.StarterError:
        return []
    done = subprocess.run(["git", "-c", f"safe.directory={root}", "status", "--porcelain",
                           "--untracked-files=all", "--", "chapters"], cwd=root,
                          capture_output=True, text=True, timeout=GIT_TIMEOUT)
    return [ln[3:] for ln in done.stdout.splitlines() if ln.strip()]


def make_handout(dest: Path, *, root: Path = ROOT, tar_path: Path | None = None,
                 committed_only: bool = False) -> Path:
    """Write the handout to dest (replacing it) and, if asked, a .tar.gz of it
    whose top folder is `workbook/`. committed_only (make handout): refuse
    while chapters/ has changes that are not committed."""
    if committed_only:
        changed = uncommitted(root)
        if changed:
            raise PackageError("chapters/ has changes that are not committed, and the "
                               "handout must be what the repository holds: "
                               + ", ".join(changed[:8]) + (" ..." if len(changed) > 8 else "")
                               + ". Commit them, or put them back (git checkout / git clean).")
    leaked = check_starters(root)
    if leaked:
        raise PackageError("these files of chapters/ are the reference solutions, so the "
                           "handout would give them away: " + ", ".join(leaked)
                           + ". Restore the starters (make reset, or git checkout) first.")
    names = [n for n in workbook_files(root)
             if not n.startswith(HANDOUT_OUT) and _harness_or_other(n)]
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    _copy(root, names, dest)
    for ch in chmod.CHAPTERS:
        questions = load_questions(root / "chapters" / ch / "questions.toml")
        data = keys.make_hashed_key(ch, questions, root / "solutions" / ch / "answers.txt")
        reports.write_atomic(dest / "tests" / "keys" / f"{ch}.json",
                             json.dumps(data, indent=1) + "\n")
    if (dest / "README.md").exists():
        (dest / "README.md").write_text(_student_readme((dest / "README.md").read_text()))
    # the workflow as the points make it now, whatever the tree holds (a stale
    # one would grade students against old points)
    workflow = classroom_yml(root, classroom_chapters(root))
    if (root / CLASSROOM_YML).exists() and (root / CLASSROOM_YML).read_text() != workflow:
        print(f"note: {CLASSROOM_YML} was out of date; the handout has it as the points make "
              "it now (run make classroom to update the repository's)")
    reports.write_atomic(dest / CLASSROOM_YML, workflow)
    for forbidden in ("solutions", "tests/mutants"):
        if (dest / forbidden).exists():  # cannot happen; a guard against a future edit
            raise PackageError(f"the handout has {forbidden}/")
    if tar_path is not None:
        tar_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tar_path.with_name(f".{tar_path.name}.tmp")
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(dest, arcname="workbook", filter=_plain_owner)
        tmp.replace(tar_path)
    return dest


def _plain_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# -- make gradescope ---------------------------------------------------------------------

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (Ubuntu). It installs what the workbook's harness needs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y {packages}
# Python 3.10 (Ubuntu 22.04) has no tomllib; python3-tomli provides the same parser
python3 -c 'import tomllib' 2>/dev/null || apt-get install -y python3-tomli
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission. It grades the chapters found in
# the submission with the workbook's harness (as `make check --src ...`) and
# writes results.json. The paths can be moved for a local trial:
#   AUTOGRADER_DIR=/tmp/fake ./run_autograder
# with the zip unpacked in $AUTOGRADER_DIR/source and the submission in
# $AUTOGRADER_DIR/submission.
set -u
AUTOGRADER_DIR="${AUTOGRADER_DIR:-/autograder}"
RESULTS="$AUTOGRADER_DIR/results/results.json"
mkdir -p "$AUTOGRADER_DIR/results"
rm -f "$RESULTS"
# the harness needs a Python with pytest (Debian's python3-pytest is for /usr/bin/python3)
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import pytest, xdist' 2>/dev/null; then
      PY="$p"; break
    fi
  done
fi
# The students' programs run as nobody in bubblewrap's jail, which holds no
# key. Where the container refuses namespaces they would run as nobody only:
# the keys are made root-only first, so that nobody cannot read them anyway.
chmod -R go-rwx "$AUTOGRADER_DIR/source/workbook/solutions" 2>/dev/null
export WORKBOOK_ALLOW_NO_NAMESPACES=1
"${PY:-python3}" "$AUTOGRADER_DIR/source/workbook/tests/package.py" autograde \\
  --submission "$AUTOGRADER_DIR/submission" --results "$RESULTS" \\
  --work "$AUTOGRADER_DIR/work"
status=$?
if [ ! -s "$RESULTS" ]; then
  # the grader itself could not run (no Python?): still a valid results.json
  printf '{"score": 0, "execution_time": 0, "output": "The autograder could not run (exit status %s); see the autograder output.", "tests": [{"name": "the grader ran", "score": 0, "max_score": 0, "status": "failed", "output": "exit status %s", "visibility": "visible"}]}\\n' "$status" "$status" > "$RESULTS"
fi
exit 0
"""


def gradescope_files(chapters: list[str], root: Path = ROOT) -> list[str]:
    """The workbook files the autograder needs: the harness, the Makefile,
    each graded chapter's questions, points and given files (not the
    starters), and the answer keys (not the reference programs)."""
    out = []
    for name in workbook_files(root):
        parts = Path(name).parts
        if name == "Makefile":
            out.append(name)
        elif parts[0] == "tests" and _harness_or_other(name):
            out.append(name)
        elif parts[0] == "chapters" and len(parts) == 3 and parts[1] in chapters:
            if parts[2] not in _exercise_files(parts[1]):
                out.append(name)
        elif (parts[0] == "solutions" and len(parts) == 3 and parts[1] in chapters
              and parts[2] == "answers.txt"):
            out.append(name)
    return out


def packages_for(chapters: list[str]) -> list[str]:
    windows = any(e.kind == "windows" for ch in chapters for e in chmod.exercises(ch))
    skip = set() if windows else {"wine", "wine64", "gcc-mingw-w64-x86-64"}
    return [p for p in deps.PACKAGES if p not in skip]


def make_gradescope(zip_path: Path, chapters: list[str], *, root: Path = ROOT) -> Path:
    names = gradescope_files(chapters, root)
    for ch in chapters:
        if f"solutions/{ch}/answers.txt" not in names:
            raise PackageError(f"solutions/{ch}/answers.txt is missing: the autograder "
                               "needs the answer key")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(f".{zip_path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        _add_text(z, "setup.sh", SETUP_SH.format(packages=" ".join(packages_for(chapters))),
                  executable=True)
        _add_text(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add_text(z, f"workbook/{CONFIG}", json.dumps({"chapters": chapters}, indent=1) + "\n")
        for name in names:
            mode = (root / name).stat().st_mode
            info = zipfile.ZipInfo(f"workbook/{name}", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | (0o755 if mode & 0o111 else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, (root / name).read_bytes())
    tmp.replace(zip_path)
    return zip_path


def _add_text(z: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, text)


# -- grading a Gradescope submission ----------------------------------------------------------

def locate(submission: Path, chapters: list[str]) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """Where the submission keeps each chapter: a folder named after it
    anywhere in the upload (a whole repository, its chapters/ folder, or
    loose chapter folders; the shallowest wins, a folder inside `chapters/`
    first), else loose files named like the chapter's exercise files
    (answers.txt only when one chapter is graded)."""
    folders: dict[str, tuple[tuple[int, int], Path]] = {}
    loose: list[Path] = []
    for top, dirs, files in os.walk(submission):
        here = Path(top)
        depth = len(here.relative_to(submission).parts)
        dirs[:] = sorted(d for d in dirs if d not in NOT_CHAPTERS and depth < 6
                         and not (here / d).is_symlink())
        for d in dirs:
            if d in chapters:
                rank = (0 if here.name == "chapters" else 1, depth)
                if d not in folders or rank < folders[d][0]:
                    folders[d] = (rank, here / d)
        if depth <= 2:
            loose += [here / f for f in sorted(files)]
    found = {ch: path for ch, (_, path) in folders.items()}
    files: dict[str, list[Path]] = {}
    for ch in chapters:
        if ch in found:
            continue
        wanted = _exercise_files(ch) - ({"answers.txt"} if len(chapters) > 1 else set())
        picked = {}
        for f in loose:
            if f.name in wanted and f.name not in picked and not any(
                    f.is_relative_to(p) for p in found.values()):
                picked[f.name] = f
        if picked:
            files[ch] = sorted(picked.values())
    return found, files


def assemble(submission: Path, src: Path, chapters: list[str], root: Path = ROOT) -> str:
    """Build the tree to grade in src/<chapter>/: the workbook's given files
    (headers, notes), then the student's files over them. Returns what was
    found, for the student to read."""
    if src.exists():
        shutil.rmtree(src)
    found, loose = locate(submission, chapters)
    lines = []
    for ch in chapters:
        dest = src / ch
        dest.mkdir(parents=True)
        own = _exercise_files(ch)
        for f in sorted((root / "chapters" / ch).iterdir()):
            if f.is_file() and f.name not in own:
                shutil.copy2(f, dest / f.name)
        if ch in found:
            copied = _copy_student(sorted(p for p in found[ch].iterdir()), dest)
            lines.append(f"{ch}: graded {found[ch].relative_to(submission)}/ "
                         f"({', '.join(copied) or 'no files'})")
        elif ch in loose:
            copied = _copy_student(loose[ch], dest)
            lines.append(f"{ch}: graded the files {', '.join(copied)}")
        else:
            lines.append(f"{ch}: not found in the submission (a folder named {ch})")
    return "\n".join(lines)


def _copy_student(files: list[Path], dest: Path) -> list[str]:
    copied = []
    for f in files:
        if (f.is_file() and not f.is_symlink() and not f.name.startswith(".")
                and f.stat().st_size <= MAX_FILE):
            shutil.copy2(f, dest / f.name)
            copied.append(f.name)
    return copied


def _grade(src: Path, build: Path, chapter: str | None,
           root: Path = ROOT) -> tuple[dict | None, str]:
    """Run `grade.py check` on src; (its Gradescope results or None, its output)."""
    cmd = [sys.executable, str(root / "tests" / "grade.py"), "check", "--src", str(src),
           "--jobs", os.environ.get("AUTOGRADER_JOBS", "auto")]
    if chapter:
        cmd += ["--chapter", chapter]
    env = dict(os.environ, WORKBOOK_BUILD=str(build), NO_COLOR="1")
    gs = build / "student" / reports.GRADESCOPE_NAME
    gs.unlink(missing_ok=True)
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=GRADE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        output += f"\n(grading took over {GRADE_TIMEOUT} s and was stopped)"
    # what the student reads: not the grader's own lines (where its reports went)
    output = "\n".join(ln for ln in output.splitlines()
                       if "; reports: " not in ln and not ln.startswith("Setting up Wine in "))
    try:
        return json.loads(gs.read_text()), output
    except (OSError, ValueError):
        return None, output


def autograde(submission: Path, results: Path, work: Path, root: Path = ROOT) -> dict:
    """Grade one Gradescope submission and write results.json (always)."""
    t0 = time.monotonic()
    try:
        config = json.loads((root / CONFIG).read_text())
        chapters = list(config.get("chapters") or chmod.CHAPTERS)
    except (OSError, ValueError):
        chapters = list(chmod.CHAPTERS)
    try:
        found = assemble(submission, work / "src", chapters, root)
        runs = ([None] if chapters == list(chmod.CHAPTERS)
                else chapters)  # one run for all, else one per chapter
        merged: dict | None = None
        outputs = []
        for ch in runs:
            res, output = _grade(work / "src", work / "build", ch, root)
            outputs.append(output)
            if res is None:
                merged = reports.failure_results(
                    "the harness did not produce results:\n" + output[-3000:],
                    execution_time=time.monotonic() - t0)
                break
            if merged is None:
                merged = res
            else:
                merged["tests"] += res["tests"]
                merged["score"] = round(merged["score"] + res["score"], 4)
        else:
            assert merged is not None
            # what the student reads on Gradescope: what was found, then the table
            merged["output"] = (found + "\n\n" + "\n".join(outputs).strip())[:20000]
        assert merged is not None
        merged["execution_time"] = round(time.monotonic() - t0)
    except Exception as exc:  # noqa: BLE001 - whatever happens, Gradescope gets a file
        merged = reports.failure_results("the autograder itself failed (a problem of the "
                                         "grader, not of your work; tell your instructor): "
                                         f"{type(exc).__name__}: {exc}",
                                         execution_time=time.monotonic() - t0)
    reports.write_atomic(results, json.dumps(merged, indent=1))
    return merged


# -- GitHub Classroom ----------------------------------------------------------------------------

CLASSROOM_YML = Path(".github") / "workflows" / "classroom.yml"


def graded_tests(chapter: str, root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(exercise, test, case) of every test that grades the chapter, found
    the way the harness's plugin finds them (role marks and `cases`), without
    running anything. Parametrized variants count once, as in scores.py."""
    out = []
    for path in sorted((root / "tests" / "chapters").glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"_graded_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        served = getattr(module, "CHAPTERS", None) or (path.stem.removeprefix("test_"),)
        if chapter not in served:
            continue
        hook = getattr(module, "cases", None)
        for name, fn in vars(module).items():
            if not name.startswith("test_") or not callable(fn):
                continue
            roles = [m.args[0] for m in getattr(fn, "pytestmark", []) if m.name == "role"]
            for ex in chmod.exercises(chapter):
                if ex.role in roles:
                    for case_id, _ in (hook(ex) if hook else [(None, None)]):
                        out.append((ex.key, name, case_id or ""))
    return out


def chapter_max_points(chapter: str, root: Path = ROOT) -> float:
    points = scores.chapter_points(chapter, root)
    return sum(points.for_test(test, case) for _, test, case in graded_tests(chapter, root))


def _step_id(chapter: str) -> str:
    # a step id starts with a letter; the reporter reads <ID upper-cased>_RESULTS
    return "ch" + chapter.replace("_", "-")


CHAPTERS_LINE = "# Chapters graded: "


def classroom_chapters(root: Path = ROOT) -> list[str]:
    """The chapters the repository's workflow grades (its `# Chapters graded:`
    line, as `make classroom CHAPTER=...` wrote it), else (`all`, or no such
    line) every chapter, those added since included."""
    try:
        for line in (root / CLASSROOM_YML).read_text().splitlines():
            if line.startswith(CHAPTERS_LINE):
                named = [c for c in line[len(CHAPTERS_LINE):].split() if c in chmod.CHAPTERS]
                if named:
                    return named
    except OSError:
        pass
    return list(chmod.CHAPTERS)


def classroom_yml(root: Path = ROOT, chapters: list[str] | None = None) -> str:
    """The workflow GitHub Classroom runs in each student's repository: what
    the graded chapters need installed (once), then one step per chapter
    that runs `make check` and hands the points the harness computed, test
    by test, to the reporter (`make classroom-result`): partial credit."""
    chapters = chapters or classroom_chapters(root)
    lines = [
        "# GitHub Classroom autograding for this workbook: one step per chapter.",
        "# Generated by `make classroom` from chapters/*/points.toml;",
        "# docs/instructor-guide.md (\"GitHub Classroom\") explains it.",
        # "all": a chapter added later is graded too; else the ones chosen
        CHAPTERS_LINE + ("all" if chapters == list(chmod.CHAPTERS) else " ".join(chapters)),
        "# Each test earns its points (as make check counts them); the Actions log",
        "# of the run shows each chapter's table and every failure.",
        "# Not run for the commit GitHub Classroom makes, in a template repository,",
        "# or in the instructor's repository (it has solutions/).",
        "name: Autograding Tests",
        "\"on\":",
        "  - push",
        "  - workflow_dispatch",
        "  - repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]' && "
        "github.event.repository.is_template != true",
        "    timeout-minutes: 40",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v4",
        "      - name: Install what these chapters need",
        "        if: hashFiles('solutions/**') == ''",
        f"        run: sudo make deps CHAPTER=\"{' '.join(chapters)}\"",
    ]
    ids = []
    for ch in chapters:
        sid = _step_id(ch)
        ids.append(sid)
        lines += [
            f"      - name: {ch}",
            f"        id: {sid}",
            "        if: hashFiles('solutions/**') == ''",
            "        timeout-minutes: 10",
            "        run: |",
            # as root, as the self-test runs: the programs still run as
            # nobody in the jail, and chapter 06's lossy network can be made
            f"          sudo make check CHAPTER={ch} || true",
            f"          make classroom-result CHAPTER={ch} >> \"$GITHUB_OUTPUT\"",
        ]
    lines += [
        "      - name: Autograding Reporter",
        "        if: hashFiles('solutions/**') == ''",
        "        uses: education/autograding-grading-reporter@v1",
        "        env:",
        *[f"          {sid.upper()}_RESULTS: \"${{{{steps.{sid}.outputs.result}}}}\""
          for sid in ids],
        "        with:",
        f"          runners: {','.join(ids)}",
    ]
    return "\n".join(lines) + "\n"


def classroom_result(chapter: str, build: Path, root: Path = ROOT) -> str:
    """The `result=<base64 JSON>` line the Classroom reporter reads for one
    chapter, from the Gradescope results make check wrote: each test with
    the points it earned, and the chapter's possible points. When make
    check wrote nothing (it could not run), every point is lost, said."""
    most = chapter_max_points(chapter, root)
    try:
        gs = json.loads((build / "student" / reports.GRADESCOPE_NAME).read_text())
        tests = [{"name": t["name"], "status": "pass" if t["status"] == "passed" else "fail",
                  "score": t["score"], "message": (t.get("output") or "")[:1500],
                  "test_code": "", "filename": "", "line_no": 0, "duration": 0}
                 for t in gs["tests"] if t["name"].startswith(chapter + "/")]
    except (OSError, ValueError, KeyError):
        tests = []
    if tests:
        # what was possible here: a test skipped on this machine counts neither way
        most = sum(t["max_score"] for t in gs["tests"] if t["name"].startswith(chapter + "/"))
    else:
        tests = [{"name": f"{chapter}: make check ran", "status": "fail", "score": 0,
                  "message": "make check wrote no results: see the step's log above",
                  "test_code": "", "filename": "", "line_no": 0, "duration": 0}]
    result = {"version": 1, "max_score": most, "tests": tests,
              "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail"}
    return "result=" + base64.b64encode(json.dumps(result).encode()).decode()


# -- command line ------------------------------------------------------------------------------
