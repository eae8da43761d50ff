"""Fault injection: reads and writes on the program's sockets broken into
pieces and interrupted (EINTR; on UDP sockets only interrupted: a datagram
is never cut), on purpose, for the tests marked
`@pytest.mark.faults` (the tests that prove a loop is a loop).

The faults come from tests/faults/faults.c, driven by a seed:

- a plain program gets it preloaded: a read-only copy at LIB_INSIDE in the
  jail and LD_PRELOAD pointing there;
- a sanitized program (AddressSanitizer must be the first library loaded,
  so it cannot be preloaded after it) has it linked in: build.command adds
  faults.c with WRAP_FLAGS, and only the seed is passed.

Each run has a *run seed*, random unless `make check SEED=n` / `make test
SEED=n` gives it; each test's faults come from seed_for(run seed, the
test's node id), so a test sees the same faults whatever the worker or the
order it runs in, and SEED=n replays them. The library is built once per
run, by session.run_pytest, into the build folder; it is our code, so a
failure to build it is the harness's problem, and loud.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
from pathlib import Path

from .chapters import ROOT

SOURCE = ROOT / "tests" / "faults" / "faults.c"
LIB_INSIDE = "/run/workbook/faults.so"
SEED_ENV = "WORKBOOK_FAULT_SEED"
CFLAGS = ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Wpedantic",
          "-Werror", "-O2"]
# linked into a sanitized program: its calls go to __wrap_read() etc.
WRAP_FLAGS = ["-DWORKBOOK_FAULTS_WRAP",
              "-Wl,--wrap=read,--wrap=write,--wrap=recv,--wrap=send,--wrap=recvfrom,--wrap=sendto"]


class FaultsBuildError(RuntimeError):
    pass


def run_seed(given: int | str | None) -> int:
    """The run's seed: the one given (SEED=), or a fresh random one."""
    if given is None or str(given).strip() == "":
        return secrets.randbelow(999_999) + 1
    try:
        return int(str(given).strip())
    except ValueError:
        raise SystemExit(f"SEED must be a whole number, not {given!r}") from None


def seed_for(seed: int, nodeid: str) -> int:
    """The seed of one test's faults: the same for the same run seed and test."""
    h = hashlib.sha256(f"{seed}\0{nodeid}".encode()).digest()
    return int.from_bytes(h[:6], "big") or 1


def replay_line(seed: int) -> str:
    return f"fault injection: seed {seed} (replay: make check SEED={seed})"


def build_library(folder: Path) -> Path:
    """tests/faults/faults.c as a shared library in folder, built once (kept
    while the source and the command are the same)."""
    cc = os.environ.get("CC", "gcc")
    out = folder / "faults.so"
    cmd = [cc, *CFLAGS, "-fPIC", "-shared", "-o", "{out}", str(SOURCE), "-ldl"]
    digest = hashlib.sha256(("\0".join(cmd)).encode() + SOURCE.read_bytes()).hexdigest()
    stamp = folder / "faults.stamp"
    try:
        if stamp.read_text() == digest and out.is_file():
            return out
    except OSError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"faults.so.{os.getpid()}"
    real = [str(tmp) if c == "{out}" else c for c in cmd]
    try:
        done = subprocess.run(real, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FaultsBuildError(f"HARNESS PROBLEM: cannot build {SOURCE}: {exc}") from exc
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise FaultsBuildError(f"HARNESS PROBLEM: {SOURCE} does not compile:\n  $ "
                               + " ".join(real) + "\n" + done.stdout + done.stderr)
    tmp.chmod(0o644)
    tmp.replace(out)
    stamp.write_text(digest)
    return out
