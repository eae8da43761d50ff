#!/usr/bin/env python3
"""Grade a whole class: `make grade SUBMISSIONS=<dir> [JOBS=n] [CHAPTER=ch]`.

    classgrade.py grade --submissions DIR [--jobs N] [--chapter CH ...]
    classgrade.py demo [--expected CSV]   the demo class of tests/demo-class/
    classgrade.py one ...                 (internal) grade one staged submission
    classgrade.py probe-netns             (internal) can we make network namespaces?

Arguments only: the work is done in tests/harness/classrun.py. Each student's work is staged into a fresh tree and graded by a worker
process of its own, in its own network namespace where the kernel allows
it, N workers at a time (tests/harness/batch.py says how). The outputs go
to build/grade/: class.csv, failures.txt, summary.txt and, per student,
students/<name>/{report.txt, junit.xml, gradescope-results.json,
results.json}.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import jail  # noqa: E402
from harness.classrun import (SUBMISSION_LIMIT, cmd_demo, cmd_grade, cmd_one,  # noqa: E402
                              cmd_probe_netns)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="classgrade.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("grade", help="grade every submission of a class folder")
    p.add_argument("--submissions", required=True)
    p.add_argument("--jobs", default="auto", help="submissions graded at once")
    p.add_argument("--session-jobs", default="0",
                   help="pytest-xdist workers inside each submission's session (0: none)")
    p.add_argument("--chapter", action="append", help="only this chapter (repeatable)")
    p.add_argument("--out", help="output folder (default: build/grade)")
    p.add_argument("--fresh", action="store_true",
                   help="a new class.csv: earlier results in --out are moved aside")
    p.add_argument("--deadline", help="git submissions: grade the last commit before this "
                   "time (ISO 8601, e.g. '2026-12-15 23:59')")
    p.add_argument("--timeout", type=float, default=SUBMISSION_LIMIT)
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("demo", help="grade the demo class of tests/demo-class")
    p.add_argument("--jobs", default="auto")
    p.add_argument("--session-jobs", default="0")
    p.add_argument("--expected", help="compare the grading with this expected.toml")
    p.add_argument("--update-expected", help="write the grading as an expected.toml here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("one")
    p.add_argument("--name", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--jobs", default="0")
    p.add_argument("--chapters", nargs="+", required=True)
    p.add_argument("--netns", action="store_true")
    p.add_argument("--pch", help="precompiled Windows headers (build.windows_pch)")
    p.set_defaults(func=cmd_one)
    p = sub.add_parser("probe-netns")
    p.set_defaults(func=cmd_probe_netns)
    args = parser.parse_args()
    if not os.environ.get(jail.AREA_ENV):
        # the jail's area for this run (test folders, build staging), shared
        # by every worker it starts; gone at the end
        area = jail.make_area()
        os.environ[jail.AREA_ENV] = str(area)
        try:
            return args.func(args)
        finally:
            shutil.rmtree(area, ignore_errors=True)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
