"""Chapter 18's peers and views: chat clients that read line by line, a
join that proves the server has a client in its list, a view of which
socket a server thread is blocked writing to, and a ThreadSanitizer build
of a submission's program.

- `Lines(sock)`: a socket read line by line (a line: bytes up to and
  including '\\n'); what arrived after the last whole line is kept.
- `join(port, socks)`: each socket in turn sends `#join <i>` and waits for
  that line to come back to itself (the server relays to the sender too):
  then the server has it in its list, so every later line reaches it.
  Connections established are not enough: connect() succeeds in the listen
  backlog, before the server has even accepted.
- `pump(readers, until, timeout)`: read many sockets at once (selectors)
  until `until()` holds; a sender that floods the server meanwhile never
  deadlocks on buffers nobody empties.
- `blocked_writing_to(pid, port, sock)`: whether a thread of the server is
  asleep in write()/send() on its end of the connection `sock` is the
  other end of (/proc/<pid>/task/*/syscall, the socket's inode).
- `tsan_build(prog)`: the submission's program compiled with
  -fsanitize=thread, cached beside its other builds.
"""

from __future__ import annotations

import hashlib
import os
import platform
import selectors
import socket
import time
from pathlib import Path
from typing import Callable, Iterable

from . import build as buildmod
from .net import HOST
from .ports import tcp_table

POLL = 0.005
ESTABLISHED = 1   # the state in /proc/net/tcp

# write(), writev(), sendto(), sendmsg() (send() ends in sendto())
WRITE_SYSCALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({1, 20, 44, 46}),
    "aarch64": frozenset({64, 66, 206, 211}),
    "riscv64": frozenset({64, 66, 206, 211}),
}


class Lines:
    """A socket read line by line. `why` says why the last read stopped
    short: "", "eof", "reset", "timeout"."""

    def __init__(self, sock: socket.socket, name: str = "") -> None:
        self.sock = sock
        self.name = name
        self.buf = bytearray()
        self.lines: list[bytes] = []   # whole lines taken by feed(), in order
        self.joins = 0                 # how many of them are join lines
        self.why = ""

    def feed(self) -> bool:
        """One recv() (the socket is readable); whole lines go to `lines`.
        False at the end of stream or on an error."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            self.why = "reset"
            return False
        except BlockingIOError:
            return True
        if not data:
            self.why = "eof"
            return False
        self.buf += data
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                return True
            line = bytes(self.buf[:end + 1])
            self.lines.append(line)
            self.joins += line.startswith(b"#join ")
            del self.buf[:end + 1]

    def line(self, timeout: float) -> bytes | None:
        """The next whole line (taken from `lines` first), or None: `why`."""
        if self.lines:
            return self.lines.pop(0)
        deadline = time.monotonic() + timeout
        while not self.lines:
            left = deadline - time.monotonic()
            if left <= 0:
                self.why = "timeout"
                return None
            self.sock.settimeout(left)
            try:
                if not self.feed():
                    return None
            except socket.timeout:
                self.why = "timeout"
                return None
        return self.lines.pop(0)

    def until(self, wanted: bytes, timeout: float) -> tuple[bool, list[bytes]]:
        """Read lines until `wanted` comes: (came, the lines before it)."""
        before: list[bytes] = []
        while True:
            got = self.line(timeout)
            if got is None:
                return False, before
            if got == wanted:
                return True, before
            before.append(got)


def connect(port: int, rcvbuf: int | None = None, mss: int | None = None,
            timeout: float = 5.0) -> socket.socket:
    """A client connection; `rcvbuf` (set before connect()) makes its
    receive window small, so that it fills after a few kilobytes, and `mss`
    the segments the server sends it: the kernel sizes the server's send
    buffer by them (on loopback, 64 KiB segments make it megabytes)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if mss is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        sock.settimeout(timeout)
        sock.connect((HOST, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        sock.close()
        raise
    return sock


def join_line(i: int) -> bytes:
    return b"#join %d\n" % i


def join(socks: Iterable[socket.socket], timeout: float = 5.0,
         first: int = 0) -> tuple[list[Lines], int | None, str]:
    """Each socket in turn sends join_line(i) and reads until that line
    comes back. Returns (readers, the index that failed or None, why)."""
    readers: list[Lines] = []
    for i, sock in enumerate(socks, start=first):
        reader = Lines(sock, f"client {i + 1}")
        readers.append(reader)
        try:
            sock.sendall(join_line(i))
        except OSError as exc:
            return readers, i, f"send failed: {exc.strerror or exc}"
        came, _ = reader.until(join_line(i), timeout)
        if not came:
            return readers, i, reader.why
    return readers, None, ""


def join_one_by_one(port: int, n: int, timeout: float = 5.0
                    ) -> tuple[list[Lines], int | None, str]:
    """Connect and join n clients, each once the one before has joined. A
    client joined this way has nothing pending when its own line comes
    back, so Nagle's algorithm on the server's side never holds that line
    back (as it would behind the join lines of others, waiting for a
    delayed ACK: 40 ms per client)."""
    readers: list[Lines] = []
    for i in range(n):
        try:
            sock = connect(port, timeout=timeout)
        except OSError as exc:
            return readers, i, f"connect failed: {exc.strerror or exc}"
        got, bad, why = join([sock], timeout, first=i)
        readers += got
        if bad is not None:
            return readers, bad, why
    return readers, None, ""


def pump(readers: list[Lines], until: Callable[[], bool], timeout: float,
         idle: float | None = None) -> bool:
    """Read every reader's socket as data comes until `until()` holds
    (True) or the time is up, every socket has ended, or (with `idle`)
    nothing at all has arrived for `idle` seconds (False)."""
    sel = selectors.DefaultSelector()
    live = 0
    for r in readers:
        r.sock.setblocking(False)
        sel.register(r.sock, selectors.EVENT_READ, r)
        live += 1
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while not until():
            now = time.monotonic()
            left = deadline - now
            if left <= 0 or live == 0 or (idle is not None and now - last > idle):
                return False
            for key, _ in sel.select(min(left, 0.05)):
                last = time.monotonic()
                if not key.data.feed():
                    sel.unregister(key.fileobj)
                    live -= 1
        return True
    finally:
        sel.close()
        for r in readers:
            try:
                r.sock.setblocking(True)
            except OSError:
                pass


def _socket_fd(pid: int, inode: int) -> int | None:
    link = f"socket:[{inode}]"
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                    return int(fd)
            except OSError:
                continue
    except OSError:
        pass
    return None


def blocked_writing_to(pid: int, server_port: int, sock: socket.socket) -> bool:
    """Whether a thread of pid sleeps in a write-family system call on the
    server's end of the connection whose client end is `sock`."""
    calls = WRITE_SYSCALLS.get(platform.machine())
    if calls is None:
        return False
    client_port = sock.getsockname()[1]
    inode = next((e.inode for e in tcp_table()
                  if e.local[1] == server_port and e.remote[1] == client_port), None)
    fd = _socket_fd(pid, inode) if inode else None
    if fd is None:
        return False
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] != "S":
                continue
            fields = Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[0].isdigit() and int(fields[0]) in calls \
                and int(fields[1], 16) == fd:
            return True
    return False


def server_end_closed(server_port: int, sock: socket.socket) -> bool:
    """Whether the server's end of the connection whose client end is
    `sock` is gone or no longer established (it was shut down or closed)."""
    client_port = sock.getsockname()[1]
    entry = next((e for e in tcp_table()
                  if e.local[1] == server_port and e.remote[1] == client_port), None)
    return entry is None or entry.state != ESTABLISHED


def vm_size(pid: int) -> int | None:
    """The process's virtual memory size in bytes (VmSize), None if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


TSAN = ["-fsanitize=thread", "-g", "-O1"]
# halt_on_error=0: go on after a report (the test reads them all at the end);
# the reports' mark is on stderr
TSAN_OPTIONS = "halt_on_error=0 report_signal_unsafe=0 second_deadlock_stack=1"
TSAN_MARK = "WARNING: ThreadSanitizer"


def tsan_build(prog) -> tuple[Path | None, str]:
    """Compile the submission's program with ThreadSanitizer, in the jail
    (build.compile_jailed), once per source: (the binary or None, the
    compiler's log)."""
    ex = prog.ex
    src_dir: Path = prog.src_dir
    out_dir = prog.sub.build / "tsan" / ex.chapter
    out = out_dir / ex.binary
    cmd = [buildmod.CC, *buildmod.CFLAGS, *TSAN, f"-I{src_dir}", "-o", str(out),
           *(str(src_dir / s) for s in ex.sources), *ex.libs]
    files = [src_dir / s for s in ex.sources]
    missing = [f for f in files if not f.is_file()]
    if missing:
        return None, "missing: " + ", ".join(f.name for f in missing)
    h = hashlib.sha256("\0".join(cmd).encode())
    for f in files:
        h.update(f.read_bytes())
    stamp = out_dir / f"{ex.binary}.digest"
    try:
        if stamp.read_text() == h.hexdigest() and out.exists():
            return out, ""
    except OSError:
        pass
    out_dir.mkdir(parents=True, exist_ok=True)
    ok, log = buildmod.compile_jailed(cmd, files, out, src_dir, [])
    if not ok:
        return None, log
    stamp.write_text(h.hexdigest())
    return out, log
