"""Points: what each test and review question is worth, and what was earned.

Points are set in one place per chapter, `chapters/<chapter>/points.toml`
of the instructor's repository (the one the harness runs from, never the
submission's copy):

    [default]
    test = 1          # every harness test and Check test not listed below
    [tests]
    test_echo_server_survives_reset = 3      # by test function: every case and variant
    "test_wire[test_checksum_carry_folding]" = 2   # or one case of it
    [review]
    q3 = 2            # a review question (default: its `points` in questions.toml, or 1)

A file that is absent gives the defaults. A test run once per *case* (a
review question, a Check test) counts once per case; a parametrized test
(several variants with the same test and case, e.g. SIGTERM and SIGINT)
counts once and earns its points only if every variant passes. A test that
did not run for an exercise (its file is missing, it does not compile)
still counts as possible points, earned 0; a test skipped because this
machine cannot run it (chapter 06's lossy network needs root) counts
neither way.
"""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04, Gradescope): python3-tomli
    import tomli as tomllib  # type: ignore[no-redef]
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .results import read_results
from .answers import QuestionError, load_questions
from .chapters import ROOT


@dataclass(frozen=True)
class Scored:
    submission: str
    exercise: str          # "<chapter>/<name>"
    test: str              # the test function, e.g. "test_review"
    case: str              # "q3", a Check test's name, or ""
    outcome: str           # "passed" | "failed" | "skipped"
    message: str
    points: float          # earned
    max_points: float
    duration: float = 0.0  # seconds, all variants together

    @property
    def chapter(self) -> str:
        return self.exercise.split("/", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.test}[{self.case}]" if self.case else self.test


class PointsError(ValueError):
    """A points.toml that is not as described above."""


@dataclass(frozen=True)
class Points:
    """One chapter's points.toml, read."""
    default: float = 1.0
    tests: tuple[tuple[str, float], ...] = ()
    review: tuple[tuple[str, float], ...] = ()
    question_points: tuple[tuple[str, float], ...] = ()   # from questions.toml

    def for_test(self, test: str, case: str) -> float:
        tests = dict(self.tests)
        if test == "test_review" and case:
            review, asked = dict(self.review), dict(self.question_points)
            return review.get(case, asked.get(case, 1.0))
        if case and f"{test}[{case}]" in tests:
            return tests[f"{test}[{case}]"]
        return tests.get(test, self.default)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PointsError(f"{where} must be a number of points, 0 or more (got {value!r})")
    return float(value)


def parse_points(text: str, where: str = "points.toml") -> tuple[float, dict[str, float],
                                                                  dict[str, float]]:
    """(default, {test: points}, {question: points}) from a points.toml text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PointsError(f"{where}: {exc}") from exc
    unknown = set(data) - {"default", "tests", "review", "visibility"}
    if unknown:
        raise PointsError(f"{where}: unknown table(s) {sorted(unknown)} "
                          "(expected [default], [tests], [review], [visibility])")
    for k, v in data.get("visibility", {}).items():
        if v not in VISIBILITIES:
            raise PointsError(f"{where}: [visibility] {k} must be one of "
                              f"{', '.join(VISIBILITIES)} (got {v!r})")
    default = data.get("default", {})
    extra = set(default) - {"test"}
    if extra:
        raise PointsError(f"{where}: [default] knows only `test` (got {sorted(extra)})")
    dflt = _number(default.get("test", 1), f"{where}: [default] test")
    tests = {k: _number(v, f"{where}: [tests] {k}") for k, v in data.get("tests", {}).items()}
    review = {k: _number(v, f"{where}: [review] {k}") for k, v in data.get("review", {}).items()}
    return dflt, tests, review


# Gradescope's words for when a student sees a test
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@lru_cache(maxsize=None)
def _visibility_table(chapter: str, root: Path) -> dict[str, str]:
    path = root / "chapters" / chapter / "points.toml"
    try:
        return dict(tomllib.loads(path.read_text(encoding="utf-8")).get("visibility", {}))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def visibility(s: "Scored", root: Path = ROOT) -> str:
    """When a student sees this test on Gradescope, from the chapter's
    points.toml: `[visibility]` with keys `default`, a test's name (all its
    cases), `test[case]` for one case, or `review` for every question; the
    values are Gradescope's (VISIBILITIES). Without it: visible."""
    table = _visibility_table(s.chapter, root)
    for key in (f"{s.test}[{s.case}]" if s.case else "", s.test,
                "review" if s.test == "test_review" else "", "default"):
        if key and key in table:
            return table[key]
    return "visible"


@lru_cache(maxsize=None)
def chapter_points(chapter: str, root: Path = ROOT) -> Points:
    """The points of one chapter (defaults where points.toml says nothing)."""
    path = root / "chapters" / chapter / "points.toml"
    dflt, tests, review = 1.0, {}, {}
    if path.exists():
        dflt, tests, review = parse_points(path.read_text(encoding="utf-8"), str(path))
    try:
        asked = {q.id: q.points for q in load_questions(root / "chapters" / chapter /
                                                        "questions.toml")}
    except QuestionError:
        asked = {}
    return Points(dflt, tuple(tests.items()), tuple(review.items()), tuple(asked.items()))


def score(results_json: Path, root: Path = ROOT) -> list[Scored]:
    """Every graded test of every submission in a --results file, with its
    points; in the order the tests were collected. A missing or unreadable
    file gives []; a session that was killed, the tests it finished."""
    data = read_results(Path(results_json))
    if data is None:
        return []
    groups: dict[tuple[str, str, str, str], list[dict]] = {}
    for t in sorted(data.get("tests", []), key=lambda t: t.get("order", 0)):
        if "submission" not in t or "exercise" not in t:
            continue   # the harness's own tests
        k = (t["submission"], t["exercise"], t.get("test", ""), t.get("case", ""))
        groups.setdefault(k, []).append(t)
    out = []
    for (sub, ex, test, case), variants in groups.items():
        worth = chapter_points(ex.split("/", 1)[0], root).for_test(test, case)
        failed = [v for v in variants if v.get("outcome") == "failed"]
        skipped = [v for v in variants if v.get("outcome") == "skipped"]
        if failed:
            outcome = "failed"
            if len(variants) > 1:
                message = "\n\n".join(f"{_variant(v)}:\n{v.get('message', '')}"
                                      for v in failed)
            else:
                message = failed[0].get("message", "")
        elif skipped:
            outcome, message = "skipped", skipped[0].get("message", "")
        else:
            outcome, message = "passed", ""
        # a test skipped here (it needs what this machine cannot give, e.g. a
        # network namespace of its own) counts neither way: not earned, not possible
        out.append(Scored(sub, ex, test, case, outcome, message,
                          worth if outcome == "passed" else 0.0,
                          0.0 if outcome == "skipped" else worth,
                          sum(float(v.get("duration", 0.0)) for v in variants)))
    return out


def _variant(t: dict) -> str:
    """The variant's parameters from its node id: `test_x[student:ch-SIGINT]` -> SIGINT."""
    nodeid = t.get("nodeid", "")
    inside = nodeid[nodeid.find("[") + 1:-1] if "[" in nodeid else nodeid
    return inside.rsplit("-", 1)[-1] if "-" in inside else inside


def total(scored: list[Scored]) -> tuple[float, float]:
    """(earned, possible) of these scored tests: the one place points are added up."""
    return (round(sum(s.points for s in scored), 4), round(sum(s.max_points for s in scored), 4))


def by_chapter(scored: list[Scored]) -> dict[str, dict[str, tuple[float, float]]]:
    """submission -> chapter -> (earned, possible)."""
    groups: dict[str, dict[str, list[Scored]]] = defaultdict(lambda: defaultdict(list))
    for s in scored:
        groups[s.submission][s.chapter].append(s)
    return {sub: {ch: total(ss) for ch, ss in chs.items()} for sub, chs in groups.items()}


def by_exercise(scored: list[Scored]) -> dict[str, dict[str, tuple[float, float]]]:
    """submission -> exercise key -> (earned, possible)."""
    groups: dict[str, dict[str, list[Scored]]] = defaultdict(lambda: defaultdict(list))
    for s in scored:
        groups[s.submission][s.exercise].append(s)
    return {sub: {ex: total(ss) for ex, ss in exs.items()} for sub, exs in groups.items()}


def test_name(s: Scored) -> str:
    """A stable display name: "<chapter>/<exercise> <test>[<case>]"."""
    return f"{s.exercise} {s.label}"


def fmt(points: float) -> str:
    """3.0 -> "3", 2.5 -> "2.5"."""
    text = f"{points:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
