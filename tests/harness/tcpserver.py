"""Two clauses every TCP server of the workbook shares, checked the same way
for each (the concurrent servers of chapters 10, 12, 17 and 18):

- `check_every_address`: it listens on all local addresses (INADDR_ANY),
  not only on 127.0.0.1. A client connects to 127.0.0.2, which is loopback
  too (all of 127.0.0.0/8 is) but not the address 127.0.0.1: a server bound
  to 127.0.0.1 refuses it.
- `check_restart_in_time_wait`: it can be started again at once on the
  port of connections that are in TIME_WAIT on its side (SO_REUSEADDR).
  The server is killed while a client is connected, so that its side
  closes first (the kernel sends the FIN); the client then closes, and the
  server's side of that connection waits in TIME_WAIT for a minute. Only a
  socket with SO_REUSEADDR can bind that port meanwhile.

Both talk to the server with one echoed line, which every one of these
servers returns (a chat server relays it to its sender too).
"""

from __future__ import annotations

import os
import signal
import socket
import time

from . import proctree
from .feedback import describe_exit, fail, show
from .net import recv_exact
from .ports import POLL, TIME_WAIT, connection, wait_listening_itself
from .scenarios import command_line, listen_wait, start_server

OTHER_LOOPBACK = "127.0.0.2"
LINE = b"every address\n"


def _echoed(sock: socket.socket, timeout: float) -> tuple[bytes, str]:
    sock.sendall(LINE)
    return recv_exact(sock, len(LINE), timeout, expect=LINE)


def check_every_address(prog, procs, timeout: float = 5.0) -> None:
    server, port = start_server(prog, procs)
    did = f"started `{command_line(prog, str(port))}`, then connected to {OTHER_LOOPBACK}:{port}"
    try:
        sock = socket.create_connection((OTHER_LOOPBACK, port), timeout=timeout)
    except OSError as exc:
        fail(did=did, expected=f"the connection accepted: {OTHER_LOOPBACK} is a local "
             "address too, like every address of 127.0.0.0/8",
             got=f"{exc.strerror or exc}", procs=[server],
             hint="Bind the listening socket to every local address: "
                  "addr.sin_addr.s_addr = htonl(INADDR_ANY). Bound to 127.0.0.1 (or "
                  "inet_addr(\"127.0.0.1\")), it takes connections to that one address only.")
    with sock:
        got, why = _echoed(sock, timeout)
    if got != LINE:
        fail(did=did + f" and sent {show(LINE)}", expected="the same bytes back",
             got=show(got) + (f"; then {why}" if why else ""), procs=[server])


def _kill_program(server) -> None:
    """SIGKILL to the program and every process below it (a forking server's
    children hold connections too), not to the jail around it."""
    pid = server.program_pid()
    for p in proctree.descendants(pid) if pid is not None else []:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def check_restart_in_time_wait(prog, procs, timeout: float = 5.0) -> None:
    server, port = start_server(prog, procs)
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with sock:
        got, why = _echoed(sock, timeout)
        if got != LINE:
            fail(did=f"connected to `{command_line(prog, str(port))}` and sent {show(LINE)}",
                 expected="the same bytes back", got=show(got) + (f"; then {why}" if why
                                                                  else ""), procs=[server])
        client, here = sock.getsockname()[:2], sock.getpeername()[:2]
        _kill_program(server)   # the kernel closes its sockets: its side sends the FIN
        server.wait_exit(timeout)
        recv_exact(sock, 1, timeout)   # the end of stream
    # we closed second: the server's side is in TIME_WAIT, once our FIN is in
    deadline = time.monotonic() + timeout
    while True:
        entry = connection(here, client)
        if entry is not None and entry.state == TIME_WAIT:
            break
        if time.monotonic() > deadline:
            fail(did=f"a client of `{command_line(prog, str(port))}` had its echo; then the "
                 "server was killed and the client closed too",
                 expected="the server's side of the connection in TIME_WAIT (it closed "
                 "first, with a FIN)", got="it is " + (f"in state {entry.state:#04x}" if entry
                                                      else "gone"), procs=[server])
        time.sleep(POLL)  # polling /proc: no event says a connection changed state
    did = (f"a client was connected to `{command_line(prog, str(port))}` when the server "
           f"was killed, so that its side of the connection is in TIME_WAIT; then started "
           f"`{command_line(prog, str(port))}` again at once")
    again = prog.start(procs, str(port), limit=30)
    if not wait_listening_itself(again, port, listen_wait(prog)):
        again.wait_exit(2)
        fail(did=did, expected=f"it to listen on port {port} again",
             got="it did not listen" + ("" if again.running()
                                        else f": {describe_exit(again)}"),
             procs=[again], hint="Set SO_REUSEADDR to 1 with setsockopt() before bind(): "
             "without it, bind() fails with EADDRINUSE for as long as an old connection of "
             "the port is in TIME_WAIT (a minute on Linux).")
