"""Chapter 10: the multiprocess echo server and the split echo client
(contracts: chapters/10_multiprocess/README.md). Concurrency is proved with
the shared toolkit harness/manyclients.py: connections opened first and
served in reverse order, a stalled client, a client that never reads and
one that resets, twenty clients leaving at once, and /proc's view of the
server's children, descriptors and CPU time."""

from __future__ import annotations

import re
import signal
import socket
import time

import pytest

from harness import manyclients as mc
from harness import tcpserver
from harness.feedback import compare, describe_exit, fail, first_difference, show
from harness.net import (FakeServer, connect, random_binary, random_text, recv_exact,
                         recv_until_eof, reset)
from harness.ports import wait_in_accept, wait_peer_read_all
from harness.scenarios import EXIT_WAIT, command_line, start_server

STALL = 2.0      # seconds: the most a stalled client may delay the others
IDLE = 1.0       # seconds of idling measured
IDLE_CPU = 0.2   # of it the server may spend running or ready to run (cpu_demand)
REMOVED = re.compile(r"removed proc id: (\d+)")


# -- echo_mpserv --------------------------------------------------------------------

def _start(prog, procs):
    server, port = start_server(prog, procs)
    pid = server.program_pid()
    if pid is None:
        fail(did=f"started `{command_line(prog, str(port))}`", expected="the program running",
             got="it is gone", procs=[server])
    return server, port, pid


_expect_echo = mc.expect_echo


NOT_CONCURRENT = ("A server that serves clients one after another answers only the first: "
                  "the others' connect() succeeds in the listen backlog, and their bytes "
                  "wait unread. fork() after accept(); the child serves, the parent goes "
                  "straight back to accept().")


@pytest.mark.role("echo_mpserv")
@pytest.mark.faults
def test_echo_mpserv_echoes(prog, procs):
    server, port, _ = _start(prog, procs)
    did = f"connected to `{command_line(prog, str(port))}`"
    with connect(port) as sock:
        for n in (1, 40, 300):
            _expect_echo(server, sock, random_text(n), did)
        big = random_binary(300_000)
        _expect_echo(server, sock, big, did + " and sent 300000 binary bytes")
        sock.shutdown(socket.SHUT_WR)
        rest, why = recv_until_eof(sock, 5)
    if rest or why:
        fail(did=did + ", exchanged four messages, then closed its sending side "
             "(shutdown SHUT_WR)", expected="the server to close the connection too, "
             "with nothing more sent", got=show(rest) + (f", then {why}" if why else ""),
             procs=[server], hint="The child closes the connection when read() returns 0, "
             "and the parent must have closed its copy: a connection ends only when "
             "every descriptor for it is closed.")


@pytest.mark.role("echo_mpserv")
@pytest.mark.faults
def test_echo_mpserv_reverse_order(prog, procs):
    server, port, _ = _start(prog, procs)
    socks = mc.open_all(port, 5)
    try:
        for i in reversed(range(5)):
            _expect_echo(server, socks[i], random_text(50 + i),
                         f"opened 5 connections to port {port} first, then talked on them "
                         f"in reverse order: on connection {i + 1}", timeout=3,
                         hint=NOT_CONCURRENT)
    finally:
        mc.close_all(socks)


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_stalled_client(prog, procs):
    server, port, _ = _start(prog, procs)
    with connect(port) as stalled:
        half = mc.stall_half(stalled, b"a message that never ends\n")
        did = (f"client A sent {show(half)}, half a message, and then nothing; "
               "meanwhile client B")
        with connect(port) as other:
            for n in (20, 30):
                _expect_echo(server, other, random_text(n), did, timeout=STALL,
                             hint=NOT_CONCURRENT)
        stalled.sendall(b"rest\n")
        want = half + b"rest\n"
        got, why = recv_exact(stalled, len(want), 5)
        if got != want:
            fail(did=did + " was served; then A sent `rest\\n`",
                 expected=f"A's bytes back, {show(want)}", got=show(got)
                 + (f", then {why}" if why else ""), procs=[server])


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_process_per_client(prog, procs):
    server, port, pid = _start(prog, procs)
    socks = mc.open_all(port, 3)
    try:
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(10), f"client {i + 1} of 3 connected")
        live = mc.live_children(pid)
        if len(live) != 3:
            fail(did="three clients connected and each had an echo, all three still "
                 "connected", expected="the server process to have 3 child processes, "
                 "one per client", got=f"{len(live)} child process(es) running",
                 procs=[server], hint="fork() once per accepted client, in the parent only; "
                 "a child that does not exit after its client also forks for the next.")
    finally:
        mc.close_all(socks)


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_reaps_all(prog, procs):
    """20 clients leave at once while the server is stopped: their SIGCHLDs
    coalesce into one, which is exactly the case a handler must survive."""
    server, port, pid = _start(prog, procs)
    n = 20
    socks = mc.open_all(port, n)
    try:
        for i, s in enumerate(socks):
            _expect_echo(server, s, b"hi %d\n" % i, f"client {i + 1} of {n} connected")
        kids = mc.live_children(pid)
        ns = {p for p in map(mc.ns_pid, kids) if p is not None}
        server.stop()
        try:
            mc.close_all(socks)
            all_ended = mc.wait_until(lambda: len(mc.zombies(pid)) >= len(kids), 5)
        finally:
            server.signal(signal.SIGCONT)
    finally:
        mc.close_all(socks)
    did = (f"{n} clients connected and had their echo; the server was paused (SIGSTOP), "
           "all of them closed at once, their child processes ended, and the server went "
           "on (SIGCONT): their SIGCHLD signals arrive together, as one")
    if not all_ended:
        fail(did=did, expected="every child process to end once its client closed",
             got=f"{len(mc.live_children(pid))} still running", procs=[server],
             hint="The child exits after serve_client() returns (read() gave 0).")
    if not mc.wait_until(lambda: not mc.children(pid), 2):
        z = len(mc.zombies(pid))
        fail(did=did, expected="every child reaped within 2 s: no zombie left",
             got=f"{z} zombie(s) among the server's children", procs=[server],
             hint="Signals do not queue: one SIGCHLD may stand for many children. Loop in "
                  "the handler: while (waitpid(-1, NULL, WNOHANG) > 0).")
    ok = mc.wait_until(lambda: {int(p) for p in REMOVED.findall(server.stdout_text())} >= ns, 2)
    if not ok:
        printed = sorted({int(p) for p in REMOVED.findall(server.stdout_text())})
        fail(did=did, expected=f"a line `removed proc id: <pid>` for each of the {n} "
             f"children (pids {sorted(p for p in ns if p)[:5]}...), on stdout at once",
             got=f"{len(printed)} of them: stdout {show(server.stdout)}", procs=[server],
             hint="printf() in a signal handler is unsafe, and stdout to a pipe is fully "
                  "buffered: build the line yourself and write() it.")
    with connect(port) as sock:
        _expect_echo(server, sock, random_text(30), did + "; then a new client connected")


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_no_fd_leak(prog, procs):
    server, port, pid = _start(prog, procs)
    before = None
    for clients in (1, 4, 4):  # the count is taken once the first client has left
        socks = mc.open_all(port, clients)
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(12),
                         f"client {i + 1} of {clients} connected")
        mc.close_all(socks)
        mc.wait_until(lambda: not mc.children(pid), 3)
        if before is None:
            before = mc.open_fds(pid)
    if not mc.wait_until(lambda: mc.open_fds(pid) == before, 2):
        fail(did="a client connected, had its echo and left; then 8 more (4 at a time, "
             "twice); every child process ended", expected="the server to hold as many "
             f"descriptors as after the first client ({before})",
             got=f"{mc.open_fds(pid)}", procs=[server],
             hint="After fork() the parent must close() its copy of the connected socket: "
                  "the child has its own.")


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_bad_clients(prog, procs):
    server, port, _ = _start(prog, procs)
    flood = connect(port)
    sent = mc.flood_unread(flood)
    rude = connect(port)
    rude.sendall(random_text(2000))
    reset(rude)
    did = (f"client A sent {sent} bytes without ever reading the echo; client B sent "
           "2000 bytes and reset the connection; then client C")
    try:
        with connect(port) as sock:
            _expect_echo(server, sock, random_text(40), did, timeout=STALL,
                         hint=NOT_CONCURRENT)
    finally:
        reset(flood)


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_idle_cpu(prog, procs):
    server, port, pid = _start(prog, procs)
    socks = mc.open_all(port, 4)
    try:
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(10), f"client {i + 1} of 4 connected")
        socks.pop().close()  # one leaves: its SIGCHLD arrives while the others still run
        mc.wait_until(lambda: len(mc.children(pid)) <= 3, 2)
        tree = mc.tree(pid)
        start = mc.cpu_demand(tree)
        time.sleep(IDLE)  # the interval measured: nothing to wait for
        used = mc.cpu_demand(tree) - start
        # the reaper must not block: with clients still connected, a new one is served
        with connect(port) as sock:
            _expect_echo(server, sock, random_text(20),
                         "4 clients connected, one left while the 3 others stayed "
                         "connected; then a new client", timeout=STALL,
                         hint="The SIGCHLD handler must never block: waitpid(-1, NULL, "
                              "WNOHANG). Without WNOHANG it waits in the handler for the "
                              "children still serving, and the parent accepts nobody.")
    finally:
        mc.close_all(socks)
    if used > IDLE_CPU:
        fail(did="4 clients connected and had their echo, then one left; the others "
             f"then sent nothing for {IDLE:g} s", expected=f"the server and its children to "
             f"sleep: running or ready to run for at most {IDLE_CPU} s",
             got=f"it ran, or was ready to run, for {used:.2f} s of those {IDLE:g} s",
             procs=[server], hint="Something spins. Does waitpid() in the handler loop "
             "while it returns > 0 (with WNOHANG it returns 0 while children still run)?")


@pytest.mark.role("echo_mpserv")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_echo_mpserv_stops_on_signal(prog, procs, sig):
    server, port, pid = _start(prog, procs)
    with connect(port) as sock:
        _expect_echo(server, sock, random_text(10), f"a client connected to port {port}")
    mc.wait_until(lambda: not mc.children(pid), 3)
    # blocked in accept() again: its SIGCHLD handler has returned (a stop
    # signal during that handler may be seen only at the next client)
    wait_in_accept(server, 3)
    server.signal(getattr(signal, sig))
    rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=f"a client had its echo and left; then the server got {sig} while it "
             "waited in accept()", expected=f"exit status 0 within {EXIT_WAIT:g} s",
             got="still running" if rc is None else describe_exit(server), procs=[server],
             hint="Handle SIGINT and SIGTERM with a handler that sets a flag, installed "
                  "without SA_RESTART, so that accept() returns (EINTR) and the loop ends.")


# -- echo_mpclient ------------------------------------------------------------------

CAP = 1 << 20    # a client that sends more than this is wrong: the fake server hangs up


def _echo_as_it_comes(record: bytearray):
    def handle(conn: socket.socket) -> None:
        while len(record) < CAP:
            data = conn.recv(65536)
            if not data:
                return
            record.extend(data)
            conn.sendall(data)
    return handle


def _echo_at_eof(record: bytearray):
    """Reads everything until the client's FIN, then sends it all back in
    three pieces, waiting each time until the client has read."""
    def handle(conn: socket.socket) -> None:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            record.extend(data)
            if len(record) > CAP:
                return
        data = bytes(record)
        third = max(1, len(data) // 3)
        for part in (data[:third], data[third:2 * third], data[2 * third:]):
            if part:
                conn.sendall(part)
                wait_peer_read_all(conn, timeout=2)
    return handle


HOLD = 1.0   # seconds the test server holds the echo back, watching the client


def _hold_then_echo(record: bytearray, seen: dict):
    """Reads everything until the client's FIN, then holds the echo back for
    HOLD s (more while the client is busy), noting in `seen` whether the
    client's own process ended meanwhile; then echoes it all and closes."""
    def handle(conn: socket.socket) -> None:
        while len(record) <= CAP:
            data = conn.recv(65536)
            if not data:
                break
            record.extend(data)
        client = seen["client"]
        pid = client.program_pid(2.0)
        if pid is None:   # gone already, jail and all
            seen["ended"] = not client.running()
        else:
            seen["ended"] = mc.wait_until(lambda: mc.state(pid) in (None, "Z"), HOLD)
        conn.sendall(bytes(record))
    return handle


def _run_client(prog, procs, handler, stdin: bytes, how: str, wait: float = 5,
                seen: dict | None = None):
    server = FakeServer(handler, timeout=5)
    client = prog.start(procs, "127.0.0.1", str(server.port), stdin_data=stdin, limit=30)
    if seen is not None:
        seen["client"] = client
    rc = client.wait_exit(wait)
    server.close()
    did = (f"ran `{command_line(prog, '127.0.0.1', str(server.port))}` against a test "
           f"server that {how}, with stdin {show(stdin)}")
    return client, rc, did


def _check(client, rc, did, record: bytearray, sent: bytes, hint: str | None = None) -> None:
    out = client.stdout
    if rc != 0 or out != sent or bytes(record) != sent:
        at = first_difference(sent, out)
        fail(did=did, expected=f"the server to receive {show(sent)}, the client to print "
             "exactly those bytes back, then exit status 0",
             got=f"the server received {show(bytes(record))}; the client printed "
             f"{show(out, at=at)} ({compare(sent, out)}); "
             + ("still running" if rc is None else f"exit status {rc}"),
             procs=[client], hint=hint)


def _lines(n: int, size: int = 20) -> list[bytes]:
    out = []
    while len(out) < n:
        line = random_text(size + len(out) * 7).replace(b"\n", b" ").strip()
        if line and line not in (b"q", b"Q"):
            out.append(line + b"\n")
    return out


@pytest.mark.role("echo_mpclient")
@pytest.mark.faults
def test_echo_mpclient_echoes(prog, procs):
    record = bytearray()
    lines = _lines(4)
    stdin = b"".join(lines) + b"q\n" + b"never sent\n"
    client, rc, did = _run_client(prog, procs, _echo_as_it_comes(record), stdin,
                                  "echoes each piece as it comes")
    _check(client, rc, did, record, b"".join(lines),
           hint="Send each line with its newline; stop at a line that is exactly q or Q; "
                "then shutdown(SHUT_WR) and print the rest of the echo until the server "
                "closes.")


@pytest.mark.role("echo_mpclient")
@pytest.mark.faults
def test_echo_mpclient_sends_ahead(prog, procs):
    record = bytearray()
    lines = _lines(200, 300)
    sent = b"".join(lines) + b"no newline at the end"
    client, rc, did = _run_client(prog, procs, _echo_at_eof(record), sent,
                                  "echoes nothing until the client has closed its sending "
                                  "side, then everything in three pieces")
    _check(client, rc, did, record, sent,
           hint="The writer must not wait for an echo before sending the next line; at the "
                "end of input it calls shutdown(SHUT_WR) (close() in one process does not "
                "end a connection the other still holds); the reader prints every piece "
                "until read() returns 0.")


@pytest.mark.role("echo_mpclient")
def test_echo_mpclient_waits_for_the_echo(prog, procs):
    record, seen = bytearray(), {}
    lines = _lines(3)
    client, rc, did = _run_client(prog, procs, _hold_then_echo(record, seen),
                                  b"".join(lines), f"holds the echo back for {HOLD:g} s "
                                  "after the client's FIN, then sends it", seen=seen)
    if seen.get("ended"):
        fail(did=did, expected="the client's process to live until the server has closed, "
             "printing the echo first", got=f"it ended within {HOLD:g} s of its FIN, before "
             "any echo came (another process of it printed what came later, if anything)",
             procs=[client], hint="The process that the shell started must be the last to "
             "end: if the parent is the writer, it waits for the reader child (waitpid()) "
             "after shutdown(SHUT_WR); or make the parent the reader, as the textbook does.")
    _check(client, rc, did, record, b"".join(lines))


@pytest.mark.role("echo_mpclient")
def test_echo_mpclient_quit_upper(prog, procs):
    record = bytearray()
    # lines that start or end with q are not q: only a whole line q or Q ends the
    # input (also when a long line ends in q where a small fgets() buffer splits it)
    lines = ([b"quit is not q\n", b"Q and more\n"] + _lines(2)
             + [b"a" * k + b"q\n" for k in (7, 15, 29, 31, 63, 99, 127, 255, 1023)])
    stdin = b"".join(lines) + b"Q\n" + b"after Q\n"
    client, rc, did = _run_client(prog, procs, _echo_as_it_comes(record), stdin,
                                  "echoes each piece as it comes")
    _check(client, rc, did, record, b"".join(lines),
           hint="Only a line that is exactly q or Q ends the input (Q as q does): not "
                "one that starts with q, nor the q\\n at the end of a long line that "
                "fgets() returned in pieces (remember whether the piece starts a line).")


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_every_address(prog, procs):
    tcpserver.check_every_address(prog, procs)


@pytest.mark.role("echo_mpserv")
def test_echo_mpserv_restart_in_time_wait(prog, procs):
    tcpserver.check_restart_in_time_wait(prog, procs)
