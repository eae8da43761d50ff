#!/usr/bin/env python3
"""Packages for a class: the students' handout and a Gradescope autograder.

    package.py handout [--out DIR]               what students receive (make handout)
    package.py gradescope [--chapter CH] [--out DIR]   autograder.zip (make gradescope)
    package.py autograde --submission DIR --results FILE --work DIR
                                                  grade one Gradescope submission
                                                  (run by the zip's run_autograder)
    package.py classroom [--check] [--chapter C]  write .github/workflows/classroom.yml
    package.py classroom-result --chapter C       (in the workflow) the chapter's points
                                                  (GitHub Classroom), or check it is current

Arguments only: the work is done in tests/harness/packaging.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import chapters as chmod  # noqa: E402
from harness import paths, reports  # noqa: E402
from harness.packaging import (CLASSROOM_YML, ROOT, PackageError, autograde,  # noqa: E402
                               classroom_result, classroom_yml, make_gradescope,
                               make_handout)


def main() -> int:
    parser = argparse.ArgumentParser(prog="package.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("handout")
    p.add_argument("--out", default=str(paths.build_dir() / "handout"))
    p = sub.add_parser("gradescope")
    p.add_argument("--chapter", action="append", help="grade only this chapter (repeatable)")
    p.add_argument("--out", default=str(paths.build_dir() / "gradescope" / "autograder.zip"))
    p = sub.add_parser("classroom")
    p.add_argument("--check", action="store_true", help="only say whether it is current")
    p.add_argument("--chapter", action="append",
                   help="grade only this chapter (repeatable; default: as the file says)")
    p = sub.add_parser("classroom-result")
    p.add_argument("--chapter", required=True)
    p = sub.add_parser("autograde")
    p.add_argument("--submission", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--work", required=True)
    args = parser.parse_args()
    try:
        if args.cmd == "handout":
            out = Path(args.out).resolve()
            make_handout(out, tar_path=out.with_name(out.name + ".tar.gz"),
                         committed_only=True)
            print(f"handout: {out}/ and {out}.tar.gz (without solutions/ and mutants; "
                  "review keys hashed in tests/keys/)")
        elif args.cmd == "gradescope":
            chapters = args.chapter or list(chmod.CHAPTERS)
            unknown = [c for c in chapters if c not in chmod.CHAPTERS]
            if unknown:
                raise PackageError(f"no chapter {unknown[0]!r}; chapters: "
                                   + ", ".join(chmod.CHAPTERS))
            out = make_gradescope(Path(args.out).resolve(), chapters)
            print(f"gradescope: {out} (chapters: {', '.join(chapters)}); upload it as the "
                  "autograder of a Programming Assignment")
        elif args.cmd == "classroom-result":
            print(classroom_result(args.chapter, paths.build_dir()))
        elif args.cmd == "classroom":
            unknown = [c for c in args.chapter or [] if c not in chmod.CHAPTERS]
            if unknown:
                raise PackageError(f"no chapter {unknown[0]!r}; chapters: "
                                   + ", ".join(chmod.CHAPTERS))
            target, text = ROOT / CLASSROOM_YML, classroom_yml(ROOT, args.chapter)
            current = target.read_text() if target.exists() else ""
            if args.check:
                print(f"{CLASSROOM_YML}: " + ("current" if current == text else
                                             "out of date (make classroom)"))
                return 0 if current == text else 1
            if current != text:
                reports.write_atomic(target, text)
            print(f"{CLASSROOM_YML}: " + ("written" if current != text else "current"))
        else:
            res = autograde(Path(args.submission), Path(args.results), Path(args.work))
            print(res.get("output", ""))
            print(f"score: {res['score']}")
    except PackageError as exc:
        print(f"package: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
