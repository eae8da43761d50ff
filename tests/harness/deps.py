"""What the workbook needs from Debian/Ubuntu, and installing it (make deps)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .chapters import Exercise

PACKAGES = ["gcc", "make", "patch", "pkg-config", "check", "python3", "python3-pytest",
            "python3-pytest-timeout", "python3-pytest-xdist", "python3-yaml", "tshark",
            "gcc-mingw-w64-x86-64", "wine", "wine64", "valgrind", "socat",
            "inotify-tools"]
INSTALL = ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
           + " ".join(PACKAGES))


def _python_has(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"],
                          capture_output=True).returncode == 0


def _pkg_config_has(lib: str) -> bool:
    return shutil.which("pkg-config") is not None and subprocess.run(
        ["pkg-config", "--exists", lib]).returncode == 0


def missing_for(exercises: list[Exercise]) -> list[tuple[str, str]]:
    """(what is missing, the Debian package that provides it)."""
    need: list[tuple[str, str]] = []
    kinds = {e.kind for e in exercises}
    names = {e.name for e in exercises}
    if not shutil.which(os.environ.get("CC", "gcc")):
        need.append(("a C compiler (gcc)", "gcc"))
    if not shutil.which("patch"):
        need.append(("patch, to apply the mutants (make test)", "patch"))
    for module, package in (("pytest", "python3-pytest"), ("xdist", "python3-pytest-xdist"),
                            ("pytest_timeout", "python3-pytest-timeout")):
        if not _python_has(module):
            need.append((f"the Python module {module} for {sys.executable}", package))
    if "check" in kinds and not _pkg_config_has("check"):
        need.append(("the Check unit-testing library", "check pkg-config"))
    if "tcp_conversation" in names and not shutil.which("tshark"):
        need.append(("tshark, the packet dissector", "tshark"))
    if "windows" in kinds:
        if not shutil.which("x86_64-w64-mingw32-gcc"):
            need.append(("the mingw-w64 cross-compiler", "gcc-mingw-w64-x86-64"))
        if not shutil.which("wine"):
            need.append(("Wine, to run Windows programs", "wine wine64"))
    return need


def explain(missing: list[tuple[str, str]]) -> str:
    lines = ["Some tools the workbook needs are missing:"]
    lines += [f"  - {what} (package: {pkg})" for what, pkg in missing]
    lines.append("Install them with `make deps` (as root), or run:")
    lines.append(f"  sudo sh -c '{INSTALL}'")
    return "\n".join(lines)


def main(install: bool) -> int:
    if not install:
        print("The workbook uses these Debian/Ubuntu packages:\n  " + " ".join(PACKAGES))
        return 0
    if os.geteuid() != 0:
        print("Installing packages needs root. Run:\n"
              f"  sudo sh -c '{INSTALL}'")
        return 1
    return subprocess.run(["sh", "-c", INSTALL]).returncode
