"""Chapter 17: epoll servers (contracts: chapters/17_epoll/README.md).
echo_epltserv shows level-triggered epoll: 4 bytes per event, a line per
epoll_wait() return, so the event is seen coming back. echo_epollserv is
edge-triggered: non-blocking sockets drained until EAGAIN (proved by data
that arrives while the server is stopped: one edge, more than one read's
worth), a bounded buffer per client (a client that never reads: the bytes
the server holds, from the client's and server's queues in /proc), 10,000
clients at once, one thread, no descriptor left behind, no CPU while idle.
Peers and views: harness/manyclients.py and harness/epoll.py."""

from __future__ import annotations

import math
import signal
import socket
from dataclasses import replace

import pytest

from harness import epoll, ports
from harness import manyclients as mc
from harness import tcpserver
from harness.feedback import compare, describe_exit, fail, first_difference, show
from harness.net import connect, random_binary, random_text, recv_exact, recv_until_eof, reset
from harness.sandbox import Limits
from harness.ports import free_port, wait_listening
from harness.procs import ProgramExited, WaitTimeout
from harness.scenarios import EXIT_WAIT, command_line, listen_wait, start_server
from harness.sockstate import wait_acked

STALL = 2.0        # seconds: the most a stalled or non-reading client may delay others
IDLE = 0.5         # seconds of idling measured
IDLE_CPU = 0.1     # of it the server may spend running or ready to run (cpu_demand)
READ_SIZE = 4      # echo_epltserv reads at most this many bytes per event
WAKEUP = "return epoll_wait"
HELD_MAX = 64 * 1024   # bytes of one client echo_epollserv may hold
DRAIN = 32 * 1024      # bytes that arrive while the server is stopped: one edge
MANY = 10_000          # clients at once
MANY_MEMORY = 2 << 30   # bytes the 10,000-client test gives the server


def _start(prog, procs, **kwargs):
    server, port = start_server(prog, procs, **kwargs)
    pid = server.program_pid()
    if pid is None:
        fail(did=f"started `{command_line(prog, str(port))}`", expected="the program running",
             got="it is gone", procs=[server])
    return server, port, pid


def _slow(prog) -> float:
    return 3.0 if prog.sub.valgrind else 1.0


def _expect_echo(server, sock, payload: bytes, did: str, timeout: float = 3.0,
                 hint: str | None = None) -> None:
    mc.expect_echo(server, sock, payload, did, timeout, hint)


def _expect_close(server, sock, did: str) -> None:
    sock.shutdown(socket.SHUT_WR)
    rest, why = recv_until_eof(sock, 3)
    if rest or why:
        fail(did=did + ", then closed its sending side (shutdown SHUT_WR)",
             expected="the server to close the connection too, with nothing more sent",
             got=show(rest) + (f", then {why}" if why else ""), procs=[server],
             hint="read() returning 0 is the end of that client: EPOLL_CTL_DEL, then "
                  "close() its socket.")


def _wait_idle(prog, server, did: str) -> None:
    if not epoll.wait_in_epoll(server, 3 * _slow(prog)):
        fail(did=did, expected="the server to be waiting in epoll_wait()",
             got="it never was, within 3 s" if server.running() else describe_exit(server),
             procs=[server], hint="The server loop calls epoll_wait() with a timeout of -1 "
             "and serves what it returns.")


SIGPIPE_HINT = ("Writing to a client that has reset raises SIGPIPE, whose default action "
                "ends the whole server: ignore it (signal(SIGPIPE, SIG_IGN)), and treat "
                "write() failing with EPIPE like a read() of 0: that client is gone.")

NOT_CONCURRENT = ("All clients are served by one loop around epoll_wait(): a server that "
                  "blocks on one client (a blocking read() or write(), or serving one "
                  "client until it leaves) starves the others.")


def _stop_on_signal(prog, procs, sig: str) -> None:
    server, port, _ = _start(prog, procs)
    with connect(port) as sock:
        _expect_echo(server, sock, random_text(10), f"a client connected to port {port}")
    did = f"a client had its echo and left; then the server got {sig} in epoll_wait()"
    _wait_idle(prog, server, did)
    server.signal(getattr(signal, sig))
    rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=did, expected=f"exit status 0 within {EXIT_WAIT:g} s",
             got="still running" if rc is None else describe_exit(server), procs=[server],
             hint="Handle SIGINT and SIGTERM with a handler that sets a flag: epoll_wait() "
                  "then fails with EINTR and the loop sees the flag.")


# -- echo_epltserv -------------------------------------------------------------------

def _wakeups(server) -> int:
    return server.stdout_text().count(WAKEUP)


@pytest.mark.role("echo_epltserv")
@pytest.mark.faults
def test_echo_epltserv_echoes(prog, procs):
    server, port, _ = _start(prog, procs)
    did = f"connected to `{command_line(prog, str(port))}`"
    with connect(port) as sock:
        for n in (1, 3, 40, 300):
            _expect_echo(server, sock, random_text(n), did)
        _expect_echo(server, sock, random_binary(3000), did + " and sent 3000 binary bytes")
        _expect_close(server, sock, did + ", exchanged five messages")


@pytest.mark.role("echo_epltserv")
def test_echo_epltserv_wakeups(prog, procs):
    server, port, _ = _start(prog, procs)
    with connect(port) as sock:
        _expect_echo(server, sock, b"a", f"connected to port {port}")
        # every line of that first exchange was printed before its echo was written
        before = _wakeups(server)
        msg = random_text(40)
        want = math.ceil(len(msg) / READ_SIZE)
        did = f"had the echo of one byte, then sent {len(msg)} bytes in one piece"
        _expect_echo(server, sock, msg, did)
        if not mc.wait_until(lambda: _wakeups(server) - before >= want, 2):
            got = _wakeups(server) - before
            fail(did=did + " and had their echo", expected=f"at least {want} more lines "
                 f"`{WAKEUP}` on stdout (at most {READ_SIZE} bytes read per event: the "
                 "event comes back while bytes are left)", got=f"{got} line(s); stdout "
                 f"{show(server.stdout[-200:])}", procs=[server],
                 hint="One read() of at most 4 bytes per event, no loop: level-triggered "
                      "epoll reports the socket again while data is left. Print the line "
                      "after each epoll_wait() and make stdout line-buffered (a pipe).")


@pytest.mark.role("echo_epltserv")
def test_echo_epltserv_reverse_order(prog, procs):
    server, port, _ = _start(prog, procs)
    socks = mc.open_all(port, 3)
    try:
        for i in reversed(range(3)):
            _expect_echo(server, socks[i], random_text(30 + i),
                         f"opened 3 connections to port {port} first, then talked on them "
                         f"in reverse order: on connection {i + 1}", timeout=3,
                         hint=NOT_CONCURRENT)
    finally:
        mc.close_all(socks)


@pytest.mark.role("echo_epltserv")
def test_echo_epltserv_write_to_reset(prog, procs):
    server, port, _ = _start(prog, procs)
    mc.expect_survives_unechoed(server, port, STALL * _slow(prog), hint=SIGPIPE_HINT)


@pytest.mark.role("echo_epltserv")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_echo_epltserv_stops_on_signal(prog, procs, sig):
    _stop_on_signal(prog, procs, sig)


# -- echo_epollserv ------------------------------------------------------------------

@pytest.mark.role("echo_epollserv")
@pytest.mark.faults
def test_echo_epollserv_echoes(prog, procs):
    server, port, _ = _start(prog, procs)
    did = f"connected to `{command_line(prog, str(port))}`"
    with connect(port) as sock:
        for n in (1, 40, 300):
            _expect_echo(server, sock, random_text(n), did)
        _expect_echo(server, sock, random_binary(300_000), did + " and sent 300000 binary "
                     "bytes", hint="Read until EAGAIN, write until done or EAGAIN (keep the "
                     "rest and wait for EPOLLOUT); EINTR is neither the end nor an error.")
        _expect_close(server, sock, did + ", exchanged four messages")


@pytest.mark.role("echo_epollserv")
@pytest.mark.faults
def test_echo_epollserv_drains(prog, procs):
    server, port, pid = _start(prog, procs)
    with connect(port) as sock:
        _expect_echo(server, sock, b"first\n", f"connected to port {port}")
        did = (f"had one echo; the server was paused (SIGSTOP) in epoll_wait(), the client "
               f"sent {DRAIN} bytes, which its kernel took, then the server went on "
               "(SIGCONT): one edge for all of them")
        _wait_idle(prog, server, did)
        msg = random_text(DRAIN)
        server.stop()
        try:
            # stopped for real: a SIGCONT that came before the stop was
            # carried out would cancel it
            if not mc.wait_until(lambda: mc.state(pid) in ("T", "t"), 3):
                fail(did=did, expected="the server to stop (SIGSTOP)",
                     got=f"state {mc.state(pid)}", procs=[server])
            sock.sendall(msg)
            taken = wait_acked(sock, 3)
        finally:
            server.signal(signal.SIGCONT)
        if not taken:
            fail(did=did, expected=f"the server's kernel to take all {DRAIN} bytes (its "
                 "receive buffer holds them while the server is paused)",
                 got=f"{ports.unacked(sock)} bytes never acknowledged: is the connection "
                 "still open?", procs=[server], hint="EAGAIN from read() means nothing "
                 "is left for now: the client stays; wait for its next event.")
        got, why = recv_exact(sock, len(msg), STALL * _slow(prog), expect=msg)
        if got != msg:
            at = first_difference(msg, got)
            fail(did=did, expected=f"all {len(msg)} bytes back within {STALL * _slow(prog):g}"
                 " s, with nothing more sent", got=f"{len(got)} bytes: {show(got, at=at)} "
                 f"({compare(msg, got)})" + (f"; then {why}" if why else ""),
                 procs=[server], hint="Edge-triggered: the event came once, and no other "
                 "comes while the bytes wait. Read until read() fails with EAGAIN "
                 "(non-blocking socket), not once per event; and epoll_wait() failing "
                 "with EINTR (a stop and continue does that) is not an error.")


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_reverse_order(prog, procs):
    server, port, _ = _start(prog, procs)
    socks = mc.open_all(port, 5)
    try:
        for i in reversed(range(5)):
            _expect_echo(server, socks[i], random_text(50 + i),
                         f"opened 5 connections to port {port} first, then talked on them "
                         f"in reverse order: on connection {i + 1}", timeout=3,
                         hint=NOT_CONCURRENT + " With EPOLLET every socket must be "
                         "non-blocking (fcntl O_NONBLOCK), or the read-until-EAGAIN loop "
                         "blocks instead.")
    finally:
        mc.close_all(socks)


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_stalled_client(prog, procs):
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


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_one_thread(prog, procs):
    server, port, pid = _start(prog, procs)
    socks = mc.open_all(port, 5)
    try:
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(10), f"client {i + 1} of 5 connected")
        half = mc.stall_half(socks[0], b"half of a line\n")
        n_threads, kids = mc.threads(pid), mc.children(pid)
    finally:
        mc.close_all(socks)
    if n_threads != 1 or kids:
        fail(did=f"5 clients connected and had an echo; one then sent {show(half)}, half a "
             "message", expected="the server to be one process with one thread",
             got=f"{n_threads} thread(s), {len(kids)} child process(es)", procs=[server],
             hint="epoll serves every client from one loop: no fork(), no threads.")


@pytest.mark.role("echo_epollserv")
@pytest.mark.faults
def test_echo_epollserv_non_reader(prog, procs):
    """A floods and never reads; B resets mid-stream; C must be served all the
    while. Then the bytes the server holds of A stay bounded, and once A reads,
    every byte comes back, in order."""
    server, port, pid = _start(prog, procs)
    flood = epoll.connect_small(port)
    try:
        sent = epoll.flood_acked(flood, pid=pid)
        rude = connect(port)
        rude.sendall(random_text(2000))
        reset(rude)
        did = (f"client A sent {sent} bytes without reading any echo, until the server "
               "stopped reading them; client B sent 2000 bytes and reset the connection; then client C")
        with connect(port) as other:
            for n in (40, 3000):
                _expect_echo(server, other, random_text(n), did, timeout=STALL,
                             hint="A client that does not read must not hold up the others: "
                             "a write() that fails with EAGAIN means keep the rest and wait "
                             "for EPOLLOUT, never retry at once (that spins) or block.")
        held = epoll.held_by_server(flood, sent)
        if held is not None and held > HELD_MAX:
            fail(did=did + " was served", expected=f"the server to hold at most {HELD_MAX} "
                 "bytes of A's (read from A but not echoed yet), and to stop reading A "
                 "meanwhile", got=f"{held} bytes held (neither in A's or the server's "
                 "socket queues)", procs=[server], hint="Keep a small output buffer per "
                 "client; while it is full, do not read that client: wait for EPOLLOUT. "
                 "Dropping what does not fit loses the client's bytes.")
        got, why = recv_exact(flood, sent, 10 * _slow(prog), idle=STALL * _slow(prog),
                              expect=epoll.pattern(0, sent))
        if got != epoll.pattern(0, sent):
            at = first_difference(epoll.pattern(0, sent), got)
            fail(did=did + " was served; then A read its echo",
                 expected=f"all {sent} bytes A sent back, in order",
                 got=f"{len(got)} bytes" + (f", differing at byte {at}" if at is not None and
                                            at < len(got) else "")
                 + (f"; then {why}" if why else ""), procs=[server],
                 hint="Once A reads, EPOLLOUT comes (register it with EPOLLIN | EPOLLOUT "
                 "| EPOLLET, or add it with EPOLL_CTL_MOD while output waits): write what "
                 "waits, then read A again. Nothing may be dropped.")
        _expect_close(server, flood, did + " was served; then A read all its echo")
    finally:
        flood.close()


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_no_fd_leak(prog, procs):
    server, port, pid = _start(prog, procs)
    _wait_idle(prog, server, f"started `{command_line(prog, str(port))}`")
    before = mc.open_fds(pid)
    for clients in (1, 4, 4):
        socks = mc.open_all(port, clients)
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(12), f"client {i + 1} of {clients} connected")
        mc.close_all(socks)
    if not mc.wait_until(lambda: mc.open_fds(pid) == before, 2):
        fail(did="9 clients connected (1, then 4 at a time, twice), had their echo and "
             "closed", expected="the server to hold as many descriptors as when it started "
             f"({before}) within 2 s", got=f"{mc.open_fds(pid)}", procs=[server],
             hint="When read() returns 0 or fails, EPOLL_CTL_DEL the socket and close() "
                  "it (and free what the client had).")


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_write_to_reset(prog, procs):
    server, port, _ = _start(prog, procs)
    mc.expect_survives_unechoed(server, port, STALL * _slow(prog), hint=SIGPIPE_HINT)


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_idle_cpu(prog, procs):
    server, port, pid = _start(prog, procs)
    used = mc.idle_demand(server, port, pid, IDLE)
    spins = ("Something spins: epoll_wait() with a timeout of 0, or a socket watched for "
             "EPOLLOUT level-triggered (it is writable all the time).")
    did = ("4 clients connected and had their echo, then one left; the others then sent "
           f"nothing for {IDLE:g} s")
    if used > IDLE_CPU:
        fail(did=did, expected="the server to sleep: running or ready to run for at most "
             f"{IDLE_CPU} s", got=f"it ran, or was ready to run, for {used:.2f} s of those "
             f"{IDLE:g} s", procs=[server], hint=spins)


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_many(prog, procs):
    """10,000 clients at once; the server starts with a soft descriptor limit
    of 1024 under a hard one of 20000 and must raise it."""
    if not epoll.raise_nofile(MANY + 1000):
        pytest.skip(f"this machine's hard RLIMIT_NOFILE is below {MANY + 1000}: the test "
                    f"(its clients) and the server each need that many descriptors")
    # under valgrind (`make valgrind`: references only) the soft limit starts
    # at the hard one: valgrind keeps the kernel's limit as it found it and
    # lets a program's setrlimit() change only its own view of it
    soft = None if prog.sub.valgrind else 1024
    limits = replace(procs.limits or Limits(), open_files=MANY + 1000, open_files_soft=soft)
    # the memory is the cage's (the test's group's, made at its first start):
    # 2 GiB, so that a buffer of up to 64 KiB per client (the notes' bound)
    # fits 10,000 times
    procs.limits = replace(procs.limits or Limits(), memory=MANY_MEMORY)
    with epoll.own_netns():
        _many(prog, procs, limits)


def _many(prog, procs, limits) -> None:
    port = free_port()
    server = prog.start(procs, str(port), limit=60, limits=limits)
    try:
        wait_listening(server, port, listen_wait(prog), own=True)
    except (ProgramExited, WaitTimeout) as exc:
        server.wait_exit(1)
        fail(did=f"started `{command_line(prog, str(port))}` with a soft RLIMIT_NOFILE of "
             f"1024 and a hard one of {MANY + 1000}", expected=f"it to listen on port {port}",
             got=str(exc), procs=[server])
    _wait_idle(prog, server, f"started `{command_line(prog, str(port))}`")
    many = epoll.Many(port, MANY)
    stall = 4 * _slow(prog)
    try:
        ok = many.open_and_echo(stall) and many.echo_all(stall)
    finally:
        many.close()
    if not ok:
        fail(did=f"opened {MANY} connections (at most 100 waiting for their echo at a "
             "time), each sending a line of its own, then, all open, sent again on each; "
             "the server started with a soft RLIMIT_NOFILE of 1024 and a hard one of "
             f"{MANY + 1000}", expected="every line echoed", got=many.failure,
             procs=[server], hint="Raise the soft limit to the hard one first: getrlimit("
             "RLIMIT_NOFILE), rlim_cur = rlim_max, setrlimit(). Then accept() can go on "
             "past 1024 descriptors.")


@pytest.mark.role("echo_epollserv")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_echo_epollserv_stops_on_signal(prog, procs, sig):
    _stop_on_signal(prog, procs, sig)


@pytest.mark.role("echo_epltserv")
def test_echo_epltserv_every_address(prog, procs):
    tcpserver.check_every_address(prog, procs)


@pytest.mark.role("echo_epltserv")
def test_echo_epltserv_restart_in_time_wait(prog, procs):
    tcpserver.check_restart_in_time_wait(prog, procs)


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_every_address(prog, procs):
    tcpserver.check_every_address(prog, procs)


@pytest.mark.role("echo_epollserv")
def test_echo_epollserv_restart_in_time_wait(prog, procs):
    tcpserver.check_restart_in_time_wait(prog, procs)
