"""Read the pcap written by chapter 00's tcp_conversation and say what is wrong.

The capture is read with tshark (so the student's file is judged by a real
dissector, not by our own parser), one line of fields per frame. Each
check_* function returns a list of problems, empty when that part of the
conversation is right. A problem names the frame, what was expected and
what was found, and why the expected value is what it is:

    frame 3 (C->S ACK): ack number is 1000, expected 2001 (server ISN 2000
    + 1: the SYN consumes one sequence number)

The conversation (C = client 192.0.2.1:49152, S = server 192.0.2.2:9190):

     1 C->S SYN         2 S->C SYN,ACK     3 C->S ACK
     4 C->S PSH,ACK <request>              5 S->C PSH,ACK <reply>
     6 C->S ACK         7 C->S FIN,ACK     8 S->C ACK
     9 S->C FIN,ACK    10 C->S ACK

Only the Python standard library is used.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import jail

# TCP flag bits (byte 13 of the TCP header; AE is bit 8 of the 12-bit field),
# named lowest bit first, as Wireshark does: SYN,ACK  PSH,ACK  FIN,ACK.
TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
_FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (0x001, "FIN"), (0x002, "SYN"), (0x004, "RST"), (0x008, "PSH"),
    (0x010, "ACK"), (0x020, "URG"), (0x040, "ECE"), (0x080, "CWR"),
    (0x100, "AE"),
)

# The endpoints defined in chapters/00_layered_model/wire.h.
CLIENT: tuple[str, int] = ("192.0.2.1", 49152)
SERVER: tuple[str, int] = ("192.0.2.2", 9190)
CLIENT_MAC = "02:00:00:00:00:01"
SERVER_MAC = "02:00:00:00:00:02"

FRAME_COUNT = 10
_MOD = 1 << 32

# First four bytes of the file formats tshark could be handed.
_PCAP_MAGICS = {
    bytes.fromhex("a1b2c3d4"), bytes.fromhex("d4c3b2a1"),   # microseconds
    bytes.fromhex("a1b23c4d"), bytes.fromhex("4d3cb2a1"),   # nanoseconds
}
_PCAPNG_MAGIC = bytes.fromhex("0a0d0d0a")

_FIELDS: tuple[str, ...] = (
    "frame.number", "frame.time_epoch", "frame.protocols", "frame.len", "ip.len",
    "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags",
    "tcp.seq_raw", "tcp.ack_raw", "tcp.payload",
    "ip.checksum", "ip.checksum_calculated", "ip.checksum.status",
    "tcp.checksum", "tcp.checksum_calculated", "tcp.checksum.status",
    "_ws.expert.message", "_ws.expert.severity", "eth.src", "eth.dst",
)
# Expert severities (epan/proto.h): chat 0x00200000, note 0x00400000,
# warn 0x00600000, error 0x00800000. Only warnings and errors are kept.
_EXPERT_WARN = 0x00600000
# tshark joins repeated occurrences of a field with this character.
_AGGREGATOR = "\x1f"


class PcapReadError(Exception):
    """tshark could not read the file, or the file is not a classic pcap."""


@dataclass
class Frame:
    """One captured frame as tshark dissected it.

    Fields tshark did not find (no IPv4 or no TCP header) are "" for
    addresses, None for numbers. seq and ack are the raw 32-bit values in
    the header, not tshark's relative numbers. A checksum status is True
    (right), False (wrong) or None (not checked: the header was not found).
    """

    number: int
    src: str
    dst: str
    sport: int | None
    dport: int | None
    flags: int | None
    seq: int | None
    ack: int | None
    payload: bytes
    ip_checksum_ok: bool | None
    tcp_checksum_ok: bool | None
    time: float | None = None
    protocols: str = ""
    ip_checksum: int | None = None
    ip_checksum_calculated: int | None = None
    tcp_checksum: int | None = None
    tcp_checksum_calculated: int | None = None
    frame_len: int | None = None
    ip_len: int | None = None
    expert: tuple[str, ...] = field(default_factory=tuple)  # tshark's warnings
    eth_src: str = ""       # MAC addresses, "02:00:00:00:00:01" ("" if no Ethernet header)
    eth_dst: str = ""

    @property
    def is_tcp(self) -> bool:
        return self.flags is not None and self.seq is not None


@dataclass(frozen=True)
class Expected:
    """What one frame of the conversation must hold, and why."""

    number: int
    from_client: bool
    flags: int
    flags_why: str
    seq: int
    seq_why: str
    ack: int
    ack_why: str
    payload: bytes

    @property
    def label(self) -> str:
        direction = "C->S" if self.from_client else "S->C"
        return f"frame {self.number} ({direction} {flag_names(self.flags, '+')})"


# ---- reading ---------------------------------------------------------------


def _check_magic(pcap: Path) -> None:
    """Refuse files tshark would misread or read as something else."""
    try:
        with pcap.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise PcapReadError(f"cannot open {pcap}: {exc.strerror}") from exc
    if not head:
        raise PcapReadError(
            f"{pcap} is empty: not even the 24-byte pcap file header was written"
        )
    if head == _PCAPNG_MAGIC:
        raise PcapReadError(
            f"{pcap} is a pcapng file; the exercise writes the classic pcap "
            "format (magic a1 b2 c3 d4)"
        )
    if head not in _PCAP_MAGICS:
        raise PcapReadError(
            f"{pcap} is not a classic pcap file: it starts with bytes "
            f"{head.hex(' ')}, expected the magic number a1 b2 c3 d4 "
            "(or d4 c3 b2 a1 if written little-endian)"
        )


def _int_or_none(text: str, base: int = 10) -> int | None:
    if not text:
        return None
    try:
        return int(text, 16 if text.lower().startswith("0x") else base)
    except ValueError:
        return None


def _status(text: str) -> bool | None:
    value = text.strip().lower()
    if value in ("1", "good"):
        return True
    if value in ("0", "bad"):
        return False
    return None  # "2"/"unverified" or absent


def _parse_line(line: str) -> Frame:
    cols = line.split("\t")
    cols += [""] * (len(_FIELDS) - len(cols))
    every = dict(zip(_FIELDS, cols))
    # Keep the first occurrence of each field (an ICMP error, say, quotes a
    # second IP header), but every expert message.
    get = {name: value.split(_AGGREGATOR)[0] for name, value in every.items()}
    messages = every["_ws.expert.message"].split(_AGGREGATOR)
    severities = every["_ws.expert.severity"].split(_AGGREGATOR)
    expert = tuple(dict.fromkeys(
        message for message, severity in zip(messages, severities)
        if message and (_int_or_none(severity) or 0) >= _EXPERT_WARN
    ))
    hex_payload = get["tcp.payload"].replace(":", "")
    try:
        payload = bytes.fromhex(hex_payload)
    except ValueError:
        payload = b""
    try:
        time: float | None = float(get["frame.time_epoch"])
    except ValueError:
        time = None
    return Frame(
        number=int(get["frame.number"]),
        src=get["ip.src"],
        dst=get["ip.dst"],
        sport=_int_or_none(get["tcp.srcport"]),
        dport=_int_or_none(get["tcp.dstport"]),
        flags=_int_or_none(get["tcp.flags"], 16),
        seq=_int_or_none(get["tcp.seq_raw"]),
        ack=_int_or_none(get["tcp.ack_raw"]),
        payload=payload,
        ip_checksum_ok=_status(get["ip.checksum.status"]) if get["ip.src"] else None,
        tcp_checksum_ok=(
            _status(get["tcp.checksum.status"]) if get["tcp.srcport"] else None
        ),
        time=time,
        protocols=get["frame.protocols"],
        ip_checksum=_int_or_none(get["ip.checksum"], 16),
        ip_checksum_calculated=_int_or_none(get["ip.checksum_calculated"], 16),
        tcp_checksum=_int_or_none(get["tcp.checksum"], 16),
        tcp_checksum_calculated=_int_or_none(get["tcp.checksum_calculated"], 16),
        frame_len=_int_or_none(get["frame.len"]),
        ip_len=_int_or_none(get["ip.len"]),
        expert=expert,
        eth_src=get["eth.src"].lower(),
        eth_dst=get["eth.dst"].lower(),
    )


def read_frames(pcap: Path, tshark: str = "tshark", timeout: float = 30) -> list[Frame]:
    """Dissect every frame of pcap with tshark.

    Raw (absolute) sequence numbers are read, and checksum validation is
    switched on for IPv4 and TCP. Reassembly is switched off so that each
    frame's payload is its own. Raises PcapReadError, with tshark's own
    message, when the file is missing, is not a classic pcap, or tshark
    fails on it (for example a record cut short).
    """
    pcap = Path(pcap)
    _check_magic(pcap)
    cmd = [
        tshark, "-r", str(pcap), "-n",
        "-o", "tcp.relative_sequence_numbers:FALSE",
        "-o", "ip.check_checksum:TRUE",
        "-o", "tcp.check_checksum:TRUE",
        "-o", "tcp.desegment_tcp_streams:FALSE",
        "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
        "-E", f"aggregator={_AGGREGATOR}", "-E", "header=n",
    ]
    for name in _FIELDS:
        cmd += ["-e", name]
    # tshark's dissectors parse what a student's program wrote: it runs in
    # the jail too, and sees only a read-only copy of the file
    inside = "/in/capture.pcap"
    sealed = jail.seal([inside if c == str(pcap) else c for c in cmd],
                       files={inside: pcap})
    try:
        proc = subprocess.run(
            sealed.argv, capture_output=True, timeout=timeout, check=False,
            text=True, errors="replace", pass_fds=tuple(sealed.fds),
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise PcapReadError(f"cannot run {tshark!r}: is tshark installed?") from exc
    except subprocess.TimeoutExpired as exc:
        raise PcapReadError(
            f"tshark took longer than {timeout:g} s to read {pcap}"
        ) from exc
    finally:
        sealed.close()
    stderr = "\n".join(
        line for line in proc.stderr.splitlines()
        if line.strip() and not line.startswith("Running as user")
    )
    if proc.returncode != 0:
        raise PcapReadError(
            f"tshark could not read {pcap} (exit status {proc.returncode}):\n"
            f"{stderr or '(no message)'}"
        )
    return [_parse_line(line) for line in proc.stdout.splitlines() if line.strip()]


@dataclass
class Datagram:
    """One UDP datagram of a capture (read_datagrams)."""
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


def read_datagrams(pcap: Path, tshark: str = "tshark", timeout: float = 30) -> list[Datagram]:
    """The UDP datagrams of pcap, dissected by tshark (in the jail, as
    read_frames), with their payloads. ICMP errors quoting a datagram are
    left out: they are not datagrams that were sent."""
    pcap = Path(pcap)
    _check_magic(pcap)
    inside = "/in/capture.pcap"
    cmd = [tshark, "-r", inside, "-n", "-Y", "udp && !icmp", "-T", "fields",
           "-E", "separator=/t", "-E", "header=n", "-e", "frame.time_relative",
           "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport",
           "-e", "udp.payload"]
    sealed = jail.seal(cmd, files={inside: pcap})
    try:
        proc = subprocess.run(sealed.argv, capture_output=True, timeout=timeout, check=False,
                              text=True, errors="replace", pass_fds=tuple(sealed.fds),
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise PcapReadError(f"cannot run {tshark!r}: is tshark installed?") from exc
    except subprocess.TimeoutExpired as exc:
        raise PcapReadError(f"tshark took longer than {timeout:g} s to read {pcap}") from exc
    finally:
        sealed.close()
    if proc.returncode != 0:
        raise PcapReadError(f"tshark could not read {pcap} (exit status {proc.returncode}):\n"
                            f"{proc.stderr.strip() or '(no message)'}")
    out = []
    for line in proc.stdout.splitlines():
        cols = (line.split("\t") + [""] * 6)[:6]
        try:
            out.append(Datagram(float(cols[0]), cols[1], int(cols[2]), cols[3], int(cols[4]),
                                bytes.fromhex(cols[5].replace(":", ""))))
        except ValueError:
            continue
    return out


# ---- what the conversation must be -----------------------------------------


def flag_names(flags: int | None, sep: str = ",") -> str:
    """'SYN,ACK' for 0x12; '-' for no flags; '?' when there is no TCP header."""
    if flags is None:
        return "?"
    names = [name for bit, name in _FLAG_NAMES if flags & bit]
    unknown = flags & ~sum(bit for bit, _ in _FLAG_NAMES)
    if unknown:
        names.append(f"0x{unknown:x}")
    return sep.join(names) if names else "-"


def _plus(base_name: str, base: int, *terms: tuple[int, str]) -> tuple[int, str]:
    """base + terms mod 2^32, and the arithmetic written out for a message."""
    total = base + sum(n for n, _ in terms)
    text = f"{base_name} {base}" + "".join(f" + {n}{what}" for n, what in terms)
    if total >= _MOD:
        text += f" = {total}, which wraps modulo 2^32 to {total % _MOD}"
    return total % _MOD, text


def expected_conversation(
    client_isn: int, server_isn: int, request: bytes, reply: bytes
) -> list[Expected]:
    """The ten frames of the conversation, with the reason for every number."""
    c, s = client_isn, server_isn
    lq, lr = len(request), len(reply)
    syn = (1, "")
    req = (lq, " request byte" + ("s" if lq != 1 else ""))
    rep = (lr, " reply byte" + ("s" if lr != 1 else ""))
    fin = (1, "")

    c_data, c_data_t = _plus("client ISN", c, syn)
    s_data, s_data_t = _plus("server ISN", s, syn)
    c_fin, c_fin_t = _plus("client ISN", c, syn, req)
    s_fin, s_fin_t = _plus("server ISN", s, syn, rep)
    c_end, c_end_t = _plus("client ISN", c, syn, req, fin)
    s_end, s_end_t = _plus("server ISN", s, syn, rep, fin)

    syn_used = "the SYN consumes one sequence number"
    data_used = "data consumes one sequence number per byte"
    fin_used = "the FIN consumes one sequence number"
    bare_ack = "a segment with no data, no SYN and no FIN consumes no sequence number"

    def e(n: int, cli: bool, flags: int, fwhy: str, seq: tuple[int, str],
          ack: tuple[int, str], payload: bytes = b"") -> Expected:
        return Expected(n, cli, flags, fwhy, seq[0], seq[1], ack[0], ack[1], payload)

    return [
        e(1, True, TCP_SYN,
          "connect() opens with a SYN alone: there is nothing to acknowledge yet",
          (c, f"client ISN {c}: a SYN carries the sender's initial sequence number"),
          (0, "0: the ACK flag is off, so the field means nothing and is left zero")),
        e(2, False, TCP_SYN | TCP_ACK,
          "the server opens its own direction (SYN) and acknowledges the client's SYN (ACK)",
          (s, f"server ISN {s}: a SYN carries the sender's initial sequence number"),
          (c_data, f"{c_data_t}: {syn_used}")),
        e(3, True, TCP_ACK,
          "the client acknowledges the server's SYN, which completes the handshake",
          (c_data, f"{c_data_t}: {syn_used}"),
          (s_data, f"{s_data_t}: {syn_used}")),
        e(4, True, TCP_PSH | TCP_ACK,
          "the request (PSH: hand it to the application now); every segment "
          "after the first SYN carries ACK",
          (c_data, f"{c_data_t}: the request's first byte; {bare_ack}"),
          (s_data, f"{s_data_t}: nothing new has come from the server"),
          request),
        e(5, False, TCP_PSH | TCP_ACK,
          "the reply, which also acknowledges the request",
          (s_data, f"{s_data_t}: the reply's first byte follows the server's SYN"),
          (c_fin, f"{c_fin_t}: the reply acknowledges the whole request; {data_used}"),
          reply),
        e(6, True, TCP_ACK,
          "the client acknowledges the reply",
          (c_fin, f"{c_fin_t}: {data_used}"),
          (s_fin, f"{s_fin_t}: {data_used}")),
        e(7, True, TCP_FIN | TCP_ACK,
          "the client's close(): FIN says no more data will come from the client",
          (c_fin, f"{c_fin_t}: {bare_ack}"),
          (s_fin, f"{s_fin_t}: nothing new has come from the server")),
        e(8, False, TCP_ACK,
          "the server acknowledges the client's FIN",
          (s_fin, f"{s_fin_t}: {data_used}"),
          (c_end, f"{c_end_t}: {fin_used}")),
        e(9, False, TCP_FIN | TCP_ACK,
          "the server's close(): FIN says no more data will come from the server",
          (s_fin, f"{s_fin_t}: {bare_ack}"),
          (c_end, f"{c_end_t}: {fin_used}")),
        e(10, True, TCP_ACK,
          "the client acknowledges the server's FIN, which ends the conversation",
          (c_end, f"{c_end_t}: {fin_used}"),
          (s_end, f"{s_end_t}: {fin_used}")),
    ]


# ---- checks ----------------------------------------------------------------


def _count_problem(frames: list[Frame]) -> list[str]:
    if len(frames) == FRAME_COUNT:
        return []
    return [
        f"the capture holds {len(frames)} frame(s), expected {FRAME_COUNT}: "
        "SYN, SYN+ACK, ACK, request, reply, ACK, FIN+ACK, ACK, FIN+ACK, ACK"
    ]


def _not_tcp(frame: Frame, label: str) -> str:
    """Why tshark could not read a TCP header in this frame, as far as we can tell."""
    layers = frame.protocols.split(":") if frame.protocols else []
    text = f"{label}: tshark could not read a TCP segment in it (it sees {frame.protocols or 'nothing'}"
    text += f"; it says: {'; '.join(frame.expert)})" if frame.expert else ")"
    if "ip" in layers and (frame.ip_len is not None and frame.frame_len is not None
                           and frame.ip_len != frame.frame_len - 14):
        return text + (f". The IPv4 total length says {frame.ip_len} bytes, but "
                       f"{frame.frame_len - 14} follow the Ethernet header: the "
                       "total length counts the IPv4 header and the whole segment")
    if "tcp" in layers:
        return text + (". The TCP header is there but unreadable: check the data "
                       "offset (high 4 bits of byte 12, in 32-bit words: 5)")
    if "ip" in layers:
        return text + ". Check the IPv4 protocol number (6 for TCP)"
    if "eth" in layers:
        return text + (". Check the EtherType (bytes 12-13 of the frame: 08 00 for "
                       "IPv4, big-endian) and the first IPv4 byte (0x45)")
    return text + (". Check the link type in the pcap file header (1 for "
                   "Ethernet) and that each frame starts with its Ethernet header")


def _pairs(frames: list[Frame]) -> list[tuple[Frame, Expected]]:
    """Frames paired with what they should be (only the frames present)."""
    expected = expected_conversation(0, 0, b"", b"")
    return list(zip(frames, expected))


def _endpoint(ip: str, port: int | None) -> str:
    return f"{ip or '?'}:{port if port is not None else '?'}"


def check_flags(
    frames: list[Frame],
    client: tuple[str, int] = CLIENT,
    server: tuple[str, int] = SERVER,
    macs: tuple[str, str] | None = (CLIENT_MAC, SERVER_MAC),
) -> list[str]:
    """The shape of the conversation: ten frames, each a TCP segment sent in
    the right direction between client and server (IP addresses, ports and,
    unless macs is None, the client's and the server's MAC addresses), with
    the right flags."""
    problems = _count_problem(frames)
    for frame, exp in _pairs(frames):
        if macs is not None and frame.eth_src and frame.eth_dst:
            want_src, want_dst = macs if exp.from_client else macs[::-1]
            if (frame.eth_src, frame.eth_dst) != (want_src, want_dst):
                problems.append(
                    f"{exp.label}: Ethernet source MAC {frame.eth_src}, destination "
                    f"{frame.eth_dst}; expected source {want_src} (the sender's) and "
                    f"destination {want_dst} (the receiver's: the destination comes "
                    "first in the Ethernet header)"
                )
        if not frame.is_tcp:
            problems.append(_not_tcp(frame, exp.label))
            continue
        want_from, want_to = (client, server) if exp.from_client else (server, client)
        got_from = (frame.src, frame.sport)
        got_to = (frame.dst, frame.dport)
        if (got_from, got_to) != (want_from, want_to):
            who = "client" if exp.from_client else "server"
            problems.append(
                f"{exp.label}: sent from {_endpoint(*got_from)} to "
                f"{_endpoint(*got_to)}, expected from the {who} "
                f"{_endpoint(*want_from)} to {_endpoint(*want_to)}"
            )
        if frame.flags != exp.flags:
            problems.append(
                f"{exp.label}: flags are {flag_names(frame.flags)}, expected "
                f"{flag_names(exp.flags)} ({exp.flags_why})"
            )
    return problems


def check_timestamps(frames: list[Frame]) -> list[str]:
    """Each frame must be stamped later than the one before."""
    problems: list[str] = []
    for before, after in zip(frames, frames[1:]):
        if before.time is None or after.time is None:
            continue
        if after.time <= before.time:
            problems.append(
                f"frame {after.number}: timestamp {after.time:.6f} is not later "
                f"than frame {before.number}'s {before.time:.6f} (a capture "
                "records frames in the order they were seen)"
            )
    return problems


def check_numbers(
    frames: list[Frame], client_isn: int, server_isn: int, request: bytes, reply: bytes
) -> list[str]:
    """Sequence and acknowledgement numbers of every frame (raw, modulo
    2^32), and timestamps that increase from frame to frame."""
    problems = _count_problem(frames)
    expected = expected_conversation(client_isn, server_isn, request, reply)
    for frame, exp in zip(frames, expected):
        if not frame.is_tcp:
            problems.append(_not_tcp(frame, exp.label))
            continue
        if frame.seq != exp.seq:
            problems.append(
                f"{exp.label}: sequence number is {frame.seq}, expected "
                f"{exp.seq} ({exp.seq_why})"
            )
        if frame.ack != exp.ack:
            problems.append(
                f"{exp.label}: ack number is {frame.ack}, expected "
                f"{exp.ack} ({exp.ack_why})"
            )
    problems += check_timestamps(frames)
    return problems


def _hex16(value: int | None) -> str:
    return "?" if value is None else f"0x{value:04x}"


def check_checksums(frames: list[Frame]) -> list[str]:
    """The IPv4 header checksum and the TCP checksum of every frame."""
    problems = _count_problem(frames)
    for frame, exp in _pairs(frames):
        if frame.ip_checksum_ok is None:
            problems.append(
                f"{exp.label}: tshark found no IPv4 header, so no checksum "
                f"could be checked (it sees {frame.protocols or 'nothing'})"
            )
            continue
        if not frame.ip_checksum_ok:
            problems.append(
                f"{exp.label}: IPv4 header checksum is "
                f"{_hex16(frame.ip_checksum)}, expected "
                f"{_hex16(frame.ip_checksum_calculated)} (the one's complement "
                "sum of the 20 header bytes as 16-bit words, computed with "
                "the checksum field set to zero)"
            )
        if frame.tcp_checksum_ok is None:
            problems.append(
                f"{exp.label}: tshark found no TCP header, so its checksum "
                "could not be checked"
            )
        elif not frame.tcp_checksum_ok:
            problems.append(
                f"{exp.label}: TCP checksum is {_hex16(frame.tcp_checksum)}, "
                f"expected {_hex16(frame.tcp_checksum_calculated)} (the sum "
                "covers the pseudo-header (source and destination address, "
                "zero, protocol 6, TCP length), then the TCP header with the "
                "checksum field zero, then the data padded to an even length)"
            )
    return problems


def _show(data: bytes, limit: int = 40) -> str:
    shown = repr(data[:limit]) + ("..." if len(data) > limit else "")
    return f"{shown} ({len(data)} bytes)"


def check_payloads(frames: list[Frame], request: bytes, reply: bytes) -> list[str]:
    """Frame 4 carries exactly the request, frame 5 exactly the reply, and
    no other frame carries data."""
    problems = _count_problem(frames)
    expected = expected_conversation(0, 0, request, reply)
    for frame, exp in zip(frames, expected):
        if not frame.is_tcp:
            problems.append(_not_tcp(frame, exp.label))
            continue
        if frame.payload == exp.payload:
            continue
        if not exp.payload:
            problems.append(
                f"{exp.label}: carries {_show(frame.payload)} of data, "
                "expected none"
            )
        else:
            what = "request" if exp.from_client else "reply"
            problems.append(
                f"{exp.label}: carries {_show(frame.payload)}, expected the "
                f"{what} {_show(exp.payload)}"
            )
    return problems


# ---- for failure messages ---------------------------------------------------


def _direction(frame: Frame, client: tuple[str, int], server: tuple[str, int]) -> str:
    """C->S or S->C by IP address (ports are checked by check_flags)."""
    if (frame.src, frame.dst) == (client[0], server[0]):
        return "C->S"
    if (frame.src, frame.dst) == (server[0], client[0]):
        return "S->C"
    if not frame.src:
        return "?"
    return f"{frame.src}->{frame.dst}"


def _ok(status: bool | None) -> str:
    return {True: "ok", False: "BAD", None: "-"}[status]


def describe(
    frames: list[Frame],
    client: tuple[str, int] = CLIENT,
    server: tuple[str, int] = SERVER,
) -> str:
    """A table of the frames as tshark saw them, one line each."""
    rows = [("no.", "dir", "flags", "seq", "ack", "len", "ip csum", "tcp csum", "notes")]
    for f in frames:
        notes = "; ".join(f.expert)
        if not f.is_tcp:
            notes = f"[{f.protocols or 'nothing'}] {notes}".rstrip()
        rows.append((
            str(f.number), _direction(f, client, server), flag_names(f.flags),
            "?" if f.seq is None else str(f.seq), "?" if f.ack is None else str(f.ack),
            str(len(f.payload)), _ok(f.ip_checksum_ok), _ok(f.tcp_checksum_ok), notes,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    right = {0, 3, 4, 5}    # numbers line up on the right
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        lines.append(("  ".join(cells) + "  " + row[-1]).rstrip())
    if not frames:
        lines.append("(no frames)")
    return "\n".join(lines)
