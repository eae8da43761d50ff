"""Chapter 03: addresses. addr.c is graded by Check unit tests
(tests/check/test_addr.c, differential against the C library's inet_pton()
and inet_ntop()); addr_show prints a struct sockaddr_in (contract:
chapters/03_addresses/README.md)."""

from __future__ import annotations

import re
import secrets
import struct
import sys

import pytest

from harness import checksuite
from harness.feedback import fail, show
from harness.scenarios import command_line, ends_with_status_1

AF_INET = 2         # Linux's value
RUN_WAIT = 10       # seconds: an upper bound for a program that only prints


cases = checksuite.cases


# -- addr.c: Check unit tests, one pytest test per Check test -----------------------

@pytest.mark.role("addr")
def test_addr(prog):
    checksuite.judge(prog)


# -- addr_show ----------------------------------------------------------------------

LINE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")


def _number(text: str) -> int | None:
    """A decimal number, or a hexadecimal one with 0x."""
    if re.fullmatch(r"0[xX][0-9A-Fa-f]+", text):
        return int(text, 16)
    if re.fullmatch(r"[0-9]+", text):
        return int(text, 10)
    return None


def _expected(addr: bytes, port: int) -> dict[str, object]:
    """What addr_show must print, worked out from the bytes: the structure
    in memory (sin_family in this machine's order, then the port and the
    address in network order, then eight zero bytes), and each field read
    directly on this machine (sys.byteorder)."""
    raw = struct.pack("=H", AF_INET) + port.to_bytes(2, "big") + addr + bytes(8)
    return {"bytes": raw, "family": AF_INET, "port": port,
            "port_raw": int.from_bytes(port.to_bytes(2, "big"), sys.byteorder),
            "address": ".".join(str(b) for b in addr),
            "address_raw": int.from_bytes(addr, sys.byteorder)}


def _judge_output(out: str, want: dict[str, object]) -> list[str]:
    got: dict[str, str] = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m and m.group(1).lower() in want and m.group(1).lower() not in got:
            got[m.group(1).lower()] = m.group(2)
    problems = []
    for label, value in want.items():
        if label not in got:
            problems.append(f"no line `{label}: ...`")
            continue
        text = got[label]
        if label != "bytes":
            text = text.split()[0] if text.split() else ""  # the rest is a comment
        if label == "bytes":
            tokens = text.split()
            ok = (len(tokens) == len(value) and
                  all(re.fullmatch(r"[0-9A-Fa-f]{2}", t) for t in tokens) and
                  bytes(int(t, 16) for t in tokens) == value)
            if not ok:
                problems.append(f"`bytes: {text}`, expected `bytes: {value.hex(' ')}` "
                                f"({len(value)} bytes, two hex digits each)")
        elif label == "address":
            if text != value:
                problems.append(f"`address: {text}`, expected `address: {value}`")
        elif _number(text) != value:
            problems.append(f"`{label}: {text}`, expected {value} (0x{value:x})")
    return problems


def _addr_for_test() -> tuple[bytes, int]:
    """A random address and port whose bytes tell every order apart: the
    first byte above 127 (a signed char prints it negative), no two bytes
    of the address alike, the port's two bytes different."""
    while True:
        addr = bytes([128 + secrets.randbelow(128)] + [secrets.randbelow(256) for _ in range(3)])
        port = 1 + secrets.randbelow(65535)
        if len(set(addr)) == 4 and port >> 8 != port & 0xFF:
            return addr, port


@pytest.mark.role("addr_show")
def test_addr_show_values(prog, procs):
    addr, port = _addr_for_test()
    runs = [(addr, port, str(port)), (bytes([255] * 4), 65535, "65535")]
    for addr, port, port_text in runs:
        ip = ".".join(str(b) for b in addr)
        proc = prog.start(procs, ip, port_text, limit=RUN_WAIT + 5)
        rc = proc.wait_exit(RUN_WAIT)
        want = _expected(addr, port)
        did = f"ran `{command_line(prog, ip, port_text)}` on this {sys.byteorder}-endian machine"
        if rc != 0:
            fail(did=did, expected="exit status 0 and the six lines of the contract",
                 got=("it was still running" if rc is None else f"exit status {rc}")
                 + f", stdout {show(proc.stdout)}", procs=[proc],
                 hint="255.255.255.255 is a valid address (inet_addr() cannot tell it "
                      "from its error value, inet_pton() can)." if addr == bytes([255] * 4)
                 else None)
        problems = _judge_output(proc.stdout_text(), want)
        if problems:
            fail(did=did, expected="the lines bytes, family, port, port_raw, address, "
                 "address_raw with these values:\n  " + "\n  ".join(
                     f"{k}: {v.hex(' ') if isinstance(v, bytes) else v}"
                     for k, v in want.items()),
                 got="\n  " + "\n  ".join(problems) + f"\nstdout was:\n{proc.stdout_text()}",
                 procs=[proc],
                 hint="port and address are the numbers as meant (from_net16, "
                      "format_ipv4); the _raw lines print sin_port and sin_addr.s_addr "
                      "directly, without any conversion.")


@pytest.mark.role("addr_show")
def test_addr_show_bad_address(prog, procs):
    for bad, why in (("1.2.3.256", "a part above 255"), ("01.2.3.4", "a leading zero"),
                     ("localhost", "a name, not an address")):
        ends_with_status_1(prog, procs, [bad, "9190"], f"invalid IPv4 address: {why}")
