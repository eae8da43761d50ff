"""Ports and the kernel's view of sockets (harness/ports.py): each test
worker's ports are its own whatever the number of workers, the accept()
check knows its architecture (or says it does not), and the wait_* helpers
poll instead of spinning."""

from __future__ import annotations

import socket
import time

import pytest

from harness import jail, ports
from harness.procs import ProcessGroup

EPHEMERAL = range(32768, 61000)  # Linux's default ip_local_port_range


def _ports_tried(monkeypatch: pytest.MonkeyPatch, worker: int, count: int) -> set[int]:
    """Every port free_port would ever hand out as worker gw<worker> of a
    run of `count` workers: with every port taken, it tries them all."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
    tried: set[int] = set()
    monkeypatch.setattr(ports, "_port_is_free", lambda port: tried.add(port) and False)
    with pytest.raises(RuntimeError, match="no free port"):
        ports.free_port()
    return tried


@pytest.mark.parametrize("count", [1, 8, 56, 200])
def test_workers_of_one_run_never_share_a_port(monkeypatch, count):
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "9f3c2a71d0e84b6e8f0a1b2c3d4e5f60")
    monkeypatch.setattr(ports, "_next", {})
    owner: dict[int, int] = {}
    for worker in range(count):
        tried = _ports_tried(monkeypatch, worker, count)
        assert len(tried) >= 16, f"gw{worker} of {count} has {len(tried)} ports"
        shared = {port: owner[port] for port in tried if port in owner}
        assert not shared, f"gw{worker} of {count} shares ports with {set(shared.values())}"
        owner.update(dict.fromkeys(tried, worker))
    assert min(owner) >= ports.LOW and max(owner) <= ports.HIGH
    assert not set(owner) & set(EPHEMERAL), "a test port may be one connect() was given"


def test_too_many_workers_for_the_range_is_said(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "5000")
    with pytest.raises(RuntimeError, match="5000 test workers"):
        ports.free_port()


def test_free_port_skips_a_port_in_use(monkeypatch):
    block = ports.worker_ports()
    with socket.socket() as holder:
        for offset, held in enumerate(block):  # the first port nothing else holds
            try:
                holder.bind(("0.0.0.0", held))
                break
            except OSError:
                continue
        monkeypatch.setattr(ports, "_next", {block: offset})  # free_port's next try
        port = ports.free_port()
    assert port != held and port in block


@pytest.mark.parametrize("machine, accept, accept4",
                         [("x86_64", 43, 288), ("aarch64", 202, 242)])
def test_accept_syscall_numbers_per_architecture(monkeypatch, machine, accept, accept4):
    monkeypatch.setattr(ports.platform, "machine", lambda: machine)
    assert ports.accept_syscalls() == {accept, accept4}


def test_an_unknown_architecture_is_said_once_and_not_waited_for(monkeypatch, recwarn):
    monkeypatch.setattr(ports.platform, "machine", lambda: "sparc64")
    monkeypatch.setattr(ports, "_said_unknown", set())
    group = ProcessGroup()
    try:
        proc = group.start(["sleep", "30"])
        began = time.monotonic()
        assert not ports.wait_in_accept(proc, 5.0)
        assert not ports.wait_in_accept(proc, 5.0)
        assert time.monotonic() - began < 1.0, "it waited for what it cannot see"
    finally:
        group.close()
    said = [w for w in recwarn if "sparc64" in str(w.message)]
    assert len(said) == 1 and said[0].category is RuntimeWarning


_ACCEPTS = ("import socket,sys\ns=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))\n"
            "s.listen(1); s.accept()\n")


@pytest.mark.skipif(ports.accept_syscalls() is None, reason="accept() not known here")
@pytest.mark.parametrize("jailed", [False, True], ids=["plain", "jailed"])
def test_wait_in_accept_sees_the_server_in_accept(jailed):
    """In a jail, proc.pid is bwrap's: the program's own pid must be read."""
    port = ports.free_port()
    group = ProcessGroup(cwd=jail.workdir("accept"))
    try:
        proc = group.start(["/usr/bin/python3", "-c", _ACCEPTS, str(port)],
                           jail={} if jailed else None)
        ports.wait_listening(proc, port, 20)
        began = time.monotonic()
        assert ports.wait_in_accept(proc, 5.0)
        assert time.monotonic() - began < 2.0
    finally:
        group.close()


def _connected_pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=5)
    server, _ = listener.accept()
    return listener, client, server


def test_wait_fin_acked_sees_the_ack():
    listener, client, server = _connected_pair()
    with listener, client, server:
        client.sendall(b"x" * 3000)
        client.shutdown(socket.SHUT_WR)
        assert ports.wait_fin_acked(client, 5.0)


def _busy_cpu(seconds: float) -> float:
    """The CPU time a busy loop of this thread gets in `seconds` of wall time
    now. On a loaded machine it is a fraction of `seconds`, and so is what a
    spinning wait gets: comparing with it keeps the test right under load."""
    end, began = time.monotonic() + seconds, time.thread_time()
    while time.monotonic() < end:
        pass
    return time.thread_time() - began


def test_wait_fin_acked_does_not_burn_cpu():
    wait = ports.wait_fin_acked
    listener, client, server = _connected_pair()
    with listener, client, server:  # no shutdown: the FIN it waits for never comes
        busy = _busy_cpu(0.5)
        wall, cpu = time.monotonic(), time.thread_time()
        assert not wait(client, 0.5)
        wall, cpu = time.monotonic() - wall, time.thread_time() - cpu
    assert wall >= 0.5
    # measured: polling 0.01-0.04 of the busy loop's CPU, the old spinning loop 1.0
    assert cpu < 0.25 * busy, f"{cpu:.3f} s of CPU in {wall:.3f} s of waiting " \
                              f"(a busy loop got {busy:.3f} s)"
