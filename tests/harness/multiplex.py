"""Peers and /proc views for the I/O-multiplexing chapters (12 select, and
epoll after it): many connections at once, cheaply, from one thread.

- `raise_nofile(n)`: lift this process's own descriptor limit (the soft
  one, up to the hard one) before it opens thousands of sockets;
- `open_many(port, n)`: n connections made at once with non-blocking
  connect()s and a selector, all established before any is used (a
  thousand blocking connect()s in a row would cost as much, but a SYN the
  server's full listen queue dropped would make each wait a second);
- `echo_many(socks, payloads)`: send each socket its payload, in the order
  given, then read every echo at once: what each got, and why it stopped;
- `reset_all(socks)`: close them all with an RST (SO_LINGER 0), so that no
  TIME_WAIT is left to use up the ephemeral ports over repeated runs;
- `wait_in_select(proc, timeout)`: the program is blocked in select(),
  poll() or epoll_wait() (or one of their p- variants), as /proc shows
  (`ports.wait_in_accept` for accept()).
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


def open_many(port: int, n: int, timeout: float = 10.0) -> list[socket.socket]:
    """n connections to 127.0.0.1:port, all established (connect() done:
    accepted or in the listen queue) before this returns; the sockets are
    left non-blocking. Closes them all and raises OSError if one fails or
    time is up."""
    raise_nofile(n + 64)
    socks: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", port))
            if rc == 0:
                continue
            if rc != errno.EINPROGRESS:
                raise OSError(rc, f"connect: {errno.errorcode.get(rc, rc)}")
            sel.register(s, selectors.EVENT_WRITE)
        deadline = time.monotonic() + timeout
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise OSError(errno.ETIMEDOUT, f"{len(sel.get_map())} of {n} connections "
                              f"not established within {timeout:g} s")
            for key, _ in sel.select(left):
                s = key.fileobj
                sel.unregister(s)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, f"connect: {errno.errorcode.get(err, err)}")
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
