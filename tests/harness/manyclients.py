"""Many clients at once, and /proc views of the server that serves them: the
toolkit of the chapters on concurrent servers (10 fork, 12 select, 17 epoll,
18 threads).

Peers:
- `open_all(port, n)`: n connections opened first, all of them established
  (accepted or waiting in the listen backlog: connect() succeeds either
  way, so that alone proves nothing about concurrency), then talked to in
  any order with `echo_on` (e.g. reversed: an iterative server, stuck on
  the first, never answers the last);
- `stall_half(sock, message)`: a client that sends half a message and then
  sends nothing more, waiting until the server's kernel has it;
- `flood_unread(sock)`: a client that sends without ever reading, until
  both directions' buffers are full (the server is then blocked writing to
  it, unless it serves others independently);
- `net.reset` (a client that resets), `close_all(socks)`: every client
  disconnecting at once;
- `reset_unechoed(server, port)`: a client whose bytes reach the server
  only after it has reset, so that the server's write() of the echo fails
  with EPIPE and raises SIGPIPE (which kills a server that does not ignore
  it), every time.

/proc views (pids as the harness sees them; `Proc.program_pid()` gives the
program's own pid, under the jail's init):
- `children(pid)`, `zombies(pid)`, `tree(pid)`: its child processes, those
  that ended and were not reaped yet (state Z), itself and all below it;
- `threads(pid)`, `open_fds(pid)`, `cpu_seconds(pids)` (utime + stime);
- `idle_demand(server, port, pid, s)`: the idle scenario (3 clients left
  connected, silent) and the cpu_demand over it;
- `cpu_demand(pids)`: the time their threads ran or were ready to run and
  waited for a CPU (schedstat). A program that spins is always one or the
  other, however busy the machine, so over an idle interval it is near the
  interval's length; one that waits is asleep and has near 0;
- `ns_pid(pid)`: the pid the process has inside the jail's PID namespace,
  the one it prints about itself;
- `wait_until(predicate, timeout)`: poll /proc every 5 ms (no event tells
  when a process forks, exits or is reaped).

Timing claims are upper bounds, generous ones: a verdict never depends on
how busy the machine is.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Callable, Iterable

from . import proctree
from .feedback import HINTS, compare, describe_exit, fail, first_difference, show
from .net import connect, exchange, recv_exact, reset
from .ports import (connection, socket_inodes, wait_accepted, wait_fin_acked, wait_gone,
                    wait_peer_read_all)

POLL = 0.005
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- peers -----------------------------------------------------------------------

def open_all(port: int, n: int, timeout: float = 5.0) -> list[socket.socket]:
    """n connections to the port, all established before any is used.
    Closes those made so far and re-raises if one fails."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            socks.append(connect(port, timeout=timeout))
    except OSError:
        close_all(socks)
        raise
    return socks


def echo_on(sock: socket.socket, payload: bytes, timeout: float) -> tuple[bytes, str]:
    """Send payload and read back as many bytes: (what came, why it stopped
    short: "", "eof", "timeout", "reset", "mismatch"). A large payload is
    read while it is sent (net.exchange): an echo of it would otherwise fill
    both directions' buffers and deadlock."""
    if len(payload) > 16384:
        return exchange(sock, payload, timeout)
    try:
        sock.sendall(payload)
    except OSError as exc:
        return b"", f"send failed: {exc.strerror or exc}"
    return recv_exact(sock, len(payload), timeout, expect=payload)


def stall_half(sock: socket.socket, message: bytes, timeout: float = 2.0) -> bytes:
    """Send the first half of message and nothing more; returns that half,
    once the peer's kernel has it all (so the server could have read it)."""
    half = message[: max(1, len(message) // 2)]
    sock.sendall(half)
    wait_peer_read_all(sock, timeout)  # read or not: it arrived, or time is up
    return half


def flood_unread(sock: socket.socket, cap: int = 8 << 20, settle: float = 0.2) -> int:
    """Send without reading until nothing more goes (both directions'
    buffers are full: an echo server is then stuck writing to this client)
    or `cap` bytes went. Returns the bytes sent. Leaves sock non-blocking."""
    sock.setblocking(False)
    sent, chunk = 0, b"x" * 65536
    while sent < cap:
        try:
            sent += sock.send(chunk)
        except BlockingIOError:
            if not wait_peer_read_all(sock, timeout=settle):
                break
    return sent


def reset_unechoed(server, port: int, size: int = 3000, timeout: float = 5.0) -> bool:
    """Connect, wait until the server has accepted, stop it (SIGSTOP), send
    `size` bytes, close the sending side and reset the connection, then let
    it go on (SIGCONT). The bytes wait for it in its socket, ahead of the
    reset: it reads them, and its write() of the echo finds the connection
    gone (EPIPE, SIGPIPE). False if the server did not accept within
    `timeout` (the client is then closed and nothing was sent)."""
    sock = connect(port, timeout=timeout)
    if not wait_accepted(server, port, timeout):
        sock.close()
        return False
    ends = sock.getsockname()[:2], sock.getpeername()[:2]
    entry = connection(ends[1], ends[0])   # the server's socket of it: its inode
    server.stop()
    try:
        sock.sendall(bytes(i % 251 for i in range(size)))
        sock.shutdown(socket.SHUT_WR)
        wait_fin_acked(sock, 2.0)   # its kernel has the bytes and the FIN
        reset(sock)
        wait_gone(*ends, 2.0)       # and the reset
    finally:
        server.signal(signal.SIGCONT)
    # until the server has dealt with it (closed its socket, or died of
    # SIGPIPE), nothing else may happen: a new client served first would
    # prove nothing
    pid = server.program_pid()
    if entry is not None and pid is not None:
        wait_until(lambda: not server.running() or entry.inode not in
                   socket_inodes(proctree.descendants(pid)), timeout)
    return True


def expect_survives_unechoed(server, port: int, timeout: float, hint: str) -> None:
    """reset_unechoed, then a new client must be echoed within `timeout`:
    fail the test (saying how the server ended, if it did) otherwise."""
    did = ("a client sent 3000 bytes, closed its sending side and reset the connection "
           "before the server could echo any (it was stopped, SIGSTOP, until then)")
    if not reset_unechoed(server, port, timeout=timeout):
        fail(did="a client connected", expected=f"the server to accept it within {timeout:g} s",
             got="it did not" if server.running() else describe_exit(server), procs=[server])
    try:
        sock = connect(port, timeout=timeout)
    except OSError as exc:
        if not server.running():
            server.wait_exit(2)
        fail(did=did + "; then a new client connected", expected="the server to accept it",
             got=f"{exc.strerror or exc}" + ("" if server.running() else
                                              f": the server had ended, {describe_exit(server)}"),
             procs=[server], hint=hint)
    with sock:
        if not server.running():
            server.wait_exit(2)
            fail(did=did, expected="the server still running", got=describe_exit(server),
                 procs=[server], hint=hint)
        expect_echo(server, sock, b"still there?\n", did + "; then a new client",
                    timeout=timeout, hint=hint)


def close_all(socks: Iterable[socket.socket]) -> None:
    """Close every socket, one right after the other."""
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


# -- /proc views -----------------------------------------------------------------

def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3, the
    state, first), or None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def children(pid: int) -> list[int]:
    return proctree.children_of(pid)


def zombies(pid: int) -> list[int]:
    """The children of pid that have ended but were not reaped yet."""
    return [c for c in children(pid) if state(c) == "Z"]


def live_children(pid: int) -> list[int]:
    return [c for c in children(pid) if state(c) not in (None, "Z", "X")]


def tree(pid: int) -> list[int]:
    return proctree.descendants(pid)


def threads(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[17]) if fields else 0   # field 20, num_threads


def open_fds(pid: int) -> int | None:
    """How many descriptors pid holds open (None if it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of these processes together, in seconds (a process
    that is gone counts 0)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15
    return total / CLOCK_TICKS


def cpu_demand(pids: Iterable[int]) -> float:
    """Seconds that the threads of these processes spent on a CPU or
    runnable, waiting for one (/proc/<pid>/task/<tid>/schedstat: its first
    two fields, in ns). Unlike CPU time, it does not depend on how busy the
    machine is: a spinning thread that gets little CPU waits in the run
    queue the rest of the time. Where schedstat is missing, CPU time."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
            except OSError:
                if not Path(f"/proc/{pid}/task/{tid}").exists():
                    continue   # the thread ended
                return cpu_seconds(pids)
            total += int(fields[0]) + int(fields[1])
    return total / 1e9


def idle_demand(server, port: int, pid: int, seconds: float) -> float:
    """The idle scenario of the concurrent servers: 4 clients connect and
    have a line echoed each, one leaves, the other 3 stay and send nothing.
    Returns the server's cpu_demand over `seconds` of that."""
    socks = open_all(port, 4)
    try:
        for i, s in enumerate(socks):
            expect_echo(server, s, b"idle %d\n" % i, f"client {i + 1} of 4 connected")
        socks.pop().close()  # one leaves
        start = cpu_demand([pid])
        time.sleep(seconds)  # the interval measured: nothing to wait for
        return cpu_demand([pid]) - start
    finally:
        close_all(socks)


def ns_pid(pid: int) -> int | None:
    """The pid of pid in its innermost PID namespace (the jail's)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except OSError:
        pass
    return None


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll predicate until it holds (True) or time is up (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def expect_echo(server, sock: socket.socket, payload: bytes, did: str, timeout: float = 5.0,
                hint: str | dict[str, str] | None = None) -> None:
    """Send `payload` on `sock` and fail the test, saying what was sent and
    what came back, unless exactly it comes back within `timeout`. `hint`
    may depend on why the echo stopped short: a dict by reason ("timeout",
    "eof", "reset", "mismatch")."""
    got, why = echo_on(sock, payload, timeout)
    if isinstance(hint, dict):
        hint = hint.get(why)
    if got != payload:
        at = first_difference(payload, got)
        fail(did=did + f", sent {show(payload, at=at)}", expected="the same bytes back"
             + (f" within {timeout:g} s" if why == "timeout" else ""),
             got=f"{show(got, at=at)} ({compare(payload, got)})"
             + (f"; then {why}" if why and why != "mismatch" else ""),
             procs=[server], hint=hint or (HINTS.get(why) if why in ("eof", "reset") else
                                           None))
