"""The jail: what a program built from a student's source may see and touch.

Every such program (and the compiler that builds it, and tshark reading a
file it wrote) runs

- as an unprivileged user: when the grader is root, `setpriv` drops to
  nobody (65534) before anything else; otherwise it runs as the user who
  started the grader, on their own machine;
- inside bubblewrap (`bwrap`, the sandbox Flatpak uses): a user, PID, IPC
  and UTS namespace of its own (it sees and can signal only its own
  processes; what it leaves running when it exits, a daemon say, lives on
  in the jail until the test ends and its cage is emptied, as it would
  without a jail, so a verdict never hangs on which of the two was
  quicker), and a file-system view holding nothing but the system's read-only
  files (/usr, /etc), the program itself (a read-only copy made from a file
  descriptor, so the tree it came from need not be reachable), its own test
  folder (writable) and a private /tmp and /dev/shm of bounded size. No
  workbook tree, no keys, no other student, no home folder;
- for Windows programs, with a private view of the Wine prefix: the DLLs
  read-only, the registry as private copies, and a wineserver of its own,
  started inside the jail and gone with it. Wine 8's server sometimes fails
  an assertion and exits: only that one program dies, and the test that saw
  it runs again (plugin.pytest_runtest_protocol).

The network namespace is shared: the tests talk to the program on loopback
(and `make grade` gives each student a network namespace of its own).

Where the kernel refuses namespaces (some containers), `mode` is "user":
the program only runs as nobody, so file permissions alone keep the keys
and the grader out of reach; `make grade` and `make check` as root refuse to
grade in that mode unless WORKBOOK_ALLOW_NO_NAMESPACES=1 says the instructor
knows (the Gradescope autograder makes its files root-only first, then sets
it). Not root and no bubblewrap: "off", the student's own code on their own
machine, said at the start of the run.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

NOBODY = 65534
TMP_SIZE = 64 << 20            # bytes in the private /tmp, and again in /dev/shm
AREA_ENV = "WORKBOOK_JAIL_AREA"
ALLOW_ENV = "WORKBOOK_ALLOW_NO_NAMESPACES"


@dataclass(frozen=True)
class Jail:
    mode: str                  # "bwrap" | "user" | "off"
    why: str = ""              # why not "bwrap"
    drop: tuple[str, ...] = ()  # the setpriv prefix that becomes nobody (root only)

    @property
    def uid(self) -> int:
        return NOBODY if self.drop else os.getuid()

    def describe(self) -> str:
        who = "as nobody" if self.drop else f"as uid {os.getuid()}"
        if self.mode == "bwrap":
            return f"student programs run {who} in bubblewrap (own PID namespace and file view)"
        if self.mode == "user":
            return f"student programs run {who}, without namespaces ({self.why})"
        return f"student programs run unconfined ({self.why})"


def _drop_prefix() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    return ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--")


@lru_cache(maxsize=1)
def find() -> Jail:
    """Probe once per process what this machine allows."""
    drop = _drop_prefix()
    if os.environ.get("WORKBOOK_NO_JAIL"):
        return Jail("user" if drop else "off", "WORKBOOK_NO_JAIL is set", drop)
    if drop and not shutil.which("setpriv"):
        return Jail("off", "setpriv (util-linux) is missing")
    if not shutil.which("bwrap"):
        return Jail("user" if drop else "off", "bubblewrap is not installed", drop)
    probe = [*drop, "bwrap", *_base_args(), "--", "/bin/true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Jail("user" if drop else "off", f"bwrap did not start: {exc}", drop)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Jail("user" if drop else "off", f"the kernel refused bwrap: {said}", drop)
    return Jail("bwrap", "", drop)


def refusal(jail: Jail) -> str | None:
    """Why untrusted work must not be graded here, or None."""
    if os.geteuid() != 0 or jail.mode == "bwrap" or os.environ.get(ALLOW_ENV) == "1":
        return None
    return (f"Refusing to run student programs as root without a sandbox: {jail.why}.\n"
            "Without namespaces they would run as nobody only, so anything on this machine "
            "that nobody can read (a checkout's answer keys, other students' work) would be "
            "theirs to read. Make the keys and submissions unreadable to others "
            f"(chmod -R o-rwx), then set {ALLOW_ENV}=1 to grade anyway.")


def _system_view() -> list[str]:
    """/usr and /etc read-only, and the top-level links (or folders) into them."""
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    return args


def _base_args() -> list[str]:
    return ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "jail",
            "--new-session", "--cap-drop", "ALL",
            *_system_view(), "--proc", "/proc", "--dev", "/dev",
            "--size", str(TMP_SIZE), "--tmpfs", "/tmp",
            "--size", str(TMP_SIZE), "--tmpfs", "/dev/shm",
            "--setenv", "TMPDIR", "/tmp", "--setenv", "HOME", "/tmp"]


# -- the staging area -------------------------------------------------------------

def area() -> Path:
    """A folder the jail's user can traverse (0711), for test folders and
    build staging: set by the driver for its whole run (AREA_ENV), or made
    here on first use."""
    given = os.environ.get(AREA_ENV)
    if given:
        return Path(given)
    made = make_area()
    os.environ[AREA_ENV] = str(made)
    return made


def make_area() -> Path:
    """A new area for one run of the driver, in a temporary folder the jail's
    user can reach (TMPDIR may be a private one); remove with shutil.rmtree."""
    parent = next((Path(p) for p in (tempfile.gettempdir(), "/tmp", "/var/tmp")
                   if reachable(Path(p))), Path(tempfile.gettempdir()))
    made = Path(tempfile.mkdtemp(prefix="workbook-jail-", dir=parent))
    made.chmod(0o711)
    return made


def give(folder: Path, stop: Path | None = None) -> None:
    """Make folder the jail user's (writable by it) and let it traverse the
    folders above, up to `stop` (they stay unreadable: mode 0711)."""
    jail = find()
    if jail.mode == "off":
        return
    if jail.drop:
        os.chown(folder, jail.uid, jail.uid)
    folder.chmod(0o700 if jail.drop else 0o755)
    parent = folder.parent
    while stop is not None and parent != parent.parent and parent.is_relative_to(stop):
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(stat.S_IMODE(mode) | 0o711)
        if parent == stop:
            break
        parent = parent.parent


def workdir(name: str = "work") -> Path:
    """A fresh folder in the area, given to the jail's user."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=area()))
    give(folder)
    return folder


def reachable(path: Path) -> bool:
    """Can the jail's user (nobody, for root) get to path? (Each folder on
    the way must let others through, or belong to nobody.)"""
    jail = find()
    if not jail.drop:
        return True
    for parent in [path, *path.parents]:
        try:
            st = parent.stat()
        except FileNotFoundError:
            continue  # made later, by us, traversable (umask 022)
        except OSError:
            return False
        if st.st_uid != NOBODY and not st.st_mode & 0o001:
            return False
    return True


# -- one jailed command -------------------------------------------------------------

@dataclass
class Sealed:
    """A jailed command line and the descriptors it reads its copies from:
    pass `fds` to the child (pass_fds) and close them after it started."""
    argv: list[str]
    fds: list[int] = field(default_factory=list)
    jailed: bool = False

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()


def seal(argv: list[str], *, files: dict[str, Path] | None = None,
         writable: list[Path] | None = None, readable: list[Path] | None = None,
         chdir: Path | None = None, wine: Path | None = None,
         bind: dict[Path, Path] | None = None,
         setenv: dict[str, str] | None = None) -> Sealed:
    """Wrap argv in the jail.

    files:    path inside -> file outside; each becomes a read-only copy (0555,
              so a binary stays executable), read through a descriptor
    writable: folders bound read-write at their own paths
    readable: folders bound read-only at their own paths (must be reachable)
    chdir:    the working folder inside
    wine:     the master Wine prefix: a private view of it at /wine
    bind:     folder outside -> where it appears inside, read-write
    setenv:   variables set for the program only (not for the jail's own
              tools): a value naming a path of `files` names its copy
    """
    jail = find()
    files = dict(files or {})
    setenv = dict(setenv or {})
    if jail.mode != "bwrap":
        # no namespaces: the program runs as nobody (root) or as the user,
        # from copies in the area, which it can reach
        if files:
            stage = Path(tempfile.mkdtemp(prefix="bin-", dir=area()))
            stage.chmod(0o755)
            for inside, outside in files.items():
                copy = stage / Path(inside).name
                shutil.copyfile(outside, copy)
                copy.chmod(0o555)
                argv = [str(copy) if a == inside else a for a in argv]
                setenv = {k: str(copy) if v == inside else v for k, v in setenv.items()}
        if jail.drop:
            setenv = {"HOME": str(area()), **setenv}  # not the grader's home
        env = ["env", *(f"{k}={v}" for k, v in setenv.items())] if setenv else []
        return Sealed([*jail.drop, *env, *argv], [], False)
    args = ["bwrap", *_base_args()]
    fds: list[int] = []

    def data(inside: str, outside: Path, perms: str = "0555", how: str = "--ro-bind-data") -> None:
        fd = os.open(outside, os.O_RDONLY | os.O_CLOEXEC)
        fds.append(fd)
        args.extend(["--perms", perms, how, str(fd), inside])

    try:
        for folder in readable or []:
            args += ["--ro-bind", str(folder), str(folder)]
        for folder in writable or []:
            args += ["--bind", str(folder), str(folder)]
        for outside, inside in (bind or {}).items():
            args += ["--bind", str(outside), str(inside)]
        if wine is not None:
            _wine_view(wine, args, data)
        for inside, outside in files.items():
            data(inside, outside)
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    if chdir is not None:
        args += ["--chdir", str(chdir)]
    for name, value in setenv.items():
        args += ["--setenv", name, value]
    return Sealed([*jail.drop, *args, "--", *argv], fds, True)


def _wine_view(master: Path, args: list[str], data) -> None:
    """/wine: the master prefix's drive_c read-only, its registry as private
    writable copies (a wineserver writes them back when it exits), and the
    drive links. The program's wineserver starts inside the jail."""
    args += ["--tmpfs", "/wine", "--ro-bind", str(master / "drive_c"), "/wine/drive_c",
            "--dir", "/wine/dosdevices",
            "--symlink", "../drive_c", "/wine/dosdevices/c:",
            "--symlink", "/", "/wine/dosdevices/z:",
            "--setenv", "WINEPREFIX", "/wine", "--unsetenv", "WINESERVER",
            # no Windows services (services.exe and the five processes it
            # starts: 1.2 s of CPU per program instead of 0.3 s); a Winsock
            # console program needs none of them
            "--setenv", "WINEDLLOVERRIDES", "mscoree,mshtml=;services.exe=d",
            "--setenv", "USER", wine_user(master)]
    # after the tmpfs at /wine, which would hide them (Wine would then find
    # no registry and rebuild the prefix at every start: 1 s of CPU)
    for name in ("system.reg", "user.reg", "userdef.reg", ".update-timestamp"):
        if (master / name).exists():
            data(f"/wine/{name}", master / name, "0644", "--file")


def wine_user(master: Path) -> str:
    """The profile folder the prefix was made for (drive_c/users/<name>):
    Wine takes the user's name from $USER."""
    users = master / "drive_c" / "users"
    try:
        names = [p.name for p in users.iterdir() if p.is_dir() and p.name != "Public"]
    except OSError:
        names = []
    return names[0] if names else os.environ.get("USER", "root")


def wine_crashed(stderr: str) -> bool:
    """Did the program's private wineserver die of Wine's own bug (Wine 8:
    `wineserver: server/sock.c:...: sock_get_poll_events: Assertion ...`)?"""
    return ("wineserver" in stderr and "Assertion" in stderr) or "wine client error" in stderr


def exit_status(code: int | None, jailed: bool) -> int | None:
    """bwrap reports a program killed by signal n as exit status 128+n, as a
    shell does: turn it back into Popen's -n (a program that itself calls
    exit(128+n) reads as killed by n: the same ambiguity as in a shell)."""
    if code is None or not jailed or not 128 < code < 128 + 65:
        return code
    return -(code - 128)


def program_pid(outer: int) -> int | None:
    """The program's pid as we see it: bwrap (outer) -> its init (pid 1 in
    the jail) -> the program (pid 2 in the jail)."""
    for init in _children(outer):
        for pid in _children(init):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("NSpid:") and line.split()[-1] == "2":
                    return pid
    return None


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]
