"""make run, make try, make trace (tests/harness/live.py, capture.py).

Each test runs `tools.py` as `make` does, against the references (--src
solutions, or a copy where one half is still the starter), talks to what it
started over a socket or its stdin, and checks that nothing it started is
left afterwards. Every test builds into one folder per worker, so the
programs compile once.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import stat
import sys
from pathlib import Path

import pytest

from harness import capture, live
from harness.chapters import ROOT
from harness.pcapcheck import TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN, Frame
from harness.ports import listening_ports
from harness.procs import Proc, ProcessGroup

TOOLS = ROOT / "tests" / "tools.py"
SOLUTIONS = ROOT / "solutions"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live-build")


def tools(procs: ProcessGroup, build: Path, *args: str, stdin: bytes | None = None) -> Proc:
    """tools.py as make runs it. Proc starts it in a session of its own, as
    a terminal's job is; stdin_data closes its stdin after the bytes."""
    env = dict(os.environ, WORKBOOK_BUILD=str(build), PYTHONDONTWRITEBYTECODE="1")
    return procs.start([sys.executable, str(TOOLS), *args], env=env, cwd=ROOT, limit=60,
                       stdin_data=stdin, label="tools.py")


def left_behind(build: Path) -> list[str]:
    """Running processes started from the build folder (programs, dumpcap)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(build) in cmdline and "tools.py" not in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def finished(proc: Proc, build: Path, timeout: float = 20) -> tuple[int | None, str]:
    rc = proc.wait_exit(timeout)
    out = proc.stdout_text() + proc.stderr_text()
    assert rc is not None, f"tools.py still running:\n{out}"
    assert not left_behind(build), f"left behind: {left_behind(build)}\n{out}"
    return rc, out


def _port(proc: Proc, pattern: str) -> int:
    return int(proc.wait_output(pattern, 20).group(1))


# -- make trace ------------------------------------------------------------------

def test_trace_hello_shows_the_whole_conversation(procs, build):
    proc = tools(procs, build, "trace", "--chapter", "01_hello", "--src", str(SOLUTIONS))
    rc, out = finished(proc, build, 40)
    try:
        _, dumpcap = capture.find_tools()
        problem = capture.permission_problem(dumpcap, "make trace")
    except capture.CaptureUnavailable as exc:
        problem = str(exc)
    if problem:   # this machine cannot capture: the message must say how to
        assert rc == 1 and ("dpkg-reconfigure" in out or "make deps" in out), out
        return
    assert rc == 0, out

    def row(direction: str, flags: str, seq: str = r"\d+", ack: str = r"(\d+|-)",
            length: str = "0", data: str = "") -> bool:
        pattern = (rf"^ *[\d.]+ +{direction} +{re.escape(flags)} +{seq} +{ack} +{length}"
                   rf" *{re.escape(data)}$")
        return re.search(pattern, out, re.M) is not None
    assert row("client -> server", "SYN", "0", "-"), out
    assert row("server -> client", "SYN+ACK", "0", "1"), out
    assert row("client -> server", "ACK", "1", "1"), out
    assert row("server -> client", "PSH+ACK", "1", "1", "12", '"Hello World!"'), out
    assert row("server -> client", "FIN+ACK", "13", "1"), out
    assert row("client -> server", "FIN+ACK", "1", "14"), out
    assert "handshake: complete" in out and "server -> client 12 bytes" in out, out
    assert "server closed first" in out and "none (no RST)" in out, out
    assert "Message from server: Hello World!" in out, out


def test_trace_half_close_shows_the_servers_fin_before_the_reply(procs, build):
    # chapter 07: the server shuts down its sending half after the file;
    # the client's 9-byte reply comes after that FIN, then the client's FIN
    proc = tools(procs, build, "trace", "--chapter", "07_half_close", "--src", str(SOLUTIONS))
    rc, out = finished(proc, build, 40)
    try:
        _, dumpcap = capture.find_tools()
        problem = capture.permission_problem(dumpcap, "make trace")
    except capture.CaptureUnavailable as exc:
        problem = str(exc)
    if problem:
        assert rc == 1 and ("dpkg-reconfigure" in out or "make deps" in out), out
        return
    assert rc == 0, out
    rows = [ln.split() for ln in out.splitlines()]

    def first(side: str, flag: str) -> int:
        arrow = ["server", "->", "client"] if side == "server" else ["client", "->", "server"]
        return next(i for i, r in enumerate(rows)
                    if r[1:4] == arrow and len(r) > 4 and flag in r[4].split("+"))
    fin, reply = first("server", "FIN"), first("client", "PSH")
    assert fin < reply < first("client", "FIN"), out
    assert rows[reply][7] == "9" and out.splitlines()[reply].endswith('"Thank you"'), out
    assert any(r[1:5] == ["client", "->", "server", "FIN+ACK"] for r in rows[reply:]), out
    assert "server closed first" in out and "none (no RST)" in out, out
    assert "Message from client: Thank you" in out and "Received file data" in out, out


def test_trace_udp_shows_each_datagram_and_its_echo(procs, build):
    # chapter 06: no handshake, no FIN; each line one datagram, echoed whole
    proc = tools(procs, build, "trace", "--chapter", "06_udp", "--src", str(SOLUTIONS))
    rc, out = finished(proc, build, 40)
    try:
        _, dumpcap = capture.find_tools()
        problem = capture.permission_problem(dumpcap, "make trace")
    except capture.CaptureUnavailable as exc:
        problem = str(exc)
    if problem:
        assert rc == 1, out
        return
    assert rc == 0 and "capturing on lo: udp port" in out, out
    rows = [ln.split() for ln in out.splitlines() if "->" in ln and '"' in ln]
    sent = [r for r in rows if r[2] == "->" and r[3] == "server"]
    back = [r for r in rows if r[1] == "server" and r[2] == "->"]
    assert [r[-1] for r in sent] == ['"hello"', 'you?"'] and len(back) == 2, out
    assert "datagrams: 2 to the server, 2 back from it" in out, out
    assert "SYN" not in out and "FIN" not in out, out


def test_try_half_close_gives_the_programs_their_files(procs, build):
    proc = tools(procs, build, "try", "--chapter", "07_half_close", "--src", str(SOLUTIONS))
    rc, out = finished(proc, build)
    assert rc == 0, out
    assert "[server file_server] Message from client: Thank you" in out, out
    assert "Received file data" in out, out
    received = build / "live" / "07_half_close" / "received.txt"
    assert received.read_bytes() == live.SERVED_TEXT, out


def test_trace_without_tshark_says_how_to_install_it(procs, build):
    proc = tools(procs, build, "trace", "--chapter", "01_hello", "--tshark",
                 "/nonexistent/tshark")
    rc, out = finished(proc, build)
    assert rc == 1 and "tshark" in out and "make deps" in out and "apt-get install tshark" in out


def test_trace_when_dumpcap_may_not_capture_says_how_to_enable_it(procs, build, tmp_path):
    fake = tmp_path / "dumpcap"
    fake.write_text("#!/bin/sh\necho \"Capturing on 'Loopback: lo'\" >&2\n"
                    "echo \"dumpcap: You don't have permission to capture on that device\" >&2\n"
                    "exit 2\n")
    fake.chmod(0o755)
    proc = tools(procs, build, "trace", "--chapter", "01_hello", "--src", str(SOLUTIONS),
                 "--tshark", "/bin/true", "--dumpcap", str(fake))
    rc, out = finished(proc, build)
    assert rc == 1, out
    assert "dpkg-reconfigure wireshark-common" in out and "usermod -aG wireshark" in out, out
    if os.geteuid() == 0:  # root passes the permission check: dumpcap's own words show
        assert "don't have permission" in out, out


def test_permission_problem_names_the_fixes(tmp_path):
    plain = tmp_path / "dumpcap"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o755)
    text = capture.permission_problem(str(plain), "make trace CHAPTER=01_hello", euid=65534)
    assert text and "sudo make trace CHAPTER=01_hello" in text
    assert "dpkg-reconfigure wireshark-common" in text and "usermod -aG wireshark" in text
    assert capture.permission_problem(str(plain), "make trace", euid=0) is None
    plain.chmod(0o755 | stat.S_ISUID)   # setuid root (we may not be root: then no S_ISUID)
    if os.geteuid() == 0 and plain.stat().st_mode & stat.S_ISUID:
        assert capture.permission_problem(str(plain), "make trace", euid=65534) is None


def _frame(n: int, t: float, src: int, dst: int, flags: int, seq: int, ack: int,
           payload: bytes = b"") -> Frame:
    return Frame(n, "127.0.0.1", "127.0.0.1", src, dst, flags, seq, ack, payload,
                 None, None, time=t)


def test_timeline_relative_numbers_wrap_and_a_reset():
    c, s = 0xFFFFFFFE, 1000          # the client's numbers wrap past 2^32
    frames = [
        _frame(1, 10.0, 40000, 9000, TCP_SYN, c, 0),
        _frame(2, 10.001, 9000, 40000, TCP_SYN | TCP_ACK, s, c + 1),
        _frame(3, 10.002, 40000, 9000, TCP_ACK, c + 1, s + 1),
        _frame(4, 10.003, 40000, 9000, TCP_PSH | TCP_ACK, c + 1, s + 1, b"hi\n\x00"),
        _frame(5, 10.004, 9000, 40000, TCP_RST | TCP_ACK, s + 1, (c + 5) % 2**32),
    ]
    conv = capture.timeline(frames, 9000)
    data = conv.lines[4].split()
    assert data[:7] == ["3.000", "client", "->", "server", "PSH+ACK", "1", "1"], conv.lines
    assert data[7] == "4" and data[8] == '"hi\\n\\x00"', conv.lines
    assert conv.lines[5].split()[4:7] == ["RST+ACK", "1", "5"], conv.lines
    assert conv.handshake and conv.first_fin is None and conv.bytes_c2s == 4
    text = "\n".join(conv.summary)
    assert "RST from the server" in text and "nobody sent FIN" in text


def test_timeline_says_when_the_connection_was_refused():
    conv = capture.timeline([_frame(1, 1.0, 40000, 9000, TCP_SYN, 5, 0),
                             _frame(2, 1.001, 9000, 40000, TCP_RST | TCP_ACK, 0, 6)], 9000)
    assert not conv.handshake and "refused" in conv.summary[0]


# -- make run ---------------------------------------------------------------------

def test_run_server_then_talk_to_it_over_a_socket(procs, build):
    proc = tools(procs, build, "run", "--ex", "01_hello/hello_server", "--src", str(SOLUTIONS))
    port = _port(proc, r"is listening on port (\d+)")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        got = b""
        while chunk := sock.recv(100):
            got += chunk
    assert got == b"Hello World!"
    rc, out = finished(proc, build)
    assert rc == 0 and "hello_server exited with status 0" in out, out


def test_run_ctrl_c_stops_everything(procs, build):
    proc = tools(procs, build, "run", "--ex", "04_iterative_echo/echo_server",
                 "--src", str(SOLUTIONS))
    port = _port(proc, r"is listening on port (\d+)")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        os.killpg(proc.pid, signal.SIGINT)   # what Ctrl-C in its terminal does
        rc, out = finished(proc, build)
    # the Ctrl-C that `make run` asks for is its normal end: status 0, so
    # make prints no `Error 130` after it
    assert rc == 0 and "stopped (Ctrl-C)" in out, out
    assert port not in listening_ports()


def test_run_client_gets_the_reference_server(procs, build):
    proc = tools(procs, build, "run", "--ex", "04_iterative_echo/echo_client",
                 "--src", str(SOLUTIONS), stdin=b"hi there\nQ\n")
    rc, out = finished(proc, build)
    assert rc == 0, out
    assert "reference echo_server (from solutions/) is listening" in out, out
    assert "Message from server: hi there" in out, out


def test_run_client_without_references_uses_your_server(procs, build):
    # a student's handout has no solutions/: the student's own server stands in
    proc = tools(procs, build, "run", "--ex", "01_hello/hello_client", "--src", str(SOLUTIONS),
                 "--solutions", str(build / "no-solutions-here"))
    rc, out = finished(proc, build)
    assert rc == 0, out
    assert "Your hello_server (this copy has no reference solutions) is listening" in out, out
    assert "Message from server: Hello World!" in out, out


# -- make try -----------------------------------------------------------------------

def test_try_uses_the_reference_for_what_is_not_written(procs, build, tmp_path):
    src = tmp_path / "chapters"
    (src / "01_hello").mkdir(parents=True)
    starter = live.starter_bytes("01_hello", "hello_server.c")
    (src / "01_hello" / "hello_server.c").write_bytes(
        starter if starter is not None else b"int main(void) { return 0 }\n")
    (src / "01_hello" / "hello_client.c").write_bytes(
        (SOLUTIONS / "01_hello" / "hello_client.c").read_bytes())
    proc = tools(procs, build, "try", "--chapter", "01_hello", "--src", str(src))
    rc, out = finished(proc, build)
    assert rc == 0, out
    why = "is still the starter" if starter is not None else "does not compile"
    assert f"server: hello_server, the reference (from solutions/): your hello_server.c {why}" \
        in out, out
    assert "client: hello_client, yours" in out, out
    assert "Message from server: Hello World!" in out, out


def test_try_echo_takes_lines_on_stdin(procs, build):
    proc = tools(procs, build, "try", "--chapter", "04_iterative_echo", "--src",
                 str(SOLUTIONS), stdin=b"hello\nQ\n")
    rc, out = finished(proc, build)
    assert rc == 0 and "Message from server: hello" in out, out
    assert "[server echo_server] Connected client 1" in out, out
    assert "stopping the server" in out, out


@pytest.mark.parametrize("command", [live.cmd_try, live.cmd_trace])
def test_chapter_00_has_no_server(command, capsys):
    args = argparse.Namespace(chapter="00_layered_model", src=None, solutions=None,
                              limit=1.0, tshark="tshark", dumpcap=None)
    assert command(args) == 2   # said before anything is built or started
    out = capsys.readouterr().out
    assert "00_layered_model has no server" in out and "make trace CHAPTER=01_hello" in out
