"""Ports for tests, and what the kernel says about the sockets on them.

Ports come from 20000-32767, below Linux's ephemeral range (32768-60999), so
they never collide with the ports the kernel gives to connect(). Each test
process takes a block of that range of its own: the pytest-xdist workers of
one run split the whole range into as many blocks as there are workers
(xdist says how many), so no two of them ever hand out the same port
whatever their number; outside xdist the pid picks one of the 256-port
blocks. Every port is also checked by binding it (without SO_REUSEADDR, so
a port with a connection in TIME_WAIT is skipped too), which covers two
runs at once.

Whether a server is listening is read from /proc/net/tcp rather than found
out with a probe connect(): a probe would use up the one accept() of a
server that serves a single client.
"""

from __future__ import annotations

import os
import platform
import random
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import proctree
from .procs import EXIT_GRACE, Proc, ProgramExited, WaitTimeout

LOW, HIGH = 20000, 32767
SPAN = HIGH - LOW + 1
BLOCK = 256        # ports of a test process outside xdist
MIN_BLOCK = 16     # fewer ports than this per worker: too many workers for the range
_next: dict[range, int] = {}

LISTEN = 0x0A
POLL = 0.005  # seconds between looks at /proc while waiting


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _xdist_worker() -> tuple[int, int | None] | None:
    """(index, worker count) of this pytest-xdist worker (PYTEST_XDIST_WORKER
    is gw<index>; the count is None if xdist did not say it), None outside
    xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not (worker.startswith("gw") and worker[2:].isdigit()):
        return None
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    return int(worker[2:]), int(count) if count.isdigit() and int(count) > 0 else None


def _run_offset() -> int:
    """A number that differs from one xdist run to the next, so that two runs
    at once are unlikely to start on the same blocks."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    try:
        return int(run[:8], 16)
    except ValueError:
        return 0


def worker_ports() -> range:
    """This test process's own ports.

    An xdist worker gets 1/count of the range, its block chosen by its
    index (turned by the run's id): a permutation of the blocks, so the
    workers of one run never share a port. Without a worker count (an
    old xdist does not set it) the worker index picks a 256-port block, which
    is right up to SPAN // BLOCK workers. Outside xdist the pid picks one.
    """
    worker = _xdist_worker()
    if worker is None:
        return _nth_block(os.getpid() % (SPAN // BLOCK), BLOCK)
    index, count = worker
    if count is None or index >= count:
        return _nth_block(index % (SPAN // BLOCK), BLOCK)
    size = SPAN // count
    if size < MIN_BLOCK:
        raise RuntimeError(f"{count} test workers leave {size} ports each in "
                           f"{LOW}-{HIGH}; run with at most {SPAN // MIN_BLOCK} workers")
    return _nth_block((_run_offset() + index) % count, size)


def _nth_block(n: int, size: int) -> range:
    return range(LOW + n * size, LOW + (n + 1) * size)


def free_port() -> int:
    """A port that nothing uses now, unique within this test run."""
    block = worker_ports()
    # each process starts at a random place in its block: runs at once (two
    # people's `make test` on one machine) would otherwise all start at the
    # same ports, and the bind check below cannot stop a port being taken
    # between its check and the program's bind()
    offset = _next.get(block)
    if offset is None:
        offset = random.randrange(len(block))
    for _ in range(len(block)):
        port = block[offset % len(block)]
        offset += 1
        if _port_is_free(port):
            _next[block] = offset
            return port
    _next[block] = offset
    raise RuntimeError(f"no free port in {block.start}-{block.stop - 1}")


@dataclass(frozen=True)
class TcpEntry:
    local: tuple[str, int]
    remote: tuple[str, int]
    state: int
    tx_queue: int
    rx_queue: int
    inode: int


def _decode(addr: str) -> tuple[str, int]:
    host, port = addr.split(":")
    if len(host) == 8:
        ip = socket.inet_ntop(socket.AF_INET, bytes.fromhex(host)[::-1])
    else:  # IPv6: four little-endian 32-bit words
        raw = b"".join(bytes.fromhex(host[i:i + 8])[::-1] for i in range(0, 32, 8))
        ip = socket.inet_ntop(socket.AF_INET6, raw)
        if ip.startswith("::ffff:"):
            ip = ip[7:]
    return ip, int(port, 16)


def tcp_table() -> list[TcpEntry]:
    """Every TCP socket in this network namespace (IPv4 and IPv6)."""
    entries = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            tx, rx = f[4].split(":")
            entries.append(TcpEntry(_decode(f[1]), _decode(f[2]), int(f[3], 16),
                                    int(tx, 16), int(rx, 16), int(f[9])))
    return entries


def listening_ports() -> set[int]:
    return {e.local[1] for e in tcp_table() if e.state == LISTEN}


def socket_inodes(pids: list[int]) -> set[int]:
    """The inodes of the sockets these processes hold."""
    inodes = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            links = [os.readlink(p) for p in fd_dir.iterdir()]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    return inodes


def ports_listened_by(proc: Proc) -> set[int]:
    """The ports a program (or its children) is listening on right now."""
    inodes = socket_inodes(proctree.descendants(proc.pid))
    return {e.local[1] for e in tcp_table() if e.state == LISTEN and e.inode in inodes}


def wait_listening(proc: Proc, port: int, timeout: float, own: bool = False) -> None:
    """Wait until something listens on `port`, without connecting to it;
    with `own`, the program itself or a process under it: not another
    program that has the port (a second test run on the machine took it
    between free_port() and the program's bind()). Under Wine the
    wineserver holds the sockets, so Wine programs cannot use `own`.

    Raises ProgramExited if the program ends first, WaitTimeout if time
    runs out (saying which ports it listens on instead, if any).
    """
    def listens() -> bool:
        return port in (ports_listened_by(proc) if own else listening_ports())

    deadline = time.monotonic() + timeout
    while True:
        if listens():
            return
        if not proc.running():
            # it may have listened, handed the socket to a child and exited
            # (a daemon) between the two looks: look once more
            if listens():
                return
            raise ProgramExited(f"{proc.label} ended before it was listening on port {port}")
        # past the bound, a program still busy (starting in its jail, or
        # running, on a loaded machine) gets up to EXIT_GRACE more; one that
        # sleeps without listening does not (Proc.busy)
        now = time.monotonic()
        if now > deadline and not (now < deadline + EXIT_GRACE and proc.busy()):
            others = sorted(ports_listened_by(proc))
            where = (f"it is listening on port {', '.join(map(str, others))} instead"
                     if others else "it is not listening on any port")
            raise WaitTimeout(f"{proc.label} was not listening on port {port} after "
                              f"{timeout:g} s: {where}")
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def connection(local: tuple[str, int], remote: tuple[str, int]) -> TcpEntry | None:
    for e in tcp_table():
        if e.local[1] == local[1] and e.remote[1] == remote[1] and e.local[0] == local[0]:
            return e
    return None


def wait_peer_read_all(sock: socket.socket, timeout: float) -> bool:
    """Wait until the program at the other end of `sock` has read() everything
    sent on it: its socket's receive queue is empty. True if it happened.

    This is how a fake server can be sure a client has read one piece of a
    reply before it sends the next, without guessing with a sleep.
    """
    me, peer = sock.getsockname()[:2], sock.getpeername()[:2]
    deadline = time.monotonic() + timeout
    while True:
        entry = connection(peer, me)
        if entry is None or entry.rx_queue == 0:
            # rx_queue counts only bytes that arrived; make sure all did
            if unacked(sock) == 0:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def unacked(sock: socket.socket) -> int:
    """Bytes sent on `sock` that the peer's kernel has not acknowledged."""
    import fcntl
    import struct
    import termios
    raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return struct.unpack("i", raw)[0]


def unread_by_server(client: socket.socket) -> int | None:
    """Bytes the client sent that the server side has not read() yet
    (None if the server side of the connection cannot be found)."""
    me, peer = client.getsockname()[:2], client.getpeername()[:2]
    entry = connection(peer, me)
    return None if entry is None else entry.rx_queue


def wait_accepted(proc: Proc, port: int, timeout: float) -> bool:
    """Wait until the server on `port` has accept()ed every connection that
    reached it: for a listening socket the kernel reports the length of its
    accept queue as rx_queue. (Under Wine the accepted socket belongs to the
    wineserver, so looking at the program's own descriptors would not do.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = [e.rx_queue for e in tcp_table() if e.state == LISTEN and e.local[1] == port]
        if queued and max(queued) == 0:
            return True
        if not proc.running():
            return False
        time.sleep(POLL)  # polling /proc: there is no event to wait on
    return False


def wait_gone(client: tuple[str, int], server: tuple[str, int], timeout: float) -> bool:
    """Wait until the server side of the connection between these addresses
    is closed (after a reset it is, whatever the program does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = connection(server, client)
        if entry is None or entry.state == 0x07:
            return True
        time.sleep(POLL)  # polling /proc: there is no event to wait on
    return False


# TCP states as the kernel numbers them (include/net/tcp_states.h)
FIN_WAIT2, TIME_WAIT, CLOSE = 0x05, 0x06, 0x07


def wait_fin_acked(sock: socket.socket, timeout: float) -> bool:
    """After shutdown(SHUT_WR): wait until the peer's kernel has acknowledged
    all our data and our FIN. Our side is then in FIN_WAIT2, or already in
    TIME_WAIT if the peer closed too between two looks (polling can miss
    FIN_WAIT2). True if it happened within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        if state in (FIN_WAIT2, TIME_WAIT):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(POLL, left))  # no event says that a FIN was acknowledged


# accept() and accept4() in each architecture's system call table, as the
# first field of /proc/<pid>/syscall gives them: x86_64 from
# arch/x86/entry/syscalls/syscall_64.tbl; aarch64 and riscv64 use the
# kernel's generic table (include/uapi/asm-generic/unistd.h)
ACCEPT_SYSCALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({43, 288}),
    "aarch64": frozenset({202, 242}),
    "riscv64": frozenset({202, 242}),
}
_said_unknown: set[str] = set()


def accept_syscalls() -> frozenset[int] | None:
    """The numbers of accept() and accept4() on this machine; None (said
    once, as a warning) where the harness does not know them, and so
    cannot tell that a program is blocked in accept()."""
    machine = platform.machine()
    known = ACCEPT_SYSCALLS.get(machine)
    if known is None and machine not in _said_unknown:
        _said_unknown.add(machine)
        warnings.warn(f"ports.wait_in_accept: the accept() system call numbers of "
                      f"{machine or 'this machine'} are not in ports.ACCEPT_SYSCALLS, so "
                      "the harness cannot see that a server waits in accept(): it "
                      "signals it without waiting", RuntimeWarning, stacklevel=3)
    return known


def wait_in_accept(proc: Proc, timeout: float) -> bool:
    """Wait until the program is blocked in accept() (Linux: the first field
    of /proc/<pid>/syscall is the number of the system call it is in). In a
    jail it is the program that is read, not bwrap around it.

    False if it did not happen in time, if the program ended, or at once on
    an architecture missing from ACCEPT_SYSCALLS (accept_syscalls warns):
    the caller then goes on without knowing."""
    return wait_in_syscall(proc, accept_syscalls(), timeout)


# read(), recvfrom(), recvmsg() and recvmmsg() (recv() is recvfrom() on
# Linux), from the same tables
RECV_SYSCALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({0, 45, 47, 299}),
    "aarch64": frozenset({63, 207, 212, 243}),
    "riscv64": frozenset({63, 207, 212, 243}),
}


def wait_in_recv(proc: Proc, timeout: float) -> bool:
    """Wait until the program is blocked reading a socket (a UDP server
    waiting for the next datagram): a signal sent then interrupts that very
    call. False as wait_in_accept."""
    return wait_in_syscall(proc, RECV_SYSCALLS.get(platform.machine()), timeout)


def wait_in_syscall(proc: Proc, numbers: frozenset[int] | None, timeout: float) -> bool:
    """Wait until the program is in one of these system calls (False at
    once if numbers is None: not known on this machine)."""
    if numbers is None:
        return False
    deadline = time.monotonic() + timeout
    pid = proc.program_pid(timeout)
    if pid is None:
        return False
    while time.monotonic() < deadline and proc.running():
        try:
            first = Path(f"/proc/{pid}/syscall").read_text().split()[0]
        except (OSError, IndexError):
            return False
        if first.isdigit() and int(first) in numbers:
            return True
        time.sleep(POLL)  # polling /proc: there is no event to wait on
    return False
