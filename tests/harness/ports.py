"""Ports for tests, and what the kernel says about the sockets on them.

Ports come from 20000-32767, below Linux's ephemeral range (32768-60999), so
they never collide with the ports the kernel gives to connect(). Each test
process (pytest worker) takes its own block of that range, and checks every
port by binding it (without SO_REUSEADDR, so a port with a connection in
TIME_WAIT is skipped too).

Whether a server is listening is read from /proc/net/tcp rather than found
out with a probe connect(): a probe would use up the one accept() of a
server that serves a single client.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .procs import Proc, ProgramExited, WaitTimeout

LOW, HIGH = 20000, 32767
BLOCK = 256
_BLOCKS = (HIGH - LOW + 1) // BLOCK
_next: dict[str, int] = {}

LISTEN = 0x0A
POLL = 0.005  # seconds between looks at /proc while waiting


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _block() -> int:
    """This test process's block of ports. pytest-xdist workers of one run
    get consecutive blocks from a base picked by the run; outside xdist the
    pid picks it. The bind check in free_port covers the rare overlap of
    two runs at once."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if worker.startswith("gw") and run:
        return (int(run[:8], 16) + int(worker[2:])) % _BLOCKS
    return os.getpid() % _BLOCKS


def free_port() -> int:
    """A port that nothing uses now, unique within this test run."""
    block = _block()
    key = str(block)
    start = LOW + block * BLOCK
    offset = _next.get(key, 0)
    for _ in range(BLOCK):
        port = start + offset % BLOCK
        offset += 1
        if _port_is_free(port):
            _next[key] = offset
            return port
    _next[key] = offset
    raise RuntimeError(f"no free port in {start}-{start + BLOCK - 1}")


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


def _socket_inodes(pids: list[int]) -> set[int]:
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


def _process_tree(pid: int) -> list[int]:
    """pid and its descendants (best effort, from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rfind(")") + 2:].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [c for c, p in parents.items() if p in frontier]
        tree += frontier
    return tree


def ports_listened_by(proc: Proc) -> set[int]:
    """The ports a program (or its children) is listening on right now."""
    inodes = _socket_inodes(_process_tree(proc.pid))
    return {e.local[1] for e in tcp_table() if e.state == LISTEN and e.inode in inodes}


def wait_listening(proc: Proc, port: int, timeout: float) -> None:
    """Wait until something listens on `port`, without connecting to it.

    Raises ProgramExited if the program ends first, WaitTimeout if time
    runs out (saying which ports it listens on instead, if any).
    """
    deadline = time.monotonic() + timeout
    while True:
        if port in listening_ports():
            return
        if not proc.running():
            # it may have listened, handed the socket to a child and exited
            # (a daemon) between the two looks: look once more
            if port in listening_ports():
                return
            raise ProgramExited(f"{proc.label} ended before it was listening on port {port}")
        if time.monotonic() > deadline:
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
            if _unacked(sock) == 0:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def _unacked(sock: socket.socket) -> int:
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


ACCEPT_SYSCALLS = {43, 288}  # accept, accept4 on x86_64


def wait_in_accept(proc: Proc, timeout: float) -> bool:
    """Wait until the program is blocked in accept() (Linux x86_64: the
    first field of /proc/<pid>/syscall is the syscall number)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.running():
        try:
            first = Path(f"/proc/{proc.pid}/syscall").read_text().split()[0]
        except (OSError, IndexError):
            return False
        if first.isdigit() and int(first) in ACCEPT_SYSCALLS:
            return True
        time.sleep(POLL)  # polling /proc: there is no event to wait on
    return False

