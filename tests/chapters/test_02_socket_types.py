"""Chapter 02: tcp_client, one_read_client and sock_type
(contract: chapters/02_socket_types/README.md)."""

from __future__ import annotations

import errno
import os
import platform
import re
import secrets
import socket
import threading
import time

import pytest

from harness.feedback import compare, fail, show
from harness.net import FakeServer, random_text
from harness.ports import POLL, free_port, wait_peer_read_all
from harness.procs import Proc
from harness.scenarios import command_line, ends_with_status_1
from harness.sockstate import (blocked_syscall, connected_from, is_sleep, unread_by_peer,
                               wait_acked)

KEPT = 1024          # tcp_client's buffer: the bytes of a long message it prints
# spaces before the newline are allowed: the textbook's printf()s end in " \n"
COUNT_LINE = re.compile(rb"^Function read call count: (\d+)[ \t]*$", re.M)
ONE_READ_LINE = re.compile(rb"^Bytes returned by one read\(\): (\d+)[ \t]*$", re.M)
RUN_WAIT = 10.0      # seconds at most for a program that needs milliseconds (a busy machine)
SETTLE = 2.0         # seconds in all a client gets to block before each piece is sent


# System calls as the first field of /proc/<pid>/syscall gives them (x86_64:
# arch/x86/entry/syscalls/syscall_64.tbl; the others: the kernel's generic
# table). READS: read() and recv()/recvfrom() (glibc's recv() is recvfrom),
# whose third argument is the number of bytes asked for. WAITS: poll, ppoll
# (nfds: the second argument) and select, pselect6 (nfds: the first); given
# no descriptor, they are a sleep by another name.
_ARCH = platform.machine()
READS = {"x86_64": {0, 45}, "aarch64": {63, 207}, "riscv64": {63, 207}}.get(_ARCH, set())
WAITS = {"x86_64": {7: 1, 271: 1, 23: 0, 270: 0},
         "aarch64": {73: 1, 72: 0}, "riscv64": {73: 1, 72: 0}}.get(_ARCH, {})


def _blocked_call(pid: int) -> tuple[int, list[int]] | None:
    """The system call `pid` is blocked in and its arguments, or None if it
    is not blocked (running, runnable, gone)."""
    if blocked_syscall(pid) is None:
        return None
    try:
        fields = open(f"/proc/{pid}/syscall").read().split()
        return int(fields[0]), [int(f, 16) for f in fields[1:7]]
    except (OSError, ValueError, IndexError):
        return None


def _is_socket(pid: int, fd: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    except OSError:
        return False


def _message(low: int, high: int) -> bytes:
    # random, so that a client printing a fixed text cannot pass
    return random_text(low + secrets.randbelow(high - low + 1))


def _pieces(data: bytes, count: int) -> list[bytes]:
    """`data` cut at count - 1 random places (every piece at least 1 byte)."""
    cuts = sorted(secrets.SystemRandom().sample(range(1, len(data)), count - 1))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def _sizes(pieces: list[bytes]) -> str:
    return ", ".join(str(len(p)) for p in pieces)


def _run_client(prog, procs, server: FakeServer,
                on_start=None) -> tuple[Proc, int | None, str]:
    client = prog.start(procs, "127.0.0.1", str(server.port), limit=20)
    if on_start is not None:
        on_start(client)
    rc = client.wait_exit(10)
    server.close()
    return client, rc, command_line(prog, "127.0.0.1", str(server.port))


def _bad_ip(prog, procs) -> None:
    """An invalid address must be refused, not used: inet_pton() leaves the
    address 0.0.0.0, which Linux connects to this machine, so a listener on
    127.0.0.1 at the port given sees a client that did not check."""
    live = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    while True:
        port = free_port()
        try:
            live.bind(("127.0.0.1", port))
            break
        except OSError:
            continue  # another test run took it since free_port() looked
    live.listen(8)
    live.setblocking(False)
    try:
        for arg, why in (("999.1.2.3", "a number above 255"),
                         ("localhost", "a name, not an address"), ("1.2.3", "three numbers")):
            proc = prog.start(procs, arg, str(port), limit=RUN_WAIT + 10)
            deadline = time.monotonic() + RUN_WAIT
            connected, rc = False, None
            while not connected and time.monotonic() < deadline:
                rc = proc.wait_exit(0.02)
                try:
                    conn = live.accept()[0]
                    connected = connected_from(proc, conn)  # not another run's client
                    conn.close()
                except BlockingIOError:
                    if rc is not None:
                        break
            did = f"ran `{command_line(prog, arg, str(port))}` (invalid IPv4 address: {why})"
            if connected:
                fail(did=did, expected="exit status 1 and a message, no connection",
                     got="it connected anyway (to 0.0.0.0, which is this machine)",
                     procs=[proc], hint="inet_pton() returns 1 on success, 0 when the text "
                     "is not an IPv4 address (and -1 for a bad family): check for 1.")
            if rc != 1 or not proc.stderr_text().strip():
                fail(did=did, expected="exit status 1 with a message on stderr",
                     got=("still running (trying to connect somewhere)" if rc is None
                          else f"exit status {rc}") + f", stderr {show(proc.stderr)}",
                     procs=[proc],
                     hint="inet_pton(AF_INET, ...) refuses `1.2.3`, which inet_addr() and "
                          "inet_aton() take for 1.2.0.3; it returns 1 only for a valid "
                          "dotted-quad address." if rc is None and arg == "1.2.3" else None)
    finally:
        live.close()


# -- tcp_client ---------------------------------------------------------------------

def _printed_message(out: bytes) -> bytes | None:
    """What follows `Message from server: `, up to the count line (or the end)."""
    head = b"Message from server: "
    if head not in out:
        return None
    rest = out.split(head, 1)[1]
    end = rest.rfind(b"\nFunction read call count:")
    return rest[:end] if end >= 0 else rest.rstrip(b"\n")


def _check_tcp_client(client: Proc, rc: int | None, did: str, printed: bytes,
                      count: int, hint: str | None = None) -> None:
    out = client.stdout
    line = b"Message from server: " + printed + b"\n"
    # the textbook's printf("Message from server: %s \n", ...) ends in a space
    printed_ok = re.search(re.escape(line[:-1]) + rb"[ \t]*\n", out)
    found = COUNT_LINE.findall(out)
    if rc != 0 or not printed_ok or found != [str(count).encode()]:
        got = _printed_message(out)
        differs = (f"; the message differs from what was sent: {compare(printed, got)}"
                   if got is not None and got != printed and printed and got else "")
        fail(did=did, expected=f"the line {show(line)} and the line "
             f"`Function read call count: {count}` on stdout, exit status 0",
             got=("no count line" if not found else "the count line says "
                  + " and ".join(f.decode() for f in found)) + f"; stdout {show(out)}, "
             + ("still running" if rc is None else f"exit status {rc}") + differs,
             procs=[client], hint=hint)


@pytest.mark.role("tcp_client")
@pytest.mark.faults
def test_tcp_client_pieces(prog, procs):
    message = _message(20, 60)
    pieces = _pieces(message, 2 + secrets.randbelow(5))

    started = threading.Event()
    holder: list[Proc] = []
    asked: list[int] = []   # sizes of the socket read()s it was seen blocked in

    def watch_read(pid: int | None, deadline: float) -> None:
        """Once the client is blocked (it has read what was sent), note how many
        bytes its read() asks for. Past `deadline` (in all: a client that
        spins, or a busy machine) a piece is sent without looking."""
        while pid and time.monotonic() < deadline:
            call = _blocked_call(pid)
            if call is not None:
                if call[0] in READS and _is_socket(pid, call[1][0]):
                    asked.append(call[1][2])
                return
            time.sleep(POLL)  # polling /proc: there is no event to wait on

    def send_in_pieces(conn):
        started.wait(5)
        pid = holder[0].program_pid(SETTLE) if holder else None
        deadline = time.monotonic() + SETTLE
        for piece in pieces:
            watch_read(pid, deadline)
            conn.sendall(piece)
            # the client reads this piece before the next is sent
            wait_peer_read_all(conn, timeout=2)

    client, rc, cmd = _run_client(prog, procs, FakeServer(send_in_pieces),
                                  on_start=lambda c: (holder.append(c), started.set()))
    if any(n != 1 for n in asked):
        fail(did=f"ran `{cmd}` against a test server that sends {show(message)} in pieces "
             f"of {_sizes(pieces)} bytes, waiting each time until the client has read",
             expected="each read() on the socket to ask for 1 byte",
             got="it waited in read()s asking for " + ", ".join(map(str, asked))
             + " bytes", procs=[client],
             hint="The count is meant to be the number of read() calls, and it equals "
                  "the number of bytes only because each read() asks for one byte: "
                  "read(fd, &byte, 1). Reading a buffer at a time and adding up the bytes "
                  "prints the same number without showing anything about TCP.")
    _check_tcp_client(
        client, rc, f"ran `{cmd}` against a test server that sends {show(message)} in "
        f"pieces of {_sizes(pieces)} bytes, waiting each time until the client has "
        "read, then closes", message, len(message),
        hint="One byte per read(): read(fd, &byte, 1). Count the reads that returned 1, "
             "not the one that returned 0 (the end) and not one that failed with EINTR "
             "(it is simply made again).")


@pytest.mark.role("tcp_client")
def test_tcp_client_empty(prog, procs):
    client, rc, cmd = _run_client(prog, procs, FakeServer(lambda conn: None))
    _check_tcp_client(client, rc, f"ran `{cmd}` against a test server that closes the "
                      "connection at once, sending nothing", b"", 0,
                      hint="read() returning 0 at once is an empty message: print the "
                           "line with nothing after `Message from server: `, and a count "
                           "of 0.")


@pytest.mark.role("tcp_client")
@pytest.mark.faults
def test_tcp_client_long(prog, procs):
    # three buffers and a bit: the end must still be read, and counted
    message = random_text(3 * KEPT + 1 + secrets.randbelow(100))
    while message[KEPT:KEPT + 1] in (b" ", b"\t"):  # spaces may end the line: keep
        message = random_text(len(message))        # a 1025th byte visible
    ended: list[str] = []

    def send_and_watch(conn):
        conn.sendall(message)
        conn.shutdown(socket.SHUT_WR)
        try:  # how did the client close: FIN (it read everything) or RST?
            ended.append("fin" if conn.recv(1) == b"" else "data")
        except ConnectionResetError:
            ended.append("reset")
        except OSError as exc:
            ended.append(str(exc))

    client, rc, cmd = _run_client(prog, procs, FakeServer(send_and_watch))
    did = (f"ran `{cmd}` against a test server that sends a message of {len(message)} "
           f"bytes (longer than the {KEPT}-byte buffer) and closes")
    _check_tcp_client(client, rc, did, message[:KEPT], len(message),
                      hint=f"Store a byte only while the buffer has room (the first {KEPT}), "
                           "but go on reading and counting until read() returns 0.")
    if ended != ["fin"]:
        fail(did=did, expected="the client to read to the end of the stream (read() "
             "returning 0) before it closes its socket",
             got="it closed with bytes still unread (the kernel then resets the "
             "connection)" if ended == ["reset"] else
             f"the connection ended with {ended or 'nothing seen'}", procs=[client])


@pytest.mark.role("tcp_client")
def test_tcp_client_bad_ip(prog, procs):
    _bad_ip(prog, procs)


# -- one_read_client ------------------------------------------------------------------

class _Observed:
    """What the test server saw the client do while the server was sending."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.client: Proc | None = None
        self.pid: int | None = None
        self.what = "waiting"   # or "read N", "sleeping", "exited"
        self.sent = 0           # bytes sent when it was seen


def _settle(seen: _Observed, conn: socket.socket, sent: int, deadline: float) -> str:
    """After a piece is acknowledged: wait until the client is blocked
    (asleep in the kernel) with all `sent` bytes unread, or has read some,
    or has exited. A client blocked in read() was woken when the piece came
    in (before it was acknowledged), so it is seen reading, whatever the
    timing. Past `deadline` (a client that spins) it is let through."""
    while True:
        # blocked first, unread second: "blocked, then nothing read" means
        # it was waiting for something other than data
        syscall = blocked_syscall(seen.pid) if seen.pid else None
        left = unread_by_peer(conn)
        if left is not None and left < sent:
            return f"read {sent - left}"
        if seen.client is None or not seen.client.running():
            return "exited"
        if syscall is not None:
            return "sleeping" if is_sleep(syscall) or _waits_on_nothing(seen.pid) else "waiting"
        if time.monotonic() > deadline:
            return "waiting"
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def _waits_on_nothing(pid: int) -> bool:
    """Blocked in poll()/select() with no descriptor to watch: a timer."""
    call = _blocked_call(pid)
    return call is not None and call[0] in WAITS and call[1][WAITS[call[0]]] == 0


def _one_read(prog, procs, pieces: list[bytes]) -> tuple[Proc, int | None, str, _Observed]:
    seen = _Observed()

    def send_then_close(conn):
        seen.started.wait(5)
        seen.pid = seen.client.program_pid(SETTLE) if seen.client else None
        deadline = time.monotonic() + SETTLE
        sent = 0
        for piece in pieces:
            conn.sendall(piece)
            # acknowledged before the next is sent: each piece is a segment
            wait_acked(conn, 2)
            sent += len(piece)
            seen.what, seen.sent = _settle(seen, conn, sent, deadline), sent
            if seen.what != "waiting":
                break
        # returning closes the connection: the FIN

    server = FakeServer(send_then_close)
    seen.client = prog.start(procs, "127.0.0.1", str(server.port), limit=20)
    seen.started.set()
    rc = seen.client.wait_exit(10)
    server.close()
    return seen.client, rc, command_line(prog, "127.0.0.1", str(server.port)), seen


def _check_one_read(client: Proc, rc: int | None, did: str, seen: _Observed,
                    total: int) -> None:
    if seen.what.startswith("read"):
        fail(did=did, expected="the client to read nothing before the server closed",
             got=f"it read {seen.what[5:]} bytes when the server had sent {seen.sent} of its "
             f"{total} and not closed yet", procs=[client],
             hint="Wait for the server's close first: poll() for POLLRDHUP only (not "
                  "POLLIN, which wakes you at the first byte), then read() once. A read "
                  "loop, or recv() with MSG_WAITALL, takes the bytes out as they come.")
    if seen.what == "exited":
        fail(did=did, expected="the client to wait for the server's close, then read once",
             got=f"it had ended when the server had sent {seen.sent} of its {total} bytes "
             f"and not closed yet (its stdout: {show(client.stdout)})", procs=[client],
             hint="It read too early: a read() made while the server is still sending "
                  "returns what has arrived so far. Wait for the server's close first: "
                  "poll() for POLLRDHUP only, then read() once.")
    if seen.what == "sleeping":
        fail(did=did, expected="the client to wait for the server's close in poll() (or "
             "another call that waits for the socket)",
             got=f"it was asleep (in sleep()/nanosleep(), or in a poll() or select() given no "
             f"descriptor to watch) when the server had sent {seen.sent} bytes", procs=[client],
             hint="A fixed sleep is a guess: too short on a slow network, wasted time on "
                  "a fast one. poll() with POLLRDHUP returns when the server's FIN is in.")
    out = client.stdout
    found = ONE_READ_LINE.findall(out)
    want = str(total).encode()
    if rc != 0 or found != [want]:
        fail(did=did, expected=f"the line `Bytes returned by one read(): {total}` on "
             "stdout, exit status 0",
             got=f"stdout {show(out)}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[client],
             hint="After the FIN has arrived every byte is in the receive buffer: one "
                  "read() with a buffer of 1024 bytes or more returns all of them."
             if found else None)


@pytest.mark.role("one_read_client")
def test_one_read_client_pieces(prog, procs):
    message = _message(100, 400)
    pieces = _pieces(message, 3 + secrets.randbelow(4))
    client, rc, cmd, seen = _one_read(prog, procs, pieces)
    _check_one_read(client, rc, f"ran `{cmd}` against a test server that writes "
                    f"{len(message)} bytes in {len(pieces)} write()s of {_sizes(pieces)} "
                    "bytes (each a TCP segment of its own, acknowledged before the next), "
                    "then closes", seen, len(message))


@pytest.mark.role("one_read_client")
def test_one_read_client_nothing_sent(prog, procs):
    client, rc, cmd, seen = _one_read(prog, procs, [])
    _check_one_read(client, rc, f"ran `{cmd}` against a test server that closes at once, "
                    "sending nothing", seen, 0)


@pytest.mark.role("one_read_client")
def test_one_read_client_bad_ip(prog, procs):
    _bad_ip(prog, procs)


# -- sock_type --------------------------------------------------------------------------

SOCKET_LINE = re.compile(r"^socket\(AF_INET, (\w+), (\w+)\): SO_TYPE=(-?\d+) \((\w+)\), "
                         r"SO_PROTOCOL=(-?\d+) \((\w+)\)[ \t]*$", re.M)
FAIL_LINE = re.compile(r"^socket\(AF_INET, SOCK_STREAM, IPPROTO_UDP\): fails, errno "
                       r"(\d+) \(.*\)[ \t]*$", re.M)
# (second argument, third argument) of each line, and what the kernel makes of it
SOCKETS = (("SOCK_STREAM", "0"), ("SOCK_DGRAM", "0"), ("SOCK_STREAM", "IPPROTO_TCP"),
           ("SOCK_DGRAM", "IPPROTO_UDP"))
TYPE_NAMES = {socket.SOCK_STREAM: "SOCK_STREAM", socket.SOCK_DGRAM: "SOCK_DGRAM"}
PROTOCOL_NAMES = {socket.IPPROTO_TCP: "IPPROTO_TCP", socket.IPPROTO_UDP: "IPPROTO_UDP"}


def _run_sock_type(prog, procs) -> tuple[Proc, str]:
    proc = prog.start(procs, limit=RUN_WAIT + 10)
    rc = proc.wait_exit(RUN_WAIT)
    if rc != 0:
        fail(did=f"ran `{command_line(prog)}`", expected="exit status 0",
             got="still running" if rc is None else f"exit status {rc}", procs=[proc])
    return proc, proc.stdout_text()


def _truth(type_arg: str, protocol_arg: str) -> tuple[int, int]:
    """What the kernel says of the same socket, asked from here."""
    kind = getattr(socket, type_arg)
    protocol = 0 if protocol_arg == "0" else getattr(socket, protocol_arg)
    with socket.socket(socket.AF_INET, kind, protocol) as s:
        return (s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE),
                s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))


@pytest.mark.role("sock_type")
def test_sock_type_types(prog, procs):
    proc, out = _run_sock_type(prog, procs)
    lines = {(m[0], m[1]): m for m in SOCKET_LINE.findall(out)}
    for type_arg, protocol_arg in SOCKETS:
        real_type, real_protocol = _truth(type_arg, protocol_arg)
        want = (f"socket(AF_INET, {type_arg}, {protocol_arg}): SO_TYPE={real_type} "
                f"({TYPE_NAMES[real_type]}), SO_PROTOCOL={real_protocol} "
                f"({PROTOCOL_NAMES[real_protocol]})")
        got = lines.get((type_arg, protocol_arg))
        if got is None or got[2:] != (str(real_type), TYPE_NAMES[real_type],
                                     str(real_protocol), PROTOCOL_NAMES[real_protocol]):
            mine = next((ln for ln in out.splitlines()
                         if ln.startswith(f"socket(AF_INET, {type_arg}, {protocol_arg})")),
                        None)
            fail(did=f"ran `{command_line(prog)}`",
                 expected=f"the line `{want}` (the values are what getsockopt() says of "
                          "such a socket)",
                 got=f"the line `{mine}`" if mine else f"no such line; stdout {show(proc.stdout)}",
                 procs=[proc],
                 hint="getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) with "
                      "`socklen_t len = sizeof value` set before each call; protocol 0 "
                      "asks for the default, and SO_PROTOCOL says which one the kernel "
                      "chose." if mine else None)


@pytest.mark.role("sock_type")
def test_sock_type_wrong_protocol(prog, procs):
    proc, out = _run_sock_type(prog, procs)
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_UDP).close()
        real = 0
    except OSError as exc:
        real = exc.errno or 0
    found = FAIL_LINE.findall(out)
    if found != [str(real)]:
        fail(did=f"ran `{command_line(prog)}`",
             expected=f"the line `socket(AF_INET, SOCK_STREAM, IPPROTO_UDP): fails, errno "
                      f"{real} (...)`, with strerror()'s text in the parentheses ({real} is "
                      f"{errno.errorcode.get(real, '?')})",
             got=f"errno {', '.join(found)}" if found else f"no such line; stdout "
             f"{show(proc.stdout)}", procs=[proc],
             hint="Save errno right after socket() fails: any later call (printf, close) "
                  "may change it.")


@pytest.mark.role("sock_type")
def test_sock_type_usage(prog, procs):
    proc = ends_with_status_1(prog, procs, ["extra"], "an argument, where it takes none")
    if not any(ln.lstrip().startswith("Usage:") for ln in proc.stderr_text().splitlines()):
        fail(did=f"ran `{command_line(prog, 'extra')}`",
             expected="a line starting with `Usage:` on stderr",
             got=f"stderr {show(proc.stderr)}", procs=[proc],
             hint="Check argc first: `if (argc != 1)`, print `Usage: sock_type` to stderr.")
