"""Colour for the terminal, only when stdout is one and NO_COLOR is unset."""

from __future__ import annotations

import os
import sys

TTY = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
GREEN, RED, YELLOW, BOLD, DIM = "32", "31", "33", "1", "2"


def paint(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if TTY else text
