"""Who is whose child, as /proc shows it.

A module of its own because three others need it and must not need each
other for it: procs.py (reaping the orphans a subreaper inherits),
sandbox.py (collecting the zombies of a cage it emptied; procs.py imports
sandbox.py, so sandbox.py cannot import procs.py) and ports.py (the sockets
of a server's children). It imports nothing of the harness.
"""

from __future__ import annotations

from pathlib import Path


def _parent(stat: str) -> int | None:
    """The parent pid in a /proc/<pid>/stat line. The command name before it
    may hold spaces and parentheses, so split after the last ')'."""
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else None


def parents() -> dict[int, int]:
    """pid -> parent pid of every process visible now. Best effort: a
    process that exits while /proc is being read is left out."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = _parent((entry / "stat").read_text())
        except OSError:
            continue
        if parent is not None:
            out[int(entry.name)] = parent
    return out


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` now."""
    return [child for child, parent in parents().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, parents before children. /proc is
    not read atomically (a pid can be reused during the read), so a pid is
    taken once at most: a loop in the snapshot cannot make this spin."""
    table = parents()
    tree, seen, frontier = [pid], {pid}, {pid}
    while frontier:
        frontier = {c for c, p in table.items() if p in frontier and c not in seen}
        seen |= frontier
        tree += sorted(frontier)
    return tree
