"""compile_commands.json for clangd (VS Code, Vim, Emacs, CLion ...).

`make editor` writes it at the repository root: one entry per .c file in
chapters/ and solutions/, with the flags `make check` compiles it with
(build.py's CFLAGS; the Winsock files with the mingw-w64 compiler and
WIN_CFLAGS, so clangd takes the Windows headers), plus the Check suite
tests/check/test_wire.c, which includes the student's wire.h. Then the
editor resolves every #include and shows the same warnings as the grader.

The file holds absolute paths, so it is generated on each machine, never
committed (.gitignore lists it).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from .build import CC, CFLAGS, WIN_CC, WIN_CFLAGS
from .chapters import CHECK_SUITES, EXERCISES, ROOT

TREES = ("chapters", "solutions")
FILENAME = "compile_commands.json"


def _check_cflags() -> list[str]:
    """Check's compile flags (no libraries: the entries only compile)."""
    try:
        out = subprocess.run(["pkg-config", "--cflags", "check"], capture_output=True,
                             text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return shlex.split(out)


def _is_windows(chapter: str, name: str) -> bool:
    """A source of a Winsock exercise, or any .c file of a Winsock-only chapter."""
    kinds = {e.kind for e in EXERCISES if e.chapter == chapter and e.sources}
    return kinds == {"windows"} or any(
        e.kind == "windows" and name in e.sources
        for e in EXERCISES if e.chapter == chapter)


def _entry(compiler: str, flags: list[str], source: Path) -> dict[str, object]:
    return {"directory": str(source.parent), "file": str(source),
            "arguments": [compiler, *flags, f"-I{source.parent}", "-c", str(source)]}


def entries(root: Path = ROOT) -> list[dict[str, object]]:
    """One compile command per .c file, in a stable order."""
    out: list[dict[str, object]] = []
    for tree in TREES:
        for source in sorted((root / tree).glob("*/*.c")):
            if _is_windows(source.parent.name, source.name):
                out.append(_entry(WIN_CC, WIN_CFLAGS, source))
            else:
                out.append(_entry(CC, CFLAGS, source))
    check_flags = _check_cflags()
    for unit, suite in sorted(CHECK_SUITES.items()):
        chapter = next(e.chapter for e in EXERCISES if e.name == unit and e.kind == "check")
        source = root / suite
        out.append({"directory": str(source.parent), "file": str(source),
                    "arguments": [CC, *CFLAGS, *check_flags,
                                  f"-I{root / 'chapters' / chapter}", "-c", str(source)]})
    return out


def write(out: Path, root: Path = ROOT) -> int:
    """Write the compile commands to out; return how many files they cover."""
    items = entries(root)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(items, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    return len(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="editor", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / FILENAME)
    args = parser.parse_args(argv)
    n = write(args.out)
    shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
    print(f"Wrote {shown}: {n} files, for clangd. Open the repository folder in your "
          "editor (VS Code: install the clangd extension).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
