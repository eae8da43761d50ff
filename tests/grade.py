#!/usr/bin/env python3
"""The workbook's driver: `make check`, `make test`, `make deps`, `make docs`.

    grade.py check [--chapter CH] [--sanitize]   grade the work in chapters/
    grade.py selftest                           prove the workbook sound
    grade.py deps [--install]                   what is missing, or install it
    grade.py docs [--check]                     regenerate exercises.md etc.

Arguments only: the work is done in tests/harness/ (checkrun.py for check,
selftest.py for selftest, deps.py, docs.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import checkrun, deps, docs, jail, selftest  # noqa: E402
from harness.chapters import ROOT  # noqa: E402


# -- make deps / make docs --------------------------------------------------------

def cmd_deps(args: argparse.Namespace) -> int:
    return deps.main(install=args.install, chapters=args.chapter)


def cmd_docs(args: argparse.Namespace) -> int:
    stale = docs.generate(check_only=args.check)
    if args.check and stale:
        print("Out of date (run `make docs`): " + ", ".join(stale))
        return 1
    if not args.check:
        print("Updated: " + (", ".join(stale) if stale else "nothing (all current)"))
    return 0


def main() -> int:
    # a TERM (from timeout, or an instructor's script) ends the run the way
    # Ctrl-C does, so that the clean-ups (Wine, the test processes) still run
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="grade.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check")
    p.add_argument("--chapter")
    p.add_argument("--sanitize", action="store_true")
    p.add_argument("--valgrind", action="store_true",
                   help="run every native program under valgrind (slow)")
    p.add_argument("--src", default=str(ROOT / "chapters"))
    p.add_argument("--jobs", default="auto")
    p.add_argument("--seed", type=int, help="the fault-injection seed a failure showed")
    p.set_defaults(func=lambda a: checkrun.check(
        chapter=a.chapter, src=Path(a.src), sanitize=a.sanitize, valgrind=a.valgrind,
        jobs=a.jobs, seed=a.seed))
    p = sub.add_parser("selftest")
    p.add_argument("--jobs", default="auto")
    p.add_argument("--seed", type=int, help="the fault-injection seed (default: random)")
    p.add_argument("--verbose", action="store_true", help="list every proof as it is made")
    p.add_argument("--chapter", help="only this chapter's references, starters and mutants")
    p.set_defaults(func=lambda a: selftest.run(a.jobs, seed=a.seed, verbose=a.verbose,
                                               chapter=a.chapter))
    p = sub.add_parser("deps")
    p.add_argument("--install", action="store_true")
    p.add_argument("--chapter", action="append",
                   help="install only what this chapter needs (repeatable)")
    p.set_defaults(func=cmd_deps)
    p = sub.add_parser("docs")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_docs)
    args = parser.parse_args()
    if args.cmd in ("check", "selftest") and not os.environ.get(jail.AREA_ENV):
        # the jail's area for this run: test folders, build staging; gone at the end
        area = jail.make_area()
        os.environ[jail.AREA_ENV] = str(area)
        try:
            return args.func(args)
        finally:
            shutil.rmtree(area, ignore_errors=True)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
