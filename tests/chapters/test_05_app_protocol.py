"""Chapter 05: the calculator server and client, an application protocol of
binary integers (contracts: chapters/05_app_protocol/README.md).

Request: 1 byte operand count N (1-255), N operands of 4 bytes each (two's
complement, network byte order), 1 operator byte `+`, `-` or `*`. Reply: the
result, 4 bytes in network byte order, left to right modulo 2^32."""

from __future__ import annotations

import re
import secrets
import select
import signal
import socket
import struct
import time

import pytest

from harness.feedback import HINTS, fail, show
from harness.net import HOST, connect, recv_exact, recv_until_eof, reset
from harness.ports import (POLL, connection, free_port, tcp_table, wait_accepted,
                           wait_fin_acked, wait_gone)
from harness.procs import ProgramExited, WaitTimeout
from harness.scenarios import EXIT_WAIT as _EXIT_WAIT
from harness.scenarios import command_line, restart_over_time_wait, start_server

# Upper bounds, not delays: every wait ends on the event (the reply, the close,
# the exit), which a correct program gives within milliseconds. They are this
# generous because under load (a class graded on a busy machine) a program may
# not run at all for seconds; only a program that is wrong waits them out.
REPLY_WAIT = 10.0    # seconds a reply (or the server's close) may take
EXIT_WAIT = max(_EXIT_WAIT, 10.0)   # seconds a program may take to exit when it should


def _wait(proc, seconds: float = REPLY_WAIT) -> float:
    """An upper bound for the program to do something: longer under valgrind
    (make valgrind), which runs a program some 20 times slower."""
    return seconds * (3 if proc.argv and proc.argv[0] == "valgrind" else 1)
PROMPTS = ("Operand count: ", "Operator: ")
RESULT = re.compile(r"Operation result: (-?\d+)")


# -- the wire format, as the tests compute it ------------------------------------

def request(operands: list[int], op: bytes) -> bytes:
    return (bytes([len(operands)]) + b"".join(struct.pack("!i", o) for o in operands)
            + op)


def result(operands: list[int], op: bytes) -> int:
    """The signed value of the reply: left to right, modulo 2^32."""
    acc = operands[0]
    for o in operands[1:]:
        acc = acc + o if op == b"+" else acc - o if op == b"-" else acc * o
    acc &= 0xFFFFFFFF
    return acc - (1 << 32) if acc & 0x80000000 else acc


def reply(value: int) -> bytes:
    return struct.pack("!I", value & 0xFFFFFFFF)


def spell(operands: list[int], op: bytes) -> str:
    shown = f" {op.decode()} ".join(str(o) for o in operands[:6])
    return shown + (f" {op.decode()} ... ({len(operands)} operands)" if len(operands) > 6
                    else "")


def random_operands(n: int) -> list[int]:
    return [secrets.randbelow(1 << 32) - (1 << 31) for _ in range(n)]


# -- op_server ---------------------------------------------------------------------

def _wait_read(sock: socket.socket, timeout: float = 1.0) -> bool:
    """Wait until the program at the other end of `sock` has read what
    arrived: its side of the connection has nothing unread (/proc/net/tcp).
    Unlike wait_peer_read_all it does not wait for the ACK too, which the
    program's kernel delays by up to 200 ms when it has nothing to send:
    on loopback a byte is in the peer's receive queue by the time send()
    returns. False if the peer did not read within `timeout`."""
    me, peer = sock.getsockname()[:2], sock.getpeername()[:2]
    deadline = time.monotonic() + timeout
    while True:
        entry = connection(peer, me)
        if entry is None or entry.rx_queue == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def _send_bytewise(sock: socket.socket, data: bytes) -> None:
    """One byte at a time, each read by the server before the next is sent
    (if the server stops reading, the rest goes in one piece)."""
    for i in range(len(data)):
        sock.sendall(data[i:i + 1])
        if not _wait_read(sock):
            sock.sendall(data[i + 1:])
            return


ANY_ADDR = "127.0.0.2"  # a local address, but not 127.0.0.1: only INADDR_ANY listens there


def _ask(server, port: int, operands: list[int], op: bytes, did: str,
         bytewise: bool = False, host: str = HOST) -> None:
    """One client: send the request, expect exactly the 4-byte result and
    then the end of the stream. `host`: the address the client connects to."""
    req = request(operands, op)
    want = result(operands, op)
    how = "one byte at a time, each read before the next" if bytewise else "in one piece"
    did = f"{did}, sent the request {spell(operands, op)} ({len(req)} bytes, {how})"
    try:
        if host == HOST:
            sock = connect(port, timeout=_wait(server))
        else:
            sock = socket.create_connection((host, port), timeout=_wait(server))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        refused = isinstance(exc, ConnectionRefusedError)
        fail(did=did, expected="the connection to be accepted", got=f"{exc.strerror or exc}",
             procs=[server], hint=(f"{host} is an address of this machine too (all of "
                                   "127.0.0.0/8 is loopback): a server that listens on every "
                                   "local address binds to htonl(INADDR_ANY), not to "
                                   "127.0.0.1.") if refused and host != HOST
             else HINTS["refused"] if refused else None)
    with sock:
        try:
            _send_bytewise(sock, req) if bytewise else sock.sendall(req)
        except OSError:
            pass  # what came back says what happened
        got, why = recv_exact(sock, 4, _wait(server))
        rest, end = (b"", "")
        if not why:
            rest, end = recv_until_eof(sock, _wait(server), cap=64)
    if got != reply(want) or rest or end:
        value = f" (the value {struct.unpack('!i', got)[0]})" if len(got) == 4 else ""
        if why == "timeout" and bytewise:
            hint = HINTS["pieces"] + " The count byte says how many bytes follow."
        elif why:
            hint = HINTS.get(why)
        elif got != reply(want):
            hint = ("Operands and result travel in network byte order: ntohl() each "
                    "operand, htonl() the result; compute in uint32_t, left to right.")
        else:
            hint = "After the reply, close() the connection: one request per client."
        fail(did=did, expected=f"the 4 bytes {show(reply(want))} (the value {want}), "
             "then the end of the stream",
             got=f"{show(got)}{value}" + (f", then {why}" if why else "")
             + (f", then {show(rest)}" if rest else "") + (f", then {end}" if end else ""),
             procs=[server], hint=hint)


def _expect_no_reply(server, port: int, data: bytes, did: str, hint: str,
                     finish: str = "") -> None:
    """Send data and keep the connection open (or, with finish="fin", close
    the sending side): the server must close it without sending anything,
    and say why on stderr."""
    err_before = len(server.stderr)
    sock = connect(port, timeout=_wait(server))
    with sock:
        sock.sendall(data)
        if finish == "fin":
            sock.shutdown(socket.SHUT_WR)
        got, why = recv_until_eof(sock, _wait(server), cap=64)
    if got or why not in ("", "reset"):
        fail(did=did, expected="the server to close the connection at once, sending nothing",
             got=(show(got) if got else "nothing") + (f", then {why}" if why else ""),
             procs=[server], hint=HINTS["timeout"] + " " + hint if why == "timeout" else hint)
    try:
        server.wait_output(r"\S", _wait(server), stream="stderr", start=err_before)
    except (WaitTimeout, ProgramExited):
        fail(did=did, expected="a line on stderr saying what was wrong with the request",
             got=f"stderr {show(server.stderr[err_before:])}", procs=[server],
             hint="fprintf(stderr, ...) before closing the connection.")


@pytest.mark.role("op_server")
@pytest.mark.faults
def test_op_server_computes(prog, procs):
    server, port = start_server(prog, procs)
    cases = [([1000, -3000, 24], b"+"),            # negative operands
             ([10, 20, -5, 7], b"-"),              # left to right: ((10-20)-(-5))-7
             ([2147483647, 1], b"+"),              # wraps to -2147483648
             ([-7, 123456789, 1000], b"*"),        # wraps
             ([-19], b"*")]                        # one operand: itself
    for n, (operands, op) in enumerate(cases, 1):
        # the last one comes to another local address: the server listens on all of them
        host = ANY_ADDR if n == len(cases) else HOST
        _ask(server, port, operands, op, f"client {n} of 5 connected to "
             f"`{command_line(prog, str(port))}` at {host}", host=host)


@pytest.mark.role("op_server")
@pytest.mark.faults
def test_op_server_large_count(prog, procs):
    server, port = start_server(prog, procs)
    for n, (count, op) in enumerate([(200, b"+"), (255, b"-"), (128, b"*")], 1):
        operands = random_operands(count)
        if op == b"*":  # a product of random numbers soon wraps to 0
            operands = [secrets.choice((-3, -1, 1, 3, 5)) for _ in range(count)]
        _ask(server, port, operands, op, f"client {n} connected (a count above 127)")


@pytest.mark.role("op_server")
@pytest.mark.faults
def test_op_server_byte_by_byte(prog, procs):
    server, port = start_server(prog, procs)
    _ask(server, port, [-40000, 3, 17], b"*", "client 1 connected", bytewise=True)


@pytest.mark.role("op_server")
def test_op_server_rejects_bad_requests(prog, procs):
    server, port = start_server(prog, procs)
    _expect_no_reply(server, port, b"\x00",
                     "client 1 sent the operand count 0 (1 byte) and waited",
                     "A count of 0 is invalid: no operands and no operator are worth "
                     "waiting for. Check it as soon as the count byte has come.")
    _expect_no_reply(server, port, request([5, 7], b"/"),
                     "client 2 sent the request 5 / 7 (operator `/`) and waited",
                     "Only + - * are operators: any other byte gets no reply at all (the "
                     "textbook's server answers with the first operand).")
    _expect_no_reply(server, port, request([5, 7], b"x"),
                     "client 3 sent the request 5 x 7 (operator `x`) and waited",
                     "Only + - * are operators: any other byte gets no reply at all.")
    _ask(server, port, [6, 7], b"*", "then client 4 connected")


@pytest.mark.role("op_server")
def test_op_server_client_leaves_early(prog, procs):
    server, port = start_server(prog, procs)
    partial = request([1, 2, 3], b"+")[:7]
    _expect_no_reply(server, port, partial,
                     f"client 1 sent only 7 bytes of a 3-operand request {show(partial)}, "
                     "then closed its sending side (FIN)",
                     "read() returning 0 means the client has closed: stop reading, close "
                     "the connection, say so on stderr and go on with the next client.",
                     finish="fin")
    _expect_no_reply(server, port, b"", "client 2 connected and closed at once, sending "
                     "nothing", "read() returning 0 for the count byte: the client has "
                     "gone. Close and go on.", finish="fin")
    quitter = connect(port, timeout=_wait(server))
    quitter.sendall(request([1, 2, 3], b"+")[:5])
    reset(quitter)
    _ask(server, port, [40, 2], b"+", "client 3 sent 5 bytes of a request and reset the "
         "connection (RST); then client 4 connected")


@pytest.mark.role("op_server")
def test_op_server_survives_sigpipe(prog, procs):
    server, port = start_server(prog, procs)
    # The server is paused (SIGSTOP: invisible to it) once it has accepted
    # client 1, which sends a whole request, closes its sending side and
    # resets; then the server goes on. It reads the request, and its write()
    # of the reply fails with EPIPE and raises SIGPIPE: that kills a server
    # that does not ignore SIGPIPE, every time.
    quitter = connect(port, timeout=_wait(server))
    if not wait_accepted(server, port, _wait(server)):
        quitter.close()
        fail(did="client 1 connected", expected="the server to accept() it",
             got="it did not accept it within the time limit", procs=[server])
    server.stop()
    try:
        quitter.sendall(request([3, 4], b"+"))
        quitter.shutdown(socket.SHUT_WR)
        wait_fin_acked(quitter, 2.0)
        ends = quitter.getsockname()[:2], quitter.getpeername()[:2]
        reset(quitter)
        wait_gone(*ends, 2.0)
    finally:
        server.signal(signal.SIGCONT)
    did = ("client 1 sent the request 3 + 4 and reset the connection (RST) before the "
           "server could reply; then client 2 connected")
    _ask(server, port, [8, -2], b"*", did)


@pytest.mark.role("op_server")
def test_op_server_five_then_exits(prog, procs):
    server, port = start_server(prog, procs)
    _ask(server, port, [2, 3], b"+", "client 1 connected")
    with connect(port, timeout=_wait(server)):
        pass  # client 2: connects and closes at once
    _expect_no_reply(server, port, b"\x00", "client 2 connected and closed at once; "
                     "client 3 sent the count 0", "A count of 0 gets no reply.")
    _expect_no_reply(server, port, request([9, 9], b"/"), "client 4 sent 9 / 9",
                     "An unknown operator gets no reply.")
    did = ("clients 2, 3 and 4 were bad (closed at once, count 0, operator `/`); "
           "client 5 connected")
    _ask(server, port, [100, 1], b"-", did)
    rc = server.wait_exit(_wait(server, EXIT_WAIT))
    if rc != 0:
        fail(did="served five connections (two good requests, three bad ones)",
             expected="exit status 0 after the fifth: every connection counts, good or bad",
             got="still running" if rc is None else f"exit status {rc}", procs=[server],
             hint="Count each accept(), whatever the client then sends; loop exactly five "
                  "times.")


@pytest.mark.role("op_server")
def test_op_server_restarts(prog, procs):
    def setup():
        server, port = start_server(prog, procs)
        _ask(server, port, [2, 3], b"+", "client 1 connected")
        # the server closed first, so its side of the connection is now in
        # TIME_WAIT: only SO_REUSEADDR lets a new server bind the port
        return server, port, (f"had `{command_line(prog, str(port))}` answer one request "
                              "(it closes each connection first)")
    restart_over_time_wait(prog, procs, setup)


# -- op_client ---------------------------------------------------------------------

class Listener:
    """The test's stand-in for op_server, on a fresh port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, self.port))
        self.sock.listen(8)
        self.conns: list[socket.socket] = []

    def accept(self, client, timeout: float) -> socket.socket | None:
        """The client's connection, waiting while the client runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.sock], [], [], 0.02)
            if ready:
                conn, _ = self.sock.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conns.append(conn)
                return conn
            if not client.running():
                return self.pending()
        return None

    def pending(self) -> socket.socket | None:
        """After the client has ended: a connection it made and that is not
        taken yet (the kernel lists it in /proc/net/tcp until we accept it)."""
        self.sock.setblocking(False)
        deadline = time.monotonic() + 1.0
        while True:
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
                return conn
            except BlockingIOError:
                pass
            others = [e for e in tcp_table() if e.local[1] == self.port and e.state != 0x0A]
            if len(others) <= len(self.conns) or time.monotonic() > deadline:
                return None
            time.sleep(0.005)  # polling /proc: there is no event to wait on

    def watch(self, client, timeout: float) -> tuple[int | None, bytes]:
        """Until the client ends (or `timeout`): take its connection and
        collect what it sends; stop at the first byte, which is enough to
        know. Returns (exit status or None, the bytes received)."""
        data = bytearray()
        deadline = time.monotonic() + timeout
        open_conns: list[socket.socket] = []
        while client.returncode is None and not data:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.sock, *open_conns], [], [], min(0.02, left))
            for s in ready:
                if s is self.sock:
                    conn, _ = self.sock.accept()
                    self.conns.append(conn)
                    open_conns.append(conn)
                    continue
                try:
                    chunk = s.recv(4096)
                except OSError:
                    chunk = b""
                data += chunk
                if not chunk:
                    open_conns.remove(s)
        # ended: wait_exit collects the rest of its output
        rc = client.wait_exit(_wait(client, EXIT_WAIT)) if client.returncode is not None else None
        if rc is not None:
            self.pending()
            for conn in self.conns:  # the client has ended: each stream is complete
                rest, _ = recv_until_eof(conn, 0.5, cap=4096)
                data += rest
        return rc, bytes(data)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def _describe(client, rc) -> str:
    return (f"stdout {show(client.stdout)}, stderr {show(client.stderr)}, "
            + ("still running" if rc is None else f"exit status {rc}"))


def _run_valid(prog, procs, stdin: bytes, operands: list[int], op: bytes, how: str,
               pieces: bool = False, cut: bool = False):
    """Run the client against the test's server, which checks the request
    and replies; returns (client, exit status, did, what the server got)."""
    want_req = request(operands, op)
    value = result(operands, op)
    peer = Listener()
    try:
        client = prog.start(procs, "127.0.0.1", str(peer.port), stdin_data=stdin, limit=20)
        did = (f"ran `{command_line(prog, '127.0.0.1', str(peer.port))}` with stdin "
               f"{show(stdin)} against a test server that {how}")
        conn = peer.accept(client, _wait(client, 15.0))
        got = b""
        if conn is not None:
            got, why = recv_exact(conn, len(want_req), _wait(client), idle=_wait(client, 5.0),
                                  expect=want_req)
            if got == want_req:
                answer = reply(value)
                if cut:
                    conn.sendall(answer[:2])
                    conn.close()
                elif pieces:
                    for i in range(4):
                        conn.sendall(answer[i:i + 1])
                        _wait_read(conn, timeout=2)
                else:
                    conn.sendall(answer)
        # a wrong request has failed the test already: no need to wait long
        rc = client.wait_exit(_wait(client, EXIT_WAIT) if got == want_req else 0.2)
        if conn is not None and got == want_req and not cut and rc is not None:
            extra, _ = recv_until_eof(conn, 0.5, cap=4096)
            got += extra
    finally:
        peer.close()
    if got != want_req:
        fail(did=did, expected=f"the request {spell(operands, op)}: the {len(want_req)} "
             f"bytes {show(want_req)}", got=(f"{show(got)}" if conn is not None
                                             else "no connection") + "; the client: "
             + _describe(client, rc), procs=[client],
             hint=("Every token of this input is valid (an operand may be anything from "
                   "-2147483648 to 2147483647, both included): the client must send the "
                   "request, not refuse it.") if not got and rc == 1 else
             "The count is 1 byte; each operand 4 bytes, htonl() of its value; then "
             "the operator's 1 byte. Build it all, then write_all() it: nothing more, "
             "nothing less.")
    return client, rc, did, value


def _expect_result(client, rc, did, value: int, hint: str | None = None) -> None:
    m = RESULT.search(client.stdout_text())
    if rc != 0 or not m or int(m.group(1)) != value:
        fail(did=did, expected=f"the line `Operation result: {value}` and exit status 0",
             got=_describe(client, rc), procs=[client], hint=hint)


@pytest.mark.role("op_client")
@pytest.mark.faults
def test_op_client_request(prog, procs):
    operands, op = [-5, -2147483648, 2147483647], b"-"  # both ends of the range
    stdin = b"3 -5\n-2147483648   2147483647\n-\n"  # tokens, whatever the white space
    client, rc, did, value = _run_valid(prog, procs, stdin, operands, op,
                                        "checks the request's bytes and replies")
    _expect_result(client, rc, did, value)
    out = client.stdout_text()
    wanted = ["Operand count: ", "Operand 1: ", "Operand 2: ", "Operand 3: ", "Operator: ",
              "Operation result: "]
    at = 0
    for w in wanted:
        at = out.find(w, at)
        if at == -1:
            break
        at += len(w)
    if at == -1 or "Connected" not in out:
        fail(did=did, expected="a line containing `Connected`, and in order on stdout: "
             + ", ".join(f"`{x}`" for x in wanted),
             got=f"stdout {show(client.stdout)}", procs=[client],
             hint="Print each prompt (no newline) and fflush(stdout) before reading its "
                  "token; after connect(), a line saying Connected.")


@pytest.mark.role("op_client")
@pytest.mark.faults
def test_op_client_reply_in_pieces(prog, procs):
    operands, op = [65536, 40000, 3], b"*"  # wraps: a negative result
    stdin = b"3\n65536\n40000\n3\n*\n"
    client, rc, did, value = _run_valid(
        prog, procs, stdin, operands, op, "sends the 4-byte result one byte at a time, "
        "waiting each time until the client has read", pieces=True)
    _expect_result(client, rc, did, value, hint=HINTS["pieces"] + " Read until all 4 "
                   "bytes are in; then ntohl() them and print the value as signed.")


@pytest.mark.role("op_client")
@pytest.mark.faults
def test_op_client_large_count(prog, procs):
    operands, op = random_operands(200), b"+"
    stdin = b"200\n" + b"\n".join(str(o).encode() for o in operands) + b"\n+\n"
    client, rc, did, value = _run_valid(prog, procs, stdin, operands, op,
                                        "checks the request's bytes and replies")
    _expect_result(client, rc, did, value,
                   hint="Counts go up to 255: the count byte is unsigned char.")


@pytest.mark.role("op_client")
def test_op_client_server_closes_early(prog, procs):
    operands, op = [7, 8], b"+"
    client, rc, did, _ = _run_valid(prog, procs, b"2\n7\n8\n+\n", operands, op,
                                    "sends 2 bytes of the result and closes", cut=True)
    if rc != 1 or not client.stderr_text().strip():
        fail(did=did, expected="a message on stderr and exit status 1: the result never "
             "came whole", got=_describe(client, rc), procs=[client],
             hint="read() returning 0 means the server closed: stop and report it, do not "
                  "read again and do not print a result made of 2 bytes.")


BAD_INPUTS = [
    ("count-0", b"0\n+\n", "the count 0"),
    ("count-256", b"256\n+\n", "the count 256"),
    ("count-junk", b"2x\n5\n7\n+\n", "the count `2x`"),
    ("operand-word", b"2\n5\nfive\n+\n", "an operand that is not a number"),
    ("operand-junk", b"1\n12x\n+\n", "the operand `12x`"),
    ("operand-too-big", b"1\n2147483648\n+\n", "the operand 2147483648 (above 2^31 - 1)"),
    ("operand-too-small", b"1\n-2147483649\n+\n",
     "the operand -2147483649 (below -2^31)"),
    ("operator-slash", b"2\n5\n7\n/\n", "the operator `/`"),
    ("operator-long", b"2\n5\n7\n++\n", "the operator `++` (two characters)"),
    ("eof-count", b"", "no input at all"),
    ("eof-operands", b"3\n1\n2\n", "input that ends after 2 of 3 operands"),
    ("eof-operator", b"1\n5\n", "input that ends before the operator"),
]


@pytest.mark.role("op_client")
@pytest.mark.parametrize("stdin, why", [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_op_client_rejects_input(prog, procs, stdin, why):
    peer = Listener()
    try:
        client = prog.start(procs, "127.0.0.1", str(peer.port), stdin_data=stdin, limit=20)
        rc, sent = peer.watch(client, _wait(client, EXIT_WAIT))
    finally:
        peer.close()
    did = (f"ran `{command_line(prog, '127.0.0.1', str(peer.port))}` with stdin "
           f"{show(stdin)} ({why})")
    if rc != 1 or not client.stderr_text().strip() or sent:
        fail(did=did, expected="a message on stderr, exit status 1, and not one byte sent "
             "to the server", got=(f"the server received {show(sent)}; " if sent else "")
             + _describe(client, rc), procs=[client],
             hint=HINTS["timeout"] if rc is None else
             "Read and check every token before you write anything: the count 1-255, each "
             "operand a 32-bit integer (strtol() with its end pointer and a range check), "
             "the operator one of + - *; scanf() returning EOF is the end of input.")


@pytest.mark.role("op_client")
def test_op_client_bad_address(prog, procs):
    peer = Listener()  # where a client that ignores the address would end up
    try:
        for addr in ("999.1.1.1", "abc"):
            before = len(peer.conns)
            client = prog.start(procs, addr, str(peer.port), stdin_data=b"1\n5\n+\n",
                                limit=10)
            rc, sent = peer.watch(client, _wait(client, EXIT_WAIT))
            conn = len(peer.conns) > before
            did = f"ran `{command_line(prog, addr, str(peer.port))}` (not an IPv4 address)"
            if rc != 1 or not client.stderr_text().strip() or conn:
                fail(did=did, expected="a message on stderr and exit status 1, no "
                     "connection", got=("it connected to 127.0.0.1; " if conn else "")
                     + _describe(client, rc), procs=[client],
                     hint="inet_pton() returns 0 for text that is not an IPv4 address: "
                          "check for it, print a message and exit(1).")
    finally:
        peer.close()
