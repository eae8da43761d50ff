"""Where things are: the workbook's root, the build folder, the Wine prefix.
The one place that reads WORKBOOK_BUILD (two runs at once, a read-only
checkout, class grading's worker slots) and WORKBOOK_WINE."""

from __future__ import annotations

import os
from pathlib import Path

from .chapters import ROOT


def build_dir() -> Path:
    """build/, or WORKBOOK_BUILD: read at each call (a class-grading worker
    is given its slot's folder)."""
    return Path(os.environ.get("WORKBOOK_BUILD", ROOT / "build")).resolve()


def wine_prefix() -> Path:
    """The master Wine prefix: <build>/wine, or WORKBOOK_WINE (the workers of
    `make grade` share the class's)."""
    return Path(os.environ.get("WORKBOOK_WINE", build_dir() / "wine")).resolve()
