"""Compile a submission's programs, once, before any test runs.

A submission is a folder holding chapter folders (a student's `chapters/`,
the `solutions/`, a mutant's tree). Each exercise's program goes to
`<build dir>/<chapter>/<program>`, and what happened to
`<build dir>/build.json`, which the tests read: a test of an exercise that
did not compile fails with the compiler's first errors. Builds are cached by
the hash of the command and of the sources, so a warm run compiles nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import faults, jail
from .chapters import CHECK_SUITES, ROOT, Exercise

CFLAGS = ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Wpedantic"]
WIN_CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer", "-g"]
CC = os.environ.get("CC", "gcc")
WIN_CC = "x86_64-w64-mingw32-gcc"
COMPILE_TIMEOUT = 60


@dataclass
class BuildResult:
    exercise: str
    ok: bool
    binary: str = ""
    cmd: str = ""
    log: str = ""
    missing: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def warnings(self) -> bool:
        return "warning:" in self.log


def _check_flags() -> list[str]:
    try:
        out = subprocess.run(["pkg-config", "--cflags", "--libs", "check"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ["-lcheck"]
    return shlex.split(out)


def windows_pch(folder: Path) -> Path | None:
    """Precompile <winsock2.h> for the Winsock programs, once, into folder;
    return the folder to pass to build() as `pch`, or None if it can't be made.

    winsock2.h pulls in windows.h: about 100,000 lines, whose parsing is
    nine tenths of a Winsock program's compile time (0.7 s of CPU, against
    0.1 s with the header precompiled). Grading a class compiles two such
    programs per student, so `make grade` makes this once and every
    student's build uses it. GCC takes a precompiled header only when it is
    the file's first #include and was made with the same options and macros
    (we make one without macros and one with _WIN32_WINNT=0x0600, as the
    starter client defines it); otherwise it silently reads the real header,
    so a program compiles the same either way. The winsock2.h beside them
    hands later #includes on to the real one."""
    gch = folder / "winsock2.h.gch"
    try:
        version = subprocess.run([WIN_CC, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    stamp = "\0".join([version, *WIN_CFLAGS, *(f for v in PCH_VARIANTS.values() for f in v)])
    try:
        if (folder / "stamp").read_text() == stamp:
            return folder
    except OSError:
        pass
    if folder.exists():
        shutil.rmtree(folder)
    gch.mkdir(parents=True)
    (folder / "winsock2.h").write_text("#include_next <winsock2.h>\n")
    (folder / "first.h").write_text("#include <winsock2.h>\n")
    cmds = [[WIN_CC, *WIN_CFLAGS, *defines, "-x", "c-header", "-o", str(gch / f"{name}.gch"),
             str(folder / "first.h")] for name, defines in PCH_VARIANTS.items()]
    with ThreadPoolExecutor(len(cmds)) as pool:
        done = list(pool.map(lambda c: subprocess.run(c, capture_output=True,
                                                      timeout=COMPILE_TIMEOUT), cmds))
    if any(d.returncode != 0 for d in done):
        shutil.rmtree(folder)
        return None
    (folder / "stamp").write_text(stamp)
    return folder


PCH_VARIANTS = {"plain": [], "winnt0600": ["-D_WIN32_WINNT=0x0600"]}


def command(ex: Exercise, src_dir: Path, out: Path, *, werror: bool,
            sanitize: bool, pch: Path | None = None) -> list[str]:
    strict = ["-Werror"] if werror else []
    sources = [str(src_dir / s) for s in ex.sources]
    if ex.kind == "windows":
        pre = ["-isystem", str(pch)] if pch else []
        return [WIN_CC, *WIN_CFLAGS, *strict, *pre, "-o", str(out), *sources, "-lws2_32"]
    san = SANITIZE if sanitize else []
    if ex.kind == "check":
        suite = str(ROOT / CHECK_SUITES[ex.name])
        return [CC, *CFLAGS, *strict, *san, f"-I{src_dir}", "-o", str(out), suite,
                *sources, *_check_flags()]
    if sanitize:
        # AddressSanitizer must be the first library loaded, so fault
        # injection cannot be preloaded: it is linked in (harness/faults.py),
        # and stays idle unless the test gives it a seed
        sources += [*faults.WRAP_FLAGS, str(faults.SOURCE)]
    return [CC, *CFLAGS, *strict, *san, f"-I{src_dir}", "-o", str(out), *sources, *ex.libs]


def _digest(cmd: list[str], files: list[Path]) -> str:
    h = hashlib.sha256("\0".join(cmd).encode())
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def build_one(ex: Exercise, src_root: Path, build_root: Path, *, werror: bool,
              sanitize: bool, cached: dict | None, pch: Path | None = None) -> BuildResult:
    src_dir = src_root / ex.chapter
    out = build_root / ex.chapter / ex.binary
    if pch is not None and not jail.reachable(pch):
        pch = None  # the jail could not read it: the real header, more slowly
    cmd = command(ex, src_dir, out, werror=werror, sanitize=sanitize, pch=pch)
    missing = [s for s in ex.sources if not (src_dir / s).is_file()]
    display = " ".join(shlex.quote(c) for c in cmd)
    if missing:
        return BuildResult(ex.key, False, cmd=display, missing=missing,
                           log="missing: " + ", ".join(missing))
    files = [src_dir / s for s in ex.sources]
    for header in src_dir.glob("*.h"):
        files.append(header)
    if ex.kind == "check":
        files.append(ROOT / CHECK_SUITES[ex.name])
    if str(faults.SOURCE) in cmd:
        files.append(faults.SOURCE)
    digest = _digest(cmd, files)
    if cached and cached.get("digest") == digest and (
            not cached.get("ok") or out.exists()):
        return BuildResult(**cached)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    ok, log = compile_jailed(cmd, files, out, src_dir, [pch] if pch else [])
    return BuildResult(ex.key, ok, str(out) if ok else "", display, log, [], digest)


def compile_jailed(cmd: list[str], files: list[Path], out: Path, src_dir: Path,
                   readable: list[Path]) -> tuple[bool, str]:
    """Run the compiler in the jail (harness/jail.py): it sees the system's
    files, read-only copies of these source files at their own paths, and a
    fresh folder at out's folder to write into, nothing else. So a student's
    `#include "../../solutions/.../answers.txt"` finds no such file, and no
    error message can quote what it would have held."""
    stage = jail.workdir("cc")
    if jail.find().mode != "bwrap":  # no view to bind into: write to the stage itself
        cmd = [str(stage / out.name) if c == str(out) else c for c in cmd]
    try:
        sealed = jail.seal(cmd, files={str(f): f for f in files}, chdir=src_dir,
                           readable=readable, bind={stage: out.parent})
        try:
            proc = subprocess.run(sealed.argv, capture_output=True, text=True,
                                  errors="replace", timeout=COMPILE_TIMEOUT,
                                  stdin=subprocess.DEVNULL, pass_fds=tuple(sealed.fds),
                                  cwd=stage)
        finally:
            sealed.close()
        made = stage / out.name
        ok = proc.returncode == 0 and made.exists()
        if ok:
            shutil.move(made, out)
            if os.geteuid() == 0:
                os.chown(out, 0, 0)  # not the jail user's to change afterwards
        return ok, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        return False, f"the compiler took more than {COMPILE_TIMEOUT} s"
    except FileNotFoundError:
        return False, f"compiler not found: {cmd[0]} (run `make deps`)"
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def build(exercises: list[Exercise], src_root: Path, build_root: Path, *,
          werror: bool = False, sanitize: bool = False,
          jobs: int | None = None, pch: Path | None = None) -> dict[str, BuildResult]:
    """Build every exercise with sources; write and return build.json.
    `pch`: a folder made by windows_pch(), for the Winsock programs."""
    build_root.mkdir(parents=True, exist_ok=True)
    index = build_root / "build.json"
    try:
        cache = json.loads(index.read_text())
    except (OSError, ValueError):
        cache = {}
    todo = [e for e in exercises if e.sources]
    with ThreadPoolExecutor(jobs or os.cpu_count() or 2) as pool:
        results = list(pool.map(
            lambda e: build_one(e, src_root, build_root, werror=werror,
                                sanitize=sanitize, cached=cache.get(e.key), pch=pch), todo))
    merged = {**cache, **{r.exercise: asdict(r) for r in results}}
    tmp = index.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=1))
    tmp.replace(index)
    return {r.exercise: r for r in results}


def load(build_root: Path) -> dict[str, BuildResult]:
    try:
        data = json.loads((build_root / "build.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: BuildResult(**v) for k, v in data.items()}


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
