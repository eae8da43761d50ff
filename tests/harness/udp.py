"""UDP for the tests (chapter 06): what the kernel says about a program's UDP
sockets, the harness's own UDP peers, and a lossy network of a test's own.

A UDP server has no listen state, and a probe datagram would count as
traffic, so `wait_bound` waits until one of the program's own sockets is
bound to the port (/proc/thread-self/net/udp, matched by socket inode, as
ports.py does for TCP).

`lossy_netns` puts the calling thread (and the programs it starts: they are
forked from it, and the jail shares the network namespace) into a network
namespace of its own with loopback up, and `Lossy` loads an nftables table
there that drops a third of the datagrams to and from a port at random and
counts, per datagram length, what it let through and what it dropped: a
test can then judge a program by what the network really did.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import proctree
from .ports import _decode, free_port, socket_inodes
from .procs import Proc, ProgramExited, WaitTimeout

HOST = "127.0.0.1"
POLL = 0.005        # seconds between looks at /proc while waiting
MAX_PAYLOAD = 65507  # the largest UDP payload over IPv4: 65535 - 20 (IP) - 8 (UDP)


@dataclass(frozen=True)
class UdpEntry:
    local: tuple[str, int]
    remote: tuple[str, int]
    rx_queue: int
    inode: int
    drops: int


def udp_table() -> list[UdpEntry]:
    """Every bound UDP socket in this thread's network namespace (IPv4 and
    IPv6). thread-self, not /proc/net (the process's first thread): a test
    in lossy_netns has a namespace of its own."""
    entries = []
    for name in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/thread-self/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            rx = f[4].split(":")[1]
            entries.append(UdpEntry(_decode(f[1]), _decode(f[2]), int(rx, 16), int(f[9]),
                                    int(f[12]) if len(f) > 12 else 0))
    return entries


def ports_bound_by(proc: Proc) -> set[int]:
    """The UDP ports a program (or its children) has bound right now."""
    inodes = socket_inodes(proctree.descendants(proc.pid))
    return {e.local[1] for e in udp_table() if e.inode in inodes}


def wait_bound(proc: Proc, port: int, timeout: float) -> None:
    """Wait until the program has a UDP socket bound to `port`.

    Raises ProgramExited if the program ends first, WaitTimeout if time
    runs out (saying which UDP ports it has bound instead, if any)."""
    deadline = time.monotonic() + timeout
    while True:
        if port in ports_bound_by(proc):
            return
        if not proc.running():
            raise ProgramExited(f"{proc.label} ended before it had bound UDP port {port}")
        if time.monotonic() > deadline:
            others = sorted(ports_bound_by(proc))
            where = (f"it has bound UDP port {', '.join(map(str, others))} instead"
                     if others else "it has no UDP socket bound to any port")
            raise WaitTimeout(f"{proc.label} had not bound UDP port {port} after "
                              f"{timeout:g} s: {where}")
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def wait_read_all(port: int, timeout: float) -> bool:
    """Wait until the socket bound to `port` has no datagram left unread
    (its receive queue is empty): the program has called recvfrom() for
    everything sent to it. True if it happened."""
    deadline = time.monotonic() + timeout
    while True:
        queued = [e.rx_queue for e in udp_table() if e.local[1] == port]
        if queued and max(queued) == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # polling /proc: there is no event to wait on


def udp_socket(port: int | None = None) -> socket.socket:
    """A UDP socket bound to 127.0.0.1 (on `port`, or a fresh one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, port if port is not None else free_port()))
    return sock


def recv_datagrams(sock: socket.socket, count: int, timeout: float,
                   size: int = MAX_PAYLOAD + 1) -> list[tuple[bytes, tuple[str, int]]]:
    """Up to `count` datagrams (data, sender) that arrive within `timeout`."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, addr = sock.recvfrom(size)
        except socket.timeout:
            break
        except ConnectionRefusedError:  # an ICMP error of an earlier send
            continue
        got.append((data, addr[:2]))
    return got


class UdpPeer:
    """A UDP socket of the harness on a fresh port; `handler(peer, data,
    sender)` runs in a thread for each datagram received (the default
    echoes it), and `received` keeps (data, sender) of every one."""

    def __init__(self, handler: Callable[["UdpPeer", bytes, tuple[str, int]], None]
                 | None = None, timeout: float = 10.0) -> None:
        self.sock = udp_socket()
        self.port = self.sock.getsockname()[1]
        self.handler = handler or (lambda peer, data, addr: peer.sock.sendto(data, addr))
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._rx_lock = threading.Lock()   # held from recvfrom() to the record
        self._stop = False
        self.sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._deadline = time.monotonic() + timeout
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop and time.monotonic() < self._deadline:
                with self._rx_lock:
                    try:
                        data, addr = self.sock.recvfrom(MAX_PAYLOAD + 1)
                    except socket.timeout:
                        continue  # look at _stop again
                    except ConnectionRefusedError:
                        continue
                    except OSError:
                        return  # closed
                    self._record(data, addr)
                self.handler(self, data, addr[:2])
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _record(self, data: bytes, addr) -> None:
        with self._cond:
            self.received.append((data, addr[:2]))
            self._cond.notify_all()

    def settle(self) -> None:
        """Take in every datagram already in the socket's queue now (those a
        program sent before it exited are all there): `received` is then
        complete, not short of those the thread had not read yet."""
        with self._rx_lock:
            taken = []
            while True:
                try:
                    data, addr = self.sock.recvfrom(MAX_PAYLOAD + 1, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    continue   # an ICMP error of an earlier reply, taken by this call
                except OSError:
                    return
                self._record(data, addr)
                taken.append((data, addr[:2]))
        for data, addr in taken:
            self.handler(self, data, addr)

    def wait_received(self, count: int, timeout: float) -> bool:
        """Wait until at least `count` datagrams have come in."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()

    def __enter__(self) -> "UdpPeer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- a network namespace of the test's own ---------------------------------------

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, _SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


@contextmanager
def lossy_netns() -> Iterator[None]:
    """Run the body with this thread in a new network namespace, loopback up;
    back in the old one afterwards, whatever happens. The namespace goes
    away with the last process and socket in it. Works inside the namespace
    `make grade` gives each student too. Raises OSError without the
    privilege (root, CAP_SYS_ADMIN)."""
    libc = ctypes.CDLL(None, use_errno=True)
    old = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
        try:
            _loopback_up()
            yield
        finally:
            if libc.setns(old, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns back to the test's network namespace: "
                                   f"{os.strerror(err)}")
    finally:
        os.close(old)


class LossyUnavailable(OSError):
    """This machine cannot make the lossy network: no nft, or a kernel
    without nf_tables (some containers)."""


def nft_binary() -> str:
    found = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if found is None:
        raise LossyUnavailable("nft (Debian package nftables) is not installed")
    return found


class Lossy:
    """An nftables table in the current network namespace that drops one
    datagram in three, at random (`numgen random mod 3`), to and from UDP
    port `port`, separately for each payload length in `lengths` (the test
    gives every message a length of its own), and counts what passed and
    what was dropped. Drops happen on the input hook: the sender's sendto()
    succeeds, as when a packet is lost on the way."""

    TABLE = "workbook_lossy"

    def __init__(self, port: int, lengths: list[int]) -> None:
        self.port = port
        rules = []
        for n in lengths:
            for way, match in (("to", "dport"), ("from", "sport")):
                sel = f"udp {match} {port} udp length {n + 8}"
                rules.append(f"{sel} numgen random mod 3 == 0 counter drop "
                             f'comment "{way} {n} drop"')
                rules.append(f'{sel} counter accept comment "{way} {n} pass"')
        script = (f"table inet {self.TABLE} {{\n chain input {{\n"
                  "  type filter hook input priority 0; policy accept;\n"
                  + "".join(f"  {r}\n" for r in rules) + " }\n}\n")
        done = subprocess.run([nft_binary(), "-f", "-"], input=script.encode(),
                              capture_output=True, timeout=10)
        if done.returncode != 0:  # our script is right: the kernel lacks nf_tables
            raise LossyUnavailable(f"nft -f failed: {done.stderr.decode(errors='replace')}")

    def counts(self) -> dict[str, int]:
        """Packets per counter: "to <len> pass", "from <len> drop", ..."""
        done = subprocess.run([nft_binary(), "-j", "list", "table", "inet", self.TABLE],
                              capture_output=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"nft list failed: {done.stderr.decode(errors='replace')}")
        out: dict[str, int] = {}
        for item in json.loads(done.stdout)["nftables"]:
            rule = item.get("rule")
            if not rule or "comment" not in rule:
                continue
            for expr in rule["expr"]:
                if "counter" in expr:
                    out[rule["comment"]] = expr["counter"]["packets"]
        return out
