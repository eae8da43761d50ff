"""Wine's server, kept alive: Wine 8's wineserver sometimes fails an
assertion in its socket code and exits, taking every Windows program of the
run with it. grade.Wine must start a new one at once, count the restart
where the plugin looks (so the test it caught runs again), and still leave
nothing behind at the end."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.chapters import ROOT

sys.path.insert(0, str(ROOT / "tests"))
import grade  # noqa: E402

MASTER = grade.BUILD / "wine"

pytestmark = pytest.mark.skipif(shutil.which("wine") is None or
                                not (MASTER / "system.reg").exists(),
                                reason="Wine is not installed or its prefix is not made yet")


def _in_prefix(prefix: Path) -> list[int]:
    mark = f"WINEPREFIX={prefix}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if mark in (entry / "environ").read_bytes() + b"\0":
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _wine_echo(wine: grade.Wine) -> subprocess.CompletedProcess:
    return subprocess.run(["wine", "cmd", "/c", "echo", "alive"], env=wine.env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def test_a_crashed_server_is_replaced(tmp_path):
    prefix = tmp_path / "wine"
    grade.copy_prefix(MASTER, prefix)
    wine = grade.Wine(needed=True, prefix=prefix)
    # a native program with the prefix in its environment (as a test's own
    # helpers may have): the restart must leave it alone
    bystander = subprocess.Popen(["sleep", "60"], env=dict(os.environ, WINEPREFIX=str(prefix)))
    with wine:
        first = wine.server
        assert first is not None and first.poll() is None
        assert (prefix / "workbook-restarts").read_text() == "0"
        os.kill(first.pid, signal.SIGKILL)  # as the failed assertion ends it
        assert wine.wait_restarts(1, 60), "the server was not restarted"
        assert (prefix / "workbook-restarts").read_text() == "1", "no restart was counted"
        assert wine.server is not first and wine.server.poll() is None
        ran = _wine_echo(wine)
        assert ran.returncode == 0 and b"alive" in ran.stdout, ran
        assert bystander.poll() is None, "the restart killed a program that is not Wine's"
    bystander.kill()
    bystander.wait()
    for pid in _in_prefix(prefix):  # SIGKILLed: wait for each to be gone
        try:
            with os.fdopen(os.pidfd_open(pid)) as pidfd:
                select.select([pidfd], [], [], 10)
        except ProcessLookupError:
            pass
    assert not _in_prefix(prefix), "processes of the prefix were left behind"
