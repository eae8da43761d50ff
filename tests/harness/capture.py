"""Capture a TCP conversation on loopback and show it as a timeline.

`Capture` runs dumpcap on `lo` with a filter for one port, and knows when
the capture is really running and when every packet has reached the file:

- dumpcap prints "Capturing on 'Loopback: lo'" *before* it opens the
  interface, and "File: <path>" once the interface is open, its filter set
  and the file created (a packet sent between the two lines is lost: seen
  on dumpcap 4.0). `start` waits for both lines.
- packets reach the file in batches (libpcap's buffer), up to a second
  late, and a stop at the wrong moment would lose the last ones. `stop`
  sends a marker datagram (UDP, to a port of our own that the filter also
  matches) after the conversation is over, waits until the marker is in
  the file (dumpcap reports "Packets: N" each time it has written some),
  and only then stops dumpcap. The marker is not shown.

`timeline` turns tshark's reading of the file (pcapcheck.read_frames) into
lines a student can read: time, direction, flags, relative seq/ack, data
length and a preview, and a summary: the handshake, the bytes each way,
who closed first, any reset.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from .pcapcheck import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Frame, flag_names
from .ports import LISTEN, POLL, tcp_table
from .procs import Proc, ProcessGroup, ProgramExited, WaitTimeout

TIME_WAIT, CLOSE = 0x06, 0x07
STATE_NAMES = {0x01: "ESTABLISHED", 0x02: "SYN_SENT", 0x03: "SYN_RECV", 0x04: "FIN_WAIT1",
               0x05: "FIN_WAIT2", 0x06: "TIME_WAIT", 0x07: "CLOSE", 0x08: "CLOSE_WAIT",
               0x09: "LAST_ACK", 0x0A: "LISTEN", 0x0B: "CLOSING"}
_CAP_NET_ADMIN, _CAP_NET_RAW = 12, 13
_MOD = 1 << 32


class CaptureUnavailable(Exception):
    """Packets cannot be captured here; the message says why and what to do."""


def _how_to_enable(command: str) -> str:
    return (f"Either run it as root:\n"
            f"    sudo {command}\n"
            f"or let your user capture (once; Debian/Ubuntu):\n"
            f"    sudo dpkg-reconfigure wireshark-common   (answer Yes: non-superusers "
            f"may capture)\n"
            f"    sudo usermod -aG wireshark $USER         then log out and in again")


def find_tools(tshark: str = "tshark", dumpcap: str | None = None) -> tuple[str, str]:
    """The paths of tshark and dumpcap; CaptureUnavailable if one is missing.
    dumpcap is looked for next to tshark first (they come together)."""
    found = shutil.which(tshark)
    if found is None:
        raise CaptureUnavailable(
            f"make trace needs tshark (Wireshark's command-line dissector), and "
            f"`{tshark}` was not found. Install it: sudo make deps (or sudo apt-get "
            f"install tshark).")
    if dumpcap is None:
        beside = Path(found).with_name("dumpcap")
        dumpcap = str(beside) if beside.exists() else "dumpcap"
    dc = shutil.which(dumpcap)
    if dc is None:
        raise CaptureUnavailable(
            f"make trace captures with dumpcap, which comes with tshark, and `{dumpcap}` "
            f"was not found. Install it: sudo make deps (or sudo apt-get install tshark).")
    return found, dc


def _has_capture_caps(path: str) -> bool:
    """Whether the file capabilities of `path` permit cap_net_raw and cap_net_admin."""
    try:
        raw = os.getxattr(path, "security.capability")
    except (OSError, AttributeError):
        return False
    if len(raw) < 8:
        return False
    permitted = struct.unpack("<I", raw[4:8])[0]
    return bool(permitted & (1 << _CAP_NET_RAW)) and bool(permitted & (1 << _CAP_NET_ADMIN))


def permission_problem(dumpcap: str, command: str, euid: int | None = None) -> str | None:
    """Why this user cannot capture with dumpcap, or None if it can: root can;
    anyone else needs a dumpcap they may run that has the capture
    capabilities (or is setuid root)."""
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return None
    try:
        st = os.stat(dumpcap)
    except OSError:
        return f"cannot look at {dumpcap}."
    privileged = _has_capture_caps(dumpcap) or (st.st_mode & stat.S_ISUID and st.st_uid == 0)
    if privileged and os.access(dumpcap, os.X_OK):
        return None
    try:
        user = pwd.getpwuid(euid).pw_name
    except KeyError:
        user = f"uid {euid}"
    why = ("it may capture, but you may not run it (you are not in its group, "
           "usually `wireshark`)" if privileged else
           "it has no permission to capture (no cap_net_raw/cap_net_admin)")
    return (f"Capturing packets needs privileges, and user {user} has none: {dumpcap} "
            f"is the capture program, and {why}.\n" + _how_to_enable(command))


@dataclass
class Capture:
    """dumpcap on loopback, for the TCP (or UDP) port `port`, into folder/trace.pcap."""

    dumpcap: str
    port: int
    folder: Path
    procs: ProcessGroup
    command: str = "make trace"   # for the how-to-enable message
    transport: str = "tcp"        # "tcp" | "udp": which packets of the port

    def __post_init__(self) -> None:
        self.file = self.folder / "trace.pcap"
        self.proc: Proc | None = None
        self._marker_rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._marker_rx.bind(("127.0.0.1", 0))
        self.marker_port = self._marker_rx.getsockname()[1]

    @property
    def filter(self) -> str:
        return f"{self.transport} port {self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start dumpcap and wait until it captures; CaptureUnavailable (with
        dumpcap's own words and how to get permission) if it cannot."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file.unlink(missing_ok=True)
        bpf = f"{self.filter} or (udp dst port {self.marker_port} and dst host 127.0.0.1)"
        self.proc = self.procs.start([self.dumpcap, "-i", "lo", "-f", bpf, "-P",
                                      "-w", str(self.file)], limit=300, label="dumpcap")
        try:
            self.proc.wait_output("Capturing on", timeout, stream="stderr")
        except (ProgramExited, WaitTimeout) as exc:
            self._failed(exc)
        try:
            self.proc.wait_output(r"File: ", timeout, stream="stderr")
        except ProgramExited as exc:
            self._failed(exc)
        except WaitTimeout:
            pass  # a dumpcap that does not print "File:": it has had the time to open lo

    def _failed(self, exc: Exception) -> None:
        assert self.proc is not None
        self.proc.wait_exit(2)
        self._marker_rx.close()
        said = self.proc.stderr_text().strip() or str(exc)
        said = "\n".join("    " + ln for ln in said.splitlines()
                         if not ln.startswith("Running as user"))
        raise CaptureUnavailable(f"dumpcap could not start capturing on lo:\n{said}\n"
                                 + _how_to_enable(self.command))

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop once every packet so far is in the file; False if dumpcap
        did not confirm it within `timeout` (the last packets may be missing)."""
        assert self.proc is not None
        token = b"make-trace-end " + secrets.token_hex(8).encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(token, ("127.0.0.1", self.marker_port))
        deadline = time.monotonic() + timeout
        complete = False
        while True:
            seen = len(self.proc.stderr)
            if token in self._file_bytes():
                complete = True
                break
            left = deadline - time.monotonic()
            if left <= 0 or not self.proc.running():
                break
            try:  # dumpcap prints "Packets: N" after it has written packets
                self.proc.wait_output(r"Packets: \d+", left, stream="stderr", start=seen)
            except (ProgramExited, WaitTimeout):
                pass
        self.proc.signal(signal.SIGINT)   # dumpcap's clean stop: it closes the file
        if self.proc.wait_exit(5) is None:
            self.proc.kill()
        self._marker_rx.close()
        return complete

    def _file_bytes(self) -> bytes:
        try:
            return self.file.read_bytes()
        except OSError:
            return b""


def settle(port: int, timeout: float) -> list[str]:
    """Wait until no connection to or from `port` is still open (only
    TIME_WAIT is left, and the listening socket): then every packet of the
    conversation has been sent. Returns the states of connections still
    open when the time runs out ([] when all closed)."""
    deadline = time.monotonic() + timeout
    while True:
        open_ = [e for e in tcp_table() if port in (e.local[1], e.remote[1])
                 and e.state not in (LISTEN, TIME_WAIT, CLOSE)]
        if not open_ or time.monotonic() > deadline:
            return [f"{e.local[1]}->{e.remote[1]} {STATE_NAMES.get(e.state, hex(e.state))}"
                    for e in open_]
        time.sleep(POLL)  # polling /proc: the kernel offers no event for this


# ---- the timeline ------------------------------------------------------------


def preview(data: bytes, limit: int = 24) -> str:
    """Bytes as a short quoted string: printable ASCII as it is, \\n and \\r
    and \\t escaped, anything else as \\xNN."""
    out = []
    for b in data[:limit]:
        ch = chr(b)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7f:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    return '"' + "".join(out) + '"' + ("..." if len(data) > limit else "")


@dataclass
class Conversation:
    """What the frames of one capture say, for the timeline and the summary."""

    lines: list[str]
    summary: list[str]
    handshake: bool
    first_fin: str | None        # "client" | "server" | None
    resets: list[str]
    bytes_c2s: int
    bytes_s2c: int


def timeline(frames: list[Frame], server_port: int) -> Conversation:
    """The TCP frames to or from server_port, one line each, and a summary."""
    frames = [f for f in frames if f.is_tcp and server_port in (f.sport, f.dport)]
    clients = sorted({f.dport if f.sport == server_port else f.sport for f in frames})
    many = len(clients) > 1

    def who(f: Frame) -> tuple[str, int]:
        client = f.dport if f.sport == server_port else f.sport
        return ("server" if f.sport == server_port else "client"), client or 0

    # initial sequence numbers, per direction of each connection: the SYN's,
    # or the first seen when the SYN is not in the capture
    isn: dict[tuple[str, int], int] = {}
    for f in frames:
        key = who(f)
        if f.flags is not None and f.flags & TCP_SYN:
            isn[key] = f.seq or 0
    for f in frames:
        isn.setdefault(who(f), f.seq or 0)

    t0 = frames[0].time if frames and frames[0].time is not None else 0.0
    rows = [("ms", "direction", "flags", "seq", "ack", "len", "data")]
    sent: dict[str, set[tuple[int, int]]] = {"client": set(), "server": set()}
    first_fin: str | None = None
    resets: list[str] = []
    syn = synack = ack3 = False
    for f in frames:
        side, client = who(f)
        other = ("client" if side == "server" else "server", client)
        seq = ((f.seq or 0) - isn[(side, client)]) % _MOD
        flags = f.flags or 0
        ack = (f"{((f.ack or 0) - isn[other]) % _MOD}"
               if flags & TCP_ACK and other in isn else "-")
        arrow = "client -> server" if side == "client" else "server -> client"
        if many:
            arrow += f" ({client})"
        ms = ((f.time or t0) - t0) * 1000
        rows.append((f"{ms:.3f}", arrow, flag_names(f.flags, "+"), str(seq), ack,
                     str(len(f.payload)), preview(f.payload) if f.payload else ""))
        if f.payload:
            sent[side].add((seq, len(f.payload)))   # a retransmission counts once
        if flags & TCP_FIN and first_fin is None:
            first_fin = side
        if flags & TCP_RST:
            resets.append(f"{side} at {ms:.3f} ms")
        if side == "client" and flags & TCP_SYN and not flags & TCP_ACK:
            syn = True
        elif side == "server" and syn and flags & TCP_SYN and flags & TCP_ACK:
            synack = True
        elif side == "client" and synack and flags & TCP_ACK and ack == "1":
            ack3 = True
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    right = {0, 3, 4, 5}
    lines = ["  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                       for i, c in enumerate(r[:6])) + ("  " + r[6] if r[6] else "")
             for r in rows]
    lines = [ln.rstrip() for ln in lines]
    if not frames:
        lines.append("(no TCP packets on this port)")

    c2s = sum(n for _, n in sent["client"])
    s2c = sum(n for _, n in sent["server"])
    handshake = syn and synack and ack3
    summary = []
    if handshake:
        summary.append("handshake: complete (SYN, SYN+ACK, ACK)")
    elif syn and not synack and resets:
        summary.append("handshake: refused (the SYN was answered with RST: nothing "
                       "was listening on the port)")
    else:
        missing = [name for name, ok in (("SYN", syn), ("SYN+ACK", synack),
                                         ("ACK", ack3)) if not ok]
        summary.append(f"handshake: not complete (missing {', '.join(missing)})")
    summary.append(f"data: client -> server {c2s} byte{'s' * (c2s != 1)}, "
                   f"server -> client {s2c} byte{'s' * (s2c != 1)}")
    if first_fin is None:
        summary.append("close: nobody sent FIN (the connection was never closed "
                       "in an orderly way)")
    else:
        other_side = "client" if first_fin == "server" else "server"
        fins = {who(f)[0] for f in frames if (f.flags or 0) & TCP_FIN}
        then = (f"the {other_side} closed too" if other_side in fins
                else f"the {other_side} never sent FIN")
        summary.append(f"close: {first_fin} closed first (sent the first FIN); {then}")
    summary.append("reset: " + ("RST from the " + ", ".join(resets) if resets
                                else "none (no RST)"))
    return Conversation(lines, summary, handshake, first_fin, resets, c2s, s2c)


def udp_timeline(datagrams: list, server_port: int) -> tuple[list[str], list[str]]:
    """The datagrams to and from server_port as timeline lines, and a summary:
    no handshake, no close, each datagram on its own."""
    lines = [f"{'ms':>6}  {'direction':<24} {'len':>5}  data"]
    mine = [d for d in datagrams if server_port in (d.sport, d.dport)]
    start = mine[0].time if mine else 0.0
    to_server = from_server = 0
    for d in mine:
        towards = d.dport == server_port
        to_server += towards
        from_server += not towards
        way = f"client:{d.sport} -> server" if towards else f"server -> client:{d.dport}"
        lines.append(f"{(d.time - start) * 1000:6.1f}  {way:<24} {len(d.payload):5d}  "
                     f"{preview(d.payload)}")
    if not mine:
        lines.append("(no UDP datagrams on this port)")
    summary = [f"datagrams: {to_server} to the server, {from_server} back from it",
               "no handshake and no close: UDP has no connection; each datagram stands "
               "alone, and its boundaries arrive as they were sent"]
    return lines, summary

