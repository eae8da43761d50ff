"""Peers and /proc views for the I/O-multiplexing chapters (12 select, and
epoll after it): many connections at once, cheaply, from one thread.

- `raise_nofile(n)`: lift this process's own descriptor limit (the soft
  one, up to the hard one) before it opens thousands of sockets;
- `open_many(port, n)`: n connections made with non-blocking connect()s
  and a selector, all established before any is used, in bursts that fit
  in the server's listen queue (`listen_queue(port)`, from the kernel's
  sock_diag: the queue's length and its maximum), so that a small
  listen() backlog costs time, never a SYN dropped and a second lost;
- `echo_many(socks, payloads)`: send each socket its payload, in the order
  given, then read every echo at once: what each got, and why it stopped;
- `reset_all(socks)`: close them all with an RST (SO_LINGER 0), so that no
  TIME_WAIT is left to use up the ephemeral ports over repeated runs;
- `wait_in_select(proc, timeout)`: the program is blocked in select(),
  poll() or epoll_wait() (or one of their p- variants), as /proc shows
  (`ports.wait_in_accept` for accept()); `blocked_in_wait(pid)`: the same,
  once, for a pid;
- `held_peers(pid, port)`: the client ports of the connections the process
  holds (accepted, not closed), from /proc/<pid>/fd and /proc/net/tcp.
"""

from __future__ import annotations

import errno
import platform
import resource
import selectors
import socket
import struct
import time
from pathlib import Path

from . import ports, sockstate
from .procs import Proc

POLL = 0.005

# select, poll, pselect6, ppoll, epoll_wait, epoll_pwait, epoll_pwait2:
# arch/x86/entry/syscalls/syscall_64.tbl; aarch64 and riscv64 use the
# generic table (include/uapi/asm-generic/unistd.h), which has only the p-
# variants
WAIT_SYSCALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({23, 7, 270, 271, 232, 281, 441}),
    "aarch64": frozenset({72, 73, 22, 441}),
    "riscv64": frozenset({72, 73, 22, 441}),
}


def raise_nofile(n: int) -> None:
    """Let this process hold at least n descriptors, as far as the hard
    limit allows (the soft limit only goes up)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# sock_diag (linux/sock_diag.h, linux/inet_diag.h): ask the kernel about
# listening TCP sockets without walking /proc/net/tcp's whole table
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_TCP_LISTEN = 10


def listen_queue(port: int) -> tuple[int, int] | None:
    """The IPv4 socket listening on this port in this network namespace:
    (connections waiting in its accept queue, the most it holds: the
    backlog given to listen()), or None if there is none or the kernel
    cannot say (no sock_diag)."""
    try:
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG)
    except OSError:
        return None
    try:
        # inet_diag_req_v2: family, protocol, ext, pad, states; then an
        # inet_diag_sockid (ports, addresses, interface, no cookie)
        sockid = struct.pack("!HH", port, 0) + bytes(32) + struct.pack("=I", 0) + b"\xff" * 8
        req = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0,
                          1 << _TCP_LISTEN) + sockid
        nl.send(struct.pack("=IHHII", 16 + len(req), _SOCK_DIAG_BY_FAMILY,
                            _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0) + req)
        found = None
        while True:
            data = nl.recv(65536)
            if not data:
                return found
            off = 0
            while off + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, off)
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR or length < 16:
                    return None
                # inet_diag_msg: 4 bytes, the sockid (sport first), then
                # expires, rqueue (accept queue), wqueue (its maximum)
                (sport,) = struct.unpack_from("!H", data, off + 20)
                if sport == port:
                    found = struct.unpack_from("=II", data, off + 16 + 56)
                off += (length + 3) & ~3
    except OSError:
        return None
    finally:
        nl.close()


def open_many(port: int, n: int, timeout: float = 10.0) -> list[socket.socket]:
    """n connections to 127.0.0.1:port, all established (connect() done:
    accepted or in the listen queue) before this returns; the sockets are
    left non-blocking. Closes them all and raises OSError if one fails or
    time is up.

    The connect()s go out in bursts that fit in the server's listen queue
    as the kernel reports it (listen_queue: half the room left, or one
    when it is empty), so that a small backlog, listen(fd, 5) as the textbook has it,
    only makes the opening slower: a SYN that finds the queue full is
    dropped, and the client retries a second later."""
    raise_nofile(n + 64)
    socks: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + timeout

    def late(what: str) -> OSError:
        done = len(socks) - len(sel.get_map())
        return OSError(errno.ETIMEDOUT, f"{what} within {timeout:g} s ({done} of {n} "
                       "connections established)")
    try:
        while len(socks) < n or sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise late("not all connected")
            if sel.get_map():  # the last burst: wait until every one is connected
                for key, _ in sel.select(left):
                    s = key.fileobj
                    sel.unregister(s)
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, f"connect: {errno.errorcode.get(err, err)}")
                continue
            queue = listen_queue(port)
            if queue is None:
                room = n - len(socks)
            else:   # an empty queue always takes one, even listen(fd, 0)'s
                room = max((queue[1] - queue[0]) // 2, 1 if queue[0] == 0 else 0)
            if room <= 0:
                time.sleep(POLL / 10)  # the server is to accept(): no event tells us when
                continue
            for _ in range(min(room, n - len(socks))):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", port))
                if rc == errno.EINPROGRESS:
                    sel.register(s, selectors.EVENT_WRITE)
                elif rc != 0:
                    raise OSError(rc, f"connect: {errno.errorcode.get(rc, rc)}")
    except BaseException:
        reset_all(socks)
        raise
    finally:
        sel.close()
    return socks


def echo_many(socks: list[socket.socket], payloads: list[bytes], order: list[int],
              timeout: float) -> list[tuple[bytes, str]]:
    """Send socks[i] its payloads[i], for i in `order`, then read on every
    socket at once until each has as many bytes back, the other end closed
    or reset, or time is up. Returns (what came, why it stopped short: "",
    "eof", "reset", "timeout") per socket, in the sockets' order."""
    got = [bytearray() for _ in socks]
    why = ["timeout"] * len(socks)
    sel = selectors.DefaultSelector()
    try:
        for i in order:
            try:
                socks[i].sendall(payloads[i])
            except OSError:
                why[i] = "reset"
                continue
            sel.register(socks[i], selectors.EVENT_READ, i)
        deadline = time.monotonic() + timeout
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                i = key.data
                try:
                    data = socks[i].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data, why[i] = None, "reset"
                if data == b"":
                    why[i] = "eof"
                if data:
                    got[i] += data
                    if len(got[i]) < len(payloads[i]):
                        continue
                    why[i] = ""
                sel.unregister(socks[i])
    finally:
        sel.close()
    return [(bytes(g), w) for g, w in zip(got, why)]


def reset_all(socks: list[socket.socket]) -> None:
    """Close every socket with an RST instead of a FIN: no TIME_WAIT."""
    linger = struct.pack("ii", 1, 0)
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()


def wait_in_select(proc: Proc, timeout: float) -> bool:
    """Wait until the program is blocked in select(), poll() or
    epoll_wait() (any of their variants), as the first field of
    /proc/<pid>/syscall shows. False if it did not happen in time, if the
    program ended, or at once on a machine missing from WAIT_SYSCALLS."""
    numbers = WAIT_SYSCALLS.get(platform.machine())
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


def blocked_in_wait(pid: int) -> bool:
    """Whether the process is asleep in select(), poll() or epoll_wait()
    (or a p- variant) right now."""
    call = sockstate.blocked_syscall(pid)
    return call is not None and call in WAIT_SYSCALLS.get(platform.machine(), frozenset())


def held_peers(pid: int, port: int) -> set[int]:
    """The client ports of the connections to `port` whose socket the
    process holds (it accept()ed them and has not closed them)."""
    inodes = ports.socket_inodes([pid])
    return {e.remote[1] for e in ports.tcp_table()
            if e.local[1] == port and e.inode in inodes and e.state != 0x0A}
