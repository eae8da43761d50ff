"""Chapter 06: UDP. The echo server and its two clients (sendto/recvfrom, and
a connected socket), and the datagram-boundary demonstration (contracts:
chapters/06_udp/README.md). The harness plays every peer itself: a server
is judged against the harness's clients, a client against the harness's
servers, never one program against another.

Fault injection (`faults`) on a UDP socket only makes calls fail with EINTR
(the first read and the first write of a process certainly): a datagram is
sent and received whole, so there are no short counts to inject."""

from __future__ import annotations

import re
import signal
import socket
import time
from contextlib import ExitStack

import pytest

from harness.feedback import compare, fail, first_difference, show
from harness.net import random_binary, random_text
from harness.ports import free_port, wait_in_recv
from harness.procs import EXIT_GRACE, ProgramExited, WaitTimeout
from harness.scenarios import EXIT_WAIT, command_line, listen_wait
from harness.udp import (MAX_PAYLOAD, Lossy, LossyUnavailable, UdpPeer, lossy_netns,
                         recv_datagrams, udp_socket, wait_bound)

CHAPTERS = ("06_udp",)
PROMPT = "Insert message(q to quit): "
REPLY = "Message from server: "
WAIT = 1.0        # the client's wait for an echo, per send (the contract's second)
TRIES = 3         # sends of one line before `no reply`
ECHO_WAIT = 5.0   # seconds the harness waits for a server's echo (it needs microseconds:
                  # an upper bound only, generous for a loaded machine)


def _grace(prog) -> float:
    """Seconds a client gets beyond its own timeouts, an upper bound only:
    a program needs milliseconds, under valgrind a second or two to start."""
    return 10.0 if prog.sub.valgrind else 2.0


# -- uecho_server -------------------------------------------------------------------

def _start_server(prog, procs, *args: str):
    """Start a UDP program that takes a port; wait until it has bound it."""
    port = free_port()
    proc = prog.start(procs, str(port), *args, limit=30)
    did = f"started `{command_line(prog, str(port))}` and waited for it to bind UDP port {port}"
    try:
        wait_bound(proc, port, listen_wait(prog))
    except ProgramExited:
        proc.wait_exit(2)
        fail(did=did, expected=f"a UDP socket bound to port {port}",
             got="the program ended before it had bound the port", procs=[proc],
             hint="socket(AF_INET, SOCK_DGRAM, 0), then bind() to INADDR_ANY and the port "
                  "from argv (htons). A UDP server has no listen() and no accept().")
    except WaitTimeout as exc:
        fail(did=did, expected=f"a UDP socket bound to port {port}", got=str(exc),
             procs=[proc], hint="Convert the port with htons() before bind().")
    return proc, port


ANY_HINT = ("Bind to every local address: sin_addr.s_addr = htonl(INADDR_ANY), not "
            "127.0.0.1 (inet_addr(\"127.0.0.1\") or INADDR_LOOPBACK): 127.0.0.2 is this "
            "machine too, but a socket bound to 127.0.0.1 never sees what is sent there.")


def _expect_echo(server, sock: socket.socket, port: int, payload: bytes, did: str,
                 host: str = "127.0.0.1") -> None:
    """Send one datagram to the server (at host); exactly it must come back,
    as one datagram, from the server's port."""
    sock.sendto(payload, (host, port))
    got = recv_datagrams(sock, 1, ECHO_WAIT)
    did = f"{did}, sent one datagram of {len(payload)} bytes {show(payload, 60)}"
    if host != "127.0.0.1":
        did += f" to {host} (another loopback address of this machine)"
    if not got:
        fail(did=did, expected="the same datagram back", got=f"nothing within {ECHO_WAIT:g} s",
             procs=[server], hint=ANY_HINT if host != "127.0.0.1" else
             "Answer with sendto() to the address recvfrom() filled in "
             "(and its length), with the count recvfrom() returned.")
    data, sender = got[0]
    if data != payload:
        at = first_difference(payload, data)
        fail(did=did, expected="the same bytes back, as one datagram",
             got=f"{show(data, at=at)} ({compare(payload, data)})", procs=[server],
             hint="recvfrom() cuts a datagram that does not fit its buffer: the buffer must "
                  "hold 65507 bytes. Send back n bytes, n from recvfrom(), never strlen(): "
                  "a datagram may hold NUL bytes.")
    if sender[1] != port:
        fail(did=did, expected=f"the echo to come from port {port}",
             got=f"it came from port {sender[1]}", procs=[server],
             hint="Send the echo on the socket bound to the port, not on a new one.")


# -- the echo clients -----------------------------------------------------------------

def _lines(n: int) -> list[bytes]:
    """n different lines, none `q`/`Q`, each a length of its own."""
    out: list[bytes] = []
    while len(out) < n:
        line = random_text(6 + len(out) * 7).strip()
        if line and line not in (b"q", b"Q") and len(line) not in {len(x) for x in out}:
            out.append(line)
    return out


def _replies(client) -> list[str]:
    return [ln.split(REPLY, 1)[1] for ln in client.stdout_text().splitlines() if REPLY in ln]


def _run_client(prog, procs, peer: UdpPeer, stdin: bytes, wait: float = 3):
    """Run a client against peer; wait (its own timeouts) plus _grace for its end."""
    client = prog.start(procs, "127.0.0.1", str(peer.port), stdin_data=stdin, limit=40)
    # the client's own timeouts count from its first datagram: starting it (the
    # sandbox, a loaded machine) may take a while, and is not the client's doing
    deadline = time.monotonic() + listen_wait(prog)
    while (not peer.wait_received(1, 0.05) and client.returncode is None
           and time.monotonic() < deadline):
        pass
    rc = client.wait_exit(wait + _grace(prog))
    did = f"ran `{command_line(prog, '127.0.0.1', str(peer.port))}` with stdin {show(stdin)}"
    return client, rc, did


def _sent(peer: UdpPeer) -> list[bytes]:
    peer.settle()   # what the client sent before it ended, read or not yet
    return [d for d, _ in peer.received]


RESENT_HINT = ("A line went out again although the test server echoed it at once: the wait "
               "ended before the second was up. A call that fails with EINTR (a signal "
               "arrived, the tests make that happen) is not the timeout: call it again.")


def _resent(sent: list[bytes], want: list[bytes]) -> bool:
    """Each line sent, some more than once (in order): a client that took
    something for its timeout that was none."""
    dedup = [d for i, d in enumerate(sent) if i == 0 or d != sent[i - 1]]
    return len(sent) > len(want) and dedup == [d for i, d in enumerate(want)
                                                if i == 0 or d != want[i - 1]]


def _dialogue(prog, procs):
    lines = _lines(2)
    stdin = b"\n".join([lines[0], b"", *lines[1:]]) + b"\n"
    with UdpPeer() as peer:
        client = prog.start(procs, "127.0.0.1", str(peer.port), limit=40)
        did = f"ran `{command_line(prog, '127.0.0.1', str(peer.port))}`"
        try:  # the prompt comes before the line is read: the test types once it is there
            client.wait_output(re.escape(PROMPT), listen_wait(prog))
        except (ProgramExited, WaitTimeout):
            fail(did=did + " and waited for its prompt before typing a line",
                 expected=f"the prompt `{PROMPT}` on stdout", got=f"stdout {show(client.stdout)}"
                 + ("" if client.returncode is None else f", exit status {client.returncode}"),
                 procs=[client], hint="The prompt has no newline, and stdout to a pipe or a "
                 "file is fully buffered: it stays in the buffer while the program waits for "
                 "input. fflush(stdout) after printing it.")
        client.write_stdin(stdin)
        client.close_stdin()
        rc = client.wait_exit(3 + _grace(prog))
        sent = _sent(peer)
    did += (f", typed {show(stdin)} once the prompt was there, against a test server that "
            "echoes every datagram; stdin then ended")
    want = [lines[0], b"", *lines[1:]]
    if sent != want:
        fail(did=did, expected="one datagram per line, without its newline: "
             + ", ".join(show(x) for x in want), got=", ".join(show(x) for x in sent)
             or "no datagram", procs=[client], hint=RESENT_HINT if _resent(sent, want) else
             "sendto() the line without the newline "
             "fgets() keeps (an empty line is a datagram of 0 bytes), once per line.")
    replies = _replies(client)
    if replies != [x.decode() for x in want] or client.stdout_text().count(PROMPT) < len(want):
        fail(did=did, expected=f"the prompt `{PROMPT}` before each line and `{REPLY}<line>` "
             "for each", got=f"stdout {show(client.stdout)}", procs=[client],
             hint="printf the prompt and fflush(stdout): it has no newline.")
    if rc != 0:
        fail(did=did, expected="exit status 0 at the end of input",
             got="still running" if rc is None else f"exit status {rc}", procs=[client],
             hint="fgets() returns NULL at the end of input: leave the loop.")


def _strangers(prog, procs):
    """Attempt 1 of the line gets the right bytes from another port and from
    another address (127.0.0.2, loopback too) with the server's port, a stale
    echo (another text of the same length) and the line with a byte more
    from the server's address and port, no echo; attempt 2 is echoed. A
    correct client ignores all four, sends again after a second, and prints
    the real echo."""
    line = _lines(1)[0]
    stale = line[::-1] if line[::-1] != line else line.upper()  # same length, other bytes
    longer = line + b"!"  # what a buffer of len(line) bytes would cut to the line
    stranger = udp_socket()
    stranger_port = stranger.getsockname()[1]

    def handler(peer: UdpPeer, data: bytes, addr) -> None:
        if len(peer.received) == 1:
            stranger.sendto(data, addr)
            if other_host is not None:
                other_host.sendto(data, addr)
            peer.sock.sendto(stale, addr)
            peer.sock.sendto(longer, addr)
        else:
            peer.sock.sendto(data, addr)

    with ExitStack() as stack:
        stack.enter_context(stranger)
        peer = stack.enter_context(UdpPeer(handler))
        other_host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stack.enter_context(other_host)
        try:  # the server's port on another loopback address: free unless a test elsewhere took it
            other_host.bind(("127.0.0.2", peer.port))
        except OSError:
            other_host = None
        client, rc, did = _run_client(prog, procs, peer, line + b"\n", wait=3 * WAIT)
        sent = _sent(peer)
    did += (f", against a test server (127.0.0.1 port {peer.port}) that answered the first "
            f"datagram with the same bytes sent from ANOTHER port ({stranger_port})"
            + (f" and from ANOTHER address (127.0.0.2, port {peer.port})" if other_host else "")
            + f", then from its own address and port a stale echo {show(stale)} and "
            f"{show(longer)} (the line and one byte more), and echoed the next datagram "
            "properly")
    replies = _replies(client)
    if replies and replies != [line.decode()]:
        fail(did=did, expected=f"`{REPLY}{line.decode()}`", got=f"stdout {show(client.stdout)}",
             procs=[client], hint="A datagram from the server that is not exactly the line "
             "just sent (a late duplicate of an older echo) is not the echo: compare the "
             "count and the bytes (memcmp), and keep waiting.")
    if len(sent) < 2:
        fail(did=did, expected="the client to ignore them all, time out after a second and "
             "send the line again", got=f"it sent the line once and printed "
             f"{show(client.stdout)}", procs=[client],
             hint="recvfrom() says who sent the datagram: keep it only if the address and "
                  "port are the server's (sin_addr and sin_port both); anyone may send to "
                  "your port. And receive into a buffer one byte longer than the longest "
                  "line: with room for the line only, recvfrom() cuts a longer datagram to "
                  "just the line's bytes.")
    if replies != [line.decode()] or rc != 0:
        fail(did=did, expected=f"`{REPLY}{line.decode()}`, then exit status 0",
             got=f"stdout {show(client.stdout)}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[client],
             hint="A datagram that is not the echo does not use up a send: ignore it and "
                  "wait for the next one, until the second since the send has run out.")


def _first_send(lossy: Lossy, n: int, client, timeout: float) -> bool:
    """Wait until the client has sent its first datagram of length n (the
    counters say so; a correct client sends at once)."""
    deadline = time.monotonic() + timeout
    while True:
        c = lossy.counts()
        if c[f"to {n} pass"] + c[f"to {n} drop"] > 0:
            return True
        if time.monotonic() > deadline or client.wait_exit(0.05) is not None:
            return False


def _lossy(prog, procs, peer: UdpPeer, lossy: Lossy, lines: list[bytes]) -> None:
    client = None
    history: list[str] = []
    for line in lines:
        n = len(line)
        if client is None:
            client = prog.start(procs, "127.0.0.1", str(peer.port), limit=40)
        start = len(client.stdout)
        client.write_stdin(line + b"\n")
        if not _first_send(lossy, n, client, listen_wait(prog)):
            fail(did=f"ran `{command_line(prog, '127.0.0.1', str(peer.port))}` and "
                 f"gave it the line {show(line)}", expected="a datagram to the server",
                 got=f"none within {listen_wait(prog):g} s", procs=[client],
                 hint="sendto() the line to the address from argv.")
        try:
            client.wait_output(re.escape(REPLY + line.decode()) + "\n",
                               TRIES * WAIT + _grace(prog), start=start)
            printed = True
        except (ProgramExited, WaitTimeout):
            printed = False
        c = lossy.counts()
        sends = c[f"to {n} pass"] + c[f"to {n} drop"]
        echoes = c[f"from {n} pass"]
        history.append(f"{show(line)}: {sends} send(s), {c[f'to {n} drop']} lost on the "
                       f"way, {c[f'from {n} drop']} echo(es) lost, {echoes} reached the "
                       "client")
        did = (f"ran `{command_line(prog, '127.0.0.1', str(peer.port))}` in a network "
               "that drops a third of the datagrams both ways, feeding one line at a "
               "time: " + "; ".join(history))
        if echoes:
            if not printed:
                fail(did=did, expected=f"`{REPLY}{line.decode()}`: an echo reached it",
                     got=f"stdout {show(client.stdout[start:])}", procs=[client],
                     hint="Send again when no echo comes within the second." if
                     client.stdout else "Nothing reached stdout while it ran: stdout to a "
                     "pipe is fully buffered. fflush(stdout) after the prompt.")
            continue
        rc = client.wait_exit(TRIES * WAIT + _grace(prog))
        if printed or sends != TRIES or rc != 1 or "no reply" not in client.stderr_text():
            fail(did=did, expected=f"{TRIES} sends (all lost, or their echoes), then "
                 "`no reply` on stderr and exit status 1",
                 got=("it printed the echo, " if printed else "")
                 + f"{sends} send(s), " + ("still running" if rc is None else
                                           f"exit status {rc}")
                 + f", stderr {show(client.stderr)}", procs=[client])
        client = None  # the next line goes to a new client
    if client is not None:
        client.close_stdin()
        rc = client.wait_exit(EXIT_WAIT, patient=True)
        if rc != 0:
            fail(did="; ".join(history) + "; then stdin ended",
                 expected="exit status 0", got="still running" if rc is None
                 else f"exit status {rc}", procs=[client])


# -- bound_host1 and bound_host2: datagram boundaries ---------------------------------

SIZES = (7, 1500, 30)   # three datagrams: three recvfrom() calls, each its own size
# the textbook's bound_host1 sleeps 5 s before each recvfrom() (the datagrams
# wait in the receive buffer meanwhile), which the notes allow: it exits
# after some 15 s, a correct program at once (the wait ends at its exit)
BOUND_HOST1_WAIT = 3 * 5 + 2 * EXIT_WAIT


BOUND_MESSAGES = [b"Hi!", b"I'm another UDP host!", b"Nice to meet you"]


# -- the tests: the clients' first (those that wait out the client's one-second
# timeout are spread among quick ones, so that the test workers share them out),
# then the servers', then the boundary demonstration's

@pytest.mark.role("uecho_client")
def test_uecho_client_no_reply(prog, procs):
    line = _lines(1)[0]
    with UdpPeer(lambda peer, data, addr: None) as peer:
        client, rc, did = _run_client(prog, procs, peer, line + b"\n" + b"more\n",
                                      wait=TRIES * WAIT)
        sent = _sent(peer)
    did += ", against a test server that never answers"
    if sent != [line] * TRIES or rc != 1 or "no reply" not in client.stderr_text():
        fail(did=did, expected=f"exactly {TRIES} sends of {show(line)}, then `no reply` on "
             "stderr and exit status 1", got=f"{len(sent)} datagram(s), "
             + ("still running" if rc is None else f"exit status {rc}")
             + f", stderr {show(client.stderr)}", procs=[client],
             hint="Without a timeout recvfrom() waits forever for a datagram that was "
                  "lost. After the third send's second runs out, give up.")


@pytest.mark.role("uecho_client")
@pytest.mark.faults
def test_uecho_client_dialogue(prog, procs):
    _dialogue(prog, procs)


@pytest.mark.role("uecho_client")
def test_uecho_client_lossy_network(prog, procs):
    """A network namespace of the test's own where nftables drops a third
    of the datagrams both ways, at random, and counts them per length (each
    line has a length of its own). After each line the counters say what
    happened: an echo got through to the client, which must print it, or
    all three sends or their echoes were lost, and it must say `no reply`
    and exit 1 (then it is started again for the rest)."""
    lines = _lines(2)
    with ExitStack() as stack:
        try:
            stack.enter_context(lossy_netns())
            peer = stack.enter_context(UdpPeer(timeout=30))
            lossy = Lossy(peer.port, [len(x) for x in lines])
        except LossyUnavailable as exc:  # (an OSError too: first)
            pytest.skip(f"needs nftables: {exc}")
        except OSError as exc:
            pytest.skip(f"needs a network namespace of its own (root): {exc}")
        _lossy(prog, procs, peer, lossy, lines)


@pytest.mark.role("uecho_con_client")
@pytest.mark.faults
def test_uecho_con_client_dialogue(prog, procs):
    _dialogue(prog, procs)


@pytest.mark.role("uecho_client")
@pytest.mark.faults
def test_uecho_client_resends(prog, procs):
    line = _lines(1)[0]

    def handler(peer: UdpPeer, data: bytes, addr) -> None:
        if len(peer.received) >= 3:  # the first two are "lost"
            peer.sock.sendto(data, addr)

    with UdpPeer(handler) as peer:
        client, rc, did = _run_client(prog, procs, peer, line + b"\n", wait=3 * WAIT)
        sent = _sent(peer)
    did += ", against a test server that drops the first two datagrams and echoes the third"
    if sent != [line] * 3 or _replies(client) != [line.decode()] or rc != 0:
        fail(did=did, expected=f"three sends of {show(line)}, a second apart, then "
             f"`{REPLY}{line.decode()}` and exit status 0",
             got=f"{len(sent)} datagram(s) {', '.join(show(x) for x in sent[:4])}, stdout "
             f"{show(client.stdout)}, " + ("still running" if rc is None else
                                            f"exit status {rc}"), procs=[client],
             hint="UDP may lose a datagram: wait for the echo with a timeout (poll() or "
                  "SO_RCVTIMEO, one second), then send the line again; three sends in all.")


@pytest.mark.role("uecho_client")
@pytest.mark.parametrize("quit_line", ["q", "Q"])
def test_uecho_client_quit(prog, procs, quit_line):
    line = _lines(1)[0]
    stdin = line + b"\n" + quit_line.encode() + b"\n" + b"after quitting\n"
    with UdpPeer() as peer:
        client, rc, did = _run_client(prog, procs, peer, stdin)
        sent = _sent(peer)
    if rc != 0 or sent != [line]:
        fail(did=did, expected=f"one datagram {show(line)}, then exit status 0 at `{quit_line}`",
             got=f"datagrams {', '.join(show(x) for x in sent) or 'none'}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[client],
             hint="Compare the line, newline removed, with both \"q\" and \"Q\".")


@pytest.mark.role("uecho_client")
def test_uecho_client_ignores_strangers(prog, procs):
    _strangers(prog, procs)


@pytest.mark.role("uecho_client")
@pytest.mark.faults
def test_uecho_client_long_line(prog, procs):
    line = random_text(1023)
    with UdpPeer() as peer:
        client, rc, did = _run_client(prog, procs, peer, line + b"\n")
        sent = _sent(peer)
    if sent != [line] or _replies(client) != [line.decode()] or rc != 0:
        fail(did=did + " (a line of 1023 bytes)",
             expected="one datagram of 1023 bytes, its echo printed, exit status 0",
             got=f"datagrams of {[len(x) for x in sent]} bytes, replies of "
             f"{[len(x) for x in _replies(client)]} bytes, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[client],
             hint=RESENT_HINT if _resent(sent, [line]) else
             "fgets() needs MAX_LINE + 2 bytes (line, newline, NUL), and the buffer "
             "for the echo at least 1023: recvfrom() cuts what does not fit.")


@pytest.mark.role("uecho_con_client")
def test_uecho_con_client_ignores_strangers(prog, procs):
    _strangers(prog, procs)


@pytest.mark.role("uecho_con_client")
def test_uecho_con_client_refused(prog, procs):
    port = free_port()  # nothing is bound there: the kernel answers ICMP port unreachable
    line = _lines(1)[0] + b"\n"
    client = prog.start(procs, "127.0.0.1", str(port), stdin_data=line, limit=30)
    rc = client.wait_exit(TRIES * WAIT + _grace(prog))
    err = client.stderr_text()
    if rc != 1 or "refused" not in err.lower():
        fail(did=f"ran `{command_line(prog, '127.0.0.1', str(port))}` with nothing on UDP "
             f"port {port}, stdin {show(line)}",
             expected="exit status 1 and a message naming the call that failed, with its "
             "reason (`read: Connection refused`)",
             got=("still running" if rc is None else f"exit status {rc}")
             + f", stderr {show(client.stderr)}", procs=[client],
             hint="On a connected UDP socket the kernel reports the ICMP port unreachable "
                  "that came back for your datagram: the next read() (or write()) fails "
                  "with ECONNREFUSED. That is an error, not a timeout: perror and exit(1).")


@pytest.mark.role("uecho_server")
@pytest.mark.faults
def test_uecho_server_echoes(prog, procs):
    server, port = _start_server(prog, procs)
    did = f"from a UDP socket of the test, to `{command_line(prog, str(port))}`"
    with udp_socket() as sock:
        for n in (5, 40, 300, 1):
            _expect_echo(server, sock, port, random_text(n), did)
        # bound to INADDR_ANY, it answers on every local address
        _expect_echo(server, sock, port, random_text(9), did, host="127.0.0.2")


@pytest.mark.role("uecho_server")
@pytest.mark.faults
def test_uecho_server_large_datagrams(prog, procs):
    server, port = _start_server(prog, procs)
    did = f"from a UDP socket of the test, to `{command_line(prog, str(port))}`"
    with udp_socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for n in (200, 4000, MAX_PAYLOAD):
            _expect_echo(server, sock, port, random_binary(n), did + " (binary, NUL bytes)")


@pytest.mark.role("uecho_server")
@pytest.mark.faults
def test_uecho_server_empty_datagram(prog, procs):
    server, port = _start_server(prog, procs)
    did = f"from a UDP socket of the test, to `{command_line(prog, str(port))}`"
    with udp_socket() as sock:
        _expect_echo(server, sock, port, random_text(12), did)
        _expect_echo(server, sock, port, b"", did + " then")
        _expect_echo(server, sock, port, random_text(12), did + ", then an empty one, then")


@pytest.mark.role("uecho_server")
@pytest.mark.faults
def test_uecho_server_two_clients(prog, procs):
    server, port = _start_server(prog, procs)
    with udp_socket() as a, udp_socket() as b:
        pa, pb = a.getsockname()[1], b.getsockname()[1]
        msgs = {a: random_text(20), b: random_text(31)}
        did = (f"two UDP sockets of the test (ports {pa} and {pb}) each sent a datagram to "
               f"`{command_line(prog, str(port))}`, {pa} first")
        for sock in (a, b, a):
            sock.sendto(msgs[sock], ("127.0.0.1", port))
        for sock, count in ((a, 2), (b, 1)):
            got = recv_datagrams(sock, count, ECHO_WAIT)
            if [d for d, _ in got] != [msgs[sock]] * count:
                fail(did=did + f", then {pa} once more",
                     expected=f"port {sock.getsockname()[1]} to get back its own "
                              f"{count} datagram(s) {show(msgs[sock])}",
                     got=", ".join(show(d) for d, _ in got) or "nothing", procs=[server],
                     hint="Every datagram carries its own sender: answer each one to the "
                          "address recvfrom() gave for it, not to the first client's.")


@pytest.mark.role("uecho_server")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_uecho_server_stops_on_signal(prog, procs, sig):
    server, port = _start_server(prog, procs)
    with udp_socket() as sock:
        _expect_echo(server, sock, port, random_text(10), f"to port {port}")
    # the signal must find it waiting in recvfrom(), not between two calls
    wait_in_recv(server, 2.0)
    server.signal(getattr(signal, sig))
    rc = server.wait_exit(EXIT_WAIT, patient=True)
    if rc != 0:
        fail(did=f"after one echo, sent {sig} to `{command_line(prog, str(port))}` while it "
             "waited for the next datagram",
             expected="it exits with status 0",
             got="it was still running" if rc is None else f"exit status {rc}",
             procs=[server], hint="A handler that only sets a volatile sig_atomic_t flag, "
             "installed with sigaction() WITHOUT SA_RESTART, so recvfrom() returns -1 with "
             "EINTR and the loop sees the flag. EINTR is not an error there.")


@pytest.mark.role("bound_host1")
@pytest.mark.faults
def test_bound_host1_three_datagrams(prog, procs):
    host, port = _start_server(prog, procs)
    datagrams = [random_binary(n) for n in SIZES]
    # the last to 127.0.0.2: loopback too, which a socket bound to INADDR_ANY receives
    hosts = ["127.0.0.1"] * (len(SIZES) - 1) + ["127.0.0.2"]
    with udp_socket() as sock:
        for d, to in zip(datagrams, hosts):
            sock.sendto(d, (to, port))
    rc = host.wait_exit(BOUND_HOST1_WAIT)
    got = re.findall(r"Message (\d+): (\d+) bytes", host.stdout_text())
    want = [(str(i), str(n)) for i, n in enumerate(SIZES, 1)]
    if got != want or rc != 0:
        hint = ("One recvfrom() returns one whole datagram, whatever its size and however "
                "many wait: print what it returns (not strlen()), with a buffer that "
                "holds the largest one; stop after three.")
        if rc is None and got == want[:-1]:
            hint = ANY_HINT
        fail(did=f"sent three datagrams of {', '.join(map(str, SIZES))} bytes (binary, NUL "
             f"bytes), in a row, to `{command_line(prog, str(port))}`, the first two to "
             "127.0.0.1, the third to 127.0.0.2 (another loopback address of this machine)",
             expected=", ".join(f"`Message {i}: {n} bytes`" for i, n in want)
             + ", then exit status 0", got=f"stdout {show(host.stdout)}, "
             + ("still running" if rc is None else f"exit status {rc}"), procs=[host],
             hint=hint)


@pytest.mark.role("bound_host2")
@pytest.mark.faults
def test_bound_host2_three_datagrams(prog, procs):
    with udp_socket() as sock:
        port = sock.getsockname()[1]
        host = prog.start(procs, "127.0.0.1", str(port), limit=30)
        rc = host.wait_exit(EXIT_WAIT, patient=True)
        # sent on loopback, they are here by the time it has exited (a
        # moment later if the kernel is busy): the wait is only an upper bound
        got = recv_datagrams(sock, 3, 5.0)
        sock.setblocking(False)
        extra = b""
        try:
            extra = sock.recv(65536)
        except BlockingIOError:
            pass
    did = f"ran `{command_line(prog, '127.0.0.1', str(port))}` with a UDP socket on port {port}"
    data = [d for d, _ in got]
    if rc != 0 or data != BOUND_MESSAGES or extra:
        fail(did=did, expected="three datagrams, " + ", ".join(show(m) for m in BOUND_MESSAGES)
             + " (no NUL), nothing more, and exit status 0",
             got=", ".join(show(d) for d in data + ([extra] if extra else [])) or "no datagram"
             + ("" if rc == 0 else ", " + ("still running" if rc is None else
                                            f"exit status {rc}")), procs=[host],
             hint="One sendto() per message, with strlen() bytes: each sendto() is a "
                  "datagram of its own.")
    ports = {addr[1] for _, addr in got}
    if len(ports) != 1:
        fail(did=did, expected="all three from the same port: one socket, which got its "
             "port at the first sendto()", got=f"they came from ports {sorted(ports)}",
             procs=[host], hint="Create the socket once, before the loop.")


# -- the clients' address argument ---------------------------------------------------------

def _sent_or_exit(sock: socket.socket, proc) -> tuple[bytes, int | None]:
    """Wait until the program exits or a datagram reaches sock: (the
    datagram or b"", exit status or None)."""
    sock.setblocking(False)
    deadline = time.monotonic() + EXIT_WAIT
    rc = None
    while True:
        try:
            return sock.recv(65536) or b"(an empty datagram)", proc.returncode
        except BlockingIOError:
            pass
        now = time.monotonic()
        # past the bound, more while it is still busy (starting, under valgrind)
        if rc is not None or (now > deadline and not (now < deadline + EXIT_GRACE
                                                      and proc.busy())):
            return b"", rc
        rc = proc.wait_exit(0.02)


def _bad_address(prog, procs):
    """An invalid IPv4 address: a message and exit status 1, no datagram
    (an unchecked inet_pton() leaves 0.0.0.0, which Linux delivers here)."""
    with udp_socket() as sock:
        port = sock.getsockname()[1]
        # "127.1": inet_addr() and inet_aton() (the textbook's) take it for 127.0.0.1
        for address in ("127.0.0.256", "localhost", "127.1"):
            proc = prog.start(procs, address, str(port), stdin_data=b"hello\n", limit=30)
            sent, rc = _sent_or_exit(sock, proc)
            if sent or rc != 1 or not proc.stderr_text().strip():
                fail(did=f"ran `{command_line(prog, address, str(port))}` (not an IPv4 "
                     "address in dotted-decimal form)",
                     expected="a message on stderr and exit status 1, no datagram sent",
                     got=(f"it sent {show(sent)}; " if sent else "")
                     + ("still running" if rc is None else f"exit status {rc}")
                     + f", stderr {show(proc.stderr)}", procs=[proc],
                     hint="inet_pton() returns 0 when the text is not an address: check for "
                          "it (and -1 for an error) before using the address. Not "
                          "inet_addr() or inet_aton(): they take \"127.1\" for 127.0.0.1.")


@pytest.mark.role("uecho_client")
def test_uecho_client_bad_address(prog, procs):
    _bad_address(prog, procs)


@pytest.mark.role("uecho_con_client")
def test_uecho_con_client_bad_address(prog, procs):
    _bad_address(prog, procs)


@pytest.mark.role("bound_host2")
def test_bound_host2_bad_address(prog, procs):
    _bad_address(prog, procs)
