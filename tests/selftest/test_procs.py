"""Process control: time limits, capped output, nothing left behind."""

import codecs
import re
import socket
import sys
import threading
import time

import pytest

from harness import procs
from harness.ports import free_port, wait_listening
from harness.procs import CAP, ProcessGroup, ProgramExited, reap_orphans


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_flood_is_capped_and_does_not_block():
    group = ProcessGroup()
    try:
        proc = group.start(["sh", "-c", "head -c 20000000 /dev/zero; echo done >&2"], limit=20)
        assert proc.wait_exit(20) == 0  # never blocked on a full pipe
        assert len(proc.stdout) == CAP and proc.output_dropped() == 20000000 - CAP
        assert "done" in proc.stderr_text()
    finally:
        group.close()


def test_time_limit_kills_a_program_that_ignores_sigterm():
    group = ProcessGroup()
    try:
        proc = group.start(["sh", "-c", "trap '' TERM; while :; do :; done"], limit=0.5)
        assert proc.wait_exit(10) is not None and proc.timed_out
    finally:
        group.close()


def test_daemonized_grandchild_is_killed_when_the_test_ends():
    # double fork and setsid: the grandchild leaves the process group; it
    # prints its pid on the stdout it inherited, which the harness reads
    script = ("import os,time\nif os.fork()==0:\n os.setsid()\n if os.fork()==0:\n"
              "  print(os.getpid(), flush=True)\n  time.sleep(60)\n os._exit(0)\nos.wait()\n")
    group = ProcessGroup()
    proc = group.start([sys.executable, "-c", script], limit=20)
    pid = int(proc.wait_output(r"^(\d+)$", 10).group(1))
    assert _alive(pid)
    group.close()
    assert not _alive(pid)


def test_wait_listening_does_not_use_up_accept():
    port = free_port()
    server = ("import socket\ns=socket.socket(); s.bind(('127.0.0.1', %d)); s.listen(1)\n"
              "c,_=s.accept(); c.sendall(b'first'); c.close()\n" % port)
    group = ProcessGroup()
    try:
        proc = group.start([sys.executable, "-c", server], limit=20)
        wait_listening(proc, port, 10)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            assert sock.recv(10) == b"first"  # we are its first and only client
    finally:
        group.close()
    assert reap_orphans() == 0


# -- wait_output: only what is new is searched --------------------------------

# a program that prints 16 MiB of UTF-8 text in 64 KiB writes, then a marker;
# it pauses between writes, as a program computing its output does, so the
# harness sees the writes one by one (seeing several at once costs it less)
_TALKER = ("import os, time\nline = 'café '.encode() * 170 + b'ok\\n'\n"
           "for _ in range(256):\n    os.write(1, line * 64)\n    time.sleep(0.002)\n"
           "os.write(1, b'the marker\\n')\n")


def test_wait_output_searches_only_what_is_new(monkeypatch):
    monkeypatch.setattr(procs, "CAP", 32 << 20)  # keep all 16 MiB: the marker comes after
    group = ProcessGroup()
    try:
        proc = group.start([sys.executable, "-c", _TALKER], limit=60)
        cpu = time.process_time()
        match = proc.wait_output(r"the marker", 60)
        cpu = time.process_time() - cpu
        assert match.start() == 256 * 64 * len("café " * 170 + "ok\n")  # chars, not bytes
    finally:
        group.close()
    # measured on 2 loaded cores: 0.07-0.09 s now, 0.96-2.2 s when every
    # write made it decode and search all the output again
    assert cpu < 0.3, f"{cpu:.3f} s of the harness's CPU to find the marker"


_SPLIT = b"hello\nConnected client 1 \xc3\xa9t\xc3\xa9\nbye\n"


@pytest.mark.parametrize("pattern, flags", [(r"Connected client 1 été", 0),
                                            (r"^Connected client (\d) (\w+)$", re.M),
                                            (r"\bclient\b", 0), (r"\n", 0)])
def test_a_match_is_found_however_the_output_is_split(pattern, flags):
    """After each piece the search finds what one search of all the text so
    far finds (a character cut in two is decoded once, whole)."""
    regex = re.compile(pattern, flags)
    for cut in range(len(_SPLIT) + 1):
        for second in range(cut, len(_SPLIT) + 1, 3):
            search = procs._LineSearch(regex)
            for begin, end in ((0, cut), (cut, second), (second, len(_SPLIT))):
                got = search.feed(_SPLIT[begin:end])
                expected = regex.search(_decoded(_SPLIT[:end]))
                assert _where(got) == _where(expected), (cut, second, end)
                if got:
                    break


def _decoded(data: bytes) -> str:
    return codecs.getincrementaldecoder("utf-8")("replace").decode(data)


def _where(match: re.Match[str] | None) -> tuple | None:
    return None if match is None else (match.span(), match.groups())


def test_a_caret_without_multiline_matches_only_at_the_start():
    search = procs._LineSearch(re.compile(r"^b"))
    assert search.feed(b"a\n") is None and search.feed(b"b\n") is None


def test_wait_output_finds_a_pattern_written_in_two_pieces():
    """The pattern and one of its characters arrive in two writes, the
    harness looking at the first before the second is written."""
    talker = ("import os, sys\nos.write(1, b'hello\\nConnected cli')\nsys.stdin.readline()\n"
              "os.write(1, b'ent 1 \\xc3')\nsys.stdin.readline()\n"
              "os.write(1, b'\\xa9t\\xc3\\xa9\\nbye\\n')\n")
    group = ProcessGroup()
    try:
        proc = group.start([sys.executable, "-c", talker], limit=20)
        found: list[re.Match[str]] = []
        waiter = threading.Thread(target=lambda: found.append(
            proc.wait_output(r"Connected client 1 été\n", 20)))
        waiter.start()
        proc.wait_output(r"Connected cli", 10)
        proc.write_stdin(b"\n")
        proc.wait_output(r"ent 1 ", 10)
        proc.write_stdin(b"\n")
        waiter.join(20)
        assert found and found[0].start() == 6  # in the text from the start of stdout
        assert proc.wait_output(r"client 1 été", 5, start=6).start() == len("Connected ")
        assert proc.wait_exit(10) == 0
        with pytest.raises(ProgramExited):
            proc.wait_output(r"^Connected", 5)  # not at the start of the text
    finally:
        group.close()
