"""The sandbox: each hostile submission of tests/hostile/ is run the way a
test runs a student's program (ProcessGroup, plain native limits, its own
working folder), and the harness must come out of it with a clear failure,
no process left, and nothing written outside that folder."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import sandbox
from harness.build import CFLAGS
from harness.chapters import ROOT
from harness.feedback import describe_exit
from harness.ports import free_port, wait_listening
from harness.procs import CAP, ProcessGroup, ProgramExited, WaitTimeout, reap_orphans

HOSTILE = ROOT / "tests" / "hostile" / "01_hello"
PLAIN = sandbox.Limits(address_space=sandbox.PLAIN_ADDRESS_SPACE)


class Run:
    """One hostile program, started as a test starts a student's server."""

    def __init__(self, tmp: Path, case: str, limit: float = 20.0,
                 env: dict[str, str] | None = None) -> None:
        self.binary = tmp / case
        cc = subprocess.run(["gcc", *CFLAGS, "-o", str(self.binary),
                             str(HOSTILE / f"hello_server--{case}.c")],
                            capture_output=True, text=True, timeout=60)
        assert cc.returncode == 0, cc.stderr
        self.cwd = tmp / "cwd"
        self.cwd.mkdir()
        self.mark = f"WORKBOOK_HOSTILE={secrets.token_hex(8)}"
        env = dict(os.environ, WORKBOOK_HOSTILE=self.mark.split("=", 1)[1], **(env or {}))
        self.group = ProcessGroup(env=env, cwd=self.cwd)
        self.port = free_port()
        self.proc = self.group.start([str(self.binary), str(self.port)], limits=PLAIN,
                                     limit=limit, label=case,
                                     jail={"files": {str(self.binary): self.binary}})

    def alive(self) -> list[int]:
        """Processes (not zombies) that carry this run's mark."""
        found = []
        needle = self.mark.encode() + b"\0"
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "environ").read_bytes() + b"\0":
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    def close(self) -> list[str]:
        cage = self.group.cage
        self.group.close()
        assert self.alive() == [], "a hostile process outlived its test"
        assert reap_orphans() == 0
        if cage is not None:
            assert all(not d.exists() for d in cage.dirs.values()), "its cgroup remains"
        # it wrote nothing next to its working folder
        assert sorted(p.name for p in self.cwd.parent.iterdir()) == sorted(
            [self.binary.name, "cwd"])
        return self.group.events


def _connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _silent(sock: socket.socket, wait: float = 0.3) -> bool:
    """Nothing arrives within `wait` seconds (and the connection stays open)."""
    sock.settimeout(wait)
    try:
        sock.recv(100)  # data, or the end of the stream: not silent
    except socket.timeout:
        return True
    return False


def test_sandbox_infinite_loop_is_stopped_by_the_time_limit(tmp_path):
    run = Run(tmp_path, "infinite-loop", limit=1.5)
    try:
        wait_listening(run.proc, run.port, 5)
        with _connect(run.port) as sock:
            assert _silent(sock)
        assert run.proc.wait_exit(10) == -signal.SIGKILL and run.proc.timed_out
        assert "time limit" in describe_exit(run.proc)
    finally:
        run.close()


@pytest.mark.parametrize("case", ["never-accepts", "accepts-never-reads"])
def test_sandbox_server_that_never_answers(tmp_path, case):
    run = Run(tmp_path, case)
    try:
        wait_listening(run.proc, run.port, 5)
        with _connect(run.port) as sock:
            sock.sendall(b"hello?")
            assert _silent(sock)
        assert run.proc.running()
    finally:
        run.close()


def test_sandbox_fork_bomb_is_contained(tmp_path):
    if not sandbox.cgroups().usable:
        pytest.skip(f"no pids limit here: {sandbox.cgroups().why}")
    run = Run(tmp_path, "fork-bomb")
    try:
        wait_listening(run.proc, run.port, 5)
        cage = run.group.cage
        assert cage is not None
        deadline = time.monotonic() + 10
        while not cage.events() and time.monotonic() < deadline:
            time.sleep(0.01)  # the kernel counts refused forks in a file: no event
        assert cage.events(), "the bomb never reached the limit"
        assert len(cage.pids()) <= PLAIN.pids
    finally:
        events = run.close()
    assert any("process limit" in e for e in events)


def test_sandbox_daemon_that_escapes_the_process_group_is_killed(tmp_path):
    run = Run(tmp_path, "daemonizes")
    try:
        wait_listening(run.proc, run.port, 5)
        assert run.proc.popen.wait(5) == 0  # (its pipes stay open: the daemon has them)
        with _connect(run.port) as sock:
            assert sock.recv(100) == b"Hello World!"
        daemons = run.alive()
        assert daemons, "the daemon should still be running here"
        # it left the process group and the session of the program
        assert all(os.getsid(p) != run.proc.pid for p in daemons)
    finally:
        run.close()


def test_sandbox_stdout_flood_is_capped(tmp_path):
    run = Run(tmp_path, "stdout-flood", limit=60)
    try:
        wait_listening(run.proc, run.port, 5)
        with _connect(run.port, timeout=60) as sock:
            assert sock.recv(100) == b"Hello World!"
        assert run.proc.wait_exit(60) == 0
        assert len(run.proc.stdout) == CAP
        assert run.proc.output_dropped() == (1 << 30) - CAP
    finally:
        run.close()


def test_sandbox_huge_file_is_cut_at_the_file_size_limit(tmp_path):
    run = Run(tmp_path, "huge-file")
    try:
        assert run.proc.wait_exit(20) == -signal.SIGXFSZ
        assert "SIGXFSZ" in describe_exit(run.proc)
        assert [p.name for p in run.cwd.iterdir()] == ["huge.bin"]
        assert (run.cwd / "huge.bin").stat().st_size == PLAIN.file_size
    finally:
        run.close()


def test_sandbox_memory_hog_is_stopped(tmp_path):
    run = Run(tmp_path, "memory-hog")
    try:
        rc = run.proc.wait_exit(30)
        # the cgroup's memory limit kills it (SIGKILL); without a memory
        # cgroup, RLIMIT_AS makes malloc fail and it aborts
        assert rc in (-signal.SIGKILL, -signal.SIGABRT) and not run.proc.timed_out, rc
    finally:
        events = run.close()
    if "memory" in sandbox.cgroups().parents:
        assert any("memory limit" in e for e in events), events


@pytest.mark.parametrize("case,sig", [("crash", signal.SIGSEGV), ("abort", signal.SIGABRT)])
def test_sandbox_crash_is_reported(tmp_path, case, sig):
    run = Run(tmp_path, case)
    try:
        wait_listening(run.proc, run.port, 5)
        with _connect(run.port) as sock:
            sock.settimeout(5)
            try:
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
        assert run.proc.wait_exit(5) == -sig
        assert sig.name in describe_exit(run.proc)
        assert run.cwd.exists() and list(run.cwd.iterdir()) == []  # no core file
    finally:
        run.close()


def test_sandbox_program_that_ignores_sigterm_is_killed(tmp_path):
    run = Run(tmp_path, "ignores-sigterm")
    try:
        wait_listening(run.proc, run.port, 5)
        with _connect(run.port) as sock:
            assert sock.recv(100) == b"Hello World!"
        run.proc.signal(signal.SIGTERM)
        assert run.proc.wait_exit(0.3) is None  # it ignored it
    finally:
        run.close()
    assert run.proc.returncode == -signal.SIGKILL


def test_sandbox_server_on_the_wrong_port_is_named(tmp_path):
    run = Run(tmp_path, "wrong-port")
    try:
        with pytest.raises(WaitTimeout, match=f"listening on port {run.port + 1} instead"):
            wait_listening(run.proc, run.port, 1)
    except ProgramExited:
        pass  # port + 1 was taken by someone else: it exits with bind's message
    finally:
        run.close()


def test_sandbox_cage_limits_are_written(tmp_path):
    cg = sandbox.cgroups()
    if not cg.usable:
        pytest.skip(f"no cgroups here: {cg.why}")
    group = ProcessGroup(cwd=tmp_path)
    try:
        proc = group.start(["sh", "-c", "cat /proc/self/cgroup; sleep 30"], limit=10)
        proc.wait_output(r"pids:", 5)
        cage = group.cage
        assert cage is not None and proc.pid in cage.pids()
        assert (cage.dirs["pids"] / "pids.max").read_text().strip() == str(group.limits.pids)
    finally:
        group.close()
    assert all(not d.exists() for d in cage.dirs.values())
