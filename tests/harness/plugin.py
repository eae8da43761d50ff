"""The pytest side of the harness.

A run grades one or more *submissions* (a student's chapters/, the
references, the starters, each mutant), listed in a JSON manifest given with
`--submissions`. Every chapter test takes the fixture `prog`, which is
parametrized over each submission's exercises that have the test's role
(`@pytest.mark.role("echo_server")`), so the same test grades the POSIX and
the Winsock echo server, for every submission, in one session that
pytest-xdist can spread over the cores. Outcomes go to the JSON file given
with `--results`, which the driver (tests/grade.py) turns into the table.
"""

from __future__ import annotations

import json
import re
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from . import build as buildmod
from . import faults as faultsmod
from . import jail as jailmod
from .chapters import ROOT, Exercise, exercises
from .procs import Proc, ProcessGroup, become_subreaper
from .results import partial_path
from .sandbox import PLAIN_ADDRESS_SPACE

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"]
VALGRIND_MARK = re.compile(r"==\d+== (Invalid|Conditional|Syscall param|Mismatched|"
                           r"Source and destination|\d+ bytes in \d+ blocks are definitely)")


@dataclass
class Submission:
    name: str
    kind: str                  # student | reference | starter | mutant
    root: Path                 # folder holding the chapter folders
    build: Path                # build folder
    chapters: list[str] | None = None
    only_exercises: list[str] | None = None   # mutants: the exercises they change
    only_tests: list[str] = field(default_factory=list)
    sanitize: bool = False
    valgrind: bool = False

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Submission":
        return cls(d["name"], d["kind"], Path(d["root"]), Path(d["build"]),
                   d.get("chapters"), d.get("only_exercises"), d.get("only_tests", []),
                   d.get("sanitize", False), d.get("valgrind", False))

    def selects(self, ex: Exercise, test: str, case: str | None) -> bool:
        if self.chapters is not None and ex.chapter not in self.chapters:
            return False
        if self.only_exercises is None:
            return True
        return ex.key in self.only_exercises and (
            test in self.only_tests or f"{test}[{case}]" in self.only_tests)


@dataclass
class Program:
    """One exercise of one submission, as a test sees it."""
    sub: Submission
    ex: Exercise
    built: buildmod.BuildResult | None
    case: Any = None           # a review question, a Check test name, ...
    case_id: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    # set for each test by the fixture _fault_injection: the seed of this
    # test's faults (harness/faults.py), None for a test without them
    fault_seed: int | None = None
    faults_lib: str | None = None

    @property
    def src_dir(self) -> Path:
        return self.sub.root / self.ex.chapter

    @property
    def shown_file(self) -> str:
        return f"{self.sub.root.name}/{self.ex.chapter}/{self.ex.main_file}"

    def require_build(self) -> str:
        """The binary's path; fails the test if it did not compile."""
        b = self.built
        if b is None:
            pytest.fail(f"{self.ex.key} was not built (run through `make check`).",
                        pytrace=False)
        if b.missing:
            pytest.fail(f"{self.shown_file} is missing ({', '.join(b.missing)} not found).",
                        pytrace=False)
        if not b.ok:
            log = "\n".join(b.log.strip().splitlines()[:25])
            pytest.fail(f"{self.shown_file} does not compile:\n  $ {b.cmd}\n{log}",
                        pytrace=False)
        return b.binary

    def argv(self, *args: str) -> list[str]:
        binary = self.require_build()
        if self.ex.kind == "windows":
            return ["wine", binary, *args]
        if self.sub.valgrind:
            return [*VALGRIND, binary, *args]
        return [binary, *args]

    def start(self, procs: ProcessGroup, *args: str, **kwargs) -> Proc:
        """Start the program in the jail (harness/jail.py): it sees a copy of
        its binary, the test's folder and the system's files, nothing else."""
        binary = self.require_build()
        jail: dict[str, Any] = {"files": {binary: Path(binary)}}
        if self.ex.kind == "windows":
            if jailmod.find().mode == "user":
                pytest.skip("Windows programs need bubblewrap's namespaces when the "
                            "grader is root (" + jailmod.find().why + ")")
            jail["wine"] = Path(self.env["WINEPREFIX"])
            kwargs.setdefault("env", self.env)
        else:  # Wine's variables are for Wine only
            kwargs.setdefault("env", {k: v for k, v in self.env.items()
                                      if not k.startswith("WINE")})
        kwargs.setdefault("label", self.ex.binary)
        if self.fault_seed is not None and self.ex.kind != "windows":
            # the seed for the program only; a sanitized program has the
            # faults linked in (AddressSanitizer must be loaded first), any
            # other gets them preloaded from a read-only copy
            setenv = {faultsmod.SEED_ENV: str(self.fault_seed)}
            if not self.sub.sanitize and self.faults_lib:
                jail["files"][faultsmod.LIB_INSIDE] = Path(self.faults_lib)
                setenv["LD_PRELOAD"] = faultsmod.LIB_INSIDE
            jail["setenv"] = setenv
        if procs.limits is not None and not (self.ex.kind == "windows" or self.sub.sanitize
                                             or self.sub.valgrind):
            # AddressSanitizer, valgrind and Wine reserve huge address spaces:
            # only a plain program gets an address-space limit; all are
            # bounded by the cage's memory limit
            kwargs.setdefault("limits", replace(procs.limits,
                                                address_space=PLAIN_ADDRESS_SPACE))
        return procs.start(self.argv(*args), jail=jail, **kwargs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workbook")
    group.addoption("--submissions", help="JSON list of submissions to grade")
    group.addoption("--results", help="write per-test outcomes here (JSON)")
    group.addoption("--wineprefix", default=str(ROOT / "build" / "wine"))
    group.addoption("--faults-lib", help="tests/faults/faults.c built as a shared library")
    group.addoption("--fault-seed", type=int, default=None,
                    help="the run seed of fault injection (make check SEED=...)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "role(name): the exercises a test applies to")
    config.addinivalue_line("markers", "workbook_unused: not asked for in this run")
    config.addinivalue_line("markers", "faults: the program's socket reads and writes are "
                            "broken into pieces and interrupted (harness/faults.py)")
    become_subreaper()
    config._workbook_subs = _load_subs(config)  # type: ignore[attr-defined]
    config._workbook_results = {}  # type: ignore[attr-defined]


def _load_subs(config: pytest.Config) -> list[Submission]:
    path = config.getoption("--submissions")
    if not path:
        return []
    return [Submission.from_json(d) for d in json.loads(Path(path).read_text())]


def _module_chapters(metafunc: pytest.Metafunc) -> list[str]:
    chapters = getattr(metafunc.module, "CHAPTERS", None)
    if chapters:
        return list(chapters)
    return [Path(metafunc.module.__file__).stem.removeprefix("test_")]


def _cases(metafunc: pytest.Metafunc, ex: Exercise) -> list[tuple[str | None, Any]]:
    hook = getattr(metafunc.module, "cases", None)
    return hook(ex) if hook else [(None, None)]


def _base_env(config: pytest.Config) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # WINEPREFIX names the master prefix; in the jail the program sees a
    # private view of it (jail._wine_view) with a wineserver of its own
    env.update(WINEDEBUG="-all", WINEPREFIX=config.getoption("--wineprefix"),
               WINEDLLOVERRIDES="mscoree,mshtml=", LC_ALL="C")
    return env


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "prog" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("role")
    if marker is None:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} uses prog but has no role")
    role, test = marker.args[0], metafunc.definition.originalname
    subs: list[Submission] = metafunc.config._workbook_subs  # type: ignore[attr-defined]
    base_env = _base_env(metafunc.config)
    params, ids = [], []
    builds: dict[Path, dict[str, buildmod.BuildResult]] = {}
    for sub in subs:
        if sub.build not in builds:
            builds[sub.build] = buildmod.load(sub.build)
        env = dict(base_env)
        if sub.sanitize:
            env.update(ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                       UBSAN_OPTIONS="print_stacktrace=1")
        for chapter in _module_chapters(metafunc):
            if sub.chapters is not None and chapter not in sub.chapters:
                continue
            for ex in exercises(chapter):
                if ex.role != role:
                    continue
                for case_id, case in _cases(metafunc, ex):
                    if not sub.selects(ex, test, case_id):
                        continue
                    prog = Program(sub, ex, builds[sub.build].get(ex.key), case, case_id, env)
                    params.append(prog)
                    ids.append(":".join(x for x in (sub.name, chapter, case_id) if x))
    if not params:
        # nothing of this test is asked for in this run
        metafunc.parametrize("prog", [pytest.param(None, marks=pytest.mark.workbook_unused)],
                             ids=["unused"])
        return
    metafunc.parametrize("prog", params, ids=ids)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # the argument contract first (tests/chapters/test_contracts.py), as the
    # notes state it first: a student's first failure is the first clause
    items.sort(key=lambda item: item.path.name != "test_contracts.py")  # stable
    keep, drop = [], []
    for order, item in enumerate(items):
        if item.get_closest_marker("workbook_unused"):
            drop.append(item)
            continue
        prog = getattr(item, "callspec", None) and item.callspec.params.get("prog")
        if isinstance(prog, Program):
            item.user_properties += [("submission", prog.sub.name),
                                     ("exercise", prog.ex.key),
                                     ("test", item.originalname),  # type: ignore[attr-defined]
                                     ("case", prog.case_id or ""),
                                     ("order", order)]
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _fault_injection(request: pytest.FixtureRequest) -> None:
    """Give a test marked `faults` its seed (the same for the same run seed
    and test, whichever worker runs it); every other test runs without."""
    prog = request.node.callspec.params.get("prog") if hasattr(request.node, "callspec") else None
    if not isinstance(prog, Program):
        return
    seed = request.config.getoption("--fault-seed")
    lib = request.config.getoption("--faults-lib")
    if (request.node.get_closest_marker("faults") is None or seed is None
            or prog.ex.kind == "windows" or not (lib or prog.sub.sanitize)):
        prog.fault_seed = None
        return
    prog.fault_seed = faultsmod.seed_for(seed, request.node.nodeid)
    prog.faults_lib = lib
    request.node._workbook_fault_said = False  # type: ignore[attr-defined]
    request.node._workbook_fault_run_seed = seed  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A test that failed under fault injection says so, with the seed that
    replays it, as the last line of its message."""
    outcome = yield
    report = outcome.get_result()
    seed = getattr(item, "_workbook_fault_run_seed", None)
    if seed is None or not report.failed or getattr(item, "_workbook_fault_said", False):
        return
    item._workbook_fault_said = True  # type: ignore[attr-defined]
    line = faultsmod.replay_line(seed)
    text = report.longrepr if isinstance(report.longrepr, str) else report.longreprtext
    report.longrepr = text.rstrip("\n") + "\n" + line


@pytest.fixture
def procs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProcessGroup]:
    """Programs started by this test; all are killed when it ends. They run
    in the test's own temporary folder."""
    group = ProcessGroup(cwd=tmp_path)
    yield group
    wine = [proc for proc in group.procs if proc.argv[:1] == ["wine"]]
    if any(proc.outwaited or "Unhandled" in proc.stderr_text() for proc in wine):
        request.node._workbook_wine_hung = True  # type: ignore[attr-defined]
    if any(jailmod.wine_crashed(proc.stderr_text()) for proc in wine):
        request.node._workbook_wine_crashed = True  # type: ignore[attr-defined]
    group.close()
    unjailed = [p for p in group.procs if p.jailed and p.stderr.startswith(b"bwrap: ")]
    if unjailed:
        # the sandbox itself failed: the grader's problem, never the student's
        pytest.fail("HARNESS PROBLEM (not your program's): the sandbox could not start "
                    f"{unjailed[0].label}: {unjailed[0].stderr_text().splitlines()[0]}",
                    pytrace=False)
    if group.events:
        # shown under the test's failure (pytest_runtest_logreport)
        request.node.user_properties.append(("sandbox", "; ".join(group.events)))
    prog = request.node.callspec.params.get("prog") if hasattr(request.node, "callspec") else None
    if isinstance(prog, Program) and prog.sub.valgrind:
        for proc in group.procs:
            m = VALGRIND_MARK.search(proc.stderr_text())
            if m:
                err = proc.stderr_text()
                pytest.fail(f"valgrind found a problem in {proc.label}:\n"
                            + err[max(0, m.start() - 200):m.start() + 2500], pytrace=False)
    if isinstance(prog, Program) and prog.sub.sanitize:
        for proc in group.procs:
            err = proc.stderr_text()
            if any(mark in err for mark in SANITIZER_MARKS):
                start = min(err.find(m) for m in SANITIZER_MARKS if m in err)
                pytest.fail(f"the sanitizer found a problem in {proc.label}:\n"
                            + err[max(0, start - 200):start + 2500], pytrace=False)


# -- more chances for Wine ----------------------------------------------

WINE_CRASH_ATTEMPTS = 5   # runs of one test at most while Wine's server keeps crashing


def wine_rerun(attempts: int, crashed: bool, hung: bool, hung_retried: bool) -> str | None:
    """Why a failed Windows test runs again, or None: it failed `attempts`
    times so far; the last attempt saw Wine's server crash, or its program
    hang or die of an unhandled exception."""
    if crashed:
        return ("Wine's server crashed (its own bug, not the program's)"
                if attempts < WINE_CRASH_ATTEMPTS else None)
    if hung and not hung_retried:
        return "under Wine the program hung or crashed"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run a Windows program's test again when Wine, not the program, failed it.

    - Wine 8's server now and then fails an assertion in its socket code and
      exits, and the program with it. Each program has a wineserver of its
      own (in its jail), so the crash is seen in that program's stderr and
      touches no other test: the test runs again, up to WINE_CRASH_ATTEMPTS
      times in all, while every attempt saw such a crash (measured: about
      one program in 300 meets it, so five in a row is never seen).
    - Wine itself, rarely, leaves the reference client waiting for an echo
      that has arrived, or crashes inside it ("Unhandled page fault"): a
      test that failed that way runs once more. A program that really hangs
      or crashes does it again, so the second run changes no grade but the
      unlucky one's.

    The results say when a test needed another run, and why."""
    prog = item.callspec.params.get("prog") if hasattr(item, "callspec") else None
    if not (isinstance(prog, Program) and prog.ex.kind == "windows"):
        return None
    from _pytest.runner import runtestprotocol
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    attempts, hung_retried = 1, False
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    while any(r.failed for r in reports):
        crashed = getattr(item, "_workbook_wine_crashed", False)
        hung = getattr(item, "_workbook_wine_hung", False)
        why = wine_rerun(attempts, crashed, hung, hung_retried)
        if why is None:
            break
        hung_retried = hung_retried or not crashed
        first = next(r for r in reports if r.failed)
        item._workbook_wine_crashed = item._workbook_wine_hung = False  # type: ignore
        item._initrequest()  # type: ignore[attr-defined]
        item.user_properties.append(
            ("retried", f"{why}, so the test was run again; that run said: "
             + (first.longreprtext.strip().splitlines() or [""])[0][:300]))
        attempts += 1
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


# -- recording outcomes ---------------------------------------------------

def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = _CONFIG.get("config")
    if config is None or hasattr(config, "workerinput"):
        return
    results: dict[str, dict] = config._workbook_results  # type: ignore[attr-defined]
    entry = results.setdefault(report.nodeid, {
        "nodeid": report.nodeid, "outcome": "passed", "duration": 0.0,
        "message": "", **dict(report.user_properties)})
    entry.update({k: v for k, v in report.user_properties})
    entry["duration"] += report.duration
    if "sandbox" in entry and report.when == "teardown" and entry["outcome"] == "failed" \
            and "sandbox:" not in entry["message"]:
        entry["message"] += f"\nsandbox: {entry['sandbox']}"
    if report.failed and entry["outcome"] == "failed" and report.when == "teardown":
        # found after the test had already failed: a sanitizer's or valgrind's
        # report, usually the cause of that failure, so it is shown too
        entry["message"] += "\n\n" + "\n".join(
            ln for ln in report.longreprtext.splitlines() if not ln.lstrip().startswith("[gw"))
    elif report.failed and entry["outcome"] != "failed":
        entry["outcome"] = "failed"
        # xdist puts a "[gw0] linux -- Python ..." line first: not for students
        entry["message"] = "\n".join(ln for ln in report.longreprtext.splitlines()
                                     if not ln.lstrip().startswith("[gw"))
        entry["when"] = report.when
    elif report.skipped and entry["outcome"] != "failed":  # in setup, or by the test itself
        entry["outcome"] = "skipped"
        entry["message"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if report.when == "teardown":
        _partial(config, entry)


_CONFIG: dict[str, pytest.Config] = {}


def _partial(config: pytest.Config, entry: dict) -> None:
    """One line per finished test, as it finishes: a session killed before
    its end still leaves what it graded (harness/results.py)."""
    out = config.getoption("--results")
    if not out:
        return
    with open(partial_path(Path(out)), "a") as f:
        f.write(json.dumps(entry) + "\n")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG["config"] = session.config
    out = session.config.getoption("--results")
    if out and not hasattr(session.config, "workerinput"):
        partial_path(Path(out)).unlink(missing_ok=True)
    session.config._workbook_t0 = time.monotonic()  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    out = config.getoption("--results")
    if not out or hasattr(config, "workerinput"):
        return
    data = {"elapsed": time.monotonic() - config._workbook_t0,  # type: ignore[attr-defined]
            "tests": list(config._workbook_results.values())}  # type: ignore[attr-defined]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    partial_path(path).unlink(missing_ok=True)
