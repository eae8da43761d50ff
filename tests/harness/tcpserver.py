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
from .feedback import fail, show
from .net import recv_exact
from .ports import POLL, TIME_WAIT, connection
from .scenarios import (OTHER_LOOPBACK, check_restarts, command_line, connect_every_address,
                        start_server)

LINE = b"every address\n"


def _echoed(sock: socket.socket, timeout: float) -> tuple[bytes, str]:
    sock.sendall(LINE)
    return recv_exact(sock, len(LINE), timeout, expect=LINE)


def check_every_address(prog, procs, timeout: float = 5.0) -> None:
    server, port = start_server(prog, procs)
    with connect_every_address(prog, server, port, timeout) as sock:
        got, why = _echoed(sock, timeout)
    if got != LINE:
        fail(did=f"connected to `{command_line(prog, str(port))}` at {OTHER_LOOPBACK}:{port} "
             f"and sent {show(LINE)}", expected="the same bytes back",
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


def check_restart_in_time_wait(prog, procs, timeout: float = 5.0, tries: int = 3) -> None:
    for attempt in range(tries):
        server, port, entry = _server_side_in_time_wait(prog, procs, timeout)
        if entry is not None and entry.state == TIME_WAIT:
            break
        # not in TIME_WAIT: its kernel reset the connection instead of closing
        # it (seen once at a load of 40, never reproduced): set it up again
    else:
        fail(did=f"a client of `{command_line(prog, str(port))}` had its echo; then the "
             f"server was killed and the client closed too ({tries} times)",
             expected="the server's side of the connection in TIME_WAIT (it closed first, "
             "with a FIN)", got="it is " + (f"in state {entry.state:#04x}" if entry
                                            else "gone"), procs=[server])
    check_restarts(prog, procs, server, port,
                   before=f"a client was connected to `{command_line(prog, str(port))}` when "
                   "the server was killed, so that its side of the connection is in TIME_WAIT")


def _server_side_in_time_wait(prog, procs, timeout: float):
    """Start the server, have a line echoed, kill the server and then close:
    the server's side of that connection, waited for until it is in
    TIME_WAIT (or `timeout` is up)."""
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
        server.kill()           # and whatever is left of the jail
        server.wait_exit(timeout)
        recv_exact(sock, 1, timeout)   # the end of stream
    # we closed second: the server's side is in TIME_WAIT, once our FIN is in
    deadline = time.monotonic() + timeout
    while True:
        entry = connection(here, client)
        if (entry is not None and entry.state == TIME_WAIT) or time.monotonic() > deadline:
            return server, port, entry
        time.sleep(POLL)  # polling /proc: no event says a connection changed state
