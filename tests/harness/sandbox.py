"""Limits for a student's programs, which are untrusted code run by a grader
that is often root.

Two mechanisms, both applied as the program starts (before exec):

- resource limits (setrlimit), per process, enforced for root too:
  RLIMIT_FSIZE (largest file it may write; past it the write fails and
  SIGXFSZ ends it), RLIMIT_CORE = 0 (a crash leaves no core file),
  RLIMIT_NOFILE (descriptors per program, soft and hard), and,
  for plain native programs only (the tests' `Program.start` asks for it),
  RLIMIT_AS (address space: AddressSanitizer, valgrind and Wine reserve
  terabytes of it, so they get none);
- a *cage*: a control group of its own for each test's programs (one
  `ProcessGroup`), under the cgroup of the process that starts them, with
  a maximum number of processes (pids.max: holds for root, where
  RLIMIT_NPROC does not), a memory limit and a CPU quota where those
  controllers can be written. The cage also lists every process that
  escaped the process group, so `kill_all` finds them wherever they went.

Cgroup v1 (one hierarchy per controller, as on this Debian machine's
hybrid layout) and cgroup v2 (one unified hierarchy, where the controllers
must already be enabled for our cgroup's children) are both handled; where
neither can be written, `Cgroups.find()` says why and only the resource
limits apply.
"""

from __future__ import annotations

import os
import resource
import signal
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import proctree

PREFIX = "workbook-"          # cgroups we make: workbook-<owner pid>-<n>


@dataclass(frozen=True)
class Limits:
    pids: int = 128                 # processes and threads of one test's programs together
    memory: int = 512 << 20         # bytes of memory for them together (cgroup)
    cpu: float = 1.0                # cores they may keep busy together (cgroup)
    file_size: int = 16 << 20       # largest file one program may write (RLIMIT_FSIZE)
    open_files: int = 1024          # descriptors one program may hold (RLIMIT_NOFILE)
    # its soft limit, if lower (None: the same): a program may raise its own
    # soft limit up to open_files (chapter 17's server does)
    open_files_soft: int | None = None
    address_space: int | None = None      # RLIMIT_AS per program (see PLAIN_ADDRESS_SPACE)


# RLIMIT_AS for a plain native program (not sanitized, not under valgrind or
# Wine: those reserve terabytes of address space and are bounded by the
# cage's memory limit only)
PLAIN_ADDRESS_SPACE = 2 << 30


# The shell that puts a program in its cage and lowers its limits, then
# becomes it (exec keeps the process id, so the cage holds the program). A
# preexec_fn would do the same, but it makes Python fork() the whole test
# process instead of vfork()ing: 7.7 ms of CPU per program started instead
# of 1.3 ms, and a test session starts a hundred. Units as POSIX sets them
# for sh: ulimit -f counts 512-byte blocks, -v KiB.
_WRAP = ('while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
         'ulimit -c 0 && ulimit -f "$1" && ulimit -n "${2%:*}" && ulimit -Sn "${2#*:}" || exit 125; shift 2; '
         'if [ "$1" != - ]; then ulimit -v "$1" || exit 125; fi; shift; '
         'exec "$@"')


def wrapper(limits: Limits, cage: "Cage | None") -> list[str]:
    """The argv prefix that starts a program in `cage` with `limits`
    (see _WRAP): put it before the program's own argv."""
    def capped(which: int, value: int) -> int:
        hard = resource.getrlimit(which)[1]
        return value if hard == resource.RLIM_INFINITY else min(value, hard)
    fsize = capped(resource.RLIMIT_FSIZE, limits.file_size) // 512
    vmem = ("-" if limits.address_space is None else
            str(capped(resource.RLIMIT_AS, limits.address_space) // 1024))
    joins = [str(f) for f in cage.join_files()] if cage is not None else []
    nofile = str(capped(resource.RLIMIT_NOFILE, limits.open_files))
    if limits.open_files_soft is not None:  # "hard:soft"; a plain number sets both
        nofile += f":{min(int(nofile), limits.open_files_soft)}"
    return ["/bin/sh", "-c", _WRAP, "cage", *joins, "--", str(fsize), nofile, vmem]


# -- control groups -------------------------------------------------------------

@dataclass
class Cgroups:
    """Where this process may make cages: controller -> parent folder.
    Empty, with `why` set, when it may not."""
    version: str = ""                       # "v1", "v2" or ""
    parents: dict[str, Path] = field(default_factory=dict)
    why: str = ""
    _count: int = 0

    @property
    def usable(self) -> bool:
        return "pids" in self.parents

    def describe(self) -> str:
        if not self.usable:
            return f"no cgroup limits ({self.why})"
        return (f"cgroup {self.version}: " + ", ".join(sorted(self.parents))
                + f" under {self.parents['pids']}")

    @classmethod
    def find(cls) -> "Cgroups":
        if os.environ.get("WORKBOOK_NO_CGROUPS"):
            return cls(why="WORKBOOK_NO_CGROUPS is set")
        try:
            own = _own_cgroups()
            mounts = _cgroup_mounts()
        except OSError as exc:
            return cls(why=f"cannot read /proc: {exc}")
        found = cls()
        # cgroup v1: one hierarchy per controller
        for ctl in ("pids", "memory", "cpu"):
            if ctl in mounts and ctl in own:
                parent = mounts[ctl] / own[ctl].lstrip("/")
                if _can_make_children(parent):
                    found.parents[ctl] = parent
        if found.usable:
            found.version = "v1"
            found.sweep()
            return found
        # cgroup v2: the controllers must be enabled for our children already
        # (a delegated subtree); enabling them here would need our cgroup to
        # hold no process, which is not ours to arrange
        if "" in mounts and "" in own:
            parent = mounts[""] / own[""].lstrip("/")
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
            except OSError:
                enabled = []
            if "pids" in enabled and _can_make_children(parent):
                found.version = "v2"
                for ctl in ("pids", "memory", "cpu"):
                    if ctl in enabled:
                        found.parents[ctl] = parent
                found.sweep()
                return found
            found.why = (f"cgroup v2 at {parent}: the pids controller is not enabled "
                         "for its children, or it cannot be written")
            return found
        found.why = ("no writable pids controller (cgroup v1 pids hierarchy or a "
                     "delegated cgroup v2 subtree)")
        return found

    def cage(self, limits: Limits) -> "Cage | None":
        if not self.usable:
            return None
        self._count += 1
        name = f"{PREFIX}{os.getpid()}-{self._count}"
        dirs: dict[str, Path] = {}
        for ctl, parent in self.parents.items():
            path = parent / name
            if path not in dirs.values():
                try:
                    path.mkdir()
                except FileExistsError:
                    pass
                except OSError:
                    if ctl == "pids":
                        Cage(dirs, self.version).remove()
                        return None
                    continue  # a limit we cannot set: the others still hold
            dirs[ctl] = path
        cage = Cage(dirs, self.version)
        cage.set_limits(limits)
        return cage

    def sweep(self) -> int:
        """Remove cages left by processes that are gone (a killed run)."""
        removed = 0
        for parent in set(self.parents.values()):
            try:
                entries = list(parent.iterdir())
            except OSError:
                continue
            for entry in entries:
                if not entry.name.startswith(PREFIX) or not entry.is_dir():
                    continue
                owner = entry.name[len(PREFIX):].split("-")[0]
                if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                    kill_tree(entry)
                    removed += remove_tree(entry)
        return removed


def _own_cgroups() -> dict[str, str]:
    """controller -> this process's cgroup path ("" for cgroup v2)."""
    out = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctls, path = line.split(":", 2)
        for ctl in ctls.split(",") if ctls else [""]:
            out[ctl] = path
    return out


def _cgroup_mounts() -> dict[str, Path]:
    """controller -> mount point ("" for the cgroup v2 hierarchy)."""
    out: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(rest) < 3 or fields[3] != "/":
            continue
        if rest[0] == "cgroup2":
            out.setdefault("", Path(fields[4]))
        elif rest[0] == "cgroup":
            for opt in rest[2].split(","):
                if opt in ("pids", "memory", "cpu"):
                    out.setdefault(opt, Path(fields[4]))
    return out


def _can_make_children(parent: Path) -> bool:
    probe = parent / f"{PREFIX}{os.getpid()}-probe"
    try:
        probe.mkdir()
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        probe.rmdir()
    except OSError:
        pass
    return True


class Cage:
    """One cgroup (one per controller hierarchy on v1) for one test's programs."""

    def __init__(self, dirs: dict[str, Path], version: str) -> None:
        self.dirs = dirs
        self.version = version

    def _write(self, ctl: str, name: str, value: str) -> None:
        if ctl in self.dirs:
            try:
                (self.dirs[ctl] / name).write_text(value)
            except OSError:
                pass  # this limit is not available here; the others hold

    def set_limits(self, limits: Limits) -> None:
        self._write("pids", "pids.max", str(limits.pids))
        if self.version == "v1":
            self._write("memory", "memory.limit_in_bytes", str(limits.memory))
            self._write("memory", "memory.memsw.limit_in_bytes", str(limits.memory))
            self._write("cpu", "cpu.cfs_period_us", "100000")
            self._write("cpu", "cpu.cfs_quota_us", str(int(limits.cpu * 100000)))
        else:
            self._write("memory", "memory.max", str(limits.memory))
            self._write("memory", "memory.swap.max", "0")
            self._write("cpu", "cpu.max", f"{int(limits.cpu * 100000)} 100000")

    def join_files(self) -> list[str]:
        """The cgroup.procs files a new process writes its pid to."""
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def pids(self) -> set[int]:
        return _members(self.dirs["pids"]) if "pids" in self.dirs else set()

    def kill_all(self) -> int:
        """SIGKILL every process in the cage until none is left (a fork bomb
        may fork between two passes, never past pids.max)."""
        return kill_tree(self.dirs["pids"]) if "pids" in self.dirs else 0

    def events(self) -> list[str]:
        """What the limits stopped, in words (for the failure message)."""
        said = []
        pids = self.dirs.get("pids")
        if pids is not None:
            count = _event_count(pids / "pids.events", "max")
            if count:
                said.append(f"the process limit stopped {count} fork()/thread creation(s) "
                            f"(a fork bomb, or a server that forks without reaping?)")
        mem = self.dirs.get("memory")
        if mem is not None:
            if self.version == "v1":
                ooms = _event_count(mem / "memory.oom_control", "oom_kill")
            else:
                ooms = _event_count(mem / "memory.events", "oom_kill")
            if ooms:
                said.append(f"the memory limit killed {ooms} process(es) (SIGKILL): "
                            f"it used more memory than a test allows")
        return said

    def remove(self) -> None:
        for path in set(self.dirs.values()):
            remove_tree(path)


def _members(path: Path) -> set[int]:
    try:
        return {int(p) for p in (path / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def _folders(path: Path) -> list[Path]:
    """A cgroup and the cgroups below it, parents first."""
    out = []
    for top, dirs, _ in os.walk(path):
        out.append(Path(top))
    return out


def _event_count(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def kill_tree(path: Path, deadline: float = 5.0) -> int:
    """SIGKILL every process of a cgroup and of the cgroups below it, pass
    after pass, until they are all gone. Returns how many were signalled."""
    killed = 0
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        members = set()
        for folder in _folders(path):
            members |= _members(folder)
        members.discard(os.getpid())
        if not members:
            break
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        _reap_children()
        time.sleep(0.002)  # the killed processes leave the cgroup as they exit: no event
    return killed


def _reap_children() -> None:
    """Collect exited children that no Popen owns (orphans given to a subreaper)."""
    for pid in proctree.children_of(os.getpid()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2:].startswith("Z"):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def remove_tree(path: Path, deadline: float = 2.0) -> int:
    """rmdir a cgroup and its children (bottom up). A cgroup can only go once
    its last process has exited: retried briefly."""
    removed = 0
    for folder in reversed(_folders(path)):
        end = time.monotonic() + deadline
        while True:
            try:
                folder.rmdir()
                removed += 1
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > end:
                    break
                time.sleep(0.005)  # the last process is still exiting: no event to wait on
    return removed


def cgroups() -> Cgroups:
    """This process's cgroups, found once per process (a forked pytest
    worker finds its own)."""
    return _found(os.getpid())


@lru_cache(maxsize=1)
def _found(pid: int) -> Cgroups:
    return Cgroups.find()
