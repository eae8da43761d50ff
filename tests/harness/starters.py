"""The starters as committed: what the self-test grades as "the starter",
what `make reset` restores and what `make try` recognises as not written yet.

The one reader of committed files. It asks git with `safe.directory` set for
this one command, so that root reading a clone another user owns (git's
"dubious ownership" refusal) still gets the committed files, never the
working tree's possibly edited ones in their place."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from .chapters import ROOT

GIT_TIMEOUT = 30  # seconds for one git command
FROM_TREE_ENV = "WORKBOOK_STARTERS_FROM_TREE"


class StarterError(Exception):
    """The committed files cannot be read; the message says why and what to do."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        # HEAD:./<path> and `archive HEAD <path>` are relative to cwd, so a
        # workbook inside a bigger repository works too
        return subprocess.run(["git", "-c", f"safe.directory={root}", *args], cwd=root,
                              capture_output=True, timeout=GIT_TIMEOUT)
    except FileNotFoundError:
        raise StarterError("git is not installed, so the committed starters cannot be "
                           "read") from None
    except subprocess.TimeoutExpired:
        raise StarterError(f"git took more than {GIT_TIMEOUT} s") from None


def _checkout(root: Path) -> None:
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.decode().strip() != "true":
        raise StarterError(f"{root} is not a git checkout, so there is no last commit to "
                           "take the starters from: "
                           + (inside.stderr.decode(errors="replace").strip() or "no .git"))


def committed_file(rel: str, root: Path = ROOT) -> bytes:
    """The file at rel (e.g. chapters/01_hello/hello_server.c) as in HEAD."""
    _checkout(root)
    shown = _git(root, "show", f"HEAD:./{rel}")
    if shown.returncode != 0:
        raise StarterError(f"{rel} is not in the last commit: "
                           + shown.stderr.decode(errors="replace").strip())
    return shown.stdout


def starter_tree(dest: Path, root: Path = ROOT) -> Path:
    """dest/chapters: the chapters as committed (so that edits in the working
    tree never count as the starter), plus files not committed yet (a
    maintainer's new chapter). Not a git checkout: StarterError, unless
    WORKBOOK_STARTERS_FROM_TREE=1 says to take the working tree as it is."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if os.environ.get(FROM_TREE_ENV) == "1":
        shutil.copytree(root / "chapters", dest / "chapters")
        return dest / "chapters"
    _checkout(root)
    archive = _git(root, "archive", "HEAD", "chapters")
    if archive.returncode != 0:
        raise StarterError("git archive failed: "
                           + archive.stderr.decode(errors="replace").strip())
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        # filter= exists from Python 3.11.4 (and in security updates)
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, **extra)
    for f in (root / "chapters").rglob("*"):
        target = dest / f.relative_to(root)
        if f.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
    return dest / "chapters"
