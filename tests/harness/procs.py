"""Start a student's program, watch it, and make sure it is gone afterwards.

Every program runs in a session (and so a process group) of its own, with
stdin, stdout and stderr on pipes. Reader threads drain the pipes all the
time, so a program that floods its output never blocks, and keep only the
first CAP bytes of each stream, so a flood cannot exhaust memory. Every
process has a hard time limit enforced by a watchdog thread. `ProcessGroup`
(one per test) kills whatever is left when the test ends, including
processes that escaped the process group by forking twice and calling
setsid(): the test worker is a child subreaper, so such orphans become its
children, where `reap_orphans` finds them.

Each program also starts inside the group's sandbox (tests/harness/sandbox.py):
resource limits, and a control group per `ProcessGroup` that bounds the
number of processes (a fork bomb), memory and CPU where the machine allows,
and through which every process the test started is found and killed.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from . import jail as jailmod
from . import proctree, sandbox

# seconds more that wait_exit(patient=True) gives a program still busy
EXIT_GRACE = 20.0

CAP = 1 << 20  # bytes kept per output stream
DEFAULT_LIMIT = 20.0  # seconds a program may live at most

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class ProgramExited(Exception):
    """The program ended while the harness was waiting for something else."""


class WaitTimeout(Exception):
    """What the harness waited for did not happen in time."""


@dataclass
class _Stream:
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0
    closed: bool = False


class _LineSearch:
    """A regex search over text that arrives in pieces of bytes: each piece is
    decoded once (incrementally: a UTF-8 character split between two pieces
    is decoded whole) and the search resumes at the start of the last line
    whose end it has not seen. Right for patterns that match within a line
    (see Proc.wait_output)."""

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.done: list[str] = []   # the complete lines searched already
        self.line_start = 0         # where the tail starts in the whole text
        self.tail = ""              # the text from the start of the last line on

    def feed(self, chunk: bytes, final: bool = False) -> re.Match[str] | None:
        """Add a piece (final: the last one); the first match in the whole
        text so far, or None."""
        self.tail += self.decoder.decode(chunk, final)
        # after a newline, search "\n" + tail from 1: what is before the
        # line looks to the pattern as it does in the whole text (^ with
        # re.M matches there, ^ without it and \A do not, \b sees a newline)
        found = (self.regex.search("\n" + self.tail, 1) if self.line_start
                 else self.regex.search(self.tail))
        if found:  # (the tail's match stands if a lookbehind reached past its line)
            return self._in_whole_text() or found
        self._skip_complete_lines()
        return None

    def _skip_complete_lines(self) -> None:
        cut = self.tail.rfind("\n") + 1
        if cut:
            self.done.append(self.tail[:cut])
            self.line_start += cut
            self.tail = self.tail[cut:]

    def _in_whole_text(self) -> re.Match[str] | None:
        """The same match, against the whole text (once, at the end), so that
        its positions and .string are those of the text from `start`."""
        whole = "".join(self.done) + self.tail
        return self.regex.search(whole, self.line_start)


class Proc:
    """One running program. Create through `ProcessGroup.start`."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, limit: float = DEFAULT_LIMIT,
                 stdin_data: bytes | None = None, label: str | None = None,
                 wrapper: Sequence[str] = (), sealed: "jailmod.Sealed | None" = None) -> None:
        self.argv = list(argv)
        self.jailed = sealed is not None and sealed.jailed
        self.outwaited = False
        self.label = label or Path(argv[0]).name
        self.started = time.monotonic()
        self._cond = threading.Condition()
        self._out = _Stream()
        self._err = _Stream()
        self.timed_out = False
        try:
            self.popen = subprocess.Popen(
                [*wrapper, *(sealed.argv if sealed else self.argv)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                start_new_session=True, close_fds=True,
                pass_fds=tuple(sealed.fds) if sealed else ())
        finally:
            if sealed is not None:
                sealed.close()  # the child has its own copies now
        self.pid = self.popen.pid
        for pipe, stream in ((self.popen.stdout, self._out),
                             (self.popen.stderr, self._err)):
            threading.Thread(target=self._drain, args=(pipe, stream),
                             daemon=True).start()
        self._watchdog = threading.Timer(limit, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        if stdin_data is not None:
            self.write_stdin(stdin_data)
            self.close_stdin()

    # -- output ---------------------------------------------------------
    def _drain(self, pipe, stream: _Stream) -> None:
        fd = pipe.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    stream.closed = True
                    self._cond.notify_all()
                    break
                room = CAP - len(stream.data)
                if room > 0:
                    stream.data += chunk[:room]
                stream.dropped += max(0, len(chunk) - max(room, 0))
                self._cond.notify_all()
        pipe.close()

    @property
    def stdout(self) -> bytes:
        with self._cond:
            return bytes(self._out.data)

    @property
    def stderr(self) -> bytes:
        with self._cond:
            return bytes(self._err.data)

    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def output_dropped(self) -> int:
        return self._out.dropped + self._err.dropped

    def wait_output(self, pattern: str | re.Pattern[str], timeout: float,
                    stream: str = "stdout", start: int = 0) -> re.Match[str]:
        """Wait until `pattern` matches the stream's text from byte offset
        `start` (decoded as UTF-8, bad bytes replaced); the match is against
        that whole text, as if it were searched in one piece.

        Only what is new is decoded and searched, each time output arrives:
        searching all of it again for every 64 KiB a program writes costs
        the harness more CPU than the program. The search resumes at the
        start of the last line it had not seen the end of, which assumes
        what the harness's patterns all do: a match lies within one line
        (it may end with that line's newline, it cannot go past it).

        Raises ProgramExited if the stream closes without a match and
        WaitTimeout if the time runs out.
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        target = self._out if stream == "stdout" else self._err
        search = _LineSearch(regex)
        seen = start
        deadline = time.monotonic() + timeout
        while True:
            chunk, closed = self._next_output(target, seen, deadline)
            if chunk is not None:
                seen += len(chunk)
                match = search.feed(chunk, final=closed)
                if match:
                    return match
                if closed:
                    raise ProgramExited(f"{self.label} closed its {stream} "
                                        f"without printing {regex.pattern!r}")
            # checked after new output too: output that never stops must not wait forever
            if chunk is None or time.monotonic() >= deadline:
                raise WaitTimeout(f"{self.label} did not print {regex.pattern!r} "
                                  f"on {stream} within {timeout:g} s")

    def _next_output(self, target: _Stream, seen: int,
                     deadline: float) -> tuple[bytes | None, bool]:
        """Wait for the bytes of `target` past offset `seen`, or for its end:
        (new bytes, closed), or (None, False) when the deadline passes first.
        Copied under the lock, searched outside it, so the reader threads
        never wait for a search."""
        with self._cond:
            while len(target.data) <= seen and not target.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, False
                self._cond.wait(left)
            return bytes(target.data[seen:]), target.closed

    # -- input ----------------------------------------------------------
    def write_stdin(self, data: bytes) -> bool:
        """Send bytes to the program's stdin; False if it no longer reads."""
        stdin = self.popen.stdin
        if stdin is None or stdin.closed:
            return False
        try:
            stdin.write(data)
            stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def close_stdin(self) -> None:
        stdin = self.popen.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.close()
            except OSError:
                pass

    # -- life and death -------------------------------------------------
    def _expire(self) -> None:
        if self.popen.poll() is None:
            self.timed_out = True
            self.kill()

    def running(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return jailmod.exit_status(self.popen.poll(), self.jailed)

    def busy(self) -> bool:
        """Whether the program has yet to start in its jail, or is running or
        waiting for a CPU (state R) or for the disk (D): on a busy machine,
        one that has not had its share of time yet. False once it sleeps
        (waits for something), is stopped, or has ended."""
        if not self.running():
            return False
        pid = self.program_pid(0.0)
        if pid is None:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] in ("R", "D")

    def wait_exit(self, timeout: float, patient: bool = False) -> int | None:
        """Wait for the program to end; its status, or None if still running.

        With `patient`, a program still busy when `timeout` is up (starting
        in its jail, or running: on a loaded machine it may not have had
        the milliseconds it needs) gets up to EXIT_GRACE seconds more, for
        as long as it stays busy. One that sleeps (blocked, waiting for
        something) is not waited for: a wrong program that hangs is judged
        as quickly as without `patient`.

        Also waits (briefly) for its output pipes to close so that
        everything it printed has been collected.
        """
        if patient:
            rc = self.wait_exit(timeout)
            cap = time.monotonic() + EXIT_GRACE
            while rc is None and time.monotonic() < cap and self.busy():
                rc = self.wait_exit(0.05)
            if rc is not None:
                self.outwaited = False   # it ended: nobody waited in vain
            return rc
        try:
            rc = jailmod.exit_status(self.popen.wait(timeout), self.jailed)
        except subprocess.TimeoutExpired:
            self.outwaited = True  # a test waited for its end in vain
            return None
        deadline = time.monotonic() + 2.0
        with self._cond:
            while not (self._out.closed and self._err.closed):
                left = deadline - time.monotonic()
                if left <= 0:
                    break  # a grandchild still holds the pipes
                self._cond.wait(left)
        return rc

    def signal(self, sig: int) -> None:
        """Send sig to the program (in a jail: to the program itself, not to
        bwrap, which would only die of it)."""
        if self.popen.poll() is None:
            target = self.program_pid() if self.jailed else self.pid
            try:
                os.kill(target or self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 5.0) -> bool:
        """SIGSTOP the program and wait until every thread of it is stopped
        (kill() only starts that: a thread running on another CPU goes on
        for a moment). True once they all are; False if time ran out or the
        program is gone."""
        self.signal(signal.SIGSTOP)
        pid = self.program_pid(timeout)
        if pid is None:
            return False
        deadline = time.monotonic() + timeout
        while True:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
                states = [Path(f"/proc/{pid}/task/{t}/stat").read_text().rsplit(")", 1)[1]
                          .split()[0] for t in tids]
            except OSError:
                return False
            if states and all(st in ("T", "t") for st in states):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)  # polling /proc: no event says a thread has stopped

    def program_pid(self, timeout: float = 5.0) -> int | None:
        """The program's own pid. In a jail it appears a moment after bwrap
        has set the jail up; there is no event for that, so look again
        briefly (only a program signalled within milliseconds of its start
        waits at all)."""
        if not self.jailed:
            return self.pid
        deadline = time.monotonic() + timeout
        while True:
            pid = jailmod.program_pid(self.pid)
            if pid is not None or self.popen.poll() is not None or time.monotonic() > deadline:
                return pid
            time.sleep(0.002)  # bwrap sets the jail up: no event says when it is done

    def kill(self) -> None:
        """Kill the program's whole process group."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is None:
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass

    def finish(self) -> None:
        """Kill what is left, reap it, stop the watchdog, close the pipes."""
        self.kill()
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._watchdog.cancel()
        self.close_stdin()


def reap_orphans(keep: set[int] | None = None) -> int:
    """Kill and reap children of this process that the harness does not own.

    With the subreaper flag set, a student's program that double-forked to
    escape its process group ends up here. Returns how many were killed.
    """
    keep = keep or set()
    killed = 0
    for pid in proctree.children_of(os.getpid()):
        if pid in keep:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            continue
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return killed


class ProcessGroup:
    """All programs started by one test; `close` ends every one of them.

    Every program runs under `limits` (sandbox.Limits; None: no limits at
    all), its processes counted together in one cage (a cgroup) where the
    machine offers one. `events` says afterwards what the limits stopped."""

    def __init__(self, env: dict[str, str] | None = None, cwd: Path | None = None,
                 limits: sandbox.Limits | None = sandbox.Limits()) -> None:
        self.env = env
        self.cwd = cwd  # programs run here: whatever they write stays out of the tree
        self.limits = limits
        self.procs: list[Proc] = []
        self.cage: sandbox.Cage | None = None
        self.events: list[str] = []

    def start(self, argv: Sequence[str], *, limits: sandbox.Limits | None = None,
              jail: dict | None = None, **kwargs) -> Proc:
        """Start a program; `limits` replaces the group's for this one program
        (the cage's limits stay those of the group). `jail`: run it in the
        jail (harness/jail.py), with these arguments to jail.seal (files,
        wine); the group's folder is its writable working folder."""
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("cwd", self.cwd)
        if jail is not None:
            cwd = kwargs["cwd"]
            if cwd is not None:
                jailmod.give(Path(cwd), stop=jailmod.area())
            kwargs["sealed"] = jailmod.seal(list(argv), chdir=cwd,
                                            writable=[Path(cwd)] if cwd else [], **jail)
        own = limits or self.limits
        if own is not None and "wrapper" not in kwargs:
            if self.cage is None and self.limits is not None:
                self.cage = sandbox.cgroups().cage(self.limits)
            kwargs["wrapper"] = sandbox.wrapper(own, self.cage)
        proc = Proc(argv, **kwargs)
        self.procs.append(proc)
        return proc

    def close(self) -> int:
        for proc in self.procs:
            proc.finish()
        escaped = 0
        if self.cage is not None:
            escaped = self.cage.kill_all()  # whatever left the process group
        killed = reap_orphans() + escaped
        if self.cage is not None:
            self.events = self.cage.events()
            self.cage.remove()
            self.cage = None
        return killed
