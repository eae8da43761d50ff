"""Hostile submissions that go after what they must not reach: the answer
keys, the harness, other students, the grader's processes, the machine's
shared resources. Each runs in the jail exactly as a test runs a student's
program (test_sandbox.Run); each is given the real targets' paths, so that
only the jail stands between it and them, and must come out having reached
none of them, yet still able to do its job (it serves `Hello World!`)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import build as buildmod
from harness import jail
from harness.chapters import ROOT, find
from harness.ports import wait_listening

from test_sandbox import Run, _connect  # noqa: E402  (selftest/ is on sys.path)

KEY = ROOT / "solutions" / "01_hello" / "answers.txt"

pytestmark = pytest.mark.skipif(jail.find().mode != "bwrap",
                                reason=f"no namespaces here: {jail.find().why}")


def _serves(run: Run) -> str:
    """It still works as a hello server; what it said on stderr."""
    wait_listening(run.proc, run.port, 15)
    with _connect(run.port, timeout=15) as sock:
        got = b""
        while chunk := sock.recv(100):
            got += chunk
    assert got == b"Hello World!", got
    assert run.proc.wait_exit(15) == 0, run.proc.stderr_text()
    return run.proc.stdout_text() + run.proc.stderr_text()


def _key_lines() -> list[str]:
    return [ln.split(":", 1)[1].strip() for ln in KEY.read_text().splitlines()
            if re.match(r"q\d+\s*:", ln) and len(ln.split(":", 1)[1].strip()) > 2]


def _open_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)  # writable by anyone: only the jail keeps it out of reach
    return path


def test_hostile_cannot_read_the_key_through_proc(tmp_path):
    run = Run(tmp_path, "reads-key-via-proc", env={"WORKBOOK_HOSTILE_KEY": str(KEY)})
    try:
        said = _serves(run)
    finally:
        run.close()
    assert "HOSTILE: found no key" in said, said
    for line in _key_lines():
        assert line not in said, "the key leaked"


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_hostile_include_of_a_key_finds_nothing(tmp_path, how):
    """`#include "../../../solutions/01_hello/answers.txt"`: the compiler in
    the jail sees no such file, so its errors quote nothing. The same
    compile outside the jail quotes the secret (the attack is real)."""
    secret = f"q1: secret-{secrets.token_hex(6)}"
    (tmp_path / "solutions" / "01_hello").mkdir(parents=True)
    key = tmp_path / "solutions" / "01_hello" / "answers.txt"
    key.write_text(secret + "\n")
    src = tmp_path / "student" / "chapters" / "01_hello"
    src.mkdir(parents=True)
    name = "hello_server--includes-key-" + how + (".c.in" if how == "absolute" else ".c")
    (src / "hello_server.c").write_text(
        (ROOT / "tests" / "hostile" / "01_hello" / name).read_text().replace("@KEY@", str(key)))
    ex = find("01_hello", "hello_server")
    out = tmp_path / "build"
    built = buildmod.build([ex], src.parent, out)[ex.key]
    assert not built.ok
    assert secret.split(": ")[1] not in built.log, "the compiler quoted the key"
    assert "No such file" in built.log, built.log
    bare = subprocess.run(buildmod.command(ex, src, out / "bare", werror=False, sanitize=False),
                          capture_output=True, text=True, cwd=src, timeout=60)
    assert secret.split(": ")[1] in bare.stdout + bare.stderr, "the attack did not work at all"


def test_hostile_cannot_write_into_the_harness(tmp_path, tmp_path_factory):
    target = _open_dir(tmp_path_factory.mktemp("harness"))
    run = Run(tmp_path, "writes-into-harness", env={"WORKBOOK_HOSTILE_TARGET": str(target)})
    try:
        _serves(run)
    finally:
        run.close()
    assert list(target.iterdir()) == []
    assert not (ROOT / "tests" / "harness" / "pwned-by-hostile").exists()


def test_hostile_cannot_rewrite_another_students_files(tmp_path, tmp_path_factory):
    other = _open_dir(tmp_path_factory.mktemp("other-student") / "01_hello")
    victim = other / "hello_server.c"
    victim.write_text("/* another student's work */\n")
    victim.chmod(0o666)
    run = Run(tmp_path, "rewrites-other-student",
              env={"WORKBOOK_HOSTILE_VICTIM": str(victim)})
    try:
        _serves(run)
    finally:
        run.close()
    assert victim.read_text() == "/* another student's work */\n"


def test_hostile_cannot_signal_anything_outside_its_jail(tmp_path):
    # a bystander of the jail's own user: without the PID namespace, the
    # hostile program could kill it (and, as root, anything)
    bystander = subprocess.Popen([*jail.find().drop, "sleep", "60"])
    try:
        run = Run(tmp_path, "kills-everyone",
                  env={"WORKBOOK_HOSTILE_BYSTANDER": str(bystander.pid)})
        try:
            said = _serves(run)
            # (asked before run.close(), which reaps every child of ours left)
            assert bystander.poll() is None, "the bystander was killed"
        finally:
            run.close()
        assert "killed bystander" not in said
    finally:
        bystander.kill()
        bystander.wait()


def test_hostile_file_descriptors_are_bounded(tmp_path):
    run = Run(tmp_path, "exhausts-fds")
    try:
        said = _serves(run)
    finally:
        run.close()
    counts = [int(n) for n in re.findall(r"opened (\d+) sockets", said)]
    assert counts and max(counts) <= run.group.limits.open_files, said


def test_hostile_cannot_fill_the_machines_tmp_or_shm(tmp_path):
    before = {d: set(os.listdir(d)) for d in ("/tmp", "/dev/shm") if os.path.isdir(d)}
    run = Run(tmp_path, "fills-tmp", limit=30)
    try:
        said = _serves(run)
    finally:
        run.close()
    for folder, names in before.items():
        new = [n for n in set(os.listdir(folder)) - names if n.startswith("hostile-fill")]
        assert new == [], f"it left {new} in {folder}"
    wrote = [int(n) for n in re.findall(r"wrote (\d+) MiB", said)]
    assert wrote and max(wrote) <= jail.TMP_SIZE >> 20, said


def test_hostile_symlinks_lead_nowhere_outside(tmp_path, tmp_path_factory):
    target = _open_dir(tmp_path_factory.mktemp("outside"))
    run = Run(tmp_path, "symlink-escape", env={"WORKBOOK_HOSTILE_TARGET": str(target)})
    try:
        _serves(run)
    finally:
        run.close()
    assert list(target.iterdir()) == []
    for path in (Path("/pwned-by-symlink"), Path("/tmp/pwned-by-symlink"),
                 tmp_path / "pwned-by-symlink", tmp_path.parent / "pwned-by-symlink"):
        assert not path.exists(), f"it wrote {path}"
    shutil.rmtree(run.cwd, ignore_errors=True)
