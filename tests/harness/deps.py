"""What the workbook needs from Debian/Ubuntu, and installing it.

`make check` and `make test` call `ensure()` first: run as root, it installs
whatever is missing (one line saying what, then apt-get's own progress); run
as anyone else, it prints the one `sudo` command that would, and stops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

from .chapters import Exercise

# the interpreter Debian's python3-pytest installs for
DEBIAN_PYTHON = "/usr/bin/python3"


def _python_has(module: str, python: str | None = None) -> bool:
    python = python or sys.executable
    return subprocess.run([python, "-c", f"import {module}"],
                          capture_output=True).returncode == 0


def _pkg_config_has(lib: str) -> bool:
    return shutil.which("pkg-config") is not None and subprocess.run(
        ["pkg-config", "--exists", lib]).returncode == 0


def _tool(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def _sbin_tool(name: str) -> Callable[[], bool]:
    """A tool in /usr/sbin, which a normal user's PATH often lacks."""
    return lambda: (shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")) is not None


@dataclass(frozen=True)
class Need:
    what: str                    # what the student is told is missing
    packages: tuple[str, ...]    # the Debian packages that provide it
    present: Callable[[], bool]
    wanted: Callable[[set[str], set[str], str], bool]  # (kinds, tools, purpose)


def _always(kinds: set[str], names: set[str], purpose: str) -> bool:
    return True


def _selftest(kinds: set[str], names: set[str], purpose: str) -> bool:
    return purpose == "selftest"


NEEDS: tuple[Need, ...] = (
    Need("a C compiler (gcc)", ("gcc", "libc6-dev"),
         _tool(os.environ.get("CC", "gcc")), _always),
    Need("make", ("make",), _tool("make"), _always),
    Need("bubblewrap, the sandbox student programs run in", ("bubblewrap",),
         _tool("bwrap"), _always),
    Need("the Python module pytest", ("python3-pytest",),
         lambda: _python_has("pytest"), _always),
    Need("the Python module xdist (parallel tests)", ("python3-pytest-xdist",),
         lambda: _python_has("xdist"), _always),
    Need("the Python module pytest_timeout", ("python3-pytest-timeout",),
         lambda: _python_has("pytest_timeout"), _always),
    Need("the Check unit-testing library", ("check", "pkg-config"),
         lambda: _pkg_config_has("check"), lambda k, n, p: "check" in k),
    Need("tshark, the packet dissector", ("tshark",), _tool("tshark"),
         lambda k, n, p: "tshark" in n or p == "selftest"),
    Need("the mingw-w64 cross-compiler", ("gcc-mingw-w64-x86-64",),
         _tool("x86_64-w64-mingw32-gcc"), lambda k, n, p: "windows" in k),
    Need("Wine, to run Windows programs", ("wine", "wine64"), _tool("wine"),
         lambda k, n, p: "windows" in k),
    Need("valgrind", ("valgrind",), _tool("valgrind"),
         lambda k, n, p: p == "valgrind"),
    Need("patch, to apply the mutants", ("patch",), _tool("patch"), _selftest),
    Need("the Python module yaml (the Classroom workflow's check)", ("python3-yaml",),
         lambda: _python_has("yaml"), _selftest),
    Need("inotifywait (make watch)", ("inotify-tools",), _tool("inotifywait"), _selftest),
    Need("socat (make try, make bench)", ("socat",), _tool("socat"),
         lambda k, n, p: p in ("selftest", "bench")),
    Need("the Python module matplotlib (make bench's plots)", ("python3-matplotlib",),
         lambda: _python_has("matplotlib"), lambda k, n, p: p in ("selftest", "bench")),
    Need("nft, the nftables firewall (a lossy network for UDP)", ("nftables",), _sbin_tool("nft"),
         lambda k, n, p: "nft" in n or p == "selftest"),
)

PACKAGES = sorted({p for n in NEEDS for p in n.packages} | {"python3"})


def missing_for(exercises: list[Exercise], purpose: str = "check") -> list[Need]:
    """What these exercises need that this machine lacks.  purpose is
    "check", "selftest" (everything the self-test touches), "valgrind" or
    "bench" (make bench)."""
    kinds = {e.kind for e in exercises}
    tools = {t for e in exercises for t in e.needs}  # what the exercises' entries say
    return [n for n in NEEDS if n.wanted(kinds, tools, purpose) and not n.present()]


def install_command(packages: list[str]) -> str:
    return ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
            + " ".join(packages))


def explain(missing: list[Need]) -> str:
    packages = sorted({p for n in missing for p in n.packages})
    lines = ["Some tools the workbook needs are missing:"]
    lines += [f"  - {n.what} (package: {' '.join(n.packages)})" for n in missing]
    lines.append("Install them once, as root (make check or make test does it when run as root):")
    lines.append(f"  sudo sh -c '{install_command(packages)}'")
    return "\n".join(lines)


def ensure(exercises: list[Exercise], purpose: str = "check") -> str | None:
    """Install what is missing when we are root; otherwise say how.

    Returns None when everything is there (possibly after installing), or the
    message that explains what is missing.  When pytest had to be installed
    for Debian's python3 and this interpreter is another one, the caller is
    re-executed with Debian's (see reexec_if_needed)."""
    missing = missing_for(exercises, purpose)
    if not missing:
        return None
    if os.geteuid() != 0:
        return explain(missing)
    packages = sorted({p for n in missing for p in n.packages})
    print(f"Installing what the workbook needs (apt-get, as root): {' '.join(packages)}",
          flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"],
                ["apt-get", "install", "-y", *packages]):
        if subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL).returncode != 0:
            return (f"`{' '.join(cmd)}` failed (see its messages above).\n"
                    + explain(missing))
    reexec_if_needed()
    still = missing_for(exercises, purpose)
    return explain(still) if still else None


def reexec_if_needed() -> None:
    """Debian's pytest installs for /usr/bin/python3: run under it from now on."""
    if _python_has("pytest") or not os.path.exists(DEBIAN_PYTHON):
        return
    if os.path.realpath(sys.executable) == os.path.realpath(DEBIAN_PYTHON):
        return
    if _python_has("pytest", DEBIAN_PYTHON):
        sys.stdout.flush()
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, *sys.argv])


def main(install: bool, chapters: list[str] | None = None) -> int:
    """make deps: list the packages, or install every one of them; with
    chapters, what those chapters' exercises need (one apt-get update)."""
    if chapters:
        from .chapters import exercises
        unknown = [c for c in chapters if not exercises(c)]
        if unknown:
            print(f"No chapter {unknown[0]!r}.")
            return 2
        missing = ensure([e for c in chapters for e in exercises(c)])
        if missing:
            print(missing)
            return 1
        print(f"Everything {', '.join(chapters)} needs is installed.")
        return 0
    if not install:
        print("The workbook uses these Debian/Ubuntu packages:\n  " + " ".join(PACKAGES))
        return 0
    if os.geteuid() != 0:
        print("Installing packages needs root. Run:\n"
              f"  sudo sh -c '{install_command(PACKAGES)}'")
        return 1
    return subprocess.run(["sh", "-c", install_command(PACKAGES)]).returncode
