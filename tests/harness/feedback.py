"""Failure messages that teach: what was sent, what was expected, what came back.

Every failing behaviour test ends in `fail(...)`, which formats the sections
in that order, adds how the program ended and the tail of its stderr, and a
plain hint for the usual causes.
"""

from __future__ import annotations

import re
import signal
import string

import pytest

from .procs import Proc

_PRINTABLE = set(string.printable.encode()) - set(b"\x0b\x0c")
SIGNAL_MEANING = {
    "SIGSEGV": "a segmentation fault: the program used memory it does not own "
               "(an out-of-range index, a bad pointer, argv[1] when there is none)",
    "SIGABRT": "abort(): often the C library or a sanitizer detected memory corruption",
    "SIGPIPE": "it wrote to a connection the other side had already closed; servers "
               "ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) and treat EPIPE as 'client gone'",
    "SIGFPE": "an arithmetic error such as division by zero",
    "SIGBUS": "a bad memory access",
    "SIGKILL": "the harness killed it (time limit, or the test ended)",
    "SIGXFSZ": "it wrote a file past the size the harness allows (16 MiB)",
    "SIGTERM": "SIGTERM ended it: it has no handler for SIGTERM",
    "SIGINT": "SIGINT ended it: it has no handler for SIGINT",
}


def is_text(data: bytes) -> bool:
    return all(b in _PRINTABLE for b in data)


def show(data: bytes, limit: int = 160, at: int | None = None) -> str:
    """Bytes for a person: quoted text, or a hexdump for binary; shortened
    in the middle when long. `at` (where two byte strings part: see
    first_difference) keeps the region around that byte in view."""
    if not data:
        return "(nothing: 0 bytes)"
    n = len(data)
    if is_text(data):
        if n <= limit:
            return f"{data.decode()!r} ({n} bytes)"
        head_len, tail_len = limit * 2 // 3, limit // 3
        if at is not None and head_len - 16 < at < n - tail_len + 16:
            # the difference would be in the part not shown: show around it
            start = max(24, at - limit // 3)
            end = min(n, start + limit * 2 // 3)
            head, window = data[:24].decode(), data[start:end].decode()
            more = f" ... ({n - end} more)" if end < n else ""
            return (f"{head!r} ... {window!r}{more} ({n} bytes: bytes 0-23, then "
                    f"{start}-{end - 1}, around byte {at} where they differ)")
        head, tail = data[:head_len].decode(), data[-tail_len:].decode()
        return f"{head!r} ... {tail!r} ({n} bytes, {n - len(head) - len(tail)} not shown)"
    return hexdump(data, 0 if at is None else max(0, at - 16))


def first_difference(expected: bytes, got: bytes) -> int | None:
    """The first byte where two byte strings differ (one ending early counts),
    None if they are equal."""
    if expected == got:
        return None
    return next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b),
                min(len(expected), len(got)))


def hexdump(data: bytes, start: int = 0, rows: int = 4) -> str:
    lines = []
    end = min(len(data), start + 16 * rows)
    for off in range(start - start % 16, end, 16):
        chunk = data[off:off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"  {off:08x}  {hexes:<47}  |{text}|")
    more = len(data) - end
    if more > 0:
        lines.append(f"  ... {more} more bytes")
    return f"{len(data)} bytes:\n" + "\n".join(lines)


def compare(expected: bytes, got: bytes) -> str:
    """Where two byte strings part, for a message."""
    if expected == got:
        return "identical"
    common = first_difference(expected, got) or 0
    if not got:
        return f"nothing came back: all {len(expected)} bytes are missing"
    if common == len(got) < len(expected):
        return (f"the first {len(got)} bytes are right, then it stopped: "
                f"{len(expected) - len(got)} bytes are missing")
    if common == len(expected) < len(got):
        return f"all {len(expected)} expected bytes, then {len(got) - len(expected)} extra"
    if is_text(expected) and is_text(got):
        return f"they differ from byte {common} on"
    return (f"they differ from byte {common} on; expected there:\n"
            f"{hexdump(expected, common, 2)}\ngot there:\n{hexdump(got, common, 2)}")


def describe_exit(proc: Proc) -> str:
    rc = proc.returncode
    if rc is None:
        return "it was still running"
    if proc.timed_out:
        return "it ran past its time limit and was killed"
    if rc >= 0:
        return f"it exited with status {rc}"
    name = signal.Signals(-rc).name
    meaning = SIGNAL_MEANING.get(name, "")
    return f"it was killed by signal {name}" + (f" ({meaning})" if meaning else "")


def tail(text: str, lines: int = 8, width: int = 200) -> str:
    rows = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join("  | " + r[:width] for r in rows) if rows else "  (empty)"


HINTS = {
    "refused": "Connection refused means nothing was listening on that port. Did the "
               "server call listen() on the port it was given, or did it exit first?",
    "reset": "A reset (ECONNRESET) means the other side closed the connection while "
             "data was still unread, or the process died.",
    "eof": "End of stream (read() returned 0) means the other side closed the "
           "connection: it stopped before sending everything.",
    "timeout": "Nothing happened in time. Is the program blocked in a read() waiting for "
               "data that will never come, or in a loop that never ends?",
    "crash": "The program crashed: run it by hand under gdb or valgrind, or use "
             "`make check SANITIZE=1` for a precise report.",
    "pieces": "TCP is a byte stream: one read() returns whatever has arrived so far, "
              "which may be part of what was sent. Loop until you have it all.",
    "wrong_socket": "The server wrote to the listening socket: a write there fails with "
                    "ENOTCONN (`Transport endpoint is not connected`) or EPIPE (`Broken "
                    "pipe`), and the client gets nothing. Write to the descriptor accept() "
                    "returned, not the listening socket: the listening socket only takes in "
                    "connections; each client's bytes go through its own connected socket.",
    "stdout": "Output to a pipe is fully buffered by the C library: call fflush(stdout) "
              "or setvbuf(stdout, NULL, _IOLBF, 0) so a line is seen when printed.",
}


NOT_CONNECTED = re.compile(r"Transport endpoint is not connected|\bENOTCONN\b")
BROKEN_PIPE = re.compile(r"Broken pipe|\bEPIPE\b")


def wrote_to_listener(procs: list[Proc] | tuple, got: str) -> bool:
    """A server's stderr says its write had no connection under it
    (ENOTCONN), or, when the peer received nothing at all, that the write
    broke (EPIPE, or death by SIGPIPE): the usual sign of writing to the
    listening socket instead of the one accept() returned."""
    nothing = got.startswith(("(nothing: 0 bytes)", "stdout (nothing: 0 bytes)"))
    for proc in procs:
        err = proc.stderr_text()
        if NOT_CONNECTED.search(err):
            return True
        if nothing and (BROKEN_PIPE.search(err) or proc.returncode == -signal.SIGPIPE):
            return True
    return False


def report(*, did: str, expected: str, got: str, procs: list[Proc] | tuple = (),
           hint: str | None = None) -> str:
    parts = [f"What the test did: {did}", f"Expected: {expected}", f"Got: {got}"]
    if wrote_to_listener(procs, got):
        hint = HINTS["wrong_socket"]  # the usual hint of the test would mislead here
    for proc in procs:
        args = proc.argv[2:] if proc.argv[0] == "wine" else proc.argv[1:]
        parts.append(f"Your program `{' '.join([proc.label, *args])}`: {describe_exit(proc)}.")
        err = proc.stderr_text()
        if err.strip():
            parts.append(f"Last lines of its stderr:\n{tail(err)}")
        if proc.returncode is not None and proc.returncode < 0 and hint is None:
            hint = HINTS["crash"]
    if hint:
        parts.append(f"Hint: {hint}")
    return "\n".join(parts)


def fail(**kwargs) -> None:
    """Fail the current test with a teaching message (no Python traceback)."""
    exc = pytest.fail.Exception(report(**kwargs), pytrace=False)
    exc.__suppress_context__ = True  # the message says it all; no "during handling of"
    raise exc
