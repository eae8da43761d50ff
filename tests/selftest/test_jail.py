"""The jail (harness/jail.py) and the set-up step (harness/deps.py): what a
jailed program sees, who it is, how it is signalled and how its end is
read; when grading refuses to start; what `make check`/`make test` do about
missing packages, as root and as anyone else."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from harness import deps, jail
from harness.procs import ProcessGroup

bwrap_only = pytest.mark.skipif(jail.find().mode != "bwrap",
                                reason=f"no namespaces here: {jail.find().why}")


def _jailed(argv: list[str], **kwargs):
    group = ProcessGroup(cwd=jail.workdir("t"))
    proc = group.start(argv, jail={}, **kwargs)
    return group, proc


@bwrap_only
def test_a_jailed_program_sees_only_the_system_and_its_folder():
    group, proc = _jailed(["/bin/sh", "-c", "ls -a /; id -u; ls /proc | grep -c '^[0-9]'; pwd"])
    try:
        assert proc.wait_exit(20) == 0, proc.stderr_text()
        lines = proc.stdout_text().split()
    finally:
        group.close()
    top = set(lines[: lines.index(str(jail.find().uid))])
    assert top <= {".", "..", "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
                   "proc", "dev", "tmp", str(jail.area()).split("/")[1]}, top
    assert "work" not in top and "root" not in top and "home" not in top
    uid, processes, cwd = lines[-3:]
    assert int(uid) == jail.find().uid
    assert int(processes) <= 4, "it sees processes that are not its own"  # init, sh, ls, grep
    assert cwd == str(group.cwd)


@bwrap_only
def test_a_signal_reaches_the_program_and_its_end_is_read_as_without_a_jail():
    group, proc = _jailed(["/bin/sh", "-c", "echo ready; exec sleep 30"])
    try:
        proc.wait_output("ready", 20)
        inner = proc.program_pid()
        assert inner is not None and inner != proc.pid  # not bwrap itself
        proc.signal(signal.SIGTERM)
        assert proc.wait_exit(20) == -signal.SIGTERM
    finally:
        group.close()
    group, proc = _jailed(["/bin/sh", "-c", "exit 3"])
    try:
        assert proc.wait_exit(20) == 3
    finally:
        group.close()


def test_bwraps_exit_codes_read_back():
    assert jail.exit_status(128 + 13, True) == -13   # SIGPIPE
    assert jail.exit_status(1, True) == 1
    assert jail.exit_status(-9, True) == -9          # bwrap itself killed
    assert jail.exit_status(141, False) == 141       # not in a jail: as it is


def test_root_without_namespaces_refuses_unless_asked(monkeypatch):
    weak = jail.Jail("user", "the kernel refused bwrap: Operation not permitted",
                     ("setpriv", "--"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv(jail.ALLOW_ENV, raising=False)
    said = jail.refusal(weak)
    assert said and "Operation not permitted" in said and jail.ALLOW_ENV in said
    monkeypatch.setenv(jail.ALLOW_ENV, "1")
    assert jail.refusal(weak) is None
    monkeypatch.delenv(jail.ALLOW_ENV)
    assert jail.refusal(jail.Jail("bwrap")) is None
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert jail.refusal(weak) is None  # a student's own code on their own machine


def _missing_bwrap(monkeypatch) -> None:
    need = next(n for n in deps.NEEDS if n.packages == ("bubblewrap",))
    monkeypatch.setattr(deps, "NEEDS", tuple(
        n if n is not need else deps.Need(n.what, n.packages, lambda: False, n.wanted)
        for n in deps.NEEDS))


def _fake_apt(monkeypatch) -> list[list[str]]:
    """apt-get is recorded, not run; every other command runs."""
    ran: list[list[str]] = []
    real = subprocess.run

    def run(cmd, *args, **kwargs):
        if cmd[0] == "apt-get":
            ran.append(cmd)
            return subprocess.CompletedProcess(cmd, 0)
        return real(cmd, *args, **kwargs)
    monkeypatch.setattr(subprocess, "run", run)
    return ran


def test_set_up_as_a_normal_user_prints_the_one_sudo_command(monkeypatch):
    _missing_bwrap(monkeypatch)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    ran = _fake_apt(monkeypatch)
    said = deps.ensure([], "check")
    assert said and "bubblewrap" in said and ran == []
    assert said.count("sudo ") == 1 and "apt-get update && " in said


def test_set_up_as_root_installs_what_is_missing(monkeypatch, capsys):
    _missing_bwrap(monkeypatch)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    ran = _fake_apt(monkeypatch)
    monkeypatch.setattr(deps, "reexec_if_needed", lambda: None)
    said = deps.ensure([], "check")
    assert ran[0] == ["apt-get", "update"]
    assert ran[1][:3] == ["apt-get", "install", "-y"] and "bubblewrap" in ran[1]
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "Installing" in out and "bubblewrap" in out
    assert said and "bubblewrap" in said  # (the fake install installed nothing)


def test_compiler_in_the_jail_cannot_include_what_is_outside(tmp_path):
    if jail.find().mode != "bwrap":
        pytest.skip(jail.find().why)
    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-line\n")
    src = tmp_path / "x.c"
    src.write_text(f'#include "{secret}"\nint main(void) {{ return 0; }}\n')
    from harness.build import compile_jailed
    out = tmp_path / "out" / "x"
    out.parent.mkdir()
    ok, log = compile_jailed(["gcc", "-o", str(out), str(src)], [src], out, tmp_path, [])
    assert not ok and "the-secret-line" not in log and "No such file" in log
    ok, log = compile_jailed(["gcc", "-o", str(out), str(src)], [src, secret], out, tmp_path, [])
    assert "the-secret-line" in log  # given to it, it is seen: the test can fail
    assert Path(out).exists() is False


def test_the_wine_prefix_is_where_the_jail_can_reach_it(monkeypatch):
    from harness import paths
    monkeypatch.delenv("WORKBOOK_WINE", raising=False)
    top = jail.workdir("prefix")   # in the jail's area: reachable
    top.chmod(0o755)
    open_build = top / "open" / "build"
    open_build.parent.mkdir()
    monkeypatch.setenv("WORKBOOK_BUILD", str(open_build))
    assert jail.reachable(open_build)
    assert paths.wine_prefix() == open_build / "wine"
    if not jail.find().drop:
        return  # not root: the jail runs as the user, who reaches their own files
    private = top / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("WORKBOOK_BUILD", str(private / "build"))
    prefix = paths.wine_prefix()
    assert prefix.parent == Path("/var/tmp") and jail.reachable(prefix)
