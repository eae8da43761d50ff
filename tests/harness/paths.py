"""Where things are: the workbook's root, the build folder, the Wine prefix.
The one place that reads WORKBOOK_BUILD (two runs at once, a read-only
checkout, class grading's worker slots) and WORKBOOK_WINE."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import jail
from .chapters import ROOT


def build_dir() -> Path:
    """build/, or WORKBOOK_BUILD: read at each call (a class-grading worker
    is given its slot's folder)."""
    return Path(os.environ.get("WORKBOOK_BUILD", ROOT / "build")).resolve()


def wine_prefix() -> Path:
    """The master Wine prefix: <build>/wine, or WORKBOOK_WINE (the workers of
    `make grade` share the class's). Every Windows program's jail binds its
    drive_c by path, so the jail's user (nobody, for root) must be able to
    reach it: when it cannot reach the build folder (a checkout under /root
    or in a private folder), the prefix lives in /var/tmp instead, one per
    build folder, kept from run to run like build/wine."""
    given = os.environ.get("WORKBOOK_WINE")
    if given:
        return Path(given).resolve()
    build = build_dir()
    if jail.reachable(build):
        return build / "wine"
    tag = hashlib.sha256(str(build).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"workbook-wine-{os.getuid()}-{tag}"
