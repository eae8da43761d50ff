"""Scenarios that several chapters' tests share: the argument contract every
program has, and starting a server and waiting until it listens. A program
whose contract says `udp` (chapter 06) is watched for bound UDP ports too,
and its port is held, or watched, with UDP sockets."""

from __future__ import annotations

import signal
import socket
import time
from typing import Callable

from .feedback import HINTS, fail, show
from .net import recv_until_eof
from .plugin import Program
from .ports import (TIME_WAIT, free_port, listening_ports, ports_listened_by, tcp_table,
                    wait_listening)
from .procs import EXIT_GRACE, Proc, ProcessGroup, ProgramExited, WaitTimeout
from .sockstate import connected_from
from .udp import ports_bound_by as udp_ports_bound_by

EXIT_WAIT = 3.0     # seconds a program gets to exit when it should (it needs milliseconds)


def listen_wait(prog: Program) -> float:
    # a Windows program starts under Wine, which takes longer the first time;
    # valgrind takes a while to start a program too
    return 5.0 * (3.0 if prog.sub.valgrind else prog.ex.slowness)


def command_line(prog: Program, *args: str) -> str:
    return " ".join([prog.ex.binary, *(repr(a) if not a or " " in a else a for a in args)])


def start_server(prog: Program, procs: ProcessGroup, port: int | None = None,
                 limit: float = 30.0, extra: tuple[str, ...] = ()) -> tuple[Proc, int]:
    """Start a server on a free port and wait until it listens there.
    `extra`: its arguments after the port (a file to serve, say)."""
    port = port or free_port()
    proc = prog.start(procs, str(port), *extra, limit=limit)
    did = (f"started `{command_line(prog, str(port), *extra)}` and waited for it to listen "
           f"on port {port}")
    try:
        wait_listening(proc, port, listen_wait(prog), own=prog.ex.kind != "windows")
    except ProgramExited:
        proc.wait_exit(2)
        fail(did=did, expected=f"a socket listening on port {port}",
             got="the program ended before it listened", procs=[proc],
             hint="A server must socket(), bind() to the port from argv, listen(), then "
                  "accept(). Is the TODO still there, or did a call fail?")
    except WaitTimeout as exc:
        fail(did=did, expected=f"a socket listening on port {port}", got=str(exc),
             procs=[proc], hint="Convert the port with htons() and bind before listen().")
    return proc, port


def _udp(prog: Program) -> bool:
    return prog.ex.contract is not None and prog.ex.contract.udp


def ends_with_status_1(prog: Program, procs: ProcessGroup, args: list[str],
                        why: str, expect_in_stderr: str | None = None) -> Proc:
    """Run the program; it must exit with status 1 and say something on
    stderr, and never listen on a port while it runs."""
    proc = prog.start(procs, *args, limit=EXIT_WAIT + EXIT_GRACE + 10)
    deadline = time.monotonic() + EXIT_WAIT + 1.5 * (prog.ex.slowness - 1)
    listened: set[int] = set()
    udp = _udp(prog)
    cap = deadline + EXIT_GRACE
    while proc.running() and not listened and (
            time.monotonic() < deadline or (time.monotonic() < cap and proc.busy())):
        listened = ports_listened_by(proc) | (udp_ports_bound_by(proc) if udp else set())
        proc.wait_exit(0.02)
    did = f"ran `{command_line(prog, *args)}` ({why})"
    expected = "exit status 1 with a message on stderr" + (
        f" naming {expect_in_stderr}()" if expect_in_stderr else "")
    if listened:
        fail(did=did, expected=expected + ", nothing bound",
             got=f"it is {'bound to' if udp else 'listening on'} port "
             f"{', '.join(map(str, sorted(listened)))}",
             procs=[proc], hint="Check the argument fully (strtol and its end pointer, the "
                                "range 1-65535) before creating any socket.")
    rc = proc.wait_exit(0 if not proc.running() else 0.1)
    if rc is None:
        fail(did=did, expected=expected, got="it was still running after "
             f"{EXIT_WAIT:g} s", procs=[proc], hint=HINTS["timeout"])
    err = proc.stderr_text()
    if rc != 1 or not err.strip():
        fail(did=did, expected=expected,
             got=f"exit status {rc}, stderr {show(proc.stderr)}", procs=[proc])
    if expect_in_stderr and expect_in_stderr not in err.lower():
        fail(did=did, expected=expected, got=f"stderr {show(proc.stderr)}", procs=[proc],
             hint=f"perror(\"{expect_in_stderr}\") names the call that failed and says why.")
    return proc


def check_usage(prog: Program, procs: ProcessGroup, too_many: list[str]) -> None:
    """No arguments, and too many: `Usage:` on stderr, exit status 1."""
    for args, why in (([], "no arguments"), (too_many, "one argument too many")):
        proc = ends_with_status_1(prog, procs, args, why)
        lines = [ln.lstrip() for ln in proc.stderr_text().splitlines()]
        if not any(ln.startswith("Usage:") for ln in lines):
            fail(did=f"ran `{command_line(prog, *args)}` ({why})",
                 expected="a line starting with `Usage:` on stderr",
                 got=f"stderr {show(proc.stderr)}", procs=[proc],
                 hint="Check argc first and print e.g. `Usage: <prog> <port>` to stderr.")


def bad_ports(live_port: int) -> list[tuple[str, str]]:
    """Invalid port arguments. Two are built so that a program that uses
    atoi() (or truncates to 16 bits) lands on `live_port`, where the test
    can see it."""
    return [("abc", "not a number"), ("0", "port 0"), (f"{live_port}x", "trailing junk"),
            (str(live_port + 65536), "above 65535"), ("-80", "negative"), ("", "empty")]


def _fewer_if_slow(prog: Program, cases: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Under Wine each start costs 0.2 s of CPU (a class pays it per student):
    there, port 0 (no range check) and trailing junk (atoi(), which lands on
    the live port) only, the two that the realistic mistakes fail."""
    if prog.ex.slowness > 1:
        return [c for c in cases if c[1] in ("port 0", "trailing junk")]
    return cases


def check_bad_port_server(prog: Program, procs: ProcessGroup,
                          extra: list[str] | tuple[str, ...] = ()) -> None:
    """`extra`: the arguments after the port (a file to serve, say)."""
    live = free_port()
    cases = _fewer_if_slow(prog, bad_ports(live))
    for arg, why in cases:
        ends_with_status_1(prog, procs, [arg, *extra], f"invalid port: {why}")


def _listener(host: str) -> tuple[socket.socket, int]:
    """A non-blocking listening socket of the harness on a free port: where a
    client that did not check its arguments would connect."""
    live = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    while True:
        port = free_port()
        try:
            live.bind((host, port))
            break
        except OSError:
            continue  # another test run took it since free_port() looked
    live.listen(8)
    live.setblocking(False)
    return live, port


def _run_watching(prog: Program, procs: ProcessGroup, live: socket.socket, args: list[str],
                  stdin: bytes | None = None) -> tuple[Proc, bool, int | None]:
    """Run a client that must refuse its arguments, watching `live`: (the
    run, whether it connected there, its exit status or None). The bound
    is EXIT_WAIT, and up to EXIT_GRACE more while the program is still busy
    (Proc.wait_exit(patient=True))."""
    proc = prog.start(procs, *args, limit=EXIT_WAIT + EXIT_GRACE + 10, stdin_data=stdin)
    deadline = time.monotonic() + EXIT_WAIT + 1.5 * (prog.ex.slowness - 1)
    cap = deadline + EXIT_GRACE
    connected, rc = False, None
    while not connected and (time.monotonic() < deadline or (
            time.monotonic() < cap and proc.busy())):
        rc = proc.wait_exit(0.02)
        try:
            conn = live.accept()[0]
            # a native program's own connection, not another test run's
            # (under Wine the socket is the wineserver's: any counts)
            connected = prog.ex.kind == "windows" or connected_from(proc, conn)
            conn.close()
        except BlockingIOError:
            if rc is not None:
                break
    return proc, connected, rc


def check_bad_port_client(prog: Program, procs: ProcessGroup,
                          extra: list[str] | tuple[str, ...] = ()) -> None:
    """A client given an invalid port must refuse it, not connect somewhere.
    `extra`: the arguments after the port (an output file, say)."""
    if _udp(prog):
        check_bad_port_udp_client(prog, procs)
        return
    live, port = _listener("127.0.0.1")
    cases = _fewer_if_slow(prog, bad_ports(port))
    try:
        for arg, why in cases:
            proc, connected, rc = _run_watching(prog, procs, live, ["127.0.0.1", arg, *extra])
            did = f"ran `{command_line(prog, '127.0.0.1', arg, *extra)}` (invalid port: {why})"
            if connected:
                fail(did=did, expected="exit status 1 and a message, no connection",
                     got=f"it connected to port {port}: the argument was not checked",
                     procs=[proc], hint="atoi() stops at the first non-digit and never "
                     "fails; use strtol with its end pointer and check 1-65535.")
            if rc != 1 or not proc.stderr_text().strip():
                fail(did=did, expected="exit status 1 with a message on stderr",
                     got=("still running" if rc is None else f"exit status {rc}")
                     + f", stderr {show(proc.stderr)}", procs=[proc])
    finally:
        live.close()


def check_bad_port_udp_client(prog: Program, procs: ProcessGroup) -> None:
    """A UDP client given an invalid port must refuse it, not send a datagram
    somewhere (a line on stdin gives it something to send)."""
    live = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port = free_port()
    live.bind(("127.0.0.1", port))
    live.setblocking(False)
    try:
        for arg, why in bad_ports(port):
            proc = prog.start(procs, "127.0.0.1", arg, limit=EXIT_WAIT + EXIT_GRACE + 10,
                              stdin_data=b"hello\n")
            deadline = time.monotonic() + EXIT_WAIT
            cap = deadline + EXIT_GRACE   # more while it is still busy (Proc.busy)
            sent, rc = False, None
            while not sent and (time.monotonic() < deadline or (
                    time.monotonic() < cap and proc.busy())):
                rc = proc.wait_exit(0.02)
                try:
                    live.recv(65536)
                    sent = True
                except BlockingIOError:
                    if rc is not None:
                        break
            did = f"ran `{command_line(prog, '127.0.0.1', arg)}` (invalid port: {why})"
            if sent:
                fail(did=did, expected="exit status 1 and a message, no datagram sent",
                     got=f"it sent a datagram to port {port}: the argument was not checked",
                     procs=[proc], hint="atoi() stops at the first non-digit and never "
                     "fails; use strtol with its end pointer and check 1-65535.")
            if rc != 1 or not proc.stderr_text().strip():
                fail(did=did, expected="exit status 1 with a message on stderr",
                     got=("still running" if rc is None else f"exit status {rc}")
                     + f", stderr {show(proc.stderr)}", procs=[proc])
    finally:
        live.close()


def check_bind_fails_udp(prog: Program, procs: ProcessGroup) -> None:
    """The port is held by another UDP socket: bind must fail, visibly. The
    holder sets SO_REUSEADDR, so a program that sets it too would share the
    port (and take part of its datagrams) instead of failing."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = free_port()
    taken.bind(("0.0.0.0", port))
    try:
        ends_with_status_1(prog, procs, [str(port)],
                           f"UDP port {port} is already held by another socket",
                           expect_in_stderr="bind")
    finally:
        taken.close()


def check_bind_fails(prog: Program, procs: ProcessGroup,
                     extra: list[str] | tuple[str, ...] = ()) -> None:
    """The port is taken by a listening socket: bind must fail, visibly.
    `extra`: the arguments after the port."""
    if _udp(prog):
        check_bind_fails_udp(prog, procs)
        return
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    port = free_port()
    taken.bind(("0.0.0.0", port))
    taken.listen(1)
    try:
        ends_with_status_1(prog, procs, [str(port), *extra],
                            f"port {port} is already taken by another listening socket",
                            expect_in_stderr="bind")
    finally:
        taken.close()


def check_refused(prog: Program, procs: ProcessGroup, extra_stdin: bytes = b"",
                  extra: list[str] | tuple[str, ...] = ()) -> None:
    """`extra`: the arguments after the port."""
    # Nothing listens there, and nothing can start to: the port is held by a
    # socket that is bound but not listening (a connect() to it is refused),
    # so another test run on this machine cannot take the free port meanwhile.
    hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    while True:
        port = free_port()
        try:
            hold.bind(("127.0.0.1", port))
            break
        except OSError:
            continue  # taken since free_port() looked: take the next
    try:
        proc = prog.start(procs, "127.0.0.1", str(port), *extra,
                          limit=EXIT_WAIT + EXIT_GRACE + 10, stdin_data=extra_stdin)
        rc = proc.wait_exit(EXIT_WAIT + 1.5 * (prog.ex.slowness - 1), patient=True)
    finally:
        hold.close()
    did = (f"ran `{command_line(prog, '127.0.0.1', str(port), *extra)}` with nothing "
           "listening there")
    if rc != 1 or "connect" not in proc.stderr_text().lower():
        fail(did=did, expected="exit status 1 and a message on stderr naming connect()",
             got=("still running" if rc is None else f"exit status {rc}")
             + f", stderr {show(proc.stderr)}", procs=[proc],
             hint="Check connect()'s return value: -1 means it failed; report it with "
                  "perror(\"connect\") and exit(1).")


# -- clauses a chapter's tests call themselves (not made from the Contract) ------

OTHER_LOOPBACK = "127.0.0.2"  # loopback too, but not 127.0.0.1


def connect_every_address(prog: Program, server: Proc, port: int,
                          timeout: float = 5.0) -> socket.socket:
    """Connect to a server at 127.0.0.2: every 127.x.y.z address is this
    machine's, so a server bound to INADDR_ANY answers there, and one bound
    to 127.0.0.1 alone refuses."""
    did = (f"connected to `{command_line(prog, str(port))}` at {OTHER_LOOPBACK}:{port} "
           "(a loopback address too, but not 127.0.0.1)")
    try:
        sock = socket.create_connection((OTHER_LOOPBACK, port), timeout=timeout)
    except OSError as exc:
        fail(did=did, expected="the connection to be accepted: the server listens on every "
             "local address (INADDR_ANY)", got=f"{exc.strerror or exc}", procs=[server],
             hint="Bind to htonl(INADDR_ANY), not to 127.0.0.1 (inet_pton or "
                  "INADDR_LOOPBACK): a server bound to one address is unreachable at "
                  "the others.")
    sock.settimeout(timeout)
    return sock


def check_greets_every_address(prog: Program, procs: ProcessGroup, greeting: bytes) -> None:
    """A server that greets each client and closes: at 127.0.0.2 too."""
    server, port = start_server(prog, procs)
    with connect_every_address(prog, server, port) as sock:
        got, why = recv_until_eof(sock, 5)
    if got != greeting or why:
        fail(did=f"connected to `{command_line(prog, str(port))}` at {OTHER_LOOPBACK} and "
             "read until it closed", expected=f"exactly {show(greeting)}, then the end of "
             "stream", got=show(got) + (f", then {why}" if why else ""), procs=[server])


def restart_over_time_wait(prog: Program, procs: ProcessGroup,
                           setup: Callable[[], tuple[Proc, int, str]], tries: int = 3,
                           extra: tuple[str, ...] = ()) -> Proc:
    """`setup()` runs the server so that its side of a connection ends in
    TIME_WAIT (it closes first) and returns (server, port, what it did);
    then check_restarts. Where no TIME_WAIT of the port shows within 2 s
    (seen at a load of 40: the kernel had closed it otherwise), nothing
    would be proved, so the set-up is run again, up to `tries` times."""
    for _ in range(tries):
        server, port, before = setup()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if any(e.local[1] == port and e.state == TIME_WAIT for e in tcp_table()):
                return check_restarts(prog, procs, server, port, before, extra)
            time.sleep(0.005)  # polling /proc: no event says a connection changed state
        server.kill()
        server.wait_exit(5.0)
    fail(did=f"{before} ({tries} times)", expected=f"the server's side of that connection in "
         f"TIME_WAIT on port {port} (it closed first, with a FIN)", got="it never was",
         procs=[server], hint="Close the connection from the server's side (close(), or "
         "shutdown() and close()) once the exchange is done, without SO_LINGER.")


def check_restarts(prog: Program, procs: ProcessGroup, old: Proc, port: int, before: str,
                   extra: tuple[str, ...] = ()) -> Proc:
    """Start the server again on `port`, where a connection of its previous
    run (`old`, killed now if it still runs, so that its listening socket is
    surely gone) still lingers (TIME_WAIT, or FIN_WAIT2 a moment before): it
    must listen there, which takes SO_REUSEADDR before bind()."""
    old.signal(signal.SIGKILL)
    old.kill()   # and whatever else runs in its jail
    if old.wait_exit(15.0) is None:
        fail(did=before + "; then killed the server (SIGKILL)", expected="it to end",
             got="it was still running after 15 s", procs=[old])
    # its jail's last processes die a moment after it: only then is the
    # listening socket closed (else bind() fails even with SO_REUSEADDR)
    deadline = time.monotonic() + 10.0
    while port in listening_ports() and time.monotonic() < deadline:
        time.sleep(0.005)  # polling /proc: no event says a socket was closed
    again = prog.start(procs, str(port), *extra, limit=30)
    try:
        # its own socket: not another test run's that took the port meanwhile
        wait_listening(again, port, listen_wait(prog), own=prog.ex.kind != "windows")
    except (ProgramExited, WaitTimeout) as exc:
        again.wait_exit(1)
        fail(did=f"{before}; then started `{command_line(prog, str(port), *extra)}` again "
             "at once, while that connection lingered in TIME_WAIT",
             expected=f"it to listen on port {port} again",
             got=f"it did not listen ({exc})", procs=[again],
             hint="Set SO_REUSEADDR with setsockopt() before bind(): without it, bind() "
                  "fails with `Address already in use` until TIME_WAIT is over.")
    return again


def check_bad_ip_client(prog: Program, procs: ProcessGroup, stdin: bytes = b"") -> None:
    """A client given an address that inet_pton() rejects must say so and
    exit 1. The test listens on 0.0.0.0 at the port given: a client that
    ignores inet_pton()'s 0 keeps the zeroed address 0.0.0.0, which connect()
    takes as this machine, and reaches it."""
    live, port = _listener("0.0.0.0")
    try:
        for arg, why in (("127.0.0.256", "a part above 255"), ("abc", "not an address")):
            proc, connected, rc = _run_watching(prog, procs, live, [arg, str(port)], stdin)
            did = f"ran `{command_line(prog, arg, str(port))}` (invalid IPv4 address: {why})"
            if connected:
                fail(did=did, expected="exit status 1 and a message, no connection",
                     got="it connected anyway (to 0.0.0.0, that is this machine, where the "
                     "test listened): the address was not checked", procs=[proc],
                     hint="inet_pton() returns 1 on success and 0 when the text is not an "
                          "IPv4 address: check for 1, report anything else and exit(1).")
            if rc != 1 or not proc.stderr_text().strip():
                fail(did=did, expected="exit status 1 with a message on stderr",
                     got=("still running" if rc is None else f"exit status {rc}")
                     + f", stderr {show(proc.stderr)}", procs=[proc])
    finally:
        live.close()
