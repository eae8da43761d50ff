#!/usr/bin/env python3
"""`make bench`: the echo servers of the chapters on many clients, under load.

    bench.py [--n "1 10 100"] [--quick] [--chapter 17_epoll [--src chapters]]
             [--refs DIR] [--servers echo_server,socat] [--out DIR] [--no-plots]
             [--no-netns]

Arguments only: the work is done in tests/harness/bench.py (docs/bench.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench, jail  # noqa: E402


def _numbers(text: str) -> list[int]:
    try:
        ns = [int(t.replace(",", "").replace("_", "")) for t in text.split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"N must be numbers, e.g. \"1 10 100\": {text!r}")
    if not ns or any(n < 1 or n > 10000 for n in ns):
        raise argparse.ArgumentTypeError(f"each N must be 1 to 10000: {text!r}")
    return ns


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(prog="bench.py")
    p.add_argument("--n", type=_numbers, help='the numbers of connections, e.g. "1 10 100"')
    p.add_argument("--quick", action="store_true", help="a short run (fewer rounds, N up to 100)")
    p.add_argument("--chapter", help="this chapter's reference and your server beside it")
    p.add_argument("--src", type=Path, help="where your chapters are (default: chapters/)")
    p.add_argument("--refs", type=Path, action="append",
                   help="another folder laid out like solutions/ (for servers it lacks)")
    p.add_argument("--servers", help="only these servers (comma-separated names)")
    p.add_argument("--out", type=Path, help="where results.json and the plots go")
    p.add_argument("--no-netns", action="store_true", help="stay in this network namespace")
    p.add_argument("--no-plots", action="store_true", help="the tables and results.json only")
    args = p.parse_args()
    own_area = not os.environ.get(jail.AREA_ENV)
    if own_area:
        os.environ[jail.AREA_ENV] = str(jail.make_area())
    try:
        return bench.main(ns=args.n, quick=args.quick, chapter=args.chapter, src=args.src,
                          refs=args.refs,
                          only=[s.strip() for s in args.servers.split(",")] if args.servers
                          else None,
                          out_dir=args.out.resolve() if args.out else None,
                          netns=not args.no_netns, plots=not args.no_plots)
    except KeyboardInterrupt:
        print("\nstopped")
        return 130
    finally:
        if own_area:
            shutil.rmtree(os.environ[jail.AREA_ENV], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
