"""Chapter 01: hello_server and hello_client (contract: chapters/01_hello/README.md)."""

from __future__ import annotations

import re

import pytest

from harness.feedback import HINTS, compare, fail, show
import socket

from harness.net import FakeServer, connect, random_text, recv_until_eof
from harness.ports import wait_peer_read_all
from harness.scenarios import (EXIT_WAIT, check_bad_ip_client, check_greets_every_address,
                               command_line, restart_over_time_wait, start_server)

GREETING = b"Hello World!"
# the contract's buffer: at least this much of a long greeting is printed
KEPT = 1024


# -- hello_server ---------------------------------------------------------------

@pytest.mark.role("hello_server")
@pytest.mark.faults
def test_hello_server_greeting(prog, procs):
    server, port = start_server(prog, procs)
    with connect(port) as sock:
        got, why = recv_until_eof(sock, timeout=5)
    did = f"connected to `{command_line(prog, str(port))}` and read until it closed"
    if why or got != GREETING:
        fail(did=did, expected=f"exactly {show(GREETING)}, then the connection closed",
             got=f"{show(got)}" + (f", then {why} instead of the end of stream" if why else "")
             + (f"; {compare(GREETING, got)}" if got != GREETING else ""),
             procs=[server],
             hint="sizeof on a string literal counts its terminating NUL: send 12 bytes."
             if got == GREETING + b"\0" else
             (HINTS["timeout"] + " The server must close() the connection." if why else None))
    rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=did + ", then waited for the server to exit",
             expected="exit status 0 after serving its one client",
             got="it was still running" if rc is None else f"exit status {rc}",
             procs=[server], hint="This server serves one client, closes both sockets and "
                                  "returns 0 from main.")


@pytest.mark.role("hello_server")
def test_hello_server_every_address(prog, procs):
    check_greets_every_address(prog, procs, GREETING)


@pytest.mark.role("hello_server")
def test_hello_server_restarts(prog, procs):
    def setup():
        server, port = start_server(prog, procs)
        with connect(port) as sock:
            recv_until_eof(sock, timeout=5)
        # the server closed first and we closed after it: its end of the
        # connection now waits in TIME_WAIT, holding the port
        return server, port, (f"read the greeting of `{command_line(prog, str(port))}`, "
                              "which closed the connection first, and closed it too")
    restart_over_time_wait(prog, procs, setup)


# -- hello_client -----------------------------------------------------------------

def _greeting() -> bytes:
    # random, so that a client printing a fixed text cannot pass
    return b"Hi " + random_text(8) + b"!"


def _run_client(prog, procs, server: FakeServer, greeting: bytes, how: str):
    client = prog.start(procs, "127.0.0.1", str(server.port), limit=20)
    rc = client.wait_exit(10)
    server.close()
    did = (f"ran `{command_line(prog, '127.0.0.1', str(server.port))}` against a test "
           f"server that {how}")
    expected_line = b"Message from server: " + greeting + b"\n"
    # exactly the bytes received, then the newline (the textbook's printf
    # puts a space before it: allowed); not a whole buffer, NULs and all
    printed = re.search(re.escape(expected_line[:-1]) + rb" *\n", client.stdout)
    if rc != 0 or not printed:
        fail(did=did, expected=f"the line {show(expected_line)} on stdout and exit status 0",
             got=f"stdout {show(client.stdout)}, "
             + ("still running" if rc is None else f"exit status {rc}"),
             procs=[client], hint="Print exactly the bytes received, then a newline: "
             "fwrite(buf, 1, count, stdout), not the whole buffer, nor a %s of bytes "
             "that end in no NUL." if rc == 0 and expected_line[:-1] in client.stdout
             else HINTS["pieces"] if "pieces" in how else None)


@pytest.mark.role("hello_client")
@pytest.mark.faults
def test_hello_client_greeting(prog, procs):
    greeting = _greeting()
    server = FakeServer(lambda conn: conn.sendall(greeting))
    _run_client(prog, procs, server, greeting, f"sends {show(greeting)} and closes")


@pytest.mark.role("hello_client")
@pytest.mark.faults
def test_hello_client_pieces(prog, procs):
    greeting = _greeting()
    pieces = [greeting[:3], greeting[3:8], greeting[8:]]

    def send_in_pieces(conn):
        for piece in pieces:
            conn.sendall(piece)
            # wait until the client has read this piece before sending more
            wait_peer_read_all(conn, timeout=2)

    server = FakeServer(send_in_pieces)
    _run_client(prog, procs, server, greeting,
                f"sends {show(greeting)} in pieces of 3, 5 and 4 bytes, waiting each "
                "time until the client has read, then closes")


@pytest.mark.role("hello_client")
@pytest.mark.faults
def test_hello_client_long_greeting(prog, procs):
    # three times the buffer: a loop that reads into what is left of its
    # buffer asks for 0 bytes once it is full, gets 0 and stops early
    greeting = b"Hi " + random_text(3 * KEPT).replace(b"\n", b" ")
    ended: list[str] = []

    def send_and_watch(conn):
        conn.sendall(greeting)
        conn.shutdown(socket.SHUT_WR)
        try:  # how did the client close: FIN (it read everything) or RST?
            ended.append("fin" if conn.recv(1) == b"" else "data")
        except ConnectionResetError:
            ended.append("reset")
        except OSError as exc:
            ended.append(str(exc))

    server = FakeServer(send_and_watch)
    client = prog.start(procs, "127.0.0.1", str(server.port), limit=20)
    rc = client.wait_exit(10)
    server.close()
    did = (f"ran `{command_line(prog, '127.0.0.1', str(server.port))}` against a test "
           f"server that sends a greeting of {len(greeting)} bytes (longer than the "
           f"{KEPT}-byte buffer) and closes")
    out = client.stdout
    head = b"Message from server: "
    start = out.find(head)
    printed = out[start + len(head):].split(b"\n", 1)[0] if start >= 0 else b""
    while printed.endswith(b" ") and not greeting.startswith(printed):
        printed = printed[:-1]  # the textbook's printf puts a space before the newline
    if rc != 0 or start < 0 or len(printed) < KEPT or not greeting.startswith(printed):
        fail(did=did, expected=f"the line `Message from server: ` followed by the "
             f"greeting's first {KEPT} bytes at least (as much as the buffer holds), "
             "and exit status 0",
             got=f"stdout {show(out)}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[client])
    if ended != ["fin"]:
        fail(did=did, expected="the client to read to the end of the stream (read() "
             "returning 0) before it closes its socket",
             got="it closed with bytes of the greeting still unread (the kernel then "
             "resets the connection)" if ended == ["reset"] else
             f"the connection ended with {ended or 'nothing seen'}", procs=[client],
             hint="Once the buffer is full, read() into it asks for 0 bytes and returns "
                  "0, which looks like the end of the stream. Read into a scratch buffer "
                  "and drop what does not fit, until read() really returns 0.")


@pytest.mark.role("hello_client")
def test_hello_client_bad_ip(prog, procs):
    check_bad_ip_client(prog, procs)
