"""`make bench`: the servers for many clients under load (docs/bench.md).

Our own load generator (tests/bench/loadgen.c) drives each server of
SERVERS (the one list of servers: a chapter's reference echo server, or
socat as the yardstick from outside) at each number of connections N, one
run at a time: the server starts in the jail like any student program
(procs.ProcessGroup, with limits raised for 10,000 descriptors and as many
threads), the loadgen connects N times, then does its rounds and prints one
JSON line; the server is killed and its cage emptied after each run. The
results go to build/bench/results.json, a table in the terminal, and plots
(matplotlib, Agg) in build/bench/*.png.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import build as buildmod
from . import jail, paths, ports, sandbox
from .chapters import ROOT
from .procs import ProcessGroup, ProgramExited, WaitTimeout
from .term import BOLD, DIM, RED, YELLOW, paint

LOADGEN_SOURCE = ROOT / "tests" / "bench" / "loadgen.c"
REFS_ENV = "WORKBOOK_BENCH_REFS"   # more folders laid out like solutions/ (docs/bench.md)


@dataclass(frozen=True)
class Server:
    name: str               # the row's label
    chapter: str            # "" for an outside tool
    program: str            # the program's name (its source: <program>.c)
    max_conns: int = 0      # the most connections the model can serve (0: any)
    why_max: str = ""       # why, shown where the run is skipped
    argv: tuple[str, ...] = ()  # an outside tool's command line ({port} filled in)


# The servers of the bench, in the table's order.
SERVERS: tuple[Server, ...] = (
    Server("echo_server", "04_iterative_echo", "echo_server", 5,
           "serves 5 clients, one after another, then exits"),
    Server("echo_mpserv", "10_multiprocess", "echo_mpserv"),
    Server("echo_selectserv", "12_select", "echo_selectserv", 1000,
           "select() watches descriptors below FD_SETSIZE (1024) only"),
    Server("echo_epollserv", "17_epoll", "echo_epollserv"),
    Server("echo_thrserv", "18_threads", "echo_thrserv"),
    # a process per connection, echoing through a pipe (docs/bench.md: why PIPE)
    Server("socat", "", "socat",
           argv=("socat", "TCP-LISTEN:{port},reuseaddr,fork,backlog=4096", "PIPE")),
)

FULL_NS = (1, 2, 10, 100, 1000, 10000)
QUICK_NS = (1, 2, 10, 100)


@dataclass(frozen=True)
class Plan:
    """The workload: every connection does `rounds(n)` rounds, so that each
    run moves about `total` payloads (sizes min_size..max_size bytes)."""
    total: int = 10000
    min_rounds: int = 4
    min_size: int = 16
    max_size: int = 4096
    deadline: int = 20          # seconds one loadgen run may take at most
    seed: int = 1

    def rounds(self, n: int) -> int:
        return max(self.min_rounds, self.total // n)


FULL = Plan(total=30000, deadline=30)
QUICK = Plan(total=2000, deadline=10)

# A server under load: descriptors and threads (or processes) for 10,000
# clients (the jail's per-test defaults are 1024 and 128), the machine's
# cores, and memory for 10,000 processes (echo_mpserv and socat take
# 1.1-1.3 GB there).
LIMITS = sandbox.Limits(pids=11000, memory=6 << 30, cpu=float(os.cpu_count() or 2),
                        open_files=20000)
CFLAGS = [*buildmod.CFLAGS, "-O2", "-pthread"]


@dataclass
class Row:
    """One line of the table: a server built (or found) and ready to start."""
    server: Server
    label: str
    argv: list[str] = field(default_factory=list)   # {port} to fill in
    binary: str = ""        # a built program (run from a copy in the jail)
    problem: str = ""       # why it cannot run at all


@dataclass
class Run:
    label: str
    chapter: str
    n: int
    rounds_per_conn: int
    status: str             # "ok" | "errors" | "skipped" | "failed"
    why: str = ""
    result: dict = field(default_factory=dict)   # the loadgen's JSON line
    server_mb: float | None = None   # the server's peak memory (its cage), MiB
    server_cpu: float | None = None  # the server's CPU seconds (its cage)


def cage_usage(group: ProcessGroup) -> tuple[float | None, float | None]:
    """(peak memory in MiB, CPU seconds) of everything in the group's cage,
    where the cgroup controllers say (v1 or v2); None where they do not."""
    cage = group.cage
    if cage is None:
        return None, None
    mem = cpu = None
    mdir, cdir = cage.dirs.get("memory"), cage.dirs.get("cpu")
    for path, scale in ((mdir and mdir / "memory.max_usage_in_bytes", 1 << 20),
                        (mdir and mdir / "memory.peak", 1 << 20)):
        try:
            mem = int(path.read_text()) / scale
            break
        except (OSError, ValueError, AttributeError):
            continue
    try:
        cpu = int((cdir / "cpuacct.usage").read_text()) / 1e9
    except (OSError, ValueError, TypeError):
        try:
            stat = dict(ln.split() for ln in (cdir / "cpu.stat").read_text().splitlines())
            cpu = int(stat["usage_usec"]) / 1e6
        except (OSError, ValueError, TypeError, KeyError):
            cpu = _proc_cpu(cage.pids())
    return mem, cpu


def _proc_cpu(pids: set[int]) -> float | None:
    """utime + stime of these processes (all their threads), with those of
    their children already reaped (cutime + cstime: a forking server's)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        total += sum(int(f) for f in fields[11:15])
    return total / ticks if pids else None


# -- building ---------------------------------------------------------------------

def _cached(out: Path, digest: str) -> bool:
    stamp = out.with_name(out.name + ".digest")
    return out.exists() and stamp.exists() and stamp.read_text() == digest


def _stamp(out: Path, digest: str) -> None:
    out.with_name(out.name + ".digest").write_text(digest)


def build_loadgen(out_dir: Path, sanitize: bool = False) -> Path:
    """tests/bench/loadgen.c, warning-free (-Werror), -O2 (or sanitized, for
    the self-test); built once, kept while the source is the same."""
    out = out_dir / ("loadgen-san" if sanitize else "loadgen")
    flags = [*buildmod.CFLAGS, "-Werror", *(buildmod.SANITIZE if sanitize else ["-O2"])]
    digest = buildmod._digest([buildmod.CC, *flags], [LOADGEN_SOURCE])
    if _cached(out, digest):
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    # built beside it, then renamed over it: another run (a second test
    # worker) may be running the old one, or building it at the same time
    tmp = out.with_name(f"{out.name}.{os.getpid()}")
    done = subprocess.run([buildmod.CC, *flags, "-o", str(tmp), str(LOADGEN_SOURCE)],
                          capture_output=True, text=True, timeout=buildmod.COMPILE_TIMEOUT)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"tests/bench/loadgen.c does not compile:\n{done.stderr}")
    os.replace(tmp, out)
    _stamp(out, digest)
    return out


def find_source(server: Server, roots: list[Path]) -> Path | None:
    for root in roots:
        src = root / server.chapter / f"{server.program}.c"
        if src.is_file():
            return src
    return None


def build_server(src: Path, out: Path, werror: bool) -> tuple[bool, str]:
    """A server, -O2 and unsanitized, compiled in the jail (a student's
    source is untrusted, its #includes too); kept while the source is the same."""
    files = [src, *sorted(src.parent.glob("*.h"))]
    flags = [*CFLAGS, *(["-Werror"] if werror else []), f"-I{src.parent}"]
    digest = buildmod._digest([buildmod.CC, *flags, str(src)], files)
    if _cached(out, digest):
        return True, ""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}")   # then renamed: as build_loadgen
    ok, log = buildmod.compile_jailed([buildmod.CC, *flags, "-o", str(tmp), str(src)], files,
                                      tmp, src.parent, [])
    if ok:
        os.replace(tmp, out)
        _stamp(out, digest)
    else:
        out.unlink(missing_ok=True)
    return ok, log


def prepare(servers: list[Server], ref_roots: list[Path], bin_dir: Path,
            student: tuple[Server, Path] | None = None) -> list[Row]:
    """The rows: each server built from the first root that has its source
    (or the outside tool found); a missing one gets its problem said."""
    jobs: list[tuple[Row, Path, Path, bool]] = []
    rows = []
    for s in servers:
        row = Row(s, s.name)
        rows.append(row)
        if s.argv:
            if not buildmod.have(s.argv[0]):
                row.problem = f"{s.argv[0]} is not installed"
            row.argv = list(s.argv)
            continue
        src = find_source(s, ref_roots)
        if src is None:
            row.problem = (f"no reference {s.chapter}/{s.program}.c (looked in "
                           + ", ".join(_shown(r) for r in ref_roots) + ")")
            continue
        jobs.append((row, src, bin_dir / "ref" / s.chapter / s.program, True))
    if student is not None:
        s, src_root = student
        row = Row(s, f"{s.name} (yours)")
        rows.append(row)
        src = src_root / s.chapter / f"{s.program}.c"
        if not src.is_file():
            row.problem = f"no {_shown(src)}"
        else:
            jobs.append((row, src, bin_dir / "student" / s.chapter / s.program, False))
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        built = list(pool.map(lambda j: build_server(j[1], j[2], j[3]), jobs))
    for (row, _, out, _), (ok, log) in zip(jobs, built):
        if ok:
            row.binary = str(out)
            row.argv = [str(out), "{port}"]
        else:
            first = "\n".join(log.strip().splitlines()[:8])
            row.problem = f"does not compile:\n{first}"
    return rows


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# -- one run ------------------------------------------------------------------------

def run_one(row: Row, n: int, plan: Plan, loadgen: Path, work: Path) -> Run:
    """Start the server, drive it with n connections, stop it."""
    rounds = plan.rounds(n)
    run = Run(row.label, row.server.chapter, n, rounds, "ok")
    group = ProcessGroup(cwd=work, limits=LIMITS)
    try:
        port = ports.free_port()
        argv = [a.replace("{port}", str(port)) for a in row.argv]
        files = {row.binary: Path(row.binary)} if row.binary else {}
        server = group.start(argv, jail={"files": files}, limit=plan.deadline + 30,
                             label=row.server.program)
        try:
            ports.wait_listening(server, port, 10)
        except (ProgramExited, WaitTimeout) as exc:
            server.wait_exit(1)
            err = server.stderr_text().strip().splitlines()
            return _failed(run, f"{exc}" + (f" (it said: {err[-1][:120]})" if err else ""))
        cmd = [str(loadgen), "-n", str(n), "-r", str(rounds), "-m", str(plan.min_size),
               "-M", str(plan.max_size), "-s", str(plan.seed), "-t", str(plan.deadline),
               "127.0.0.1", str(port)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=plan.deadline + 10, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return _failed(run, "the loadgen did not end (a bug in it)")
        try:
            run.result = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return _failed(run, f"the loadgen said: {done.stderr.strip()[:300]}")
        if done.returncode != 0:
            run.status = "errors"
            said = [ln for ln in done.stderr.splitlines() if ln.startswith("loadgen:")]
            run.why = _errors(run.result) + (f"; first: {said[0][9:]}" if said else "")
        run.server_mb, run.server_cpu = cage_usage(group)
        if not server.running() and server.returncode != 0:  # (04's exits 0 after 5)
            rc = server.returncode
            run.status = "errors"
            run.why = (run.why + "; " if run.why else "") + f"the server ended (status {rc})"
        return run
    finally:
        group.close()


def _failed(run: Run, why: str) -> Run:
    run.status, run.why = "failed", why
    return run


def _errors(result: dict) -> str:
    kinds = ("mismatch", "closed", "reset", "timeout", "connect")
    said = [f"{result.get(k, 0)} {k}" for k in kinds if result.get(k)]
    return (f"{result.get('established', 0)}/{result.get('conns', 0)} connected, "
            f"errors: " + ", ".join(said or ["none"]))


# -- showing -----------------------------------------------------------------------

def rate(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.1f}M/s"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k/s"
    return f"{v:.0f}/s"


def duration(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.2f}s"
    if us >= 1e3:
        return f"{us / 1e3:.1f}ms"
    return f"{us:.0f}us"


def cell(run: Run | None, what: str) -> str:
    if run is None:
        return ""
    if run.status == "skipped":
        return "-"
    if run.status == "failed":
        return "FAILED"
    if run.status == "errors":
        return "ERRORS"
    r = run.result
    if what == "rate":
        return f"{rate(r['rounds_per_s'])} {duration(r['latency_us']['p99'])}"
    if what == "server":
        mem = "?" if run.server_mb is None else f"{run.server_mb:.0f}MB"
        cpu = "?" if run.server_cpu is None else f"{run.server_cpu:.1f}s"
        return f"{mem} {cpu}"
    return duration(r["first_echo_us"]["p99"])


def table(rows: list[Row], ns: list[int], runs: list[Run], what: str) -> str:
    by = {(r.label, r.n): r for r in runs}
    head = ["server", *[f"N={n:,}" for n in ns]]
    lines = [[row.label, *[cell(by.get((row.label, n)), what) for n in ns]]
             for row in rows if not row.problem]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in
                     enumerate(zip(head, widths)))]
    out += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                      enumerate(zip(line, widths))) for line in lines]
    return "\n".join(out)


class Progress:
    """A bar redrawn in place on a terminal; one plain line per run elsewhere."""

    def __init__(self, total: int, tty: bool) -> None:
        self.total, self.done, self.tty = total, 0, tty

    def start(self, what: str) -> None:
        if self.tty:
            width = 30
            filled = round(width * self.done / self.total) if self.total else width
            bar = "[" + "#" * filled + "." * (width - filled) + "]"
            sys.stdout.write(f"\r\033[K{bar} {self.done}/{self.total} {what}")
            sys.stdout.flush()

    def finish(self, what: str, run: Run) -> None:
        self.done += 1
        if self.tty:
            if self.done == self.total:
                sys.stdout.write("\r\033[K")
                sys.stdout.flush()
            return
        if run.status == "ok":
            r = run.result
            said = (f"{rate(r['rounds_per_s'])}, p99 {duration(r['latency_us']['p99'])}, "
                    f"first echo p99 {duration(r['first_echo_us']['p99'])}")
        else:
            said = f"{run.status}: {run.why}"
        print(f"bench {self.done}/{self.total}: {what}: {said}", flush=True)


def plot(runs: list[Run], out_dir: Path) -> list[Path]:
    """throughput.png, latency_p99.png and first_echo_p99.png: log-x over N."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = [("throughput.png", "rounds per second (all connections)",
               lambda r: r["rounds_per_s"]),
              ("latency_p99.png", "p99 round latency (ms)",
               lambda r: r["latency_us"]["p99"] / 1000),
              ("first_echo_p99.png", "p99 wait for the first echo (ms)",
               lambda r: r["first_echo_us"]["p99"] / 1000)]
    labels = list(dict.fromkeys(r.label for r in runs))
    made = []
    for name, ylabel, value in charts:
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
        for label in labels:
            pts = [(r.n, value(r.result)) for r in runs if r.label == label and r.status == "ok"]
            if pts:
                ax.plot([p[0] for p in pts], [max(p[1], 1e-3) for p in pts], marker="o",
                        label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("concurrent connections N")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / name
        fig.savefig(path)
        plt.close(fig)
        made.append(path)
    return made


# -- the whole bench -------------------------------------------------------------------

def bench(rows: list[Row], ns: list[int], plan: Plan, loadgen: Path, out_dir: Path,
          tty: bool) -> list[Run]:
    runs: list[Run] = []
    # N by N, every server at each: the machine's noise, which comes and
    # goes, falls on all the servers of one column alike
    todo = [(row, n) for n in ns for row in rows if not row.problem]
    progress = Progress(len(todo), tty)
    work = jail.workdir("bench")
    if todo:
        # a warm-up run, not recorded: the first run after a build otherwise
        # pays for cold caches and a CPU still at its low clock
        run_one(todo[0][0], 1, Plan(total=1000, deadline=5), loadgen, work)
    # a server that did not start or echoed wrong: at which N (a larger N
    # would only wait for the same failure, up to the deadline each time)
    broken: dict[str, int] = {}
    for row, n in todo:
        what = f"{row.label} N={n:,}"
        progress.start(what)
        limit = row.server.max_conns
        if limit and n > limit:
            run = Run(row.label, row.server.chapter, n, plan.rounds(n), "skipped",
                      f"N > {limit:,}: {row.server.why_max}")
        elif row.label in broken:
            run = Run(row.label, row.server.chapter, n, plan.rounds(n), "skipped",
                      f"it did not pass at N = {broken[row.label]:,}")
        else:
            run = run_one(row, n, plan, loadgen, work)
            if run.status in ("failed", "errors"):
                broken[row.label] = n
        runs.append(run)
        progress.finish(what, run)
    return runs


def write_results(path: Path, runs: list[Run], plan: Plan, ns: list[int]) -> None:
    data = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "plan": {**asdict(plan), "ns": ns,
                 "rounds_per_conn": {str(n): plan.rounds(n) for n in ns}},
        "runs": [asdict(r) for r in runs],
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


def main(ns: list[int] | None = None, quick: bool = False, chapter: str | None = None,
         src: Path | None = None, refs: list[Path] | None = None,
         only: list[str] | None = None, out_dir: Path | None = None,
         netns: bool = True, plots: bool = True) -> int:
    from . import batch, deps

    servers = list(SERVERS)
    student = None
    if chapter:
        mine = [s for s in SERVERS if s.chapter == chapter]
        if not mine:
            print("make bench CHAPTER= takes one of: "
                  + ", ".join(s.chapter for s in SERVERS if s.chapter))
            return 2
        servers = mine
        student = (mine[0], src or ROOT / "chapters")
    if only:
        unknown = [o for o in only if o not in {s.name for s in SERVERS}]
        if unknown:
            print(f"No server {unknown[0]!r}. The servers: "
                  + ", ".join(s.name for s in SERVERS))
            return 2
        servers = [s for s in servers if s.name in only]

    missing = deps.ensure([], "bench") or jail.refusal(jail.find())
    if missing:
        print(missing)
        return 2
    if netns and os.geteuid() == 0:
        try:  # a loopback of our own: nothing else on it, nothing left behind
            batch.enter_netns()
        except OSError as exc:
            print(paint(f"(no network namespace of our own: {exc})", DIM))
    plan = QUICK if quick else FULL
    ns = ns or list(QUICK_NS if quick else FULL_NS)
    out_dir = out_dir or paths.build_dir() / "bench"
    bins = paths.build_dir() / "bench" / "bin"   # kept from run to run
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = [Path(p) for p in os.environ.get(REFS_ENV, "").split(":") if p]
    ref_roots = [ROOT / "solutions", *(refs or []), *extra]

    print(paint(f"Building the loadgen and {len(servers) + bool(student)} servers "
                "(-O2, unsanitized)...", BOLD), flush=True)
    try:
        loadgen = build_loadgen(bins)
    except RuntimeError as exc:
        print(paint(str(exc), RED))
        return 1
    rows = prepare(servers, ref_roots, bins, student)
    for row in rows:
        if row.problem:
            print(paint(f"skipped {row.label}: {row.problem}", YELLOW))
    if not any(not r.problem for r in rows):
        print("Nothing to run.")
        return 1
    print(paint(f"N = {', '.join(f'{n:,}' for n in ns)}; rounds per connection: "
                + ", ".join(f"{plan.rounds(n)}" for n in ns)
                + f"; payloads {plan.min_size}-{plan.max_size} B; deadline "
                  f"{plan.deadline} s per run", DIM), flush=True)
    t0 = time.monotonic()
    runs = bench(rows, ns, plan, loadgen, out_dir, sys.stdout.isatty())
    write_results(out_dir / "results.json", runs, plan, ns)

    print(paint("\nthroughput (round trips per second, all connections) and p99 round "
                "latency", BOLD))
    print(table(rows, ns, runs, "rate"))
    print(paint("\np99 wait for the first echo (from the start of the rounds)", BOLD))
    print(table(rows, ns, runs, "first"))
    print(paint("\nthe server's peak memory and CPU seconds (its processes and threads "
                "together)", BOLD))
    print(table(rows, ns, runs, "server"))
    seen = set()
    for r in runs:
        if r.status == "skipped" and (r.label, r.why) not in seen:
            seen.add((r.label, r.why))
            print(paint(f"  {r.label}: - where {r.why}", DIM))
        elif r.status in ("errors", "failed"):
            print(paint(f"  {r.label} N={r.n:,}: {r.status}: {r.why}", RED))
    if plots:
        try:
            made = plot(runs, out_dir)
            print(paint("\nplots: " + ", ".join(_shown(p) for p in made), DIM))
        except ImportError:
            print(paint("matplotlib is missing: no plots "
                        "(sudo apt-get install python3-matplotlib)", YELLOW))
    print(paint(f"results: {_shown(out_dir / 'results.json')} "
                f"({time.monotonic() - t0:.1f} s)", DIM))
    return 1 if any(r.status in ("errors", "failed") for r in runs) else 0
