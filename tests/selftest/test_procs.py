"""Process control: time limits, capped output, nothing left behind."""

import os
import socket
import sys
import time

from harness.ports import free_port, wait_listening
from harness.procs import CAP, ProcessGroup, reap_orphans


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_flood_is_capped_and_does_not_block():
    group = ProcessGroup()
    try:
        proc = group.start(["sh", "-c", "head -c 20000000 /dev/zero; echo done >&2"], limit=20)
        assert proc.wait_exit(20) == 0  # never blocked on a full pipe
        assert len(proc.stdout) == CAP and proc.output_dropped() == 20000000 - CAP
        assert "done" in proc.stderr_text()
    finally:
        group.close()


def test_time_limit_kills_a_program_that_ignores_sigterm():
    group = ProcessGroup()
    try:
        proc = group.start(["sh", "-c", "trap '' TERM; while :; do :; done"], limit=0.5)
        assert proc.wait_exit(10) is not None and proc.timed_out
    finally:
        group.close()


def test_daemonized_grandchild_is_killed_when_the_test_ends():
    # double fork and setsid: the grandchild leaves the process group; it
    # prints its pid on the stdout it inherited, which the harness reads
    script = ("import os,time\nif os.fork()==0:\n os.setsid()\n if os.fork()==0:\n"
              "  print(os.getpid(), flush=True)\n  time.sleep(60)\n os._exit(0)\nos.wait()\n")
    group = ProcessGroup()
    proc = group.start([sys.executable, "-c", script], limit=20)
    pid = int(proc.wait_output(r"^(\d+)$", 10).group(1))
    assert _alive(pid)
    group.close()
    assert not _alive(pid)


def test_wait_listening_does_not_use_up_accept():
    port = free_port()
    server = ("import socket\ns=socket.socket(); s.bind(('127.0.0.1', %d)); s.listen(1)\n"
              "c,_=s.accept(); c.sendall(b'first'); c.close()\n" % port)
    group = ProcessGroup()
    try:
        proc = group.start([sys.executable, "-c", server], limit=20)
        wait_listening(proc, port, 10)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            assert sock.recv(10) == b"first"  # we are its first and only client
    finally:
        group.close()
    assert reap_orphans() == 0
