"""Wine in the jail: each Windows program has a wineserver of its own, so
when Wine 8's server fails its assertion and exits, only that program dies;
another program running at the same time goes on, and nothing of either is
left when the test ends. The plugin runs again a test whose program's stderr
shows that crash (jail.wine_crashed)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from harness import jail, paths
from harness.build import WIN_CC, WIN_CFLAGS
from harness.chapters import ROOT
from harness.ports import free_port, wait_listening
from harness.procs import ProcessGroup

MASTER = paths.wine_prefix()

pytestmark = pytest.mark.skipif(
    shutil.which("wine") is None or shutil.which(WIN_CC) is None
    or not (MASTER / "system.reg").exists() or jail.find().mode != "bwrap",
    reason="Wine, mingw-w64, its prefix or bubblewrap's namespaces are missing")

# what Wine 8 printed when its server crashed in a class's grading
CRASH = ("wineserver: server/sock.c:1460: sock_get_poll_events: Assertion "
         "`!async_queued( &sock->read_q )' failed.\n")


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        here = todo.pop()
        try:
            kids = Path(f"/proc/{here}/task/{here}/children").read_text().split()
        except OSError:
            continue
        for kid in map(int, kids):
            out.append(kid)
            todo.append(kid)
    return out


def _exe(pid: int) -> str:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def _echo(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(4096):
            got += chunk
        return got


def test_wine_crash_is_recognised():
    assert jail.wine_crashed("Connected client 1\n" + CRASH)
    assert not jail.wine_crashed("Usage: echo_server_win <port>\n")
    assert not jail.wine_crashed("bind: Address already in use\n")


def test_a_crashed_server_takes_down_only_its_own_program(tmp_path):
    exe = tmp_path / "echo_server_win.exe"
    cc = subprocess.run([WIN_CC, *WIN_CFLAGS, "-o", str(exe),
                         str(ROOT / "solutions" / "04_windows_echo" / "echo_server_win.c"),
                         "-lws2_32"], capture_output=True, text=True, timeout=120)
    assert cc.returncode == 0, cc.stderr
    env = dict(os.environ, WINEDEBUG="-all", WINEPREFIX=str(MASTER))
    groups, procs, ports = [], [], []
    for name in ("a", "b"):
        cwd = Path(jail.workdir(name))
        group = ProcessGroup(env=env, cwd=cwd)
        port = free_port()
        procs.append(group.start(["wine", str(exe), str(port)], label=name, limit=60,
                                 jail={"files": {str(exe): exe}, "wine": MASTER}))
        groups.append(group)
        ports.append(port)
    try:
        for proc, port in zip(procs, ports):
            wait_listening(proc, port, 60)
        servers = {i: [p for p in _descendants(proc.pid) if _exe(p).startswith("wineserver")]
                   for i, proc in enumerate(procs)}
        assert all(len(s) == 1 for s in servers.values()), \
            f"each program should have a wineserver of its own: {servers}"
        assert servers[0] != servers[1]
        os.kill(servers[0][0], signal.SIGKILL)  # as the failed assertion ends it
        # (its program now waits forever on a server that is gone: the test
        # that started it fails, sees the crash on its stderr, runs again)
        assert _echo(ports[1], b"still here") == b"still here", \
            "the other program died with a server that was not its own"
    finally:
        pids = [p for proc in procs for p in [proc.pid, *_descendants(proc.pid)]]
        for group in groups:
            group.close()
    left = [p for p in pids if Path(f"/proc/{p}").exists()
            and not Path(f"/proc/{p}/stat").read_text().split(") ")[-1].startswith("Z")]
    assert left == [], f"processes of the jails were left behind: {left}"


def test_a_test_runs_again_while_wines_server_keeps_crashing():
    from harness.plugin import WINE_CRASH_ATTEMPTS, wine_rerun
    # every attempt saw a crash: again, up to WINE_CRASH_ATTEMPTS runs in all
    runs = 1
    while wine_rerun(runs, crashed=True, hung=True, hung_retried=runs > 1):
        runs += 1
    assert runs == WINE_CRASH_ATTEMPTS == 5
    # a program that hangs without a crash: one more run, not more
    assert wine_rerun(1, crashed=False, hung=True, hung_retried=False)
    assert wine_rerun(2, crashed=False, hung=True, hung_retried=True) is None
    # a crash after a hang still counts
    assert wine_rerun(2, crashed=True, hung=False, hung_retried=True)
    # an ordinary failure: no second run
    assert wine_rerun(1, crashed=False, hung=False, hung_retried=False) is None
