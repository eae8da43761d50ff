"""Fault injection (tests/faults/faults.c, harness/faults.py): socket reads
and writes broken into pieces and interrupted, the same way for the same
seed, never on other descriptors, never without a seed; a test that fails
under it says the seed, and `make check SEED=` takes it back."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness import faults
from harness.chapters import ROOT

# writes 12 x 100 bytes into a socketpair, then reads them all back, and
# prints what each call returned; and writes one line to stdout (a pipe)
PROBE = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    int sv[2]; char buf[100]; long total = 0, got = 0;
    memset(buf, 'x', sizeof buf);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) return 2;
    for (int i = 0; i < 12; i++) {
        ssize_t n = write(sv[0], buf, sizeof buf);
        printf("w%zd%s ", n, n == -1 && errno == EINTR ? "EINTR" : "");
        if (n > 0) total += n;
    }
    while (got < total) {
        ssize_t n = read(sv[1], buf, sizeof buf);
        printf("r%zd%s ", n, n == -1 && errno == EINTR ? "EINTR" : "");
        if (n > 0) got += n;
    }
    fflush(stdout);
    return write(1, "\nstdout whole\n", 14) == 14 ? 0 : 3;
}
"""


def _probe(tmp_path: Path) -> tuple[Path, Path]:
    lib = faults.build_library(tmp_path / "lib")
    src = tmp_path / "probe.c"
    src.write_text(PROBE)
    exe = tmp_path / "probe"
    subprocess.run(["gcc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-o", str(exe), str(src)],
                   check=True, timeout=60)
    return lib, exe


def _run(lib: Path, exe: Path, seed: str | None) -> str:
    env = dict(os.environ, LD_PRELOAD=str(lib))
    env.pop(faults.SEED_ENV, None)
    if seed is not None:
        env[faults.SEED_ENV] = seed
    return subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=30,
                          check=True).stdout


def test_faults_are_certain_at_first_and_the_same_for_the_same_seed(tmp_path):
    lib, exe = _probe(tmp_path)
    plain = _run(lib, exe, None)
    assert plain.split("\n")[0].split() == ["w100"] * 12 + ["r100"] * 12  # no seed: none
    one, again, other = _run(lib, exe, "1"), _run(lib, exe, "1"), _run(lib, exe, "2")
    assert one == again, "the same seed must give the same faults"
    assert one != other
    for text in (one, other):
        calls = text.split("\n")[0].split()
        writes = [c for c in calls if c.startswith("w")]
        reads = [c for c in calls if c.startswith("r")]
        # the first write and the first read are interrupted, the next ones short
        assert writes[0] == "w-1EINTR" and 0 < int(writes[1][1:]) < 100, writes
        assert reads[0] == "r-1EINTR" and 0 < int(reads[1][1:]) < 100, reads
        assert "stdout whole" in text  # stdout (not a socket) is never touched


def test_seed_for_depends_on_the_run_seed_and_the_test_only():
    a = faults.seed_for(4242, "chapters/test_x.py::test_y[student:01_hello]")
    assert a == faults.seed_for(4242, "chapters/test_x.py::test_y[student:01_hello]")
    assert a != faults.seed_for(4243, "chapters/test_x.py::test_y[student:01_hello]")
    assert a != faults.seed_for(4242, "chapters/test_x.py::test_z[student:01_hello]")


def test_a_failure_under_faults_says_the_seed_that_replays_it(tmp_path):
    """The textbook's `while ((n = read(...)) != 0) write(...)` echo server,
    graded by make check with SEED=4242: it fails, and says so with the seed."""
    chapters = tmp_path / "chapters"
    shutil.copytree(ROOT / "solutions" / "04_iterative_echo", chapters / "04_iterative_echo")
    subprocess.run(["patch", "-s", "-p1", "-d", str(chapters / "04_iterative_echo"), "-i",
                    str(ROOT / "tests" / "mutants" / "04_iterative_echo" /
                        "echo_server--not-zero-loop.patch")], check=True)
    env = dict(os.environ, WORKBOOK_BUILD=str(tmp_path / "build"))
    subprocess.run([sys.executable, str(ROOT / "tests" / "grade.py"), "check", "--src",
                    str(chapters), "--chapter", "04_iterative_echo", "--jobs", "2",
                    "--seed", "4242"], env=env, cwd=ROOT, capture_output=True, timeout=300)
    results = json.loads((tmp_path / "build" / "student" / "results.json").read_text())
    echoes = [t for t in results["tests"] if t.get("test") == "test_echo_server_echoes"
              and t.get("exercise") == "04_iterative_echo/echo_server"]
    assert echoes and echoes[0]["outcome"] == "failed"
    assert re.search(r"fault injection: seed 4242 \(replay: make check SEED=4242\)",
                     echoes[0]["message"]), echoes[0]["message"][-500:]
