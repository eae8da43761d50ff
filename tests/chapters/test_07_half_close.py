"""Chapter 07: file_server and file_client, the half-close (contract:
chapters/07_half_close/README.md).

The harness plays the other end each time. As the client of file_server it
reads the file until the end of stream (which only a shutdown(SHUT_WR) or a
close gives), and only then sends its reply: a server that close()d instead
of shutting down its sending half has lost it. As the server of file_client
it sends a file in pieces, shuts down its own sending half and reads the
reply until the client closes. Files are compared by SHA-256."""

from __future__ import annotations

import functools
import hashlib
import socket
from dataclasses import replace

import pytest

from harness.feedback import HINTS, fail, show
from harness.net import HOST, FakeServer, connect, random_binary, random_text, recv_until_eof
from harness.ports import free_port, wait_peer_read_all
from harness.procs import Proc
from harness.scenarios import (EXIT_WAIT, command_line, ends_with_status_1,
                               restart_over_time_wait, start_server)

THANKS = b"Thank you"
LINE = b"Message from client: "
RECEIVED = b"Received file data"
BIG = 32 << 20       # the large file: 32 MiB
BINARY = 300 << 10   # the binary file under fault injection: 300 KiB


def _slow(prog) -> float:
    """Valgrind runs a program many times slower than native."""
    return 4.0 if prog.sub.valgrind else 1.0


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _described(data: bytes) -> str:
    return f"{len(data)} bytes, SHA-256 {_sha(data)[:16]}..."


def _size(data: bytes) -> str:
    return f"{len(data)} bytes"


@functools.lru_cache(maxsize=1)   # both programs' large-file tests share it
def _big_file(size: int) -> bytes:
    """`size` bytes of random data, cheaply: blocks of 1 MiB from one random
    block, each made unique by its number in its first 8 bytes (and NUL
    bytes in every block), so that a piece sent twice, left out or out of
    order changes the SHA-256."""
    block = bytearray(random_binary(1 << 20))
    out = bytearray()
    for i in range(-(-size // len(block))):
        block[:8] = i.to_bytes(8, "little")
        out += block
    return bytes(out[:size])


# -- file_server ----------------------------------------------------------------

def _recv_file(sock: socket.socket, timeout: float) -> tuple[bytes, str]:
    """Everything until the end of stream (no cap: the file may be 32 MiB);
    why is "" on a clean end of stream, else "timeout" or "reset"."""
    return recv_until_eof(sock, timeout, cap=1 << 30)


def _send_in_pieces(sock: socket.socket, data: bytes, sizes: tuple[int, ...]) -> None:
    """Send data in pieces of these sizes (the rest last), each only once
    the peer has read the one before."""
    at = 0
    for size in (*sizes, len(data)):
        piece = data[at:at + size]
        if not piece:
            break
        try:
            sock.sendall(piece)
            at += len(piece)
            wait_peer_read_all(sock, timeout=2)
        except OSError:
            return  # the server is gone (reset): its output says what happened


def _connect_to(server, host: str, port: int, timeout: float, did: str) -> socket.socket:
    """A connection to the server at host:port; 127.0.0.2 is a local address
    too, but not 127.0.0.1: only a server bound to INADDR_ANY answers there."""
    if host == HOST:
        return connect(port, timeout=timeout)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        fail(did=f"{did}, then connected to {host}:{port} (a local address too, but not "
             "127.0.0.1)",
             expected="the connection to be accepted: the server listens on every local "
             "address (INADDR_ANY)", got=f"connect() failed: {exc.strerror or exc}",
             procs=[server], hint="Bind to htonl(INADDR_ANY), not to 127.0.0.1 "
             "(inet_addr(\"127.0.0.1\")): the server must answer on every address of the "
             "host.")
    sock.settimeout(timeout)
    return sock


def _serve_file(prog, procs, content: bytes, reply: bytes, pieces: tuple[int, ...],
                what: str, host: str = HOST, port: int | None = None):
    """Start file_server on a file with `content` (on `port`, else a free
    one), read it as its client (connected to `host`) to the end of stream,
    then send `reply` in pieces and close; check the file's bytes, the line
    the server prints and its exit status."""
    (procs.cwd / "served.bin").write_bytes(content)
    slow = _slow(prog)
    # an upper bound only: 5 s, and 1 s more per MiB (37 s for 32 MiB: the
    # textbook's 30-byte chunks take a few seconds, more on a busy machine)
    bound = (5 + len(content) / (1 << 20)) * slow
    server, port = start_server(prog, procs, port, extra=("served.bin",), limit=30 + bound)
    did = (f"started `{command_line(prog, str(port), 'served.bin')}` on {what} "
           f"({_size(content)}), connected and read until the end of stream")
    with _connect_to(server, host, port, 10 * slow,
                     f"started `{command_line(prog, str(port), 'served.bin')}`") as sock:
        got, why = _recv_file(sock, bound)
        if why or got != content:
            still = False  # was the file still coming when the time ran out?
            if why == "timeout" and len(got) < len(content):
                sock.settimeout(1.0)
                try:
                    still = bool(sock.recv(65536))
                except OSError:
                    pass
            if still:
                hint = (f"The file was still coming, too slowly: {_size(got)} of "
                        f"{_size(content)} had arrived when the time ran out. Move it in "
                        "chunks (4096 bytes per fread() and write()), not a byte at a time: "
                        f"the test allowed {bound:g} seconds.")
            elif why == "timeout":
                hint = ("The end of stream never came: after the last byte of the file "
                        "call shutdown(conn_fd, SHUT_WR); it sends the FIN that makes the "
                        "client's read() return 0.")
            elif got[:len(content)] != content[:len(got)] or len(got) > len(content):
                hint = ("Send exactly the n bytes each fread() returned, never strlen(buf): "
                        "the file holds NUL bytes.")
            else:
                hint = ("Send the whole file: loop over fread() until it returns 0, and "
                        "write every chunk in full (write() may write fewer bytes than "
                        "asked, or fail with EINTR).")
            fail(did=did, expected=f"the whole file ({_described(content)}), then the end "
                 "of stream", got=f"{_described(got)}, "
                 + (f"then {why}" if why else "then the end of stream")
                 + (f"; it starts {show(got[:32])}" if got and got != content else ""),
                 procs=[server], hint=hint)
        _send_in_pieces(sock, reply, pieces)
    rc = server.wait_exit(EXIT_WAIT * slow, patient=True)
    did += (f"; then sent the reply {show(reply)}"
            + (" in pieces, waiting each time until the server had read it" if pieces else "")
            + ", and closed")
    lines = [ln.rstrip(b" \r") for ln in server.stdout.split(b"\n")]
    expected = LINE + reply
    if expected not in lines or rc != 0:
        reset = "reset" in server.stderr_text().lower() or rc not in (0, None)
        fail(did=did, expected=f"the line {show(expected)} on stdout, then exit status 0",
             got=f"stdout {show(server.stdout)}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[server],
             hint=(f"It was still running {EXIT_WAIT * slow:g} s after the client had closed. "
                   "Once read() returns 0, print the message, close the sockets and exit: "
                   "the server serves one client, not a loop of accept()s (and a read loop "
                   "must stop at 0).")
             if rc is None else
             (f"It printed the right line, but exited with status {rc}: its stderr says "
              "which call failed.")
             if expected in lines else
             ("close() ends both directions: the reply then arrives at a closed socket "
                   "and is lost (the kernel answers with a reset). shutdown(conn_fd, SHUT_WR) "
                   "closes only the sending half; then read() until it returns 0 and print "
                   "what came, all of it (a loop: it may come in pieces).")
             if reset else
             ("It printed an empty message: its read() returned 0 before the reply came. "
              "Close only the sending half, shutdown(conn_fd, SHUT_WR): SHUT_RD and "
              "SHUT_RDWR close the receiving half too, and read() then returns 0 at once.")
             if LINE.rstrip() in lines and reply else
             HINTS["pieces"] + " Print exactly the bytes read, with their count.")
    return server


@pytest.mark.role("file_server")
@pytest.mark.faults
def test_file_server_half_close(prog, procs):
    text = random_text(2000) + b"\n"
    _serve_file(prog, procs, text, THANKS, (3, 4), "a text file")


@pytest.mark.role("file_server")
@pytest.mark.faults
def test_file_server_binary_file(prog, procs):
    _serve_file(prog, procs, random_binary(BINARY), THANKS, (), "a binary file with NUL bytes")


@pytest.mark.role("file_server")
def test_file_server_large_file(prog, procs):
    # a reply of its own, so that a server printing a fixed text cannot pass
    reply = b"Thanks " + random_text(20).rstrip()  # trailing spaces are tolerated
    _serve_file(prog, procs, _big_file(BIG), reply, (), "a 32 MiB file")


@pytest.mark.role("file_server")
def test_file_server_empty_file(prog, procs):
    _serve_file(prog, procs, b"", THANKS, (), "an empty file")


@pytest.mark.role("file_server")
def test_file_server_any_address(prog, procs):
    _serve_file(prog, procs, random_text(500) + b"\n", THANKS, (), "a text file",
                host="127.0.0.2")


@pytest.mark.role("file_server")
def test_file_server_restart(prog, procs):
    def setup():
        port = free_port()
        server = _serve_file(prog, procs, random_text(500) + b"\n", THANKS, (), "a text file",
                             port=port)
        # the server sent the first FIN, so its side of the connection is now
        # in TIME_WAIT: only SO_REUSEADDR lets a new server bind the port at once
        return server, port, f"served a file once on port {port} (the server closed first)"
    restart_over_time_wait(prog, procs, setup, extra=("served.bin",))


@pytest.mark.role("file_server")
def test_file_server_missing_file(prog, procs):
    port = free_port()
    args = [str(port), "no-such-file.bin"]
    # ends_with_status_1 fails it if it listens on any port before it exits
    proc = ends_with_status_1(prog, procs, args, "the file to serve does not exist")
    if "no-such-file.bin" not in proc.stderr_text():
        fail(did=f"ran `{command_line(prog, *args)}` (the file to serve does not exist)",
             expected="exit status 1 with a message on stderr naming the file, before any "
                      "socket is made", got=f"stderr {show(proc.stderr)}", procs=[proc],
             hint="Open the file first, right after checking the arguments: if fopen() "
                  "returns NULL, perror(path) says which file and why, and exit(1).")


# -- file_client ----------------------------------------------------------------

def _client_run(prog, procs, content: bytes, pieces: tuple[int, ...], what: str,
                before: bytes | None = None, limit: float = 20) -> None:
    """A test server sends `content` to file_client (in pieces, each once
    the client has read the one before), shuts down its sending half and
    reads the reply until the client closes. `before`: the output file's
    content before the run (it must be emptied)."""
    out = procs.cwd / "received.bin"
    if before is not None:
        out.write_bytes(before)
        out.chmod(0o666)  # the program runs as another user (the jail)
    slow = _slow(prog)
    seen: dict[str, object] = {}

    def serve(conn: socket.socket) -> None:
        conn.settimeout(limit * slow)
        at = 0
        for size in (*pieces, len(content)):
            piece = content[at:at + size]
            if not piece:
                break
            conn.sendall(piece)
            at += len(piece)
            wait_peer_read_all(conn, timeout=limit * slow)
            if at < len(content) or pieces:
                # the client has read this piece (and, after the first, made
                # another read since): a reply sent after its first read is here
                conn.setblocking(False)
                try:
                    early = conn.recv(64)
                except BlockingIOError:
                    early = b""
                finally:
                    conn.setblocking(True)
                    conn.settimeout(limit * slow)
                if early:
                    seen["early"] = early
                    return
        conn.shutdown(socket.SHUT_WR)
        seen["reply"] = recv_until_eof(conn, limit * slow)

    server = FakeServer(serve, timeout=limit * slow)
    args = ["127.0.0.1", str(server.port), "received.bin"]
    client = prog.start(procs, *args, limit=limit * slow + 10)
    rc = client.wait_exit(limit * slow)
    server.close()
    did = (f"ran `{command_line(prog, *args)}` against a test server that sends {what} "
           f"({_size(content)})"
           + (" in pieces, each once the client had read the one before," if pieces else "")
           + " then shuts down its sending half (SHUT_WR) and reads the reply until the "
             "client closes")
    if "early" in seen:
        fail(did=did, expected="no reply before the end of the stream",
             got=f"{show(seen['early'])} arrived while the file was still coming",
             procs=[client], hint="Only read() returning 0 says the file is complete: "
             "reply after the loop that reads until then, not after the first read().")
    stored = out.read_bytes() if out.is_file() else None
    if stored != content:
        fail(did=did, expected=f"received.bin to hold the file exactly "
             f"({_described(content)})",
             got="no file received.bin" if stored is None else
             f"received.bin holds {_described(stored)}"
             + (f", starting {show(stored[:32])}" if stored else ""), procs=[client],
             hint=("The file was not emptied first: open it with fopen(path, \"wb\"), "
                   "which truncates it." if before and stored.startswith(before) else
                   "The program was still running with part of the file: if it was still "
                   "receiving, it is too slow. Read in chunks (4096 bytes per read()), not "
                   f"a byte at a time: the test allows {limit:g} seconds." if rc is None
                   and stored is not None and len(stored) < len(content)
                   and content.startswith(stored) else
                   "Write exactly the n bytes each read() returned (fwrite(buf, 1, n, fp)), "
                   "until read() returns 0; -1 is an error (EINTR: read again), never a "
                   "count. Then fclose() the file."))
    reply, why = seen.get("reply", (b"", "no reply read"))
    if reply != THANKS or why:
        fail(did=did, expected=f"the reply {show(THANKS)} (9 bytes, no NUL), then the "
             "client's close (end of stream)",
             got=show(reply) + (f", then {why}" if why else ""), procs=[client],
             hint=("sizeof \"Thank you\" is 10: it counts the NUL that ends the string in "
                   "memory, which is not part of the message. Send strlen() bytes: 9."
                   if reply == THANKS + b"\0" else
                   "After the end of stream, write_all() the 9 bytes, then close()."))
    if rc != 0 or RECEIVED not in client.stdout.split(b"\n"):
        fail(did=did, expected=f"the line {show(RECEIVED)} on stdout and exit status 0",
             got=f"stdout {show(client.stdout)}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[client])


@pytest.mark.role("file_client")
@pytest.mark.faults
def test_file_client_pieces(prog, procs):
    text = random_text(3000) + b"\n"
    _client_run(prog, procs, text, (5, 700, 1000), "a text file")


@pytest.mark.role("file_client")
@pytest.mark.faults
def test_file_client_binary_file(prog, procs):
    _client_run(prog, procs, random_binary(BINARY), (), "a binary file with NUL bytes")


@pytest.mark.role("file_client")
def test_file_client_large_file(prog, procs):
    if procs.limits is not None:  # the file is larger than the usual 16 MiB limit
        procs.limits = replace(procs.limits, file_size=BIG + (8 << 20))
    # 40 s: the textbook's 30-byte reads take a few seconds, more on a busy machine
    _client_run(prog, procs, _big_file(BIG), (), "a 32 MiB file", limit=40)


@pytest.mark.role("file_client")
def test_file_client_empty_file(prog, procs):
    _client_run(prog, procs, b"", (), "an empty file", before=b"old content\n" * 50)


def _never_connects(prog, procs, args_for, why: str, hint: str) -> Proc:
    """The client must exit 1 with a message and never connect: a socket
    listens on the port it is given, and its accept queue must stay empty."""
    live = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    live.bind(("0.0.0.0", free_port()))
    live.listen(8)
    live.setblocking(False)
    args = args_for(live.getsockname()[1])
    try:
        proc = ends_with_status_1(prog, procs, args, why)
        try:
            live.accept()[0].close()
            connected = True
        except BlockingIOError:
            connected = False
    finally:
        live.close()
    if connected:
        fail(did=f"ran `{command_line(prog, *args)}` ({why})",
             expected="exit status 1 with a message, and no connection",
             got="it connected first", procs=[proc], hint=hint)
    return proc


@pytest.mark.role("file_client")
def test_file_client_cannot_create(prog, procs):
    _never_connects(prog, procs, lambda port: ["127.0.0.1", str(port), "no/such/dir/out.bin"],
                    "the output file cannot be created: its folder does not exist",
                    "Create the output file (fopen(path, \"wb\")) before connecting: if it "
                    "cannot be created there is no point in asking for the file.")


@pytest.mark.role("file_client")
def test_file_client_bad_address(prog, procs):
    for address in ("256.1.2.3", "localhost"):
        proc = _never_connects(prog, procs, lambda port: [address, str(port), "received.bin"],
                               f"{address!r} is not an IPv4 address",
                               "inet_pton() returns 0 when the text is not an IPv4 address: "
                               "say so on stderr and exit(1).")
        # inet_addr() unchecked gives INADDR_NONE, 255.255.255.255, for an invalid
        # address: connect() to it fails with ENETUNREACH, a status 1 that hides
        # the mistake. No program that checked the address gets that far.
        if "unreachable" in proc.stderr_text().lower():
            fail(did=f"ran `{command_line(prog, address, '<port>', 'received.bin')}` "
                 f"({address!r} is not an IPv4 address)",
                 expected="a message that the address is invalid, before any connect()",
                 got=f"stderr {show(proc.stderr)}: it tried to connect (to "
                 "255.255.255.255, INADDR_NONE, what inet_addr() returns for an invalid "
                 "address)", procs=[proc],
                 hint="Parse the address with inet_pton(AF_INET, ...) and look at what it "
                 "returns: 1 is an address, 0 is not one (say so on stderr and exit(1)).")
