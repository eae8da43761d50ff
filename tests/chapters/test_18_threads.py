"""Chapter 18: the threaded chat server and client, and the echo server
with a thread per client (contracts: chapters/18_threads/README.md).

The chat tests talk to the server as many clients at once, line by line
(harness/chat.py): a client counts as present once its own `#join` line
came back to it. Concurrency and the drop of bad clients are proved with
harness/manyclients.py and /proc: which thread sleeps writing to which
socket, how many threads and how much memory the server holds. A
ThreadSanitizer build of chat_server catches the data races no timing
would show."""

from __future__ import annotations

import random
import resource
import signal
import socket
import threading
import time
from dataclasses import replace

import pytest

from harness import chat
from harness import manyclients as mc
from harness import tcpserver
from harness.feedback import HINTS, compare, describe_exit, fail, first_difference, show
from harness.net import (FakeServer, connect, random_binary, random_text, recv_exact,
                         recv_until_eof, reset)
from harness.ports import free_port, wait_in_accept, wait_listening, wait_peer_read_all
from harness.procs import ProgramExited, WaitTimeout
from harness.scenarios import EXIT_WAIT, command_line, start_server

STALL = 2.0        # seconds: the most a stalled or bad client may delay the others
LINE_WAIT = 5.0    # seconds a relayed line may take to arrive (it needs microseconds)
MAX_LINE = 1024    # the longest line relayed whole, newline included
MAX_CLIENTS = 256
FULL = b"server full\n"
IDLE = 1.0
IDLE_CPU = 0.2   # of it the server may spend running or ready to run (cpu_demand)
SEQUENTIAL = 30    # echo_thrserv: clients one after another, for the memory of its threads
SEQUENTIAL_VM = 128 << 20  # the most its VmSize may grow over them (a kept stack: 8 MiB)
DROP_WAIT = 5.0    # seconds for every line to arrive while a bad client is dropped
AHEAD = 32         # lines a flooding client sends ahead of their relay
CLOSED = "closed the connection"


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def _start(prog, procs, pids: int | None = None):
    """Start the server and wait until it listens. `pids`: room for that
    many threads (the jail's limit counts them), and address space for
    their stacks (8 MiB each)."""
    if pids is None or procs.limits is None:
        server, port = start_server(prog, procs)
    else:
        procs.limits = replace(procs.limits, pids=pids)
        if prog.sub.valgrind:  # valgrind gives each thread real memory of its own
            procs.limits = replace(procs.limits, memory=max(procs.limits.memory, 4 << 30))
        port = free_port()
        more = {} if prog.sub.sanitize or prog.sub.valgrind else {
            "limits": replace(procs.limits, address_space=(pids * 8 + 1024) << 20)}
        server = prog.start(procs, str(port), limit=60, **more)
        try:
            wait_listening(server, port, 10, own=True)
        except (ProgramExited, WaitTimeout) as exc:
            fail(did=f"started `{command_line(prog, str(port))}`", expected=f"a socket "
                 f"listening on port {port}", got=str(exc) or "it ended", procs=[server])
    pid = server.program_pid()
    if pid is None:
        fail(did=f"started `{command_line(prog, str(port))}`", expected="the program running",
             got="it is gone", procs=[server])
    return server, port, pid


# -- chat_server ----------------------------------------------------------------------

NOT_CONCURRENT = ("Each client needs a thread of its own: accept(), add the socket to the "
                  "list under the mutex, pthread_create() a thread that reads that client, "
                  "and go straight back to accept().")


def _join(server, port: int, socks: list[socket.socket], did: str,
          first: int = 0) -> list[chat.Lines]:
    readers, bad, why = chat.join(socks, LINE_WAIT, first)
    if bad is not None:
        fail(did=did + f"; then client {bad + 1} sent {show(chat.join_line(bad))}",
             expected=f"that line relayed back to client {bad + 1} itself (every line goes "
             "to every client, the sender included)",
             got=why or "nothing", procs=[server], hint=NOT_CONCURRENT if why == "timeout"
             else HINTS.get(why))
    return readers


def _open_joined(server, port: int, n: int, did: str) -> list[chat.Lines]:
    socks = mc.open_all(port, n)
    return _join(server, port, socks, did)


def _expect_line(server, readers: list[chat.Lines], line: bytes, did: str,
                 hint: str | None = None, timeout: float = LINE_WAIT,
                 others: bool = False) -> None:
    """Every reader's next lines up to `line`: it must come, and nothing
    else but join lines before it (any whole line, with `others`)."""
    for r in readers:
        came, before = r.until(line, timeout)
        stray = [b for b in before if not b.startswith(b"#join ") and not others]
        if not came or stray:
            fail(did=did, expected=f"{r.name} to receive the line {show(line)}"
                 + (f" within {timeout:g} s" if not came else ", whole"),
                 got=(f"{show(b''.join(stray))} instead; " if stray else "")
                 + (r.why or "nothing") + (f"; unfinished {show(bytes(r.buf))}"
                                           if r.buf else ""),
                 procs=[server], hint=hint)


@pytest.mark.role("chat_server")
@pytest.mark.faults
def test_chat_server_relays(prog, procs):
    server, port, _ = _start(prog, procs)
    did = f"3 clients connected to `{command_line(prog, str(port))}`"
    readers = _open_joined(server, port, 3, did)
    try:
        for i in (2, 0, 1):
            line = b"[c%d] " % i + random_text(30 + 20 * i).replace(b"\n", b" ") + b"\n"
            readers[i].sock.sendall(line)
            _expect_line(server, readers, line, did + f"; client {i + 1} sent {show(line)}",
                         hint="Send each line to every client in the list, the sender "
                              "included, with a loop that writes until all bytes are out.")
    finally:
        mc.close_all(r.sock for r in readers)


def _chat_line(i: int, k: int, rng: random.Random) -> bytes:
    size = 900 if k % 7 == 3 else rng.randrange(5, 60)
    body = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(size))
    return b"[c%02d] %03d %s\n" % (i, k, body)


@pytest.mark.role("chat_server")
@pytest.mark.faults
def test_chat_server_many_senders(prog, procs):
    """20 clients send 50 lines each at the same time, every line in one to
    three pieces, the pieces of different clients alternating on the wire."""
    n, per = 20, 50
    server, port, _ = _start(prog, procs)
    did = f"{n} clients joined `{command_line(prog, str(port))}`"
    readers = _open_joined(server, port, n, did)
    rng = random.Random(port)
    lines = [[_chat_line(i, k, rng) for k in range(per)] for i in range(n)]
    total = n * per
    # the join lines of later clients may still be ahead of the chat
    for r in readers:
        r.lines = [x for x in r.lines if not x.startswith(b"#join ")]
        r.joins = 0

    def send_all() -> None:
        queues = []
        for i in range(n):
            pieces = []
            for line in lines[i]:
                cuts = sorted(rng.sample(range(1, len(line)), min(2, len(line) - 1)))
                cuts = cuts[:rng.randrange(0, 3)]
                bounds = [0, *cuts, len(line)]
                pieces += [line[a:b] for a, b in zip(bounds, bounds[1:])]
            queues.append(pieces)
        step = 0
        while any(step < len(q) for q in queues):
            for i, q in enumerate(queues):
                if step < len(q):
                    try:
                        readers[i].sock.sendall(q[step])
                    except OSError:
                        return
            step += 1

    def real(r: chat.Lines) -> list[bytes]:
        return [x for x in r.lines if not x.startswith(b"#join ")]

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    try:
        done = chat.pump(readers, lambda: all(len(r.lines) - r.joins >= total
                                              for r in readers), 20, idle=5)
    finally:
        sender.join(5)
        mc.close_all(r.sock for r in readers)
    did += (f"; then all of them sent {per} lines each at the same time (each line in up "
            "to three pieces, the pieces of different clients alternating)")
    expected = {line for ls in lines for line in ls}
    for r in readers:
        got = real(r)
        for line in got:
            if line not in expected:
                fail(did=did, expected=f"{r.name} to receive every line whole",
                     got=f"a line that nobody sent: {show(line)}", procs=[server],
                     hint="Keep each client's bytes until its newline arrives, and send the "
                          "whole line to everyone under the mutex: a line sent while "
                          "another thread is half-way through its own is torn apart.")
        for i in range(n):
            mine = [x for x in got if x.startswith(b"[c%02d] " % i)]
            if mine != lines[i][:len(mine)]:
                at = next(k for k, (a, b) in enumerate(zip(mine, lines[i])) if a != b)
                fail(did=did, expected=f"{r.name} to receive client {i + 1}'s lines in the "
                     "order sent", got=f"its line {at + 1} is {show(mine[at])}, expected "
                     f"{show(lines[i][at])}", procs=[server])
        if not done or len(got) != total:
            missing = next(((i, k) for i in range(n) for k in range(per)
                            if lines[i][k] not in got), None)
            fail(did=did, expected=f"{r.name} to receive all {total} lines within 20 s",
                 got=f"{len(got)} lines" + (f", then {r.why}" if r.why else "")
                 + (f"; missing e.g. client {missing[0] + 1}'s line {missing[1] + 1}"
                    if missing else ""), procs=[server],
                 hint="A short read is not the end of a line, and a short write not the end "
                      "of a send: loop; a read() that fails with EINTR is tried again.")


@pytest.mark.role("chat_server")
def test_chat_server_partial_line_held(prog, procs):
    server, port, pid = _start(prog, procs)
    did = f"3 clients joined `{command_line(prog, str(port))}`"
    readers = _open_joined(server, port, 3, did)
    a, b, c = readers
    try:
        half, rest = b"[a] the first half of A's line, ", b"and its end\n"
        a.sock.sendall(half)
        wait_peer_read_all(a.sock, 3)  # the server has read it: nothing to wait for then
        line_b = b"[b] B's whole line\n"
        b.sock.sendall(line_b)
        did += (f"; client A sent {show(half)}, half a line (and the server read it), then "
                f"client B sent {show(line_b)}")
        hint = ("Relay only whole lines: keep what a client sent after its last newline in "
                "that client's own buffer until the rest comes.")
        _expect_line(server, [c, b], line_b, did, hint=hint)
        a.sock.sendall(rest)
        _expect_line(server, [c, b], half + rest, did + f"; then A sent {show(rest)}",
                     hint=hint)
    finally:
        mc.close_all(r.sock for r in readers)


@pytest.mark.role("chat_server")
@pytest.mark.faults
def test_chat_server_long_line(prog, procs):
    server, port, _ = _start(prog, procs)
    did = f"2 clients joined `{command_line(prog, str(port))}`"
    readers = _open_joined(server, port, 2, did)
    a, b = readers
    try:
        long = b"[a] " + random_text(3 * MAX_LINE).replace(b"\n", b"-") + b"\n"
        for at in range(0, len(long), 700):
            a.sock.sendall(long[at:at + 700])
        did += f"; client A sent a line of {len(long)} bytes (in pieces of 700)"
        for r in (b, a):
            got = r.line(LINE_WAIT)
            while got is not None and got.startswith(b"#join "):
                got = r.line(LINE_WAIT)
            got = got if got is not None else bytes(r.buf)
            if got != long:
                at = first_difference(long, got)
                fail(did=did, expected=f"{r.name} to receive all of it, in order (in pieces "
                     f"of at most {MAX_LINE} bytes)", got=f"{show(got, at=at)} "
                     f"({compare(long, got)})", procs=[server],
                     hint=f"A line longer than the buffer: when {MAX_LINE} bytes without a "
                          "newline have piled up, relay them as a piece and go on; a read() "
                          "into no room at all returns 0, which is not the client leaving.")
    finally:
        mc.close_all(r.sock for r in readers)


@pytest.mark.role("chat_server")
def test_chat_server_client_leaves(prog, procs):
    """The textbook's removal loop drops the neighbour of the client that
    left: a middle client leaves, then every other client must still get
    every line."""
    server, port, pid = _start(prog, procs)
    did = f"4 clients A, B, C, D joined `{command_line(prog, str(port))}` in that order"
    readers = _open_joined(server, port, 4, did)
    a, b, c, d = readers
    for r, name in zip(readers, "ABCD"):
        r.name = f"client {name}"
    try:
        before = mc.open_fds(pid)
        b.sock.close()
        gone = mc.wait_until(lambda: (mc.open_fds(pid) or 0) < (before or 0), 3)
        if not gone:
            fail(did=did + "; then B closed its connection", expected="the server to close "
                 f"its socket for B within 3 s ({before} descriptors, one fewer)",
                 got=f"{mc.open_fds(pid)} descriptors", procs=[server],
                 hint="When read() returns 0, the client has left: remove it from the list "
                      "under the mutex, close() its socket and end the thread.")
        for sender, name in ((a, "A"), (d, "D")):
            line = b"[%s] still here\n" % name.encode()
            sender.sock.sendall(line)
            _expect_line(server, [a, c, d], line, did + f"; B left; then {name} sent "
                         f"{show(line)}", hint="Check the loop that removes a client from "
                         "the list: the textbook's `while (i++ < clnt_cnt - 1) clnt_socks[i] "
                         "= clnt_socks[i + 1];` increments i before the first copy, so it "
                         "keeps the client that left and drops the one after it.")
    finally:
        mc.close_all(r.sock for r in readers)


@pytest.mark.role("chat_server")
def test_chat_server_bad_clients(prog, procs):
    """S never reads (a tiny receive buffer): the server blocks writing to
    it; meanwhile R resets. The server must drop S (its send times out)
    and R (its write fails: EPIPE, which kills a process that does not
    ignore SIGPIPE), and A and B must get every line."""
    server, port, pid = _start(prog, procs)
    socks = [connect(port), chat.connect(port, rcvbuf=2048, mss=600), connect(port),
             connect(port)]
    did = (f"clients A, S, R, B joined `{command_line(prog, str(port))}` in that order "
           "(S with a 2 KiB receive buffer and 600-byte segments)")
    readers = _join(server, port, socks, did)
    a, s, r, b = readers
    for x, name in zip(readers, "ASRB"):
        x.name = f"client {name}"
    for x in (a, b):
        x.lines = [y for y in x.lines if not y.startswith(b"#join ")]
    sent = [0]
    stop = threading.Event()
    line = b"[a] " + b"x" * 995 + b"\n"

    def flood() -> None:
        # at most AHEAD lines ahead of what came back to A (the first in the
        # list): once the server is stuck on S, A sends no more than that
        while not stop.is_set() and sent[0] < 20000:
            if sent[0] - len(a.lines) >= AHEAD:
                time.sleep(0.001)  # polling what the reader thread took
                continue
            try:
                a.sock.sendall(line)
            except OSError:
                return
            sent[0] += 1

    sender = threading.Thread(target=flood, daemon=True)
    reader_stop = threading.Event()
    background = threading.Thread(target=chat.pump, args=([a, b], reader_stop.is_set, 30),
                                  daemon=True)
    sender.start()
    background.start()
    try:
        blocked = mc.wait_until(lambda: chat.blocked_writing_to(pid, port, s.sock), 5)
        if blocked:
            reset(r.sock)
        # A goes on sending until the server has given S up: its end of
        # S's connection is no longer established
        dropped = mc.wait_until(lambda: chat.server_end_closed(port, s.sock), DROP_WAIT)
        stop.set()
        sender.join(DROP_WAIT)  # it may be in sendall() until the server reads again
        count = sent[0]
        did += (f"; S never read; A sent lines of 1000 bytes (at most {AHEAD} ahead of "
                "their relay) while A and B read everything"
                + ("; while the server was blocked writing to S, R reset its connection"
                   if blocked else "") + f"; A stopped after {count} lines")
        if not dropped:
            fail(did=did, expected=f"the server to drop S within {DROP_WAIT:g} s (S takes "
                 "no line: after 1 s the server shuts its connection down)",
                 got=f"S still connected; A had {a.lines.count(line)} of its lines back",
                 procs=[server], hint="A client that never reads must not stall the "
                 "others: give each client socket a send timeout (SO_SNDTIMEO, 1 s) and "
                 "drop it (shutdown()) when a send fails.")
        ok = mc.wait_until(lambda: all(x.lines.count(line) >= count for x in (a, b))
                           or not background.is_alive(), DROP_WAIT)
    finally:
        reader_stop.set()
        background.join(5)
    try:
        for x in (a, b):
            x.lines = [y for y in x.lines if not y.startswith(b"#join ")]
            if not ok or len(x.lines) != count or any(y != line for y in x.lines):
                fail(did=did, expected=f"{x.name} to receive all {count} lines within "
                     f"{DROP_WAIT:g} s",
                     got=f"{len(x.lines)} lines" + (f", then {x.why}" if x.why else "")
                     + ("; the server is gone: " + describe_exit(server)
                        if not server.running() else ""), procs=[server],
                     hint="A client that never reads must not stall the others: give each "
                          "client socket a send timeout (SO_SNDTIMEO, 1 s) and drop it when "
                          "a send fails; ignore SIGPIPE, or the first write to a client that "
                          "reset kills the whole server." if server.running() else
                          "Ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)): writing to a client "
                          "that reset raises it, and it kills the whole process.")
        s.sock.settimeout(1)
        rest, why = recv_until_eof(s.sock, 10)
        if why not in ("", "reset"):
            fail(did=did + "; then S started reading", expected="the server to have "
                 "dropped S: what it had sent, then the end of the connection",
                 got=f"{len(rest)} bytes, then {why}", procs=[server],
                 hint="When a send to a client fails (its timeout expired), shut that "
                      "client's socket down and take it out of the list.")
    finally:
        mc.close_all(x.sock for x in readers)


@pytest.mark.role("chat_server")
def test_chat_server_full(prog, procs):
    _raise_nofile(2048)
    server, port, pid = _start(prog, procs, pids=MAX_CLIENTS + 64)
    did = f"{MAX_CLIENTS} clients joined `{command_line(prog, str(port))}`, one by one"
    readers: list[chat.Lines] = []
    socks: list[socket.socket] = []
    try:
        readers, bad, why = chat.join_one_by_one(port, MAX_CLIENTS, LINE_WAIT)
        socks = [r.sock for r in readers]
        if bad is not None:
            fail(did=did, expected=f"client {bad + 1} to connect and get its own line "
                 f"{show(chat.join_line(bad))} back", got=why or "nothing", procs=[server],
                 hint="Up to 256 clients are served; do not turn a client away before that.")
        extra = connect(port)
        socks.append(extra)
        got, why = recv_until_eof(extra, 5)
        if got != FULL or why:
            fail(did=did + "; then one more connected", expected=f"that one to receive "
                 f"{show(FULL)}, then the end of the connection",
                 got=show(got) + (f", then {why}" if why else ", then the end"),
                 procs=[server], hint=f"Check the count under the mutex before adding: at "
                 f"{MAX_CLIENTS} clients, write the message, close the socket, start no "
                 "thread. Without the check the array overflows.")
        line = b"[last] still served\n"
        readers[-1].sock.sendall(line)
        _expect_line(server, [readers[0], readers[-1]], line,
                     did + "; one more was turned away; then the last sent "
                     f"{show(line)}")
    finally:
        for s in socks:
            reset(s)


@pytest.mark.role("chat_server")
def test_chat_server_threads_released(prog, procs):
    """1,000 clients, 100 at a time, connect and reset: every thread must
    end, and its stack go back (a joinable thread nobody joins keeps its
    stack, 8 MiB of address space)."""
    _raise_nofile(1024)
    batch, rounds = 100, 10
    server, port, pid = _start(prog, procs, pids=batch + 64)
    start_threads = mc.threads(pid)
    start_vm = None
    slow = 6.0 if prog.sub.valgrind else 1.0  # valgrind starts a thread in milliseconds
    did = (f"{rounds * batch} clients connected to `{command_line(prog, str(port))}`, "
           f"{batch} at a time, and reset their connections")
    for k in range(rounds):
        socks = mc.open_all(port, batch)
        try:
            up = mc.wait_until(lambda: mc.threads(pid) >= start_threads + batch, 5 * slow)
        finally:
            for s in socks:
                reset(s)
        if not up:
            fail(did=did + f" (round {k + 1})", expected=f"a thread per client: at least "
                 f"{start_threads + batch} threads while {batch} were connected",
                 got=f"{mc.threads(pid)} threads; stderr: {show(server.stderr)}",
                 procs=[server], hint="pthread_create() fails once the threads that ended "
                 "still hold their stacks: pthread_detach() each thread (or join it).")
        back = mc.wait_until(lambda: mc.threads(pid) == start_threads, 5 * slow)
        if not back:
            fail(did=did + f" (round {k + 1})", expected=f"the thread count back to "
                 f"{start_threads} within 5 s", got=f"{mc.threads(pid)} threads",
                 procs=[server], hint="A thread ends when its client leaves (read() "
                 "returns 0 or fails): return from the thread function.")
        if start_vm is None:
            start_vm = chat.vm_size(pid)
    end_vm = chat.vm_size(pid) or 0
    grown = end_vm - (start_vm or 0)
    if grown > 256 << 20:
        fail(did=did, expected="the server's memory (VmSize) back near where it was after "
             "the first round", got=f"{grown >> 20} MiB more", procs=[server],
             hint="A thread that is neither detached nor joined keeps its stack after it "
                  "ends: call pthread_detach() after pthread_create().")


@pytest.mark.role("chat_server")
def test_chat_server_tsan(prog, procs):
    """chat_server built with -fsanitize=thread: 4 clients join, chat, one
    leaves, another joins; ThreadSanitizer must report nothing."""
    binary, log = chat.tsan_build(prog)
    if binary is None:
        fail(did=f"compiled {prog.shown_file} with -fsanitize=thread",
             expected="it to compile", got=log.strip()[-1500:] or "no binary")
    port = free_port()
    limits = replace(procs.limits, address_space=None) if procs.limits else None
    env = dict(prog.env, TSAN_OPTIONS=chat.TSAN_OPTIONS)
    env = {k: v for k, v in env.items() if not k.startswith(("WINE", "ASAN", "UBSAN"))}
    server = procs.start([str(binary), str(port)], jail={"files": {str(binary): binary}},
                         limits=limits, env=env, label="chat_server (ThreadSanitizer)",
                         limit=30)
    wait_listening(server, port, 10, own=True)
    did = ("built chat_server with -fsanitize=thread and started it; 4 clients joined "
           "(connecting at once), each sent 10 lines, client 2 left, a fifth joined and sent "
           "a line")
    socks = mc.open_all(port, 4)
    readers = _join(server, port, socks, did)
    try:
        for k in range(10):
            for i, r in enumerate(readers):
                r.sock.sendall(b"[c%d] line %d\n" % (i, k))
        last = b"[c3] line 9\n"
        _expect_line(server, readers, last, did, others=True)
        readers[1].sock.close()
        more = [connect(port)]
        newcomer = _join(server, port, more, did, first=4)[0]
        line = b"[c4] hello\n"
        newcomer.sock.sendall(line)
        _expect_line(server, [readers[0], newcomer], line, did, others=True)
    finally:
        mc.close_all(r.sock for r in readers)
        mc.close_all(more if "more" in locals() else [])
    server.signal(signal.SIGTERM)
    if server.wait_exit(EXIT_WAIT, patient=True) is None:
        server.kill()
    err = server.stderr_text()
    if chat.TSAN_MARK in err:
        at = err.find(chat.TSAN_MARK)
        fail(did=did, expected="no ThreadSanitizer report",
             got=err[at:at + 1800], procs=[],
             hint="Every access to the shared client list (adding, removing, sending to "
                  "all) must hold the mutex; the thread must get the socket by value, not "
                  "the address of main()'s variable that the next accept() overwrites.")


@pytest.mark.role("chat_server")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_chat_server_stops_on_signal(prog, procs, sig):
    server, port, pid = _start(prog, procs)
    readers = _open_joined(server, port, 2, f"2 clients joined port {port}")
    start = mc.threads(pid)
    mc.close_all(r.sock for r in readers)
    mc.wait_until(lambda: mc.threads(pid) < start - 1, 3)
    wait_in_accept(server, 3)
    server.signal(getattr(signal, sig))
    rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=f"2 clients joined and left; then the server got {sig} while it waited in "
             "accept()", expected=f"exit status 0 within {EXIT_WAIT:g} s",
             got="still running" if rc is None else describe_exit(server), procs=[server],
             hint="Handle SIGINT and SIGTERM with a handler that sets a flag, installed "
                  "without SA_RESTART, so that accept() returns (EINTR) and the loop ends.")


# -- chat_client ----------------------------------------------------------------------

def _record(record: bytearray, cap: int = 1 << 20):
    def handle(conn: socket.socket) -> None:
        while len(record) < cap:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            record.extend(data)
    return handle


def _wait_record(server: FakeServer, record: bytearray, n: int) -> bool:
    """Wait until the test server has n bytes, or has seen the client's end
    (its one connection handled), for at most 2 s."""
    return mc.wait_until(lambda: len(record) >= n or not server._thread.is_alive(), 2)


def _client_did(prog, port: int, name: str, stdin: bytes, how: str) -> str:
    return (f"ran `{command_line(prog, '127.0.0.1', str(port), name)}` against a test "
            f"server that {how}, with stdin {show(stdin)}")


@pytest.mark.role("chat_client")
@pytest.mark.faults
def test_chat_client_sends_tagged(prog, procs):
    record = bytearray()
    lines = [random_text(20 + 30 * i).replace(b"\n", b" ").strip() or b"x" for i in range(4)]
    lines = [x for x in lines if x not in (b"q", b"Q")]
    stdin = b"".join(x + b"\n" for x in lines[:-1]) + lines[-1]
    want = b"".join(b"[alice] " + x + b"\n" for x in lines)
    server = FakeServer(_record(record), timeout=5)
    client = prog.start(procs, "127.0.0.1", str(server.port), "alice", stdin_data=stdin,
                        limit=30)
    rc = client.wait_exit(5)
    ok = _wait_record(server, record, len(want))
    server.close()
    did = _client_did(prog, server.port, "alice", stdin, "reads and never sends anything")
    got = bytes(record)
    if rc != 0 or got != want or not ok:
        at = first_difference(want, got)
        fail(did=did, expected=f"the server to receive {show(want)} (a last line without a "
             "newline gets one), and exit status 0 at the end of input",
             got=f"{show(got, at=at)} ({compare(want, got)}); "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[client],
             hint="Send \"[name] \" and the line, newline included, for each line, without "
                  "waiting for anything from the server; write() until every byte is out.")


@pytest.mark.role("chat_client")
@pytest.mark.faults
def test_chat_client_prints_incoming(prog, procs):
    """The server sends lines in pieces while the client's stdin stays
    open and silent, then closes."""
    pieces = [b"[bob] hi th", b"ere\n[carol] ", random_text(3000).replace(b"\n", b" ") + b"\n",
              b"[bob] bye\n"]
    sent = b"".join(pieces)

    def handle(conn: socket.socket) -> None:
        for part in pieces:
            conn.sendall(part)
            wait_peer_read_all(conn, 2)

    server = FakeServer(handle, timeout=5)
    client = prog.start(procs, "127.0.0.1", str(server.port), "alice", limit=30)
    rc = client.wait_exit(5)
    server.close()
    did = (f"ran `{command_line(prog, '127.0.0.1', str(server.port), 'alice')}` with its "
           "stdin open and silent, against a test server that sent "
           f"{len(sent)} bytes of lines in pieces, then closed the connection")
    out = client.stdout
    if out != sent or rc != 0 or CLOSED not in client.stderr_text():
        at = first_difference(sent, out)
        fail(did=did, expected="every byte printed as it came, then the message "
             f"`{CLOSED}` on stderr and exit status 0",
             got=f"stdout {show(out, at=at)} ({compare(sent, out)}); stderr "
             f"{show(client.stderr)}; " + ("still running" if rc is None else f"exit status "
                                           f"{rc}"), procs=[client],
             hint="The receiving thread prints each piece as read() returns it. read() "
                  "returning 0 means the server closed: say so and exit(0), or the thread "
                  "spins for ever on 0.")


@pytest.mark.role("chat_client")
@pytest.mark.parametrize("quit", ["q", "Q"])
def test_chat_client_quits(prog, procs, quit):
    record = bytearray()
    stdin = b"first\n" + quit.encode() + b"\nafter the quit\n"
    server = FakeServer(_record(record), timeout=5)
    client = prog.start(procs, "127.0.0.1", str(server.port), "dave", stdin_data=stdin,
                        limit=30)
    rc = client.wait_exit(EXIT_WAIT, patient=True)
    _wait_record(server, record, len(b"[dave] first\n"))
    server.close()
    did = _client_did(prog, server.port, "dave", stdin, "reads and never closes")
    want = b"[dave] first\n"
    if rc != 0 or bytes(record) != want:
        fail(did=did, expected=f"the server to receive {show(want)} only, and exit status 0 "
             f"within {EXIT_WAIT:g} s, the server still connected",
             got=f"{show(bytes(record))}; " + ("still running" if rc is None else
                                                f"exit status {rc}"), procs=[client],
             hint=f"A line that is exactly {quit} ends the program (exit 0) even though the "
                  "receiving thread is still blocked in read(): return from main() or "
                  "exit(), which end every thread.")


# -- echo_thrserv ---------------------------------------------------------------------

_expect_echo = mc.expect_echo


ECHO_NOT_CONCURRENT = ("A server that serves clients one after another answers only the first: "
                       "create a thread per accepted client (pthread_create, then "
                       "pthread_detach) and go straight back to accept().")


@pytest.mark.role("echo_thrserv")
@pytest.mark.faults
def test_echo_thrserv_echoes(prog, procs):
    server, port, _ = _start(prog, procs)
    did = f"connected to `{command_line(prog, str(port))}`"
    with connect(port) as sock:
        for n in (1, 40, 300):
            _expect_echo(server, sock, random_text(n), did)
        _expect_echo(server, sock, random_binary(200_000), did + " and sent 200000 bytes")
        sock.shutdown(socket.SHUT_WR)
        rest, why = recv_until_eof(sock, 5)
    if rest or why:
        fail(did=did + ", exchanged four messages, then closed its sending side",
             expected="the server to close the connection too, with nothing more sent",
             got=show(rest) + (f", then {why}" if why else ""), procs=[server],
             hint="When read() returns 0, close the client's socket and end the thread.")


@pytest.mark.role("echo_thrserv")
@pytest.mark.faults
def test_echo_thrserv_reverse_order(prog, procs):
    server, port, _ = _start(prog, procs)
    socks = mc.open_all(port, 5)
    try:
        for i in reversed(range(5)):
            _expect_echo(server, socks[i], random_text(50 + i),
                         f"opened 5 connections to port {port} first, then talked on them "
                         f"in reverse order: on connection {i + 1}", timeout=3,
                         hint=ECHO_NOT_CONCURRENT)
    finally:
        mc.close_all(socks)


@pytest.mark.role("echo_thrserv")
def test_echo_thrserv_stalled_client(prog, procs):
    server, port, _ = _start(prog, procs)
    with connect(port) as stalled:
        half = mc.stall_half(stalled, b"a message that never ends\n")
        did = (f"client A sent {show(half)}, half a message, and then nothing; "
               "meanwhile client B")
        with connect(port) as other:
            _expect_echo(server, other, random_text(20), did, timeout=STALL,
                         hint=ECHO_NOT_CONCURRENT)
        stalled.sendall(b"rest\n")
        want = half + b"rest\n"
        got, why = recv_exact(stalled, len(want), 5)
        if got != want:
            fail(did=did + " was served; then A sent `rest\\n`",
                 expected=f"A's bytes back, {show(want)}", got=show(got)
                 + (f", then {why}" if why else ""), procs=[server])


@pytest.mark.role("echo_thrserv")
def test_echo_thrserv_bad_clients(prog, procs):
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
                         hint=ECHO_NOT_CONCURRENT)
    finally:
        reset(flood)


@pytest.mark.role("echo_thrserv")
def test_echo_thrserv_released(prog, procs):
    """Descriptors and threads come back to their start once clients leave."""
    server, port, pid = _start(prog, procs)
    before_fds = before_threads = None
    for clients in (1, 4, 4):
        socks = mc.open_all(port, clients)
        for i, s in enumerate(socks):
            _expect_echo(server, s, random_text(12), f"client {i + 1} of {clients} connected")
        mc.close_all(socks)
        if before_fds is None:
            mc.wait_until(lambda: mc.threads(pid) == 1, 3)
            before_fds, before_threads = mc.open_fds(pid), mc.threads(pid)
    ok = mc.wait_until(lambda: mc.open_fds(pid) == before_fds
                       and mc.threads(pid) == before_threads, 3)
    if not ok:
        fail(did="a client connected, had its echo and left; then 8 more (4 at a time, "
             "twice)", expected=f"the server back to {before_fds} descriptors and "
             f"{before_threads} thread(s) within 3 s",
             got=f"{mc.open_fds(pid)} descriptors, {mc.threads(pid)} threads",
             procs=[server], hint="The client's thread closes its socket when read() "
             "returns 0, and returns: a thread that never ends holds its socket for ever.")
    # A thread that has ended but is neither detached nor joined leaves
    # /proc/<pid>/task, yet keeps its stack (8 MiB of address space by
    # default): clients one after another show it, as a detached thread's
    # stack is reused by the next one
    start_vm = chat.vm_size(pid) or 0
    for i in range(SEQUENTIAL):
        with mc.open_all(port, 1)[0] as s:
            _expect_echo(server, s, random_text(8), f"client {i + 1} of {SEQUENTIAL} "
                         "(one after another) connected")
        mc.wait_until(lambda: mc.threads(pid) == before_threads, 3)
    grown = (chat.vm_size(pid) or 0) - start_vm
    if grown > SEQUENTIAL_VM:
        fail(did=f"after those 9 clients, {SEQUENTIAL} more, one after another (each "
             "connected, had its echo and left before the next)",
             expected=f"the server's memory (VmSize) to grow by at most "
                      f"{SEQUENTIAL_VM >> 20} MiB",
             got=f"it grew by {grown >> 20} MiB", procs=[server],
             hint="Detach each client's thread (pthread_detach(), or create it detached): "
                  "a thread nobody detaches or joins keeps its stack after it returns.")


@pytest.mark.role("echo_thrserv")
def test_echo_thrserv_write_to_reset(prog, procs):
    server, port, _ = _start(prog, procs)
    slow = 6.0 if prog.sub.valgrind else 1.0
    mc.expect_survives_unechoed(server, port, STALL * slow, hint=(
        "Writing to a client that has reset raises SIGPIPE, whose default action ends the "
        "whole process, every thread: ignore it (signal(SIGPIPE, SIG_IGN)), and end that "
        "client's thread when write() fails with EPIPE."))


@pytest.mark.role("echo_thrserv")
def test_echo_thrserv_idle_cpu(prog, procs):
    server, port, pid = _start(prog, procs)
    used = mc.idle_demand(server, port, pid, IDLE)
    if used > IDLE_CPU:
        fail(did="4 clients connected and had their echo, then one left; the others "
             f"then sent nothing for {IDLE:g} s", expected=f"the server to "
             f"sleep: running or ready to run for at most {IDLE_CPU} s",
             got=f"it ran, or was ready to run, for {used:.2f} s of those {IDLE:g} s",
             procs=[server],
             hint="Something spins: a thread whose loop goes on when read() returns 0 or "
                  "-1 runs for ever once its client has left.")


@pytest.mark.role("echo_thrserv")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_echo_thrserv_stops_on_signal(prog, procs, sig):
    server, port, pid = _start(prog, procs)
    with connect(port) as sock:
        _expect_echo(server, sock, random_text(10), f"a client connected to port {port}")
    mc.wait_until(lambda: mc.threads(pid) == 1, 3)
    wait_in_accept(server, 3)
    server.signal(getattr(signal, sig))
    rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=f"a client had its echo and left; then the server got {sig} while it "
             "waited in accept()", expected=f"exit status 0 within {EXIT_WAIT:g} s",
             got="still running" if rc is None else describe_exit(server), procs=[server],
             hint="Handle SIGINT and SIGTERM with a handler that sets a flag, installed "
                  "without SA_RESTART, so that accept() returns (EINTR) and the loop ends.")


@pytest.mark.role("echo_thrserv")
def test_echo_thrserv_every_address(prog, procs):
    tcpserver.check_every_address(prog, procs)


@pytest.mark.role("echo_thrserv")
def test_echo_thrserv_restart_in_time_wait(prog, procs):
    tcpserver.check_restart_in_time_wait(prog, procs)


@pytest.mark.role("chat_server")
def test_chat_server_every_address(prog, procs):
    tcpserver.check_every_address(prog, procs)


@pytest.mark.role("chat_server")
def test_chat_server_restart_in_time_wait(prog, procs):
    tcpserver.check_restart_in_time_wait(prog, procs)
