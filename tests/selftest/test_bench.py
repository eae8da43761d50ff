"""`make bench` (docs/bench.md): the load generator finds every wrong echo
and reports it with a non-zero status, and a short bench run writes
results.json and the plots."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness import bench, paths
from harness.chapters import ROOT


@pytest.fixture(scope="module")
def loadgen() -> Path:
    """The loadgen with AddressSanitizer and UBSan (built once, then cached)."""
    return bench.build_loadgen(paths.build_dir() / "bench" / "bin", sanitize=True)


class EchoServer:
    """An echo server in a thread per client, right or wrong as `mode` says:
    "echo" (right), "flip" (stream byte 1000 comes back changed), "drop"
    (every piece comes back without its last byte), "close" (closes after
    echoing 5000 bytes)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.sock.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        seen = 0
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    if self.mode == "flip" and seen <= 1000 < seen + len(data):
                        k = 1000 - seen
                        data = data[:k] + bytes([data[k] ^ 0x20]) + data[k + 1:]
                    elif self.mode == "drop":
                        data = data[:-1]
                    elif self.mode == "close" and seen + len(data) >= 5000:
                        conn.sendall(data[:5000 - seen])
                        return
                    seen += len(data)
                    conn.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def _drive(loadgen: Path, port: int, *args: str) -> tuple[int, dict, str]:
    done = subprocess.run([str(loadgen), *args, "127.0.0.1", str(port)], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    lines = done.stdout.strip().splitlines()
    assert lines, f"the loadgen printed no result line; its stderr:\n{done.stderr}"
    return done.returncode, json.loads(lines[-1]), done.stderr


@pytest.fixture
def server(request):
    made: list[EchoServer] = []

    def start(mode: str) -> EchoServer:
        s = EchoServer(mode)
        made.append(s)
        return s
    yield start
    for s in made:
        s.close()


def test_loadgen_right_echo_no_errors(loadgen, server):
    s = server("echo")
    rc, res, err = _drive(loadgen, s.port, "-n", "20", "-r", "10", "-t", "20")
    assert rc == 0 and res["errors"] == 0, f"status {rc}, {res}\n{err}"
    assert res["established"] == 20 and res["rounds"] == 200, res
    assert res["latency_us"]["p50"] > 0 and res["first_echo_us"]["max"] > 0, res
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def test_loadgen_catches_a_changed_byte(loadgen, server):
    s = server("flip")
    rc, res, err = _drive(loadgen, s.port, "-n", "1", "-r", "20", "-m", "600", "-t", "20")
    assert rc == 1 and res["mismatch"] == 1, f"status {rc}, {res}\n{err}"
    assert "mismatch" in err and "byte" in err, err


def test_loadgen_catches_missing_bytes(loadgen, server):
    # the bytes never come: only the deadline (1 s) can tell
    s = server("drop")
    rc, res, err = _drive(loadgen, s.port, "-n", "2", "-r", "5", "-t", "1")
    assert rc == 1 and res["timeout"] == 2, f"status {rc}, {res}\n{err}"
    assert "bytes back" in err, err


def test_loadgen_catches_a_server_that_closes_early(loadgen, server):
    s = server("close")
    rc, res, err = _drive(loadgen, s.port, "-n", "3", "-r", "80", "-m", "100", "-M", "200",
                          "-t", "20")
    assert rc == 1 and res["closed"] == 3, f"status {rc}, {res}\n{err}"
    assert "closed the connection" in err, err


def test_loadgen_reports_no_server(loadgen):
    with socket.socket() as holder:  # a port nothing listens on, held unlistened
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        rc, res, err = _drive(loadgen, port, "-n", "2", "-r", "1", "-t", "1")
    assert rc == 1 and res["connect"] == 2 and res["established"] == 0, f"{rc} {res}\n{err}"


def test_loadgen_usage(loadgen):
    done = subprocess.run([str(loadgen), "127.0.0.1"], capture_output=True, text=True,
                          timeout=10)
    assert done.returncode == 2 and done.stderr.startswith("Usage: loadgen"), done.stderr


def test_missing_server_is_skipped_with_a_reason(tmp_path):
    rows = bench.prepare([s for s in bench.SERVERS if s.name == "echo_epollserv"],
                         [tmp_path], tmp_path / "bin")
    assert len(rows) == 1 and rows[0].problem.startswith("no reference 17_epoll/"), rows


def test_quick_bench_writes_results_and_plots(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "bench.py"), "--quick", "--n", "1 2",
         "--servers", "echo_server,socat", "--out", str(out)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    said = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, said
    data = json.loads((out / "results.json").read_text())
    got = {(r["label"], r["n"]): r for r in data["runs"]}
    assert set(got) == {("echo_server", 1), ("echo_server", 2), ("socat", 1), ("socat", 2)}, said
    for key, r in got.items():
        assert r["status"] == "ok" and r["result"]["errors"] == 0, (key, r)
        assert r["result"]["rounds"] == key[1] * data["plan"]["rounds_per_conn"][str(key[1])]
    for name in ("throughput.png", "latency_p99.png", "first_echo_p99.png"):
        png = (out / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000, name
    assert "N=1" in done.stdout and "echo_server" in done.stdout, said


def test_bench_runs_your_server_beside_the_reference(tmp_path):
    # a student's echo_server that changes the first byte of every piece
    mine = tmp_path / "chapters" / "04_iterative_echo"
    mine.mkdir(parents=True)
    ref = (ROOT / "solutions" / "04_iterative_echo" / "echo_server.c").read_text()
    call = "if (write_all(conn_fd, buf, (size_t)n) == -1) {"
    assert call in ref
    (mine / "echo_server.c").write_text(ref.replace(call, "buf[0] ^= 1;\n        " + call))
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "bench.py"), "--quick", "--n", "1 2",
         "--chapter", "04_iterative_echo", "--src", str(tmp_path / "chapters"),
         "--out", str(out), "--no-plots"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    said = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 1, said   # a wrong echo was found
    runs = {(r["label"], r["n"]): r for r in
            json.loads((out / "results.json").read_text())["runs"]}
    assert runs[("echo_server", 1)]["status"] == "ok", said
    yours = runs[("echo_server (yours)", 1)]
    assert yours["status"] == "errors" and yours["result"]["mismatch"] == 1, yours
    assert runs[("echo_server (yours)", 2)]["status"] == "skipped", said
    assert "echo_server (yours)" in done.stdout and "mismatch" in done.stdout, said
