"""Chapter 04: the iterative echo server and client, and the iterative hello
server (contracts: chapters/04_iterative_echo/README.md). The same tests
grade the Winsock twins of chapter 04_windows_echo, run under Wine."""

from __future__ import annotations

import re
import signal
import socket

import pytest

from harness.feedback import HINTS, compare, fail, first_difference, show
from harness.net import (FakeServer, connect, exchange, random_binary, random_text,
                         recv_exact, recv_until_eof, reset)
from harness.ports import (unread_by_server, wait_accepted, wait_fin_acked, wait_gone,
                           wait_in_accept, wait_peer_read_all)
from harness.procs import ProgramExited, WaitTimeout
from harness.scenarios import (EXIT_WAIT, OTHER_LOOPBACK, check_bad_ip_client,
                               check_greets_every_address, command_line, connect_every_address,
                               restart_over_time_wait, start_server)

CHAPTERS = ("04_iterative_echo", "04_windows_echo")
GREETING = b"Hello World!"
PROMPT = "Input message(Q to quit): "
REPLY = "Message from server: "


def _slow(prog) -> float:
    return 1.0 + (prog.ex.slowness - 1) / 2


# -- echo_server ----------------------------------------------------------------

def _expect_echo(prog, server, sock, payload: bytes, did: str, timeout: float = 5) -> None:
    got, why = exchange(sock, payload, timeout * _slow(prog))
    if got != payload:
        at = first_difference(payload, got)  # long payloads: shown around it
        fail(did=did + f", sent {show(payload, at=at)}",
             expected="the same bytes back",
             got=f"{show(got, at=at)} ({compare(payload, got)})"
             + (f"; then {why}" if why and why != "mismatch" else ""),
             procs=[server], hint=HINTS.get(why) if why in ("eof", "reset", "timeout") else
             "Echo exactly the bytes read: write(conn, buf, n) with n from read(), never "
             "strlen(buf): the data may contain NUL bytes.")


def _expect_line(prog, server, n: int, did: str) -> None:
    try:
        server.wait_output(rf"Connected client {n}\b", 2 * _slow(prog))
    except (WaitTimeout, ProgramExited):
        fail(did=did, expected=f"the line `Connected client {n}` on stdout, at once",
             got=f"stdout {show(server.stdout)}", procs=[server], hint=HINTS["stdout"])


@pytest.mark.role("echo_server")
@pytest.mark.faults
def test_echo_server_echoes(prog, procs):
    server, port = start_server(prog, procs)
    did = f"connected to `{command_line(prog, str(port))}`"
    with connect(port, timeout=5 * _slow(prog)) as sock:
        for n in (1, 40, 200):
            _expect_echo(prog, server, sock, random_text(n), did)
        sock.shutdown(socket.SHUT_WR)
        rest, why = recv_until_eof(sock, 5 * _slow(prog))
    if rest or why:
        fail(did=did + ", exchanged three messages, then closed its sending side "
             "(shutdown SHUT_WR)", expected="the server to close the connection too, "
             "with nothing more sent", got=f"{show(rest)}" + (f", then {why}" if why else ""),
             procs=[server], hint="When read() returns 0 the client has closed: close() "
                                  "its socket so the client sees the end of stream.")


@pytest.mark.role("echo_server")
@pytest.mark.faults
@pytest.mark.timeout(240)
def test_echo_server_binary(prog, procs):
    # A correct server may move a byte per read() (any BUF_SIZE meets the
    # notes): 3 MiB is then 6 million calls, half a minute on a loaded
    # machine. So the bound on the whole echo is generous, and a server that
    # stops is caught by the silence instead (net.IDLE: nothing back for 2 s)
    server, port = start_server(prog, procs, limit=220)
    size = (1 if prog.ex.kind == "windows" else 3) << 20
    with connect(port, timeout=20) as sock:
        _expect_echo(prog, server, sock, random_binary(200), f"connected to port {port}")
        _expect_echo(prog, server, sock, random_binary(size),
                     f"connected to port {port} and, while reading, sent {size} bytes",
                     180 / _slow(prog))


# OTHER_LOOPBACK, 127.0.0.2, is loopback too, but not 127.0.0.1: only a
# server listening on every local address (INADDR_ANY), as the notes ask,
# accepts there


@pytest.mark.role("echo_server")
def test_echo_server_five_clients(prog, procs):
    server, port = start_server(prog, procs)
    for n in range(1, 6):
        host = OTHER_LOOPBACK if n in (2, 4) else "127.0.0.1"
        did = f"connected client {n} of 5, one after another, to {host} port {port}"
        try:
            if host == OTHER_LOOPBACK:
                sock = socket.create_connection((host, port), timeout=5 * _slow(prog))
                sock.settimeout(5 * _slow(prog))
            else:
                sock = connect(port, timeout=5 * _slow(prog))
        except OSError as exc:
            fail(did=did, expected="the connection to be accepted"
                 + (" (127.0.0.2 is a local address too)" if host == OTHER_LOOPBACK else ""),
                 got=f"{exc.strerror or exc}", procs=[server],
                 hint=("Bind to INADDR_ANY (htonl(INADDR_ANY)), every local address, not "
                       "to 127.0.0.1 only." if host == OTHER_LOOPBACK else HINTS["refused"])
                 if isinstance(exc, ConnectionRefusedError) else None)
        with sock:
            _expect_echo(prog, server, sock, random_text(30), did)
        _expect_line(prog, server, n, did)
    rc = server.wait_exit(EXIT_WAIT * _slow(prog), patient=True)
    # the line may say more (the textbook's has a trailing space, a student's
    # the client's address): what counts is each N, in order
    numbers = [m.group(1) for m in re.finditer(r"Connected client (\d+)\b",
                                               server.stdout_text())]
    if rc != 0 or numbers != [str(n) for n in range(1, 6)]:
        fail(did=f"served five clients one after another on port {port}",
             expected="lines `Connected client 1` to `Connected client 5`, then exit "
                      "status 0", got=f"stdout {show(server.stdout)}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[server],
             hint="Loop exactly five times around accept() ... close().")


@pytest.mark.role("echo_server")
def test_echo_server_announces_promptly(prog, procs):
    server, port = start_server(prog, procs)
    with connect(port, timeout=5 * _slow(prog)) as sock:
        _expect_echo(prog, server, sock, random_text(20), f"connected to port {port}")
        _expect_line(prog, server, 1, "connected client 1 and kept it connected")


@pytest.mark.role("echo_server")
def test_echo_server_queues_next_client(prog, procs):
    server, port = start_server(prog, procs)
    slow = _slow(prog)
    a = connect(port, timeout=5 * slow)
    _expect_echo(prog, server, a, random_text(10), "client A connected")
    # a client that resets while it waits in the listen queue: Winsock's (and
    # Wine's) accept() then fails for it, and the server must go on to the next
    reset(connect(port, timeout=5 * slow))
    did = ("while client A was still connected, client R connected and at once reset "
           "(RST) while it waited in the queue, then client B connected")
    try:
        b = connect(port, timeout=5 * slow)
    except OSError as exc:
        a.close()
        fail(did=did, expected="B's connect() to succeed: it waits in the listen backlog",
             got=f"{exc.strerror or exc}", procs=[server],
             hint="Create, bind and listen on the server socket once, before the loop; "
                  "only accept() and close(client) belong in it.")
    with a, b:
        data = random_text(25)
        b.sendall(data)
        _expect_echo(prog, server, a, random_text(10), did + " and sent data; A then")
        b.setblocking(False)
        early = b""
        try:
            early = b.recv(100)
        except BlockingIOError:
            pass
        unread = unread_by_server(b)
        if early or unread == 0:
            fail(did=did + " and sent " + show(data),
                 expected="B gets no echo (its bytes stay unread) until A has gone: an "
                          "iterative server serves one client at a time",
                 got=("B received " + show(early)) if early else
                     "the server read B's bytes while A was connected", procs=[server])
        b.setblocking(True)
        b.settimeout(5 * slow)
        a.close()
        got, why = recv_exact(b, len(data), 5 * slow)
        if got != data:
            fail(did=did + f", sent {show(data)}, then A closed",
                 expected="B's bytes echoed now that A has gone",
                 got=show(got) + (f", then {why}" if why else ""), procs=[server],
                 hint="A failing accept() for a client that is already gone (Winsock: "
                      "WSAECONNRESET, Wine: WSAENOTCONN) ends that client only: accept "
                      "the next one." if prog.ex.kind == "windows" else None)


@pytest.mark.role("echo_server")
def test_echo_server_survives_reset(prog, procs):
    server, port = start_server(prog, procs)
    slow = _slow(prog)

    # client 1 floods without reading, then resets: the server is blocked
    # writing its echo when the reset arrives
    flood = connect(port, timeout=5 * slow)
    flood.setblocking(False)
    sent, chunk = 0, random_binary(65536)
    while sent < (8 << 20):
        try:
            sent += flood.send(chunk)
        except BlockingIOError:
            if not wait_peer_read_all(flood, timeout=0.5 * slow):
                break  # both directions' buffers are full: the server is stuck writing
    reset(flood)
    did = (f"client 1 sent {sent} bytes without reading the echo, then reset the "
           "connection (RST); client 2 then connected")
    try:
        sock = connect(port, timeout=5 * slow)
    except OSError as exc:
        fail(did=did, expected="the server to accept client 2",
             got=f"{exc.strerror or exc}", procs=[server])
    with sock:
        _expect_echo(prog, server, sock, random_text(30), did)

    # client 3: a client that goes away while the server is busy. The server
    # is paused (SIGSTOP: invisible to it) once it has accepted client 3;
    # client 3 sends data, closes its sending side (FIN) and resets (RST);
    # then the server continues. It reads the data, and its write() of the
    # echo fails with EPIPE, which raises SIGPIPE: that kills a server that
    # does not ignore SIGPIPE, every time
    quitter = connect(port, timeout=5 * slow)
    if not wait_accepted(server, port, 5 * slow):
        quitter.close()
        fail(did="client 3 connected after client 2 had closed",
             expected="the server to accept() client 3",
             got="it did not accept it within the time limit", procs=[server])
    server.stop()
    try:
        quitter.sendall(random_text(3000))
        quitter.shutdown(socket.SHUT_WR)
        wait_fin_acked(quitter, 2.0)
        ends = quitter.getsockname()[:2], quitter.getpeername()[:2]
        reset(quitter)
        wait_gone(*ends, 2.0)
    finally:
        server.signal(signal.SIGCONT)
    did = ("client 3 sent 3000 bytes, closed its sending side and reset the connection "
           "before the server could echo anything; client 4 then connected")
    try:
        sock = connect(port, timeout=5 * slow)
    except OSError as exc:
        fail(did=did, expected="the server to accept client 4",
             got=f"{exc.strerror or exc}", procs=[server], hint=HINTS["refused"])
    with sock:
        _expect_echo(prog, server, sock, random_text(30), did)


@pytest.mark.role("echo_server")
def test_echo_server_every_address(prog, procs):
    server, port = start_server(prog, procs)
    with connect_every_address(prog, server, port, timeout=5 * _slow(prog)) as sock:
        _expect_echo(prog, server, sock, random_text(30),
                     f"connected to port {port} at 127.0.0.2")


@pytest.mark.role("echo_server")
def test_echo_server_restarts(prog, procs):
    def setup():
        server, port = start_server(prog, procs)
        did = f"connected to `{command_line(prog, str(port))}`"
        with connect(port, timeout=5 * _slow(prog)) as sock:
            _expect_echo(prog, server, sock, random_text(30), did)
            # killed while connected, the server's kernel closes its end first;
            # we close after it: its end then waits in TIME_WAIT, holding the port
            server.signal(signal.SIGKILL)
            server.wait_exit(15)
            recv_until_eof(sock, 5 * _slow(prog))
        return server, port, (did + ", echoed a message, then the server was killed "
                              "(SIGKILL) and the client closed after it")
    restart_over_time_wait(prog, procs, setup)


# -- echo_client ------------------------------------------------------------------

def _echo_server(record: bytearray, pieces: bool = False, cut: bool = False):
    def handle(conn: socket.socket) -> None:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            record.extend(data)
            if cut:  # send back half, then close
                conn.sendall(data[: max(1, len(data) // 2)])
                return
            if not pieces or len(data) < 3:
                conn.sendall(data)
                continue
            third = len(data) // 3
            for part in (data[:third], data[third:2 * third], data[2 * third:]):
                conn.sendall(part)
                wait_peer_read_all(conn, timeout=2)  # the client has read this part
    return handle


def _lines(n: int) -> list[bytes]:
    out = []
    while len(out) < n:
        line = random_text(5 + len(out) * 17).strip()
        if line and line not in (b"q", b"Q"):
            out.append(line)
    return out


def _run_client(prog, procs, handler, stdin: bytes, how: str, wait: float = 10):
    server = FakeServer(handler, timeout=10)
    client = prog.start(procs, "127.0.0.1", str(server.port), stdin_data=stdin, limit=30)
    rc = client.wait_exit(wait * _slow(prog))
    server.close()
    did = (f"ran `{command_line(prog, '127.0.0.1', str(server.port))}` against a test "
           f"server that {how}, with stdin {show(stdin)}")
    return client, rc, did


def _replies(client) -> list[str]:
    text = client.stdout_text()
    return [ln.split(REPLY, 1)[1] for ln in text.splitlines() if REPLY in ln]


def _check_dialogue(prog, client, rc, did, record, lines, *, hint=None):
    want = [ln.decode() for ln in lines]
    sent = b"".join(lines)
    if rc != 0 or _replies(client) != want or bytes(record) != sent:
        fail(did=did, expected=f"the server to receive {show(sent)} (the lines without "
             "their newlines), the client to print "
             + ", ".join(f"`{REPLY}{w}`" for w in want[:3])
             + (" ..." if len(want) > 3 else "") + ", then exit status 0",
             got=f"the server received {show(bytes(record))}; the client printed "
             f"{show(client.stdout)}; " + ("still running" if rc is None else f"exit status {rc}"),
             procs=[client], hint=hint)


@pytest.mark.role("echo_client")
@pytest.mark.faults
def test_echo_client_dialogue(prog, procs):
    record = bytearray()
    # the longest first: a reply printed as a string without its NUL shows
    # the tail of the longer reply before it
    lines = _lines(3)[::-1]
    stdin = b"".join(ln + b"\n" for ln in lines) + b"Q\n"
    client, rc, did = _run_client(prog, procs, _echo_server(record), stdin, "echoes")
    _check_dialogue(prog, client, rc, did, record, lines,
                    hint="Print exactly the bytes that came back for this line (fwrite() "
                         "with their count, or store the NUL after them): a reply printed "
                         "with %s from a buffer without a NUL ends with what an earlier, "
                         "longer reply left there." if bytes(record) == b"".join(lines)
                    else "Send the line without its newline: strip it after fgets().")
    out = client.stdout_text()
    if "Connected" not in out or out.count(PROMPT) < len(lines):
        fail(did=did, expected=f"a line containing `Connected`, and the prompt `{PROMPT}` "
             "before each line is read", got=f"stdout {show(client.stdout)}", procs=[client])


@pytest.mark.role("echo_client")
@pytest.mark.faults
def test_echo_client_pieces(prog, procs):
    record = bytearray()
    lines = [random_text(60), random_text(90)]
    stdin = b"".join(ln + b"\n" for ln in lines) + b"Q\n"
    client, rc, did = _run_client(prog, procs, _echo_server(record, pieces=True), stdin,
                                  "echoes each message in three pieces, waiting each time "
                                  "until the client has read")
    _check_dialogue(prog, client, rc, did, record, lines, hint=HINTS["pieces"])


@pytest.mark.role("echo_client")
@pytest.mark.parametrize("quit_line", [b"q", b"Q"])
def test_echo_client_quit(prog, procs, quit_line):
    record = bytearray()
    # a line that only starts with q or Q is a message like any other
    first, later = _lines(1) + [quit_line + b"uit " + random_text(15)], random_text(12)
    stdin = b"".join(ln + b"\n" for ln in first) + quit_line + b"\n" + later + b"\n"
    client, rc, did = _run_client(prog, procs, _echo_server(record), stdin, "echoes")
    _check_dialogue(prog, client, rc, did, record, first,
                    hint=f"A line that is exactly `{quit_line.decode()}` ends the loop: "
                         "compare after removing the newline, for both q and Q.")


@pytest.mark.role("echo_client")
def test_echo_client_eof(prog, procs):
    record = bytearray()
    lines = _lines(2)
    stdin = b"".join(ln + b"\n" for ln in lines)  # no Q: input just ends
    client, rc, did = _run_client(prog, procs, _echo_server(record), stdin, "echoes",
                                  wait=EXIT_WAIT)
    _check_dialogue(prog, client, rc, did, record, lines,
                    hint="fgets() returns NULL at the end of input: leave the loop then, "
                         "as for Q.")


@pytest.mark.role("echo_client")
@pytest.mark.faults
def test_echo_client_long_line(prog, procs):
    record = bytearray()
    line = random_text(1023).replace(b" ", b"_")
    client, rc, did = _run_client(prog, procs, _echo_server(record), line + b"\nQ\n",
                                  "echoes")
    _check_dialogue(prog, client, rc, did, record, [line],
                    hint="Lines may be 1023 bytes long: the buffer needs room for the "
                         "line, its newline and the terminating NUL.")


@pytest.mark.role("echo_client")
def test_echo_client_server_closes_early(prog, procs):
    record = bytearray()
    line = random_text(40)
    client, rc, did = _run_client(prog, procs, _echo_server(record, cut=True),
                                  line + b"\n" + random_text(10) + b"\nQ\n",
                                  "sends back only half of the message and closes",
                                  wait=EXIT_WAIT)
    if not bytes(record).startswith(line):
        # exit 1 with a message is what a program that never connected does
        # too (the starter dies of its TODO): the clause is about an echo cut short
        fail(did=did, expected=f"the first line {show(line)} sent to the server, whose "
             "echo then stops half-way",
             got=f"the server received {show(bytes(record))}", procs=[client],
             hint="Connect and send the line first; only then can the echo be cut short.")
    if rc != 1 or not client.stderr_text().strip():
        fail(did=did, expected="a message on stderr and exit status 1: the server closed "
             "before the whole echo came back",
             got=("still running" if rc is None else f"exit status {rc}")
             + f", stderr {show(client.stderr)}", procs=[client],
             hint="read() returning 0 means the server closed: stop and report it, "
                  "do not read again.")


@pytest.mark.role("echo_client")
def test_echo_client_bad_ip(prog, procs):
    check_bad_ip_client(prog, procs)


# -- hello_server_iterative ---------------------------------------------------------

def _greet(prog, server, port: int, n: int) -> None:
    did = f"connected client {n} to `{command_line(prog, str(port))}` and read until it closed"
    try:
        sock = connect(port)
    except OSError as exc:
        fail(did=did, expected="the connection to be accepted", got=f"{exc.strerror or exc}",
             procs=[server], hint=HINTS["refused"])
    with sock:
        got, why = recv_until_eof(sock, 5)
    if got != GREETING or why:
        fail(did=did, expected=f"exactly {show(GREETING)}, then the end of stream",
             got=show(got) + (f", then {why}" if why else ""), procs=[server])


@pytest.mark.role("hello_server_iterative")
@pytest.mark.faults
def test_hello_iterative_serves_many(prog, procs):
    server, port = start_server(prog, procs)
    for n in range(1, 5):
        _greet(prog, server, port, n)


@pytest.mark.role("hello_server_iterative")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_hello_iterative_stops_on_signal(prog, procs, sig):
    server, port = start_server(prog, procs)
    _greet(prog, server, port, 1)
    # signal it while it is blocked in accept(), the case the exercise is about
    wait_in_accept(server, 2.0)
    server.signal(sig)
    rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=f"served one client, then sent {sig.name} to the server",
             expected="the server to stop accepting, close its socket and exit with status 0",
             got="it was still running" if rc is None else f"exit status {rc}",
             procs=[server],
             hint="Catch the signal with sigaction() and a handler that sets a flag; "
                  "without SA_RESTART, accept() then fails with EINTR and the loop can end.")


@pytest.mark.role("hello_server_iterative")
def test_hello_iterative_every_address(prog, procs):
    check_greets_every_address(prog, procs, GREETING)


@pytest.mark.role("hello_server_iterative")
def test_hello_iterative_restarts(prog, procs):
    def setup():
        server, port = start_server(prog, procs)
        _greet(prog, server, port, 1)  # it closed first, we after it: TIME_WAIT
        return server, port, (f"read the greeting of `{command_line(prog, str(port))}`, "
                              "which closed the connection first, and closed it too")
    restart_over_time_wait(prog, procs, setup)
