"""Chapter 12: the select() echo server (contract:
chapters/12_select/README.md). Concurrency is proved as in chapter 10,
with harness/manyclients.py (connections opened first and served in
reverse order, a stalled client, a client that never reads and one that
resets, /proc's view of threads, children, descriptors and CPU time), and
at scale with harness/multiplex.py: a thousand clients at once, and more
connections than an fd_set holds."""

from __future__ import annotations

import signal
import socket
from dataclasses import replace

import pytest

from harness import manyclients as mc
from harness import tcpserver
from harness import multiplex as mx
from harness import sandbox
from harness.feedback import compare, describe_exit, fail, show
from harness.net import connect, random_binary, random_text, recv_exact, recv_until_eof, reset
from harness.ports import free_port, wait_listening
from harness.procs import ProgramExited, WaitTimeout
from harness.scenarios import EXIT_WAIT, command_line, listen_wait, start_server

STALL = 2.0      # seconds: the most a stalled or bad client may delay the others
IDLE = 1.0       # seconds of idling measured
IDLE_CPU = 0.2   # of it the server may spend running or ready to run (cpu_demand)
MANY = 1000      # clients at once
MANY_WAIT = 3.0  # seconds for all of them to be echoed (a correct server needs a fraction)
FD_SETSIZE = 1024
FEW_FILES = 32   # descriptors the server may hold in the EMFILE test
UNREAD = 16384   # bytes the client that never reads sends: the buffers hold them


def _start(prog, procs, **kwargs):
    server, port = start_server(prog, procs, **kwargs)
    pid = server.program_pid()
    if pid is None:
        fail(did=f"started `{command_line(prog, str(port))}`", expected="the program running",
             got="it is gone", procs=[server])
    return server, port, pid


def _start_limited(prog, procs, limits: sandbox.Limits):
    """start_server, with the program's own limits (more descriptors)."""
    port = free_port()
    server = prog.start(procs, str(port), limit=30, limits=limits)
    did = (f"started `{command_line(prog, str(port))}` (allowed {limits.open_files} "
           f"descriptors) and waited for it to listen on port {port}")
    try:
        wait_listening(server, port, listen_wait(prog), own=True)
    except ProgramExited:
        server.wait_exit(2)
        fail(did=did, expected=f"a socket listening on port {port}",
             got="the program ended before it listened", procs=[server])
    except WaitTimeout as exc:
        fail(did=did, expected=f"a socket listening on port {port}", got=str(exc),
             procs=[server])
    return server, port


def _slow(prog) -> float:
    """Upper bounds stretch under valgrind (make valgrind), some 20 times slower."""
    return 4.0 if prog.sub.valgrind else 1.0


_expect_echo = mc.expect_echo


def _alive(server, did: str, hint: str) -> None:
    if not server.running():
        server.wait_exit(2)
        fail(did=did, expected="the server still running", got=describe_exit(server),
             procs=[server], hint=hint)


NOTHING_BACK = {
    "timeout": "Nothing came back. Is the listening socket in the set, is fd_max raised to "
               "each new client's descriptor (select() looks at descriptors below its first "
               "argument only), and does the server echo what one read() gave, without "
               "waiting for more?",
    "eof": "The server closed the connection. A read() that fails with EINTR is no end: "
           "read again; a write() may be short or fail with EINTR: write_all().",
    "reset": "The connection was reset. Is -1 from read() echoed as a length (test 0 and -1 "
             "before writing)?",
}
NOT_CONCURRENT = ("A server that serves one client until it leaves answers only the first: "
                  "the others' connect() succeeds in the listen backlog, and their bytes "
                  "wait unread. Put every client in the fd_set, and after each select() do "
                  "one read() (and its echo) per ready client, then select() again.")
COPY_SET = ("select() overwrites the fd_set it is given with the ready descriptors only. "
            "Keep the set of all descriptors apart and pass select() a copy, made afresh "
            "before every call.")


@pytest.mark.role("echo_selectserv")
@pytest.mark.faults
def test_echo_selectserv_echoes(prog, procs):
    server, port, _ = _start(prog, procs)
    did = f"connected to `{command_line(prog, str(port))}`"
    with connect(port) as sock:
        for n in (1, 40, 300):
            _expect_echo(server, sock, random_text(n), did, timeout=STALL * _slow(prog),
                         hint=NOTHING_BACK)
        big = random_binary(100_000)
        _expect_echo(server, sock, big, did + " and sent 100000 binary bytes")
        sock.shutdown(socket.SHUT_WR)
        rest, why = recv_until_eof(sock, 5)
    if rest or why:
        fail(did=did + ", exchanged four messages, then closed its sending side "
             "(shutdown SHUT_WR)", expected="the server to close the connection too, "
             "with nothing more sent", got=show(rest) + (f", then {why}" if why else ""),
             procs=[server], hint="read() returning 0 means the client closed: FD_CLR() it "
             "and close() it.")


@pytest.mark.role("echo_selectserv")
@pytest.mark.faults
def test_echo_selectserv_reverse_order(prog, procs):
    server, port, _ = _start(prog, procs)
    socks = mc.open_all(port, 5)
    try:
        for rnd, order in enumerate((range(4, -1, -1), range(5))):
            for i in order:
                _expect_echo(server, socks[i], random_text(30 + i),
                             f"opened 5 connections to port {port} first, then talked on "
                             f"them in reverse order, then in order again: round {rnd + 1}, "
                             f"connection {i + 1}", timeout=STALL * _slow(prog),
                             hint=NOT_CONCURRENT + " " + COPY_SET)
    finally:
        mc.close_all(socks)


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_stalled_client(prog, procs):
    server, port, _ = _start(prog, procs)
    with connect(port) as stalled:
        half = mc.stall_half(stalled, b"a message that never ends\n")
        did = (f"client A sent {show(half)}, half a message, and then nothing; "
               "meanwhile client B")
        with connect(port) as other:
            for n in (20, 30):
                _expect_echo(server, other, random_text(n), did, timeout=STALL,
                             hint=NOT_CONCURRENT + " Read once per select(): a loop that "
                             "reads until a whole line came blocks on A.")
        stalled.sendall(b"rest\n")
        want = half + b"rest\n"
        got, why = recv_exact(stalled, len(want), 5)
        if got != want:
            fail(did=did + " was served; then A sent `rest\\n`",
                 expected=f"A's bytes back, {show(want)}", got=show(got)
                 + (f", then {why}" if why else ""), procs=[server])


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_one_thread(prog, procs):
    server, port, pid = _start(prog, procs)
    socks = mc.open_all(port, 4)
    try:
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(10 + i), f"client {i + 1} of 4 connected")
        loads = [random_text(3000) for _ in socks]
        for s, load in zip(socks, loads):   # every client has bytes on the way
            s.sendall(load)
        threads, kids = mc.threads(pid), mc.children(pid)
        for i, (s, load) in enumerate(zip(socks, loads)):
            got, why = recv_exact(s, len(load), 5, expect=load)
            if got != load:
                fail(did=f"4 clients connected, had an echo each, then each sent 3000 bytes; "
                     f"client {i + 1}", expected="its 3000 bytes back",
                     got=f"{show(got)} ({compare(load, got)})" + (f", then {why}" if why
                                                                 else ""), procs=[server])
        if threads != 1 or kids:
            fail(did="four clients connected, each had an echo, then all four sent 3000 "
                 "bytes at once", expected="the server to be one process with one thread "
                 "while it echoed them: no child process, no other thread",
                 got=f"{threads} thread(s), {len(kids)} child process(es)", procs=[server],
                 hint="select() serves every client from one loop: no fork(), no threads.")
    finally:
        mx.reset_all(socks)


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_client_leaves(prog, procs):
    server, port, _ = _start(prog, procs)
    first, second = connect(port), None
    try:
        _expect_echo(server, first, b"from A\n", "client A connected")
        second = connect(port)  # after A was served: B's descriptor is the higher one
        _expect_echo(server, second, b"from B\n", "client A connected and had its echo; "
                     "then client B")
        first.close()
        did = ("client A connected, then client B, and each had an echo; then A (the "
               "lower descriptor) closed; then B")
        hints = {"timeout": "After A left, B was not served: is fd_max still the highest "
                            "descriptor in the set? Lower it only past descriptors that are "
                            "gone, or not at all.",
                 "eof": "A client that closed (read() gave 0) must be FD_CLR()ed from the "
                        "set as well as closed: select() fails with EBADF on a closed "
                        "descriptor."}
        for n in (25, 35):
            _expect_echo(server, second, random_text(n), did, timeout=STALL * _slow(prog),
                         hint=hints)
        _alive(server, did, "Did select() fail (EBADF) on a descriptor that was closed?")
        with connect(port) as third:
            _expect_echo(server, third, random_text(25), did + " was served; then client C",
                         timeout=STALL * _slow(prog))
            # C has A's old descriptor, below B's: B must still be watched
            _expect_echo(server, second, random_text(30),
                         did + " was served; then client C connected (taking A's old, "
                         "lower descriptor) and had its echo; then B again",
                         timeout=STALL * _slow(prog),
                         hint={"timeout": "After C connected, B was not served: fd_max "
                                          "must stay the highest descriptor watched. On "
                                          "accept(), raise it only (if conn_fd > fd_max); "
                                          "a new descriptor can be lower than others."})
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_bad_clients(prog, procs):
    server, port, _ = _start(prog, procs)
    mute = connect(port)
    unread = random_text(UNREAD)
    mute.sendall(unread)
    rude = connect(port)
    _expect_echo(server, rude, random_text(2000), "client B connected")
    reset(rude)
    did = (f"client A sent {UNREAD} bytes and did not read its echo; client B had an "
           "echo of 2000 bytes and then reset the connection; then client C")
    try:
        with connect(port) as sock:
            _expect_echo(server, sock, random_text(40), did, timeout=STALL,
                         hint="A read() that fails (ECONNRESET: the client reset) ends that "
                              "client only: FD_CLR() and close() it, and go on.")
        _alive(server, did, "A reset makes read() fail with ECONNRESET (and write() with "
                            "EPIPE): that client is gone, the server is not.")
        got, why = recv_exact(mute, len(unread), 5, expect=unread)
        if got != unread:
            fail(did=did + " was served; then A read", expected=f"A's {UNREAD} bytes back",
                 got=f"{show(got)} ({compare(unread, got)})" + (f", then {why}" if why
                                                                 else ""), procs=[server])
    finally:
        reset(mute)


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_write_to_reset(prog, procs):
    server, port, _ = _start(prog, procs)
    mc.expect_survives_unechoed(server, port, STALL * _slow(prog), hint=(
        "Writing to a client that has reset raises SIGPIPE, whose default action ends the "
        "whole server: ignore it (signal(SIGPIPE, SIG_IGN)), and treat write() failing with "
        "EPIPE like a read() of 0: that client is gone."))


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_no_fd_leak(prog, procs):
    server, port, pid = _start(prog, procs)
    hint = "When a client leaves, FD_CLR() it and close() it."
    with connect(port) as first:
        _expect_echo(server, first, random_text(12), "a client connected")
        held = mc.open_fds(pid) or 0
    if not mc.wait_until(lambda: (mc.open_fds(pid) or 0) < held, 2 * _slow(prog)):
        fail(did=f"a client connected (the server then held {held} descriptors), had its "
             "echo and closed", expected="the server to close its descriptor for it within "
             f"{2 * _slow(prog):g} s", got=f"{mc.open_fds(pid)} descriptors still open",
             procs=[server], hint=hint)
    before = mc.open_fds(pid)
    for _ in range(2):
        socks = mc.open_all(port, 4)
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(12), f"client {i + 1} of 4 connected")
        mc.close_all(socks)
    if not mc.wait_until(lambda: mc.open_fds(pid) == before, 2 * _slow(prog)):
        fail(did="a client connected, had its echo and left; then 8 more (4 at a time, "
             "twice)", expected="the server to hold as many descriptors as after the "
             f"first client left ({before})", got=f"{mc.open_fds(pid)}", procs=[server],
             hint=hint)


def _many(prog, procs, server, port: int, n: int, did: str) -> list[tuple[bytes, str]]:
    try:
        socks = mx.open_many(port, n)
    except OSError as exc:
        fail(did=did, expected=f"{n} connections established", got=str(exc), procs=[server],
             hint="A listen() backlog that is too small only slows connections; is the "
                  "server still running?")
    try:
        payloads = [b"client %d of %d\n" % (i + 1, n) for i in range(n)]
        return mx.echo_many(socks, payloads, list(reversed(range(n))), MANY_WAIT * _slow(prog))
    finally:
        mx.reset_all(socks)


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_thousand(prog, procs):
    server, port, _ = _start(prog, procs)
    did = (f"opened {MANY} connections at once, then sent each its own line (`client <i> of "
           f"{MANY}\\n`), the last connection first")
    results = _many(prog, procs, server, port, MANY, did)
    bad = [(i, r) for i, r in enumerate(results) if r[1]]
    if bad:
        i, (got, why) = bad[0]
        fail(did=did, expected=f"every line echoed within {MANY_WAIT * _slow(prog):g} s",
             got=f"{len(bad)} of {MANY} not echoed: connection {i + 1} got {show(got)}, "
             f"then {why}", procs=[server],
             hint="Nothing in the server may be limited to fewer clients than FD_SETSIZE "
                  "(1024): no small table of clients, and fd_max must follow the highest "
                  "descriptor.")
    did += f"; every one was echoed; all {MANY} reset"
    _alive(server, did, "A client's reset ends that client only.")
    with connect(port) as sock:
        _expect_echo(server, sock, random_text(30), did + "; then a new client",
                     timeout=STALL * _slow(prog))


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_past_fd_setsize(prog, procs):
    """More connections than an fd_set has room for, with descriptors to
    spare: those at FD_SETSIZE or above must be closed, never FD_SET."""
    limits = replace(procs.limits or sandbox.Limits(), open_files=FD_SETSIZE + 100)
    server, port = _start_limited(prog, procs, limits)
    n = FD_SETSIZE + 40
    did = (f"started the server allowed {limits.open_files} descriptors (more than "
           f"FD_SETSIZE, {FD_SETSIZE}); opened {n} connections at once, then sent each its "
           "own line, the last connection first")
    results = _many(prog, procs, server, port, n, did)
    echoed = sum(1 for _, why in results if not why)
    closed = sum(1 for got, why in results if why in ("eof", "reset") and not got)
    other = [(i, r) for i, r in enumerate(results)
             if r[1] and not (r[1] in ("eof", "reset") and not r[0])]
    _alive(server, did, "FD_SET() of a descriptor of FD_SETSIZE or more writes past the end "
                        "of the fd_set: close such a connection at once instead.")
    if other or closed == 0 or echoed < FD_SETSIZE - 40:
        detail = ""
        if other:
            i, (got, why) = other[0]
            detail = f"; connection {i + 1} got {show(got)}, then {why}"
        fail(did=did, expected=f"each line echoed, or its connection closed at once without "
             f"a byte (those whose descriptor would be {FD_SETSIZE} or more): at least "
             f"{FD_SETSIZE - 40} echoed and at least 1 closed",
             got=f"{echoed} echoed, {closed} closed without a byte, {len(other)} neither"
             + detail, procs=[server],
             hint="After accept(), a descriptor >= FD_SETSIZE does not fit in an fd_set: "
                  "close() it and go on. FD_SET() on it is undefined behaviour.")
    did += f"; {echoed} were echoed and {closed} closed; all reset"
    # the new client must get a descriptor below FD_SETSIZE, so wait until
    # the server has seen the resets and closed their descriptors (one that
    # never does is told so by the echo below)
    pid = server.program_pid()
    if pid is not None:
        mc.wait_until(lambda: (mc.open_fds(pid) or 0) < FD_SETSIZE - 40,
                      STALL * _slow(prog))
    with connect(port) as sock:
        _expect_echo(server, sock, random_text(30), did + "; then the server had closed "
                     "their descriptors; then a new client", timeout=STALL * _slow(prog))


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_out_of_descriptors(prog, procs):
    """accept() failing with EMFILE: the connection waits in the listen
    queue; the server goes on, and serves it once a client has left."""
    if prog.sub.valgrind:
        # valgrind refuses a descriptor above the limit it keeps for itself
        # after the kernel's accept() succeeded: it closes the connection
        # and reports EMFILE, so a connection is lost that the kernel keeps
        pytest.skip("under valgrind, accept() at the descriptor limit loses the connection")
    limits = replace(procs.limits or sandbox.Limits(), open_files=FEW_FILES)
    server, port = _start_limited(prog, procs, limits)
    pid = server.program_pid()
    n = FEW_FILES - 1   # 0, 1, 2 and the listening socket leave room for FEW_FILES - 4
    did = (f"started the server allowed {FEW_FILES} descriptors and opened {n} connections "
           "to it at once (more than it can hold: accept() fails with EMFILE)")
    try:
        socks = mx.open_many(port, n)
    except OSError as exc:
        fail(did=did, expected=f"{n} connections established (those it cannot accept wait "
             "in the listen queue)", got=str(exc), procs=[server])
    try:
        def settled() -> bool:   # asleep in select() with connections left in the queue
            first = mx.listen_queue(port)
            asleep = pid is not None and mx.blocked_in_wait(pid)
            return bool(first and first[0] > 0 and asleep and mx.listen_queue(port) == first)
        mc.wait_until(settled, 2 * _slow(prog))
        _alive(server, did, "accept() failing with EMFILE (no descriptor left) is no reason "
                            "to end the server: the connection waits in the queue.")
        queue = mx.listen_queue(port)
        waiting = queue[0] if queue else 0
        held = mx.held_peers(pid, port) if pid is not None else set()
        ours = {s.getsockname()[1]: i for i, s in enumerate(socks)}
        accepted = [ours[p] for p in sorted(held) if p in ours]
        if not accepted or waiting == 0:
            fail(did=did, expected="some connections accepted, the rest waiting in the "
                 "listen queue", got=f"{len(accepted)} accepted, {waiting} waiting",
                 procs=[server])
        payloads = [b"client %d\n" % (i + 1) for i in range(n)]
        results = mx.echo_many(socks, payloads, accepted, STALL * _slow(prog))
        bad = [i for i in accepted if results[i][1]]
        if bad:
            got, why = results[bad[0]]
            fail(did=did + f"; {len(accepted)} were accepted, {waiting} waited; each accepted "
                 "one sent a line", expected=f"every line echoed within {STALL * _slow(prog):g} "
                 "s", got=f"{len(bad)} not echoed: connection {bad[0] + 1} got {show(got)}, "
                 f"then {why}", procs=[server],
                 hint="A server at its descriptor limit goes on serving the clients it has.")
        gone = accepted[:waiting]
        mx.reset_all([socks[i] for i in gone])
        rest = [i for i in range(n) if i not in gone]
        again = [b"again %d\n" % (i + 1) for i in range(n)]
        results = mx.echo_many(socks, again, rest, STALL * _slow(prog))
        bad = [i for i in rest if results[i][1]]
        if bad:
            got, why = results[bad[0]]
            fail(did=did + f"; {len(accepted)} were accepted and echoed, {waiting} waited; "
                 f"then {len(gone)} of the accepted ones reset, and all {len(rest)} others "
                 "sent a line", expected="every line echoed (those that waited are "
                 f"accepted once descriptors are free) within {STALL * _slow(prog):g} s",
                 got=f"{len(bad)} not echoed: connection {bad[0] + 1} got {show(got)}, "
                 f"then {why}", procs=[server],
                 hint="After EMFILE, accept() works again once a client has been closed. If "
                      "you stopped watching the listening socket, watch it again then.")
    finally:
        mx.reset_all(socks)


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_idle_cpu(prog, procs):
    server, port, pid = _start(prog, procs)
    used = mc.idle_demand(server, port, pid, IDLE)
    if used > IDLE_CPU:
        fail(did="4 clients connected and had their echo, then one left; the others "
             f"then sent nothing for {IDLE:g} s", expected=f"the server to "
             f"sleep: running or ready to run for at most {IDLE_CPU} s",
             got=f"it ran, or was ready to run, for {used:.2f} s of those {IDLE:g} s",
             procs=[server],
             hint="Something spins. Linux writes the time left into select()'s timeout: "
                  "set it afresh before every call (or pass NULL), or it soon is 0 and "
                  "select() returns at once, for ever. A closed client left in the set "
                  "spins too.")


@pytest.mark.role("echo_selectserv")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_echo_selectserv_stops_on_signal(prog, procs, sig):
    server, port, _ = _start(prog, procs)
    with connect(port) as sock:
        _expect_echo(server, sock, random_text(10), f"a client connected to port {port}")
        mx.wait_in_select(server, 3)
        server.signal(getattr(signal, sig))
        rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=f"a client connected and had its echo; then the server got {sig} while it "
             "waited in select()", expected=f"exit status 0 within {EXIT_WAIT:g} s",
             got="still running" if rc is None else describe_exit(server), procs=[server],
             hint="Handle SIGINT and SIGTERM with a handler that sets a flag; select() then "
                  "fails with EINTR, which is no error: go back to the loop's test of the "
                  "flag.")


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_every_address(prog, procs):
    tcpserver.check_every_address(prog, procs)


@pytest.mark.role("echo_selectserv")
def test_echo_selectserv_restart_in_time_wait(prog, procs):
    tcpserver.check_restart_in_time_wait(prog, procs)
