"""The harness's own peers: clients for testing servers, fake servers for
testing clients. Every blocking call has a deadline."""

from __future__ import annotations

import os
import secrets
import socket
import struct
import threading
import time
from typing import Callable

from .ports import free_port

HOST = "127.0.0.1"
IDLE = 2.0  # seconds of silence in the middle of a reply that mean "no more is coming"


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.settimeout(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER {on, 0}: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def recv_exact(sock: socket.socket, n: int, timeout: float, *, idle: float | None = None,
               expect: bytes | None = None) -> tuple[bytes, str]:
    """Read n bytes; returns (data, why) where why is "" when all n came,
    else "eof", "timeout", "reset", or "mismatch" (the bytes so far differ
    from `expect`: no need to wait for the rest). With `idle`, also stop
    when nothing arrives for that long."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), "timeout"
        sock.settimeout(min(left, idle) if idle else left)
        try:
            chunk = sock.recv(min(65536, n - len(buf)))
        except socket.timeout:
            return bytes(buf), "timeout"
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not chunk:
            return bytes(buf), "eof"
        start = len(buf)
        buf += chunk
        if expect is not None and buf[start:] != expect[start:len(buf)]:
            return bytes(buf), "mismatch"
    return bytes(buf), ""


def recv_until_eof(sock: socket.socket, timeout: float, cap: int = 1 << 24) -> tuple[bytes, str]:
    """Read until the peer closes; (data, why): why is "" on a clean end of
    stream, else "timeout" or "reset"."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < cap:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return bytes(buf), "timeout"
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not chunk:
            return bytes(buf), ""
        buf += chunk
    return bytes(buf), "too much"


def exchange(sock: socket.socket, payload: bytes, timeout: float) -> tuple[bytes, str]:
    """Send `payload` while reading the echo at the same time (a server that
    echoes a large payload would otherwise fill both directions' buffers and
    deadlock against a client that only writes)."""
    result: dict[str, tuple[bytes, str]] = {}
    reader = threading.Thread(
        target=lambda: result.setdefault("r", recv_exact(sock, len(payload), timeout,
                                                         idle=IDLE, expect=payload)),
        daemon=True)
    reader.start()
    try:
        sock.sendall(payload)
    except OSError:
        pass  # the reader reports what came back
    reader.join(timeout + 1)
    return result.get("r", (b"", "timeout"))


# words for random_text: short, common, none a line of its own that means
# something to a program under test (no "q"/"Q", which ends the echo client)
WORDS = tuple("""
apple river stone cloud green swift brown fox lazy dog bright morning paper
window socket packet letter number silver garden orange purple yellow winter
summer autumn spring forest ocean island valley mountain planet comet rocket
engine signal bridge castle dragon pencil button candle mirror ladder basket
honey tiger zebra koala panda otter falcon eagle robin sparrow salmon walnut
pepper ginger butter cookie muffin noodle pickle tomato potato carrot lemon
cherry mango melon grape kiwi plum olive bread cheese coffee music guitar
violin drum piano flute story poem novel chapter page word line echo hello
world network server client buffer stream byte frame header route cable
""".split())


def random_text(n: int) -> bytes:
    """n bytes of readable, random text: words from WORDS (random on every
    run), now and then capitalised or followed by a digit or a comma, so that
    a failure's text is easy to read and compare."""
    out = bytearray()
    while len(out) < n:
        word = secrets.choice(WORDS)
        roll = secrets.randbelow(10)
        if roll == 0:
            word = word.capitalize()
        elif roll == 1:
            word += str(secrets.randbelow(100))
        elif roll == 2:
            word += secrets.choice((",", ".", "!", "?"))
        out += (b" " if out else b"") + word.encode()
    return bytes(out[:n])


def random_binary(n: int) -> bytes:
    data = bytearray(os.urandom(n))
    for i in range(0, n, 97):  # make sure NULs and newlines are in there
        data[i] = 0
    if n > 3:
        data[1], data[2] = 0x0A, 0x0D
    return bytes(data)


class FakeServer:
    """Listens on a fresh port; `handler(conn)` runs in a thread for each
    accepted connection (at most `clients`). Errors in the handler are kept
    and re-raised by `join`."""

    def __init__(self, handler: Callable[[socket.socket], None], clients: int = 1,
                 timeout: float = 10.0) -> None:
        self.port = free_port()
        self.handler = handler
        self.timeout = timeout
        self.received = bytearray()
        self.connections = 0
        self.error: BaseException | None = None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((HOST, self.port))
        self._listener.listen(8)
        self._listener.settimeout(timeout)
        self._clients = clients
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for _ in range(self._clients):
                try:
                    conn, _ = self._listener.accept()
                except (socket.timeout, OSError):
                    return
                self.connections += 1
                with conn:
                    conn.settimeout(self.timeout)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.handler(conn)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        self._thread.join(2)

    def __enter__(self) -> "FakeServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
