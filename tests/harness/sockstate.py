"""What a program does with a connection, seen from the other end and from
/proc: whether what we sent on it has been acknowledged, how much of it the
program has not read yet, and whether the program is blocked and in which
system call. For tests that must know a client has *not* read yet, and is
waiting rather than sleeping (chapter 02's one_read_client)."""

from __future__ import annotations

import platform
import socket
import time
from pathlib import Path

from . import proctree
from .ports import POLL, connection, socket_inodes, unacked, unread_by_server
from .procs import Proc

# nanosleep() and clock_nanosleep() (sleep(), usleep() and nanosleep() end
# in one of them), as the first field of /proc/<pid>/syscall gives them:
# x86_64 from arch/x86/entry/syscalls/syscall_64.tbl, the others from the
# kernel's generic table (include/uapi/asm-generic/unistd.h)
SLEEP_SYSCALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({35, 230}),
    "aarch64": frozenset({101, 115}),
    "riscv64": frozenset({101, 115}),
}


def wait_acked(sock: socket.socket, timeout: float) -> bool:
    """Wait until the peer's kernel has acknowledged everything sent on
    `sock`: it is in the peer's receive buffer (read or not). With
    TCP_NODELAY, a piece sent after this travels in a segment of its own."""
    deadline = time.monotonic() + timeout
    while unacked(sock) > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # no event says that data was acknowledged
    return True


# bytes sent to the other end of a socket that the program there has not
# read() yet: the same reading of /proc/net/tcp as the server tests use
unread_by_peer = unread_by_server


def blocked_syscall(pid: int) -> int | None:
    """The number of the system call the process is blocked in (state S:
    asleep, waiting for something), or None if it is running, runnable or
    gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] != "S":
            return None
        first = Path(f"/proc/{pid}/syscall").read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def is_sleep(syscall: int) -> bool:
    """Whether the system call is a sleep (False where the numbers are not
    known: then a sleeping program is taken for a waiting one)."""
    return syscall in SLEEP_SYSCALLS.get(platform.machine(), frozenset())


def connected_from(proc: Proc, conn: socket.socket) -> bool:
    """Whether the other end of the accepted `conn` is a socket of `proc`
    (and not of some other program that happened to connect to the port)."""
    entry = connection(conn.getpeername()[:2], conn.getsockname()[:2])
    return entry is not None and entry.inode in socket_inodes(proctree.descendants(proc.pid))
