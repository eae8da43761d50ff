#!/usr/bin/env python3
"""The student's loop besides `make check`:

    tools.py hint  --ex CH/EXERCISE        the next hint (make hint)
    tools.py reset --ex CH/EXERCISE        restore a starter (make reset)
    tools.py watch [--chapter CH]          re-run tests on save (make watch)
    tools.py run   --ex CH/PROGRAM         run one program by hand (make run)
    tools.py try   --chapter CH            a server and a client to talk to (make try)
    tools.py trace --chapter CH            the chapter's packets as a timeline (make trace)
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import live, studentloop  # noqa: E402


def main() -> int:
    # Ctrl-C must stop these tools even when whatever started them ignored
    # SIGINT (a command started in the background by a script inherits
    # that, and Python then leaves it ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(prog="tools.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    studentloop.add_commands(sub)   # hint, reset, watch
    live.add_commands(sub)          # run, try, trace
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
