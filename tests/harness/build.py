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


def command(ex: Exercise, src_dir: Path, out: Path, *, werror: bool,
            sanitize: bool) -> list[str]:
    strict = ["-Werror"] if werror else []
    sources = [str(src_dir / s) for s in ex.sources]
    if ex.kind == "windows":
        return [WIN_CC, *WIN_CFLAGS, *strict, "-o", str(out), *sources, "-lws2_32"]
    san = SANITIZE if sanitize else []
    if ex.kind == "check":
        suite = str(ROOT / CHECK_SUITES[ex.name])
        return [CC, *CFLAGS, *strict, *san, f"-I{src_dir}", "-o", str(out), suite,
                *sources, *_check_flags()]
    return [CC, *CFLAGS, *strict, *san, f"-I{src_dir}", "-o", str(out), *sources]


def _digest(cmd: list[str], files: list[Path]) -> str:
    h = hashlib.sha256("\0".join(cmd).encode())
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def build_one(ex: Exercise, src_root: Path, build_root: Path, *, werror: bool,
              sanitize: bool, cached: dict | None) -> BuildResult:
    src_dir = src_root / ex.chapter
    out = build_root / ex.chapter / ex.binary
    cmd = command(ex, src_dir, out, werror=werror, sanitize=sanitize)
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
    digest = _digest(cmd, files)
    if cached and cached.get("digest") == digest and (
            not cached.get("ok") or out.exists()):
        return BuildResult(**cached)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                              timeout=COMPILE_TIMEOUT, cwd=src_dir)
        ok, log = proc.returncode == 0 and out.exists(), proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        ok, log = False, f"the compiler took more than {COMPILE_TIMEOUT} s"
    except FileNotFoundError:
        ok, log = False, f"compiler not found: {cmd[0]} (run `make deps`)"
    return BuildResult(ex.key, ok, str(out) if ok else "", display, log, [], digest)


def build(exercises: list[Exercise], src_root: Path, build_root: Path, *,
          werror: bool = False, sanitize: bool = False,
          jobs: int | None = None) -> dict[str, BuildResult]:
    """Build every exercise with sources; write and return build.json."""
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
                                sanitize=sanitize, cached=cache.get(e.key)), todo))
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
