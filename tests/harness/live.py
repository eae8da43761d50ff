"""make run, make try, make trace: watch the programs work, by hand and on the wire.

    tools.py run   --ex CH/PROGRAM   build one program, run it in the foreground
                                     on a free port (a client gets the reference
                                     server to talk to first)
    tools.py try   --chapter CH      the chapter's server in the background, its
                                     client in the foreground, to type into
    tools.py trace --chapter CH      the chapter's scenario while dumpcap captures
                                     its port, then the packets as a timeline

The student's programs come from chapters/ (or --src). For `try` and
`trace`, a program that is not written yet (its file is missing, is still
the starter of the last commit, or does not compile) is replaced by the
reference from solutions/, and the output says whose each side is. A
student's handout has no solutions/: then the student's programs run as
they are (a client's server in `run` too), as long as they compile. The
program in the foreground shares the terminal (its stdin and stdout, and
Ctrl-C, which reaches it and this script alike); everything else runs in
sessions of its own, with its output shown with a [name] prefix. Every
process has a time limit, and at the end, Ctrl-C included, everything
started is stopped: the script is a child subreaper, so even a program
that daemonized is found.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import build as buildmod
from . import capture as capmod
from . import paths, starters
from .wine import Wine
from .chapters import CHAPTERS, ROOT, Exercise, exercises, find
from .pcapcheck import PcapReadError, read_datagrams, read_frames
from .ports import POLL, free_port, listening_ports, wait_listening
from .procs import (Proc, ProcessGroup, ProgramExited, WaitTimeout, become_subreaper,
                    reap_orphans)

ECHO_LINES = b"hello\nhow are you?\nQ\n"
SERVED_TEXT = (b"A small file for make try and make trace.\n"
               b"The server sends it, then shuts down its sending half.\n")


@dataclass(frozen=True)
class Scenario:
    """What make try and make trace run for a chapter (make run too, for
    one of its two programs)."""
    server: str                       # the exercise names
    client: str
    lines: bytes | None = None        # the client's stdin in `make trace` (and the hint in try)
    server_args: tuple[str, ...] = () # the server's arguments after the port
    client_args: tuple[str, ...] = () # the client's after the IP address and port
    # files made first in the chapter's own folder under the programs'
    # folder (build/live/<chapter>/, emptied each time); "{dir}" in an
    # argument is that folder, as the programs (which run in build/live/) see it
    files: tuple[tuple[str, bytes], ...] = ()
    transport: str = "tcp"            # "tcp" | "udp": the capture filter, how to wait for the server
    # the server's chapter when it is another's (02's clients talk to 01's
    # hello server, the textbook's tcp_server)
    server_chapter: str = ""
    # the client's chapter when it is another's (12, 17 and 18's servers talk
    # to chapter 04's echo client)
    client_chapter: str = ""
    # make trace: send the client's last line of `lines` only once its
    # stdout matches this (a chat client that quits at once would leave the
    # relay of its own line unread, and its close would be a reset)
    await_before_last: str = ""

    def args(self, which: tuple[str, ...], folder: str) -> list[str]:
        return [a.replace("{dir}", folder) for a in which]


SCENARIOS: dict[str, Scenario] = {
    "01_hello": Scenario("hello_server", "hello_client"),
    "02_socket_types": Scenario("hello_server", "tcp_client", server_chapter="01_hello"),
    "04_iterative_echo": Scenario("echo_server", "echo_client", ECHO_LINES),
    "04_windows_echo": Scenario("echo_server_win", "echo_client_win", ECHO_LINES),
    "07_half_close": Scenario("file_server", "file_client",
                              server_args=("{dir}/served.txt",),
                              client_args=("{dir}/received.txt",),
                              files=(("served.txt", SERVED_TEXT),)),
    "05_app_protocol": Scenario("op_server", "op_client", b"3\n10\n-4\n7\n*\n"),
    "06_udp": Scenario("uecho_server", "uecho_client", b"hello\nhow are you?\nq\n",
                       transport="udp"),
    "10_multiprocess": Scenario("echo_mpserv", "echo_mpclient", ECHO_LINES),
    "12_select": Scenario("echo_selectserv", "echo_client", ECHO_LINES,
                          client_chapter="04_iterative_echo"),
    "17_epoll": Scenario("echo_epollserv", "echo_client", ECHO_LINES,
                         client_chapter="04_iterative_echo"),
    "18_threads": Scenario("chat_server", "chat_client", b"hello, everyone\nq\n",
                           client_args=("alice",),
                           await_before_last=r"\[alice\] hello, everyone"),
}
# keep the table in chapter order
SCENARIOS = {ch: SCENARIOS[ch] for ch in CHAPTERS if ch in SCENARIOS}
LIMIT = 1800.0        # seconds make run / make try may run at most


class LiveError(Exception):
    """Something the student must be told, after which the command ends (status 1)."""


def shown(path: Path | str) -> str:
    """A path as the student would type it: relative to here when inside."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


@dataclass(frozen=True)
class Where:
    src: Path                # the folder holding the chapter folders whose programs are "yours"
    build: Path              # WORKBOOK_BUILD, or build/
    solutions: Path | None   # the references; a student's handout has none

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Where":
        build = paths.build_dir()
        solutions = Path(args.solutions).resolve() if args.solutions else ROOT / "solutions"
        return cls(Path(args.src).resolve() if args.src else ROOT / "chapters", build,
                   solutions if solutions.is_dir() else None)


# -- whose program ------------------------------------------------------------

def starter_bytes(chapter: str, name: str) -> bytes | None:
    """The committed starter, None if unknown."""
    try:
        return starters.committed_file(f"chapters/{chapter}/{name}")
    except starters.StarterError:
        return None


def not_written(ex: Exercise, src: Path) -> str | None:
    """Why the student's program is not written yet, or None if it is (as far
    as can be told before compiling it): the file is missing, or it is the
    starter of the last commit. (A file equal to the last commit but without
    the starter's TODO markers is a student's committed work, not a starter.)"""
    f = src / ex.chapter / ex.main_file
    if not f.is_file():
        return f"your {ex.main_file} is missing"
    starter = starter_bytes(ex.chapter, ex.main_file)
    if starter is not None and f.read_bytes() == starter and b"TODO(" in starter:
        return f"your {ex.main_file} is still the starter"
    return None


@dataclass(frozen=True)
class Side:
    """One program as it will run: the student's or the reference."""
    ex: Exercise
    binary: str
    yours: bool
    note: str       # for the student: whose it is, and why

    def argv(self, *args: str) -> list[str]:
        return (["wine", self.binary] if self.ex.kind == "windows" else [self.binary]) + list(args)

    def shown_argv(self, *args: str) -> str:
        wine = ["wine"] if self.ex.kind == "windows" else []
        return shlex.join([*wine, shown(self.binary), *args])


def _build(ex: Exercise, src: Path, out: Path) -> buildmod.BuildResult:
    return buildmod.build([ex], src, out)[ex.key]


def reference(ex: Exercise, where: Where, why: str) -> Side:
    assert where.solutions is not None
    b = _build(ex, where.solutions, where.build / "reference")
    if not b.ok:
        raise LiveError(f"The reference {ex.key} does not build:\n{b.log.strip()[:2000]}")
    return Side(ex, b.binary, False, f"the reference (from solutions/): {why}")


def pick(ex: Exercise, where: Where) -> Side:
    """The student's program if it is written and compiles, else the
    reference; without references (a student's copy), the student's as it
    is, as long as it compiles."""
    path = shown(where.src / ex.chapter / ex.main_file)
    why = not_written(ex, where.src)
    if (where.src / ex.chapter / ex.main_file).is_file():
        b = _build(ex, where.src, where.build / "student")
        if b.ok and why is None:
            return Side(ex, b.binary, True, f"yours ({path})")
        if not b.ok:
            why = (f"your {ex.main_file} does not compile (make check "
                   f"CHAPTER={ex.chapter} shows the errors)")
        elif where.solutions is None:
            return Side(ex, b.binary, True,
                        f"yours ({path}), still the starter: this copy has no reference "
                        f"solutions to stand in for it")
    if where.solutions is None:
        raise LiveError(f"{ex.key}: {why}, and this copy of the workbook has no reference "
                        f"solutions (solutions/) to stand in for it.")
    return reference(ex, where, why)


def yours(ex: Exercise, where: Where) -> Side:
    """The student's program as it is (make run): it must compile."""
    b = _build(ex, where.src, where.build / "student")
    path = shown(where.src / ex.chapter / ex.main_file)
    if b.missing:
        raise LiveError(f"{path} is missing, so there is nothing to run "
                        f"(make reset EX={ex.key} brings back the starter).")
    if not b.ok:
        log = "\n".join(b.log.strip().splitlines()[:30])
        raise LiveError(f"{path} does not compile, so there is nothing to run:\n"
                        f"  $ {b.cmd}\n{log}")
    if b.warnings:
        print("warnings (make check shows them too):")
        print("\n".join("  " + ln for ln in b.log.strip().splitlines()[:12]))
    note = f"yours ({path})"
    if not_written(ex, where.src):
        note += ": still the starter, which compiles but does not do the work yet"
    return Side(ex, b.binary, True, note)


# -- everything a command starts ----------------------------------------------------

class Session:
    """The programs one command starts (background ones as Procs, at most one
    in the foreground), Wine when a Windows program runs; `close` ends them all."""

    def __init__(self, where: Where, limit: float, windows: bool = False) -> None:
        self.where = where
        self.limit = limit
        self.windows = windows
        self.cwd = where.build / "live"   # programs run here, out of the source tree
        self.procs = ProcessGroup(cwd=self.cwd)
        self.env: dict[str, str] | None = None
        self.wine = None
        self.fg: subprocess.Popen | None = None
        self.threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.transport = "tcp"      # what announce_listening looks for

    def __enter__(self) -> "Session":
        become_subreaper()
        self.cwd.mkdir(parents=True, exist_ok=True)
        if self.windows:
            if shutil.which("wine") is None:
                raise LiveError("Windows programs run under Wine, which is not installed: "
                                "sudo make deps (or sudo apt-get install wine wine64).")
            self.wine = Wine(needed=True)  # the master prefix, made on first use
            self.env = self.wine.env
            try:
                self.wine.__enter__()
            except BaseException:   # Ctrl-C while Wine starts: stop what has started
                self.close()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # background programs, their output shown as it comes
    def background(self, side: Side, *args: str, label: str | None = None,
                   stdin_data: bytes | None = None, show: bool = True) -> Proc:
        proc = self.procs.start(side.argv(*args), env=self.env, limit=self.limit + 30,
                                label=label or side.ex.binary, stdin_data=stdin_data)
        if show:
            for stream in ("stdout", "stderr"):
                t = threading.Thread(target=_forward, args=(proc, stream, f"[{proc.label}] "),
                                     daemon=True)
                t.start()
                self.threads.append(t)
        return proc

    def files_for(self, chapter: str, scenario: Scenario | None) -> str:
        """Make the scenario's files in build/live/<chapter>/ (emptied
        first); returns that folder as the programs see it (relative to
        where they run)."""
        folder = self.cwd / chapter
        if scenario is None:
            return chapter
        shutil.rmtree(folder, ignore_errors=True)
        if scenario.files or "{dir}" in " ".join(scenario.server_args + scenario.client_args):
            folder.mkdir(parents=True, exist_ok=True)
        for name, data in scenario.files:
            (folder / name).write_bytes(data)
        return chapter

    def wait_listening(self, proc: Proc, port: int, side: Side,
                       transport: str = "tcp") -> None:
        try:
            wait = 20.0 if side.ex.kind == "windows" else 5.0
            if transport == "udp":
                wait_udp_bound(proc, port, wait)
            else:
                wait_listening(proc, port, wait)
        except (ProgramExited, WaitTimeout) as exc:
            proc.wait_exit(1)
            whose = "your" if side.yours else "the reference"
            raise LiveError(f"{whose} {side.ex.name} did not "
                            f"{'bind' if transport == 'udp' else 'listen on'} port {port}: {exc}. "
                            f"make check CHAPTER={side.ex.chapter} says why.") from None

    # the one program in the foreground: the terminal is its own
    def foreground(self, side: Side, *args: str) -> int:
        print(f"$ {side.shown_argv(*args)}", flush=True)
        self.fg = subprocess.Popen(side.argv(*args), env=self.env, cwd=self.cwd)
        timer = threading.Timer(self.limit, self._expire)
        timer.daemon = True
        timer.start()
        try:
            return self.fg.wait()
        finally:
            timer.cancel()

    def _expire(self) -> None:
        if self.fg is not None and self.fg.poll() is None:
            print(f"\n(stopping it: make run and make try end after {self.limit / 60:g} "
                  f"minutes)", flush=True)
            self.fg.kill()

    def announce_listening(self, port: int, timeout: float,
                           then: Callable[[], None], otherwise: Callable[[], None]) -> None:
        """Call `then` once something listens on `port`, or `otherwise` if
        nothing does within `timeout` while the foreground program runs."""
        def watch() -> None:
            deadline = time.monotonic() + timeout
            while not self._stop.is_set():
                if self.fg is not None and self.fg.poll() is not None:
                    return
                if port in (_udp_ports() if self.transport == "udp" else listening_ports()):
                    then()
                    return
                if time.monotonic() > deadline:
                    otherwise()
                    return
                self._stop.wait(POLL)  # polling /proc: there is no event to wait on
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        self.threads.append(t)

    def close(self) -> None:
        """Stop everything, uninterrupted by a second Ctrl-C."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._stop.set()
            if self.fg is not None and self.fg.poll() is None:
                try:
                    self.fg.wait(1.0)  # it had the Ctrl-C too: let it finish in peace
                except subprocess.TimeoutExpired:
                    self.fg.kill()
                    self.fg.wait()
            for proc in self.procs.procs:
                proc.finish()
            if self.wine is not None:
                self.wine.__exit__(None, None, None)
            self.procs.close()
            for t in self.threads:
                t.join(1.0)
            reap_orphans()
        finally:
            signal.signal(signal.SIGINT, previous)


def _say(line: bytes) -> None:
    """One line to stdout in one write(), so that it is not split by what
    the foreground program writes to the same terminal meanwhile."""
    sys.stdout.flush()
    try:
        os.write(sys.stdout.fileno(), line + b"\n")
    except OSError:
        pass


def _forward(proc: Proc, stream: str, prefix: str) -> None:
    """Print each line of a background program's output as it comes."""
    offset = 0
    while True:
        try:
            proc.wait_output(r"\n", 3600, stream=stream, start=offset)
        except WaitTimeout:
            continue
        except ProgramExited:
            data = proc.stdout if stream == "stdout" else proc.stderr
            if data[offset:].strip():
                _say(prefix.encode() + data[offset:])
            return
        data = proc.stdout if stream == "stdout" else proc.stderr
        end = data.index(b"\n", offset) + 1
        _say(prefix.encode() + data[offset:end - 1])
        offset = end


def _status(rc: int) -> str:
    if rc < 0:
        try:
            return f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"was killed by signal {-rc}"
    return f"exited with status {rc}"


def _talk_hints(port: int) -> list[str]:
    hints = [f"nc 127.0.0.1 {port}" if shutil.which("nc") else "",
             f"socat - TCP:127.0.0.1:{port}" if shutil.which("socat") else ""]
    return [h for h in hints if h] or ["(install nc or socat to talk to it; make try "
                                       "connects the chapter's client)"]


def _udp_ports() -> set[int]:
    """The local ports of every UDP socket (/proc/net/udp and udp6)."""
    ports: set[int] = set()
    for name in ("udp", "udp6"):
        try:
            rows = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local = row.split()[1]
            ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def wait_udp_bound(proc: Proc, port: int, timeout: float) -> None:
    """Wait until a UDP socket is bound to `port` (a UDP server never
    listens: bind() is all it does before recvfrom())."""
    deadline = time.monotonic() + timeout
    while port not in _udp_ports():
        if not proc.running():
            raise ProgramExited(f"{proc.label} ended before it bound port {port}")
        if time.monotonic() > deadline:
            raise WaitTimeout(f"nothing was bound to UDP port {port} within {timeout:g} s")
        time.sleep(POLL)  # polling /proc: there is no event to wait on


# -- the commands ---------------------------------------------------------------

def _network_programs() -> list[Exercise]:
    return [e for e in exercises() if e.kind in ("posix", "windows")
            and (e.listens or e.partner)]


def cmd_run(args: argparse.Namespace) -> int:
    names = ", ".join(e.key for e in _network_programs())
    if not args.ex:
        print(f"Which program? make run EX=CHAPTER/PROGRAM, one of: {names}")
        return 2
    chapter, _, name = args.ex.strip("/").partition("/")
    name = name.removesuffix(".c")
    try:
        ex = find(chapter, name)
    except KeyError:
        print(f"No program {args.ex!r}. Programs: {names}")
        return 2
    if ex not in _network_programs():
        print(f"{ex.key} is not a server or a client, so there is nothing to connect to. "
              f"make check CHAPTER={ex.chapter} runs it; to see the packets of real "
              f"programs: make trace CHAPTER=01_hello. Programs: {names}")
        return 2
    where = Where.from_args(args)
    scenario = SCENARIOS.get(ex.chapter)
    if scenario is not None and ex.name not in (scenario.server, scenario.client):
        scenario = None   # another program of the chapter: no arguments of the scenario's
    transport = scenario.transport if scenario else "tcp"
    with Session(where, args.limit, windows=ex.kind == "windows") as s:
        side = yours(ex, where)
        port = free_port()
        folder = s.files_for(ex.chapter, scenario)
        server_args = scenario.args(scenario.server_args, folder) if scenario else []
        client_args = scenario.args(scenario.client_args, folder) if scenario else []
        print(f"make run: {ex.key}, {side.note}")
        if ex.partner:
            server_ex = next(e for e in exercises(ex.chapter) if e.role == ex.partner)
            if where.solutions is not None:
                server = reference(server_ex, where, "the partner of your client")
                whose = f"The reference {server_ex.name} (from solutions/)"
            else:   # a student's copy: their own server, if it is there
                server = pick(server_ex, where)
                whose = f"Your {server_ex.name} (this copy has no reference solutions)"
            label = f"{'your' if server.yours else 'reference'} {server_ex.name}"
            proc = s.background(server, str(port), *server_args, label=label)
            s.wait_listening(proc, port, server, transport)
            print(f"{whose} is listening on port {port}; your {ex.name} connects to it. "
                  "Ctrl-C stops both.", flush=True)
            rc = s.foreground(side, "127.0.0.1", str(port), *client_args)
        else:
            wait = 20.0 if ex.kind == "windows" else 5.0

            def ready() -> None:
                _say((f"[make run] {ex.name} is listening on port {port}. Talk to it "
                      "from another terminal:\n"
                      + "\n".join(f"    {h}" for h in _talk_hints(port))).encode())

            def not_ready() -> None:
                _say(f"[make run] after {wait:g} s nothing listens on port {port} yet: has "
                     f"{ex.name} called bind() and listen() with the port from "
                     f"argv[1]?".encode())
            print("Ctrl-C stops it.", flush=True)
            s.transport = transport
            s.announce_listening(port, wait, ready, not_ready)
            rc = s.foreground(side, str(port), *server_args)
        print(f"[make run] {ex.name} {_status(rc)}", flush=True)
    return 0 if rc in (0, -signal.SIGINT) else 1   # SIGINT: the Ctrl-C that ends it


def _scenario(chapter: str | None, command: str) -> Scenario | None:
    if not chapter:
        print(f"Which chapter? make {command} CHAPTER=..., one of: {', '.join(SCENARIOS)}")
        return None
    if chapter not in CHAPTERS:
        print(f"No chapter {chapter!r}. Chapters: {', '.join(CHAPTERS)}")
        return None
    if chapter not in SCENARIOS:
        what = ("its conversation is the one you build byte by byte into a pcap file "
                f"(make check CHAPTER={chapter} reads it with tshark)"
                if chapter == "00_layered_model" else
                f"its programs talk to nobody (make check CHAPTER={chapter} runs them)")
        print(f"Chapter {chapter} has no server and client that talk: {what}. "
              f"make {command} works for: {', '.join(SCENARIOS)}; "
              f"to see real programs' packets: make trace CHAPTER=01_hello")
        return None
    return SCENARIOS[chapter]


def cmd_try(args: argparse.Namespace) -> int:
    scenario = _scenario(args.chapter, "try")
    if scenario is None:
        return 2
    lines = scenario.lines
    where = Where.from_args(args)
    server_ex = find(scenario.server_chapter or args.chapter, scenario.server)
    client_ex = find(scenario.client_chapter or args.chapter, scenario.client)
    with Session(where, args.limit, windows=server_ex.kind == "windows") as s:
        server, client = pick(server_ex, where), pick(client_ex, where)
        print(f"make try: chapter {args.chapter}\n"
              f"  server: {server_ex.name}, {server.note}\n"
              f"  client: {client_ex.name}, {client.note}")
        port = free_port()
        folder = s.files_for(args.chapter, scenario)
        server_args = scenario.args(scenario.server_args, folder)
        client_args = scenario.args(scenario.client_args, folder)
        if scenario.files or "{dir}" in " ".join(scenario.client_args):
            print(f"[make try] the programs run in {shown(s.cwd)}; their files are in "
                  f"{shown(s.cwd / folder)}", flush=True)
        print(f"[make try] starting the server: {server.shown_argv(str(port), *server_args)}",
              flush=True)
        proc = s.background(server, str(port), *server_args, label=f"server {server_ex.name}")
        s.wait_listening(proc, port, server, scenario.transport)
        what = ("type a line and press Enter to send it; Q (or Ctrl-D) ends the client"
                if lines else "it prints what the server sends, then ends")
        print(f"[make try] the server listens on port {port}; now the client ({what}; "
              f"Ctrl-C stops both):", flush=True)
        rc = s.foreground(client, "127.0.0.1", str(port), *client_args)
        print(f"[make try] the client {_status(rc)}", flush=True)
        if proc.wait_exit(0.3) is None:   # a server that ends by itself has its moment
            print("[make try] stopping the server", flush=True)
        else:
            print(f"[make try] the server {_status(proc.returncode or 0)}", flush=True)
    return 0 if rc in (0, -signal.SIGINT) else 1   # SIGINT: the Ctrl-C that ends it


def cmd_trace(args: argparse.Namespace) -> int:
    scenario = _scenario(args.chapter, "trace")
    if scenario is None:
        return 2
    command = f"make trace CHAPTER={args.chapter}"
    try:
        tshark, dumpcap = capmod.find_tools(args.tshark, args.dumpcap)
    except capmod.CaptureUnavailable as exc:
        print(exc)
        return 1
    problem = capmod.permission_problem(dumpcap, command)
    if problem:
        print(problem)
        return 1
    lines = scenario.lines
    where = Where.from_args(args)
    server_ex = find(scenario.server_chapter or args.chapter, scenario.server)
    client_ex = find(scenario.client_chapter or args.chapter, scenario.client)
    windows = server_ex.kind == "windows"
    with Session(where, 60.0, windows=windows) as s:
        server, client = pick(server_ex, where), pick(client_ex, where)
        port = free_port()
        print(f"{command}\n"
              f"  server: {server_ex.name}, {server.note}\n"
              f"  client: {client_ex.name}, {client.note}")
        folder = s.files_for(args.chapter, scenario)
        server_args = scenario.args(scenario.server_args, folder)
        client_args = scenario.args(scenario.client_args, folder)
        cap = capmod.Capture(dumpcap, port, where.build / "trace" / args.chapter, s.procs,
                             command=command, transport=scenario.transport)
        try:
            cap.start()
        except capmod.CaptureUnavailable as exc:
            print(exc)
            return 1
        print(f"  capturing on lo: {cap.filter}")
        print(f"  $ {server.shown_argv(str(port), *server_args)}")
        srv = s.background(server, str(port), *server_args, show=False, label=server_ex.name)
        s.wait_listening(srv, port, server, scenario.transport)
        typed = f"   (typing {lines.decode()!r})" if lines else ""
        print(f"  $ {client.shown_argv('127.0.0.1', str(port), *client_args)}{typed}",
              flush=True)
        notes = []
        paced = bool(scenario.await_before_last and lines)
        cli = s.background(client, "127.0.0.1", str(port), *client_args,
                           stdin_data=None if paced else lines, show=False,
                           label=client_ex.name)
        if paced and lines:
            typed_lines = lines.splitlines(keepends=True)
            cli.write_stdin(b"".join(typed_lines[:-1]))
            try:
                cli.wait_output(scenario.await_before_last, 5.0)
            except (WaitTimeout, ProgramExited):
                notes.append("the client did not print what it was sent back within 5 s; "
                             "its last line was sent anyway")
            cli.write_stdin(typed_lines[-1])
            cli.close_stdin()
        if cli.wait_exit(30.0 if windows else 10.0) is None:
            notes.append(f"the client was still running after {30 if windows else 10} s; "
                         "it was stopped (its kernel then closed the connection)")
            cli.kill()
        still_open = capmod.settle(port, 2.0) if scenario.transport == "tcp" else []
        if still_open:
            notes.append("connections still open when the capture stopped: "
                         + ", ".join(still_open))
        if not cap.stop():
            notes.append("dumpcap did not confirm the last packets; some may be missing")
        srv.wait_exit(0.1)
        try:
            if scenario.transport == "udp":
                lines_out, summary = capmod.udp_timeline(
                    read_datagrams(cap.file, tshark, timeout=30), port)
            else:
                conv = capmod.timeline(read_frames(cap.file, tshark, timeout=30), port)
                lines_out, summary = conv.lines, conv.summary
        except PcapReadError as exc:
            print(f"tshark could not read the capture: {exc}")
            return 1
        print()
        print("\n".join("  " + ln for ln in lines_out))
        print("\nsummary:")
        print("\n".join("  " + ln for ln in summary + notes))
        for proc, who in ((cli, "client"), (srv, "server")):
            out = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
            shown_out = "\n".join("    " + ln for ln in out.splitlines()[:12]) or "    (nothing)"
            print(f"\nthe {who} ({proc.label}) printed:\n{shown_out}")
        print(f"\nthe capture is saved: {shown(cap.file)} (tshark -r {shown(cap.file)}, "
              "or open it in Wireshark)")
    return 0


# the commands whose output says "Ctrl-C stops it": a Ctrl-C there is the
# normal end, exit status 0 (make then prints no `Error 130`)
CTRL_C_ENDS = ("run", "try")


def _guarded(name: str, fn: Callable[[argparse.Namespace], int]
             ) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        # TERM (from timeout, a closed terminal) ends it as Ctrl-C does: clean-ups run
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            return fn(args)
        except KeyboardInterrupt:
            print(f"\n[make {name}] stopped (Ctrl-C); everything it started is stopped too.",
                  flush=True)
            return 0 if name in CTRL_C_ENDS else 130
        except LiveError as exc:
            print(exc, flush=True)
            return 1
    return run


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one program by hand on a free port")
    p.add_argument("--ex", help="CHAPTER/PROGRAM, e.g. 04_iterative_echo/echo_server")
    p.add_argument("--src", help="the chapters folder (default: chapters/)")
    p.add_argument("--solutions", help=argparse.SUPPRESS)
    p.add_argument("--limit", type=float, default=LIMIT, help=argparse.SUPPRESS)
    p.set_defaults(func=_guarded("run", cmd_run))
    p = sub.add_parser("try", help="the chapter's server and client, to talk to by hand")
    p.add_argument("--chapter")
    p.add_argument("--src", help="the chapters folder (default: chapters/)")
    p.add_argument("--solutions", help=argparse.SUPPRESS)
    p.add_argument("--limit", type=float, default=LIMIT, help=argparse.SUPPRESS)
    p.set_defaults(func=_guarded("try", cmd_try))
    p = sub.add_parser("trace", help="the chapter's packets as a timeline")
    p.add_argument("--chapter")
    p.add_argument("--src", help="the chapters folder (default: chapters/)")
    p.add_argument("--solutions", help=argparse.SUPPRESS)
    p.add_argument("--tshark", default="tshark", help=argparse.SUPPRESS)
    p.add_argument("--dumpcap", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_guarded("trace", cmd_trace))
