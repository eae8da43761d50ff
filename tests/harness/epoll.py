"""Peers and /proc views for chapter 17 (epoll): waiting until a server is
blocked in epoll_wait(), a client that sends without reading until the
server stops reading it, and then checks every byte, how many of a client's bytes the server holds in its own
memory (taken from the kernel but not yet echoed), and many connections at
once (thousands, on one thread, with selectors)."""

from __future__ import annotations

import errno
import fcntl
import platform
import resource
import selectors
import socket
import struct
import termios
import time
from contextlib import contextmanager, nullcontext
from typing import Iterator

from .ports import POLL, connection, unacked, unread_by_server
from .procs import Proc
from .sockstate import blocked_syscall
from .multiplex import listen_queue
from .net import HOST
from .udp import lossy_netns

# epoll_wait(), epoll_pwait() and epoll_pwait2() as the first field of
# /proc/<pid>/syscall gives them: x86_64 from syscall_64.tbl, the others
# from the kernel's generic table (they have epoll_pwait only)
EPOLL_SYSCALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({232, 281, 441}),
    "aarch64": frozenset({22, 441}),
    "riscv64": frozenset({22, 441}),
}


def wait_in_epoll(proc: Proc, timeout: float) -> bool:
    """Wait until the program is blocked in epoll_wait() (or epoll_pwait):
    idle, every event served. False if it did not happen in time, or at
    once where the numbers are not known."""
    numbers = EPOLL_SYSCALLS.get(platform.machine())
    pid = proc.program_pid(timeout)
    if numbers is None or pid is None:
        return False
    deadline = time.monotonic() + timeout
    while proc.running():
        if blocked_syscall(pid) in numbers:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # polling /proc: there is no event to wait on
    return False


# -- a client that never reads ---------------------------------------------------

_BLOCK = bytes((i * 7 + i // 251) & 0xFF for i in range(65521))  # a prime length


def pattern(start: int, n: int) -> bytes:
    """Bytes start .. start+n of an endless, non-repeating-per-buffer stream
    (a period of 65521 bytes: a lost or repeated piece of any power-of-two
    size shows)."""
    out = bytearray()
    pos = start % len(_BLOCK)
    while len(out) < n:
        take = min(n - len(out), len(_BLOCK) - pos)
        out += _BLOCK[pos:pos + take]
        pos = 0
    return bytes(out)


def connect_small(port: int, rcvbuf: int = 4096, timeout: float = 5.0) -> socket.socket:
    """A connection whose receive buffer is small (set before connect(), so
    the window it offers is small too): an echo server's output to it gets
    stuck after little data."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(timeout)
    sock.connect((HOST, port))
    return sock


def flood_acked(sock: socket.socket, chunk: int = 60000, cap: int = 8 << 20,
                settle: float = 0.2, pid: int | None = None) -> int:
    """Send pattern() without reading, a chunk at a time, each once the
    server's kernel has acknowledged the last one, until the server stops
    reading (bytes wait unread on its side and do not go for `settle`
    seconds) or `cap` bytes went. Returns the bytes sent. Every one of them
    is then in the server's kernel or beyond: none waits in our send queue,
    so nothing more arrives at the server unless we send it.

    Given the server's `pid`, bytes left unread for `settle` seconds count
    only once the server is also asleep in epoll_wait() (three looks, 20 ms
    apart, with the same bytes unread): a server that still reads but got no
    CPU meanwhile on a busy machine is runnable, not asleep, and is waited
    for (up to 10 s), so that when it stops, it has stopped for certain."""
    sent = 0
    while sent < cap:
        sock.sendall(pattern(sent, chunk))
        sent += chunk
        if not _wait_acked(sock, 2):
            break   # its window shut on this chunk: it has stopped reading
        if (unread_by_server(sock) or 0) > 0 and not _wait_read(sock, settle):
            if pid is None or _asleep_unread(sock, pid, 10.0):
                break
    return sent


def _asleep_unread(sock: socket.socket, pid: int, timeout: float) -> bool:
    """Wait until the server is asleep in epoll_wait() with the same bytes of
    ours unread in its socket at three looks, 20 ms apart (True: it is not
    going to read them), or until it has read them all (False). True also
    where the system call numbers are not known, and after `timeout`."""
    numbers = EPOLL_SYSCALLS.get(platform.machine())
    if numbers is None:
        return True
    deadline = time.monotonic() + timeout
    still, unread = 0, unread_by_server(sock) or 0
    while time.monotonic() < deadline:
        if unread == 0:
            return False
        asleep = blocked_syscall(pid) in numbers
        time.sleep(0.02)  # polling /proc: there is no event to wait on
        now = unread_by_server(sock) or 0
        still = still + 1 if asleep and now == unread else 0
        if still >= 3:
            return True
        unread = now
    return True


# a chunk is acknowledged within microseconds on loopback, and read by a
# server that keeps up within a millisecond or two: poll more often than
# POLL, a hundred times per flood (TIOCOUTQ is an ioctl, not a /proc read)
_FAST = 0.001


def _wait_acked(sock: socket.socket, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while unacked(sock) > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(_FAST)  # no event says that data was acknowledged
    return True


def _wait_read(sock: socket.socket, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while (unread_by_server(sock) or 0) > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(2 * _FAST)  # polling /proc: there is no event to wait on
    return True


def unread_here(sock: socket.socket) -> int:
    """Bytes in sock's own receive queue (arrived, not read by us)."""
    raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", raw)[0]


def held_by_server(sock: socket.socket, sent: int) -> int | None:
    """Of the `sent` bytes a client sent, how many the server has read() and
    not yet written back: what is neither in the client's send queue, nor
    unread in the server's receive queue, nor in the server's send queue,
    nor in the client's receive queue (an echo server holds them in its own
    memory). None if the server's side of the connection is gone."""
    me, peer = sock.getsockname()[:2], sock.getpeername()[:2]
    entry = connection(peer, me)
    if entry is None:
        return None
    return sent - unacked(sock) - entry.rx_queue - entry.tx_queue - unread_here(sock)


# -- thousands of clients --------------------------------------------------------

@contextmanager
def own_netns() -> Iterator[None]:
    """The body in a network namespace of its own where the harness may make
    one (root): ten thousand connections then neither slow down the other
    tests' looks at /proc/net/tcp nor take their ephemeral ports. Elsewhere
    the body runs where it is."""
    try:
        ctx = lossy_netns()
        ctx.__enter__()
    except OSError:
        ctx = nullcontext()
    try:
        yield
    finally:
        ctx.__exit__(None, None, None)


def raise_nofile(want: int) -> bool:
    """Raise this process's soft RLIMIT_NOFILE to `want`, for a test that
    opens thousands of sockets; False (nothing changed) if the hard limit
    is lower. The programs it starts get at most that hard limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        return False
    if soft == resource.RLIM_INFINITY or soft >= want:
        return True
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return True


class Many:
    """n non-blocking connections to a port, each echoing a payload of its
    own, driven from one selector; at most `window` are between connect()
    and their echo at any time (so that no more wait in the server's listen
    backlog than a backlog of that size holds). Every connection is closed
    with an RST (SO_LINGER 0): no TIME_WAIT is left behind."""

    def __init__(self, port: int, n: int, window: int = 100) -> None:
        self.port, self.n, self.window = port, n, window
        self.socks: list[socket.socket] = []
        self.echoed = 0          # connections whose echo came back whole, this round
        self.failure = ""        # the first thing that went wrong, said for a person

    @staticmethod
    def payload(i: int, rnd: int) -> bytes:
        return b"client %05d round %d\n" % (i, rnd)

    def _run(self, pending: dict[socket.socket, tuple[int, bytearray]], todo,
             rnd: int, stall: float) -> bool:
        """Serve the selector until every connection of the round is echoed.
        False (and self.failure set) if one fails or nothing moves for
        `stall` seconds."""
        sel = selectors.DefaultSelector()
        try:
            for s in pending:
                sel.register(s, selectors.EVENT_READ)
            last = time.monotonic()
            while pending or todo:
                while todo and len(pending) < self.window:
                    i, s = todo.pop()
                    pending[s] = (i, bytearray())
                    sel.register(s, selectors.EVENT_READ)
                    try:
                        s.send(self.payload(i, rnd))
                    except OSError as exc:
                        self.failure = f"connection {i + 1}: send failed: {exc}"
                        return False
                for key, _ in sel.select(timeout=0.1):
                    s = key.fileobj
                    i, got = pending[s]
                    try:
                        chunk = s.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        self.failure = (f"connection {i + 1} of {self.n}: "
                                        f"{errno.errorcode.get(exc.errno, exc)}")
                        return False
                    want = self.payload(i, rnd)
                    if not chunk:
                        self.failure = (f"connection {i + 1} of {self.n}: the server closed "
                                        f"it after {bytes(got)!r}")
                        return False
                    got += chunk
                    if not want.startswith(bytes(got)) or len(got) > len(want):
                        self.failure = (f"connection {i + 1} of {self.n}: sent {want!r}, "
                                        f"got {bytes(got)!r}")
                        return False
                    last = time.monotonic()
                    if len(got) == len(want):
                        sel.unregister(s)
                        del pending[s]
                        self.echoed += 1
                if time.monotonic() - last > stall:
                    i = min(i for i, _ in pending.values()) if pending else -1
                    self.failure = (f"no echo came for {stall:g} s, with {self.echoed} "
                                    f"connections echoed (connection {i + 1} still waits)")
                    return False
            return True
        finally:
            sel.close()

    def open_and_echo(self, stall: float) -> bool:
        """Round 1: connect each in turn (a blocking connect(): on loopback
        it completes at once, the connection waiting in the backlog), send
        its payload, keep it open."""
        left = list(reversed(range(self.n)))

        queue = listen_queue(self.port)
        backlog = queue[1] if queue else None

        def make() -> tuple[int, socket.socket]:
            i = left.pop()
            if backlog is not None and backlog < self.window:
                # a small listen() backlog (the textbook's 5): connect only
                # while its accept queue has room, as a SYN it drops is sent
                # again only after a second (slower, never wrong)
                until = time.monotonic() + stall
                while time.monotonic() < until:
                    q = listen_queue(self.port)
                    if q is None or q[0] < max(q[1], 1):
                        break
                    time.sleep(POLL / 10)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.socks.append(s)
            s.settimeout(stall)
            s.connect((HOST, self.port))
            s.setblocking(False)
            return i, s

        self.echoed = 0
        try:
            return self._run({}, _Todo(left, make), 1, stall)
        except OSError as exc:
            self.failure = (f"connect() of connection {len(self.socks)} of {self.n} "
                            f"failed: {exc}")
            return False

    def echo_all(self, stall: float) -> bool:
        """Round 2: every connection, all open at once, sends again."""
        self.echoed = 0
        todo = [(i, s) for i, s in reversed(list(enumerate(self.socks)))]
        return self._run({}, todo, 2, stall)

    def close(self) -> None:
        for s in self.socks:
            try:
                s.close()   # SO_LINGER 0: an RST
            except OSError:
                pass
        self.socks.clear()


class _Todo:
    """The connections still to make, made one at a time as _run pops them."""

    def __init__(self, left: list[int], make) -> None:
        self.left, self.make = left, make

    def __bool__(self) -> bool:
        return bool(self.left)

    def pop(self):
        return self.make()
