"""The master Wine prefix for the Windows chapter's programs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from . import paths
from .term import DIM, YELLOW, paint


class Wine:
    """The master Wine prefix (build/wine), made once with `wineboot`.

    No program uses it directly: each Windows program runs in a jail of its
    own with a private view of it and a wineserver of its own
    (harness/jail.py), so Wine 8's occasional server crash takes down one
    program, never the run. What this does is make the prefix on first use
    and, at the end, kill any Wine process still running in it (a grader
    that was killed may have left some)."""

    def __init__(self, needed: bool, prefix: Path | None = None) -> None:
        self.needed = needed and shutil.which("wine") is not None
        self.prefix = prefix or paths.wine_prefix()
        self.env = dict(os.environ, WINEPREFIX=str(self.prefix), WINEDEBUG="-all",
                        WINEDLLOVERRIDES="mscoree,mshtml=")
        self.env.pop("DISPLAY", None)

    def __enter__(self) -> "Wine":
        if not self.needed:
            return self
        self.sweep()
        if not (self.prefix / "system.reg").exists():
            print(paint(f"Setting up Wine in {self.prefix} (once; takes a few seconds)...", DIM),
                  flush=True)
            self.prefix.mkdir(parents=True, exist_ok=True)
            self._run(["wineboot", "-i"], 180)
            self._run(["wineserver", "-w"], 60)  # the registry is written when it ends
            self.sweep()
        return self

    def _run(self, argv: list[str], timeout: float) -> None:
        # Wine's background services inherit stdout and stderr: never capture
        # them, or the wait lasts as long as the services do
        try:
            subprocess.run(argv, env=self.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=timeout)
        except subprocess.TimeoutExpired:
            print(paint(f"warning: `{' '.join(argv)}` took over {timeout} s", YELLOW))

    def sweep(self) -> None:
        """Kill every Wine process (wineserver, a Windows program or service:
        their executable is Wine's) that runs in this Wine prefix itself."""
        mark = f"WINEPREFIX={self.prefix}\0".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if not os.path.basename(os.readlink(entry / "exe")).startswith("wine"):
                    continue
                environ = (entry / "environ").read_bytes() + b"\0"
            except OSError:
                continue
            if mark in environ:
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def __exit__(self, *exc: object) -> None:
        if self.needed:
            self.sweep()
