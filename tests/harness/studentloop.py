"""The student's loop besides `make check`: hints, resetting a starter, watching.

    make hint  EX=CH/EXERCISE [CHAPTER=CH]   tools.py hint  --ex CH/EX [--chapter CH]
    make reset EX=CH/EXERCISE [FORCE=1]      tools.py reset --ex CH/EX [--force]
    make watch [CHAPTER=CH]                  tools.py watch [--chapter CH]

Every command works on a `Paths`: the repository whose chapters/ it reads and
the build folder where it keeps its state (hints.json, backups/). The tests
pass a temporary copy of both (hidden option --root, and WORKBOOK_BUILD as
tests/grade.py honours it), so they never touch the real chapters/.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, TextIO

from . import chapters as chmod
from . import starters
from .results import read_results
from .chapters import Exercise

HINTS_FILE = "hints.toml"     # chapters/<chapter>/hints.toml
START_FIELD = "start_at"      # [exercise] start_at = { test_name = hint number }
STATE_FILE = "hints.json"     # <build>/hints.json: how many hints each exercise has shown
POLL_INTERVAL = 0.25          # seconds between two scans when polling mtimes
DEBOUNCE = 0.2                # quiet time that ends a burst of saves
BURST_MAX = 1.0               # a burst never delays a run by more than this
RUN_LIMIT = 900.0             # seconds one `make check` run may take at most
WATCH_SETUP = 30.0            # seconds inotifywait may take to set up its watches


@dataclass(frozen=True)
class Paths:
    root: Path    # the repository: chapters/ is under it
    build: Path   # the build folder (WORKBOOK_BUILD, or <root>/build)

    @property
    def chapters(self) -> Path:
        return self.root / "chapters"

    @classmethod
    def resolve(cls, root: str | Path | None = None) -> "Paths":
        top = Path(root).resolve() if root else chmod.ROOT
        build = os.environ.get("WORKBOOK_BUILD")
        return cls(top, Path(build).resolve() if build else top / "build")

    def show(self, path: Path) -> str:
        """A path as the student would type it: relative to the repository."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


class UsageError(Exception):
    """The student named something that does not exist (exit status 2)."""


def find_exercise(key: str, candidates: Iterable[Exercise]) -> Exercise:
    """`CH/EXERCISE`, also accepted as `CH/FILE` (`01_hello/hello_server.c`)."""
    wanted = key.strip().strip("/")
    if wanted.startswith("chapters/"):
        wanted = wanted[len("chapters/"):]
    pool = list(candidates)
    for e in pool:
        if wanted in (e.key, f"{e.chapter}/{e.main_file}"):
            return e
    raise UsageError(f"No exercise {key!r}. Exercises:\n"
                     + "\n".join(f"  {e.key}" for e in pool))


# -- make hint ------------------------------------------------------------------

def hinted_exercises() -> list[Exercise]:
    """The exercises that have hints: every one but the review questions,
    whose hints `make check` shows with each wrong answer, under the table."""
    return [e for e in chmod.EXERCISES if e.kind != "review"]


def load_hints(paths: Paths, chapter: str) -> dict[str, list[str]]:
    """The tables of chapters/<chapter>/hints.toml: exercise name -> hints."""
    path = paths.chapters / chapter / HINTS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{paths.show(path)} cannot be read: {exc}") from exc
    hints: dict[str, list[str]] = {}
    for name, table in data.items():
        items = table.get("hints") if isinstance(table, dict) else None
        if not (isinstance(items, list) and all(isinstance(h, str) and h.strip()
                                                for h in items)):
            raise UsageError(f"{paths.show(path)}: [{name}] needs `hints = [\"...\", ...]`")
        hints[name] = [h.strip() for h in items]
        starts = table.get(START_FIELD, {})
        if not (isinstance(starts, dict) and all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                and 1 <= v <= len(items) for k, v in starts.items())):
            raise UsageError(f"{paths.show(path)}: [{name}] {START_FIELD} maps test names to "
                             f"hint numbers, 1 to {len(items)}: "
                             f"`{START_FIELD} = {{ test_x = 2 }}`")
    return hints


def load_starts(paths: Paths, chapter: str) -> dict[str, dict[str, int]]:
    """The optional `start_at` of each table of chapters/<chapter>/hints.toml:
    exercise name -> {failing test's name -> the hint (1-based) for it}.
    load_hints has checked them."""
    load_hints(paths, chapter)
    try:
        data = tomllib.loads((paths.chapters / chapter / HINTS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {name: dict(table.get(START_FIELD, {})) for name, table in data.items()}


def load_seen(paths: Paths) -> dict[str, set[int]]:
    """The hints each exercise has shown so far (exercise key -> hint
    numbers). The file keeps a count n for hints 1 to n, a list otherwise
    (when `start_at` began with a later hint)."""
    try:
        data = json.loads((paths.build / STATE_FILE).read_text())
        seen = data.get("seen", {})
        out: dict[str, set[int]] = {}
        for k, v in seen.items():
            if isinstance(k, str):
                out[k] = (set(range(1, int(v) + 1)) if not isinstance(v, list)
                          else {int(n) for n in v if int(n) >= 1})
        return out
    except (OSError, ValueError, AttributeError, TypeError):
        return {}  # none yet, or a damaged file: start again from hint 1


def save_seen(paths: Paths, seen: dict[str, set[int]]) -> None:
    path = paths.build / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    compact = {k: (len(v) if v == set(range(1, len(v) + 1)) else sorted(v))
               for k, v in sorted(seen.items())}
    tmp.write_text(json.dumps({"seen": compact}, indent=1) + "\n")
    tmp.replace(path)  # atomic: a Ctrl-C never leaves half a file


@dataclass
class Reveal:
    hints: list[str]    # every hint shown so far, in the file's order
    new: bool           # this call showed one more
    total: int          # hints the exercise has
    numbers: list[int] = field(default_factory=list)  # their numbers (1-based)
    newest: int = 0     # the number of the one this call showed (0: none)
    matched: str = ""   # the failing test whose `start_at` chose it

    @property
    def all_shown(self) -> bool:
        return len(self.hints) == self.total


def reveal(paths: Paths, ex: Exercise, failing: Iterable[str] = ()) -> Reveal:
    """Show one more hint of `ex` than before, and remember that it was seen:
    the hint that `start_at` names for the first of the `failing` tests (at
    the last `make check`) that has one not seen yet, else the first not seen."""
    hints = load_hints(paths, ex.chapter).get(ex.name, [])
    if not hints:
        raise UsageError(f"{ex.key} has no hints yet "
                         f"(chapters/{ex.chapter}/{HINTS_FILE} has no [{ex.name}] table).")
    starts = load_starts(paths, ex.chapter).get(ex.name, {})
    seen = load_seen(paths)
    before = {n for n in seen.get(ex.key, set()) if n <= len(hints)}
    newest, matched = 0, ""
    for test in failing:
        n = starts.get(test)
        if n is not None and n not in before:
            newest, matched = n, test
            break
    if not newest:
        newest = next((n for n in range(1, len(hints) + 1) if n not in before), 0)
    shown = before | ({newest} if newest else set())
    if shown != seen.get(ex.key):
        seen[ex.key] = shown
        save_seen(paths, seen)
    numbers = sorted(shown)
    return Reveal([hints[n - 1] for n in numbers], bool(newest), len(hints), numbers,
                  newest, matched)


NBSP = "\u00a0"


def format_hint(number: int, text: str, width: int = 78) -> str:
    """Number a hint and wrap its prose; lines indented in the file (code)
    are kept as they are."""
    lead = f"  {number}. "
    pad = " " * len(lead)
    out: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        if prose:
            first = lead if not out else pad
            # `code spans` are never broken across lines
            text = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", NBSP),
                          " ".join(prose))
            out.extend(ln.replace(NBSP, " ") for ln in textwrap.wrap(
                text, width, initial_indent=first, subsequent_indent=pad,
                break_on_hyphens=False, break_long_words=False))
            prose.clear()

    for line in text.splitlines():
        if not line.strip():
            flush()
            out.append("")
        elif line.startswith((" ", "\t")):
            flush()
            out.append((lead if not out else pad) + line.rstrip())
        else:
            prose.append(line.strip())
    flush()
    return "\n".join(out)


def last_results(paths: Paths) -> dict[str, bool]:
    """Exercise key -> all its tests passed, from the last `make check` of
    this tree (build/student/results.json); empty if there is none."""
    folder = paths.build / "student"
    try:
        subs = json.loads((folder / "results-submissions.json").read_text())
    except (OSError, ValueError):
        return {}
    data = read_results(folder / "results.json")
    if data is None:
        return {}
    if not any(Path(s.get("root", "")).resolve() == paths.chapters.resolve() for s in subs):
        return {}  # that run graded another copy (make check SRC=...)
    passed: dict[str, bool] = {}
    for t in data.get("tests", []):
        if t.get("submission") == "student" and "exercise" in t:
            key = t["exercise"]
            passed[key] = passed.get(key, True) and t.get("outcome") == "passed"
    return passed


def last_failures(paths: Paths, ex: Exercise) -> list[str]:
    """The tests of `ex` that failed at the last `make check` of this tree,
    in the order they ran (each name once); empty if there is none."""
    folder = paths.build / "student"
    try:
        subs = json.loads((folder / "results-submissions.json").read_text())
    except (OSError, ValueError):
        return []
    data = read_results(folder / "results.json")
    if data is None or not any(Path(s.get("root", "")).resolve() == paths.chapters.resolve()
                               for s in subs if isinstance(s, dict)):
        return []
    tests = sorted((t for t in data.get("tests", []) if t.get("submission") == "student"
                    and t.get("exercise") == ex.key and t.get("outcome") == "failed"
                    and isinstance(t.get("test"), str)), key=lambda t: t.get("order", 0))
    return list(dict.fromkeys(t["test"] for t in tests))


def choose_in_chapter(paths: Paths, chapter: str) -> tuple[Exercise | None, str]:
    """The first exercise of the chapter that did not pass at the last
    `make check` (the chapter's first one if it was never checked)."""
    exs = [e for e in hinted_exercises() if e.chapter == chapter]
    if not exs:
        raise UsageError(f"No chapter {chapter!r}. Chapters: {', '.join(chmod.CHAPTERS)}")
    passed = last_results(paths)
    if not any(e.key in passed for e in exs):
        return exs[0], "the chapter's first exercise (no `make check` results for it yet)"
    for e in exs:
        if not passed.get(e.key, False):
            return e, "the first exercise that did not pass at your last `make check`"
    return None, "every exercise of the chapter passed at your last `make check`"


def cmd_hint(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    paths = Paths.resolve(args.root)
    keys = "\n".join(f"  {e.key}" for e in hinted_exercises())
    try:
        if args.ex:
            review = [e for e in chmod.EXERCISES if e.kind == "review"]
            try:
                ex = find_exercise(args.ex, hinted_exercises())
            except UsageError:
                if any(args.ex.strip("/") in (e.key, f"{e.chapter}/answers.txt")
                       for e in review):
                    print("The review questions have their own hints: `make check` lists "
                          "each wrong answer, with its hint, under the table (on every "
                          "run, whichever exercise is next).", file=out)
                    return 0
                raise
            why = ""
        elif args.chapter:
            ex, why = choose_in_chapter(paths, args.chapter)
            if ex is None:
                print(f"{args.chapter}: {why}. For the hints of one exercise: "
                      f"make hint EX={args.chapter}/<exercise>", file=out)
                return 0
        else:
            print(f"Which exercise? make hint EX=<chapter>/<exercise>, one of:\n{keys}",
                  file=out)
            return 2
        # the failure that make check showed in detail: its exercise's first
        shown = reveal(paths, ex, last_failures(paths, ex)[:1])
    except UsageError as exc:
        print(exc, file=out)
        return 2

    head = f"Hints for {ex.key}" + (f", {why}" if why else "")
    new = f"; hint {shown.newest} is new" if shown.new else ""
    print(f"{head}: {len(shown.hints)} of {shown.total} shown{new}\n", file=out)
    if shown.matched:
        print(f"(Hint {shown.newest} is the one for {shown.matched}, which failed at your "
              f"last `make check`.)\n", file=out)
    for i, text in zip(shown.numbers, shown.hints):
        print(format_hint(i, text) + "\n", file=out)
    if shown.all_shown and not shown.new:
        print(f"All {shown.total} hints are shown above; there are no more.", file=out)
    elif shown.all_shown:
        print(f"That was the last hint: all {shown.total} are shown.", file=out)
    else:
        print(f"The next hint: make hint EX={ex.key}", file=out)
    print(f"(Seen hints are remembered in {paths.show(paths.build / STATE_FILE)}.)", file=out)
    return 0


# -- make reset -----------------------------------------------------------------

class ResetError(Exception):
    """Reset cannot be done (exit status 1)."""


def committed(paths: Paths, rel: str) -> bytes:
    """The file chapters/... as in the last commit of the repository at root."""
    try:
        return starters.committed_file(rel, paths.root)
    except starters.StarterError as exc:
        raise ResetError(f"{exc}. Take the file from a fresh copy of the workbook "
                         "instead.") from None


def backup_path(paths: Paths, ex: Exercise, stamp: str | None = None) -> Path:
    """build/backups/<timestamp>/<chapter>/<file>, never one that exists."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    folder, n = paths.build / "backups" / stamp, 1
    while (folder / ex.chapter / ex.main_file).exists():
        n += 1
        folder = paths.build / "backups" / f"{stamp}-{n}"
    return folder / ex.chapter / ex.main_file


def reset(paths: Paths, ex: Exercise, *, force: bool,
          confirm: Callable[[str], bool] | None, out: TextIO = sys.stdout) -> int:
    """Restore the exercise's file from the last commit, after a backup.

    confirm asks a yes/no question on the terminal; None means there is no
    terminal to ask on, and then only force may go ahead."""
    rel = f"chapters/{ex.chapter}/{ex.main_file}"
    target = paths.root / rel
    try:
        starter = committed(paths, rel)
    except ResetError as exc:
        print(f"make reset: {exc}", file=out)
        return 1
    current = target.read_bytes() if target.exists() else None
    if current == starter:
        print(f"{rel} is already as in the last commit: nothing to do.", file=out)
        return 0
    if not force:
        if confirm is None:
            print(f"make reset replaces {rel} and needs a yes on the terminal, but there "
                  f"is none here. To reset without asking (your file is still backed "
                  f"up): make reset EX={ex.key} FORCE=1", file=out)
            return 1
        out.flush()
        if not confirm(f"Replace {rel} with the version of the last commit? "
                       f"Yours is backed up first. [y/N] "):
            print("Nothing changed.", file=out)
            return 0
    if current is not None:
        saved = backup_path(paths, ex)
        saved.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, saved)
        print(f"Your version is saved as {paths.show(saved)}", file=out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(starter)
    print(f"Restored {rel} as in the last commit.", file=out)
    return 0


def ask_on_terminal(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_reset(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    paths = Paths.resolve(args.root)
    try:
        if not args.ex:
            raise UsageError("Which exercise? make reset EX=<chapter>/<exercise>, one of:\n"
                             + "\n".join(f"  {e.key}" for e in chmod.EXERCISES))
        ex = find_exercise(args.ex, chmod.EXERCISES)
    except UsageError as exc:
        print(exc, file=out)
        return 2
    confirm = ask_on_terminal if sys.stdin.isatty() else None
    return reset(paths, ex, force=args.force, confirm=confirm, out=out)


# -- make watch -----------------------------------------------------------------

def chapter_of(path: Path, paths: Paths, chapters: set[str]) -> str | None:
    """The chapter a saved file belongs to, if saving it should re-run the
    tests: C sources, headers and answers.txt, not editor or build litter."""
    try:
        parts = path.relative_to(paths.chapters).parts
    except ValueError:
        return None
    if len(parts) < 2 or parts[0] not in chapters:
        return None
    name = parts[-1]
    if name.startswith((".", "#")) or not (name.endswith((".c", ".h"))
                                           or name == "answers.txt"):
        return None
    return parts[0]


def check_command(paths: Paths, chapter: str) -> list[str]:
    """`make check CHAPTER=<chapter>` on the watched tree."""
    return [sys.executable, str(chmod.ROOT / "tests" / "grade.py"), "check",
            "--src", str(paths.chapters), "--chapter", chapter]


def _die_with_parent() -> None:
    # runs in the child before exec: if the watcher dies, even by SIGKILL,
    # the kernel sends the child SIGTERM (Linux prctl PR_SET_PDEATHSIG)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class InotifySource:
    """Saved files, as inotifywait reports them: no polling."""

    mode = "inotify"

    def __init__(self, folder: Path) -> None:
        self.proc = subprocess.Popen(
            ["inotifywait", "-m", "-r", "-e", "close_write,moved_to",
             "--format", "%w%f", str(folder)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_die_with_parent)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.out, self.err = self.proc.stdout.fileno(), self.proc.stderr.fileno()
        self.buf = {self.out: b"", self.err: b""}
        self.lines: list[Path] = []
        # it says "Watches established." on stderr once every folder is
        # watched; a save before that would be missed
        errors: list[str] = []
        deadline = time.monotonic() + WATCH_SETUP
        while not any("Watches established" in e for e in errors):
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left, errors):
                self.close()
                raise OSError("inotifywait did not start: "
                              + (" ".join(errors).strip() or "no answer"))

    def _read(self, timeout: float, errors: list[str]) -> bool:
        """Read what is there within timeout; False once inotifywait is gone."""
        ready, _, _ = select.select([self.out, self.err], [], [], max(0.0, timeout))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return False
            *complete, self.buf[fd] = (self.buf[fd] + chunk).split(b"\n")
            for line in complete:
                text = line.decode("utf-8", "replace")
                if fd == self.out:
                    self.lines.append(Path(text))
                else:
                    errors.append(text)
        return True

    def wait(self, timeout: float) -> list[Path]:
        """Saved files; waits at most timeout for the first one."""
        deadline = time.monotonic() + timeout
        errors: list[str] = []
        while not self.lines:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not self._read(left, errors):
                raise OSError("inotifywait stopped: " + " ".join(errors).strip())
        for e in errors:
            print(f"watch: inotifywait: {e}", file=sys.stderr, flush=True)
        got, self.lines = self.lines, []
        return got

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class PollSource:
    """Saved files, found by comparing modification times. There is no event
    to wait on here, so it scans every POLL_INTERVAL seconds."""

    mode = "polling"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.known = self._scan()

    def _scan(self) -> dict[Path, tuple[int, int, int]]:
        found = {}
        for path in self.folder.rglob("*"):
            try:
                st = path.stat()
            except OSError:
                continue  # removed while we looked
            if path.is_file():
                found[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return found

    def wait(self, timeout: float) -> list[Path]:
        deadline = time.monotonic() + timeout
        while True:
            now = self._scan()
            changed = [p for p, sig in now.items() if self.known.get(p) != sig]
            self.known = now
            left = deadline - time.monotonic()
            if changed or left <= 0:
                return changed
            time.sleep(min(POLL_INTERVAL, left))  # polling: nothing to wait on

    def close(self) -> None:
        pass


def collect(source: InotifySource | PollSource, paths: Paths, chapters: set[str],
            timeout: float) -> dict[str, Path]:
    """Wait (at most timeout) for a save that matters, then for the burst of
    saves around it to end: chapter -> a file saved in it."""
    def add(found: list[Path]) -> bool:
        hit = False
        for p in found:
            ch = chapter_of(p, paths, chapters)
            if ch is not None:
                saved.setdefault(ch, p)
                hit = True
        return hit

    deadline = time.monotonic() + timeout
    saved: dict[str, Path] = {}
    while not saved:
        left = deadline - time.monotonic()
        if left <= 0:
            return saved
        add(source.wait(left))
    # editors write several files at once (a backup, the file, a rename):
    # run once, when the saves have stopped for DEBOUNCE seconds
    burst_end = time.monotonic() + BURST_MAX
    while True:
        quiet = min(DEBOUNCE, burst_end - time.monotonic())
        if quiet <= 0 or not add(source.wait(quiet)):
            return saved


def run_once(argv: list[str], cwd: Path, limit: float = RUN_LIMIT) -> int:
    """Run one check in the foreground. On Ctrl-C it has had the SIGINT from
    the terminal too: give it time to clean up, then make sure it is gone."""
    proc = subprocess.Popen(argv, cwd=cwd)
    try:
        return proc.wait(limit)
    except subprocess.TimeoutExpired:
        print(f"watch: the run took over {limit:g} s; stopping it", flush=True)
        _stop(proc)
        return proc.returncode
    except KeyboardInterrupt:
        try:
            _stop(proc, grace=1.0)
        except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
            proc.kill()
            proc.wait()
        raise


def _stop(proc: subprocess.Popen, grace: float = 0.0) -> None:
    for sig, wait in ((None, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        if sig is not None:
            proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            pass


def _open_source(paths: Paths, poll: bool) -> tuple[InotifySource | PollSource, str]:
    """inotifywait if it is there and works, else polling (and why)."""
    if poll:
        return PollSource(paths.chapters), ""
    if not shutil.which("inotifywait"):
        return PollSource(paths.chapters), (" (inotifywait not found: `make deps` "
                                            "installs inotify-tools)")
    try:
        return InotifySource(paths.chapters), ""
    except OSError as exc:
        return PollSource(paths.chapters), f" ({exc})"


def watch(paths: Paths, chapter: str | None, *, poll: bool = False,
          command: Callable[[str], list[str]] | None = None,
          max_runs: int | None = None, timeout: float | None = None,
          out: TextIO = sys.stdout) -> int:
    chapters = {chapter} if chapter else set(chmod.CHAPTERS)
    command = command or (lambda ch: check_command(paths, ch))
    if not paths.chapters.is_dir():
        print(f"watch: no folder {paths.chapters}", file=out)
        return 2
    source: InotifySource | PollSource | None = None
    runs = 0
    try:
        source, why = _open_source(paths, poll)
        how = ("inotifywait reports each save" if source.mode == "inotify"
               else f"modification times checked every {POLL_INTERVAL:g} s{why}")
        what = f"chapters/{chapter}" if chapter else "chapters/"
        print(f"watch: watching {what} for saves ({source.mode}: {how}). "
              f"Each save re-runs make check. Ctrl-C to stop.", file=out, flush=True)
        deadline = time.monotonic() + timeout if timeout else None
        while max_runs is None or runs < max_runs:
            left = deadline - time.monotonic() if deadline else 3600.0
            if left <= 0:
                print("watch: time is up", file=out, flush=True)
                break
            try:
                saved = collect(source, paths, chapters, left)
            except OSError as exc:  # inotifywait died under us: go on without it
                source.close()
                source = PollSource(paths.chapters)
                print(f"watch: {exc}; polling every {POLL_INTERVAL:g} s from now on",
                      file=out, flush=True)
                continue
            for ch, path in saved.items():
                if out.isatty():
                    print("\033[2J\033[H", end="", file=out)  # clear the screen
                print(f"\n==== {time.strftime('%H:%M:%S')} saved "
                      f"{paths.show(path)}: make check CHAPTER={ch} ====",
                      file=out, flush=True)
                rc = run_once(command(ch), paths.root)
                print(f"watch: done (exit status {rc}); waiting for the next save "
                      f"(Ctrl-C to stop)", file=out, flush=True)
            runs += bool(saved)
    except KeyboardInterrupt:
        print("\nwatch: stopped", file=out, flush=True)
    finally:
        if source is not None:
            source.close()
    if max_runs is not None and runs >= max_runs:
        print(f"watch: stopped after {runs} run(s)", file=out, flush=True)
    return 0


def cmd_watch(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.chapter and args.chapter not in chmod.CHAPTERS:
        print(f"No chapter {args.chapter!r}. Chapters: {', '.join(chmod.CHAPTERS)}",
              file=out)
        return 2
    paths = Paths.resolve(args.root)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, and a TERM too, end the watch cleanly (and inotifywait with it),
    # even when this process was started with SIGINT ignored
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    command = None
    if args.command:
        template = shlex.split(args.command)
        command = lambda ch: [a.replace("{chapter}", ch) for a in template]  # noqa: E731
    return watch(paths, args.chapter, poll=args.poll, command=command,
                 max_runs=args.max_runs, timeout=args.timeout, out=out)


# -- the commands ---------------------------------------------------------------

def add_commands(sub: argparse._SubParsersAction) -> None:
    hidden = argparse.SUPPRESS
    p = sub.add_parser("hint", help="the next hint for an exercise (make hint)")
    p.add_argument("--ex", help="CHAPTER/EXERCISE, e.g. 01_hello/hello_server")
    p.add_argument("--chapter", help="without --ex: the first exercise of this chapter "
                                     "that did not pass at the last make check")
    p.add_argument("--root", help=hidden)
    p.set_defaults(func=cmd_hint)

    p = sub.add_parser("reset", help="restore an exercise's starter file (make reset)")
    p.add_argument("--ex", help="CHAPTER/EXERCISE, e.g. 01_hello/hello_server")
    p.add_argument("--force", action="store_true", help="do not ask first")
    p.add_argument("--root", help=hidden)
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("watch", help="re-run make check on every save (make watch)")
    p.add_argument("--chapter", help="watch only this chapter")
    p.add_argument("--root", help=hidden)
    p.add_argument("--poll", action="store_true", help=hidden)        # never inotify
    p.add_argument("--max-runs", type=int, help=hidden)              # stop after N runs
    p.add_argument("--timeout", type=float, help=hidden)             # stop after S seconds
    p.add_argument("--command", help=hidden)  # instead of grade.py; {chapter} is replaced
    p.set_defaults(func=cmd_watch)
