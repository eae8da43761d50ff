"""Review questions: loading them, rendering them, grading answers.

Questions live in chapters/<chapter>/questions.toml (their one source: the
notes and exercises.md are generated from it). Answers are lines `qN: text`
in answers.txt; the key is solutions/<chapter>/answers.txt in the same form.
Grading forgives case, spacing, a trailing `()` on a function name and
surrounding quotes; it never crashes on a malformed file, and it says which
line is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04, Gradescope): python3-tomli
    import tomli as tomllib  # type: ignore[no-redef]

KINDS = ("choice", "word", "number", "set", "sequence")
FORMAT = {
    "choice": "one letter",
    "word": "a name",
    "number": "a whole number",
    "set": "names separated by commas, in any order",
    "sequence": "names separated by commas, in order",
}
_LINE = re.compile(r"^\s*q?\s*(\d+)\s*[:=.)]\s?(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: str
    hint: str
    choices: tuple[str, ...] = ()
    points: float = 1.0


class QuestionError(ValueError):
    """questions.toml is not as the maintainer guide describes."""


def load_questions(path: Path) -> list[Question]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QuestionError(f"{path}: {exc}") from exc
    out = []
    for n, q in enumerate(data.get("question", []), 1):
        qid = q.get("id", "")
        if qid != f"q{n}":
            raise QuestionError(f"{path}: question {n} has id {qid!r}, expected 'q{n}'")
        if q.get("kind") not in KINDS:
            raise QuestionError(f"{path}: {qid} kind must be one of {KINDS}")
        if not q.get("text", "").strip() or not q.get("hint", "").strip():
            raise QuestionError(f"{path}: {qid} needs a text and a hint")
        choices = tuple(q.get("choices", ()))
        if (q["kind"] == "choice") != bool(choices):
            raise QuestionError(f"{path}: {qid}: choices go with kind = 'choice' only")
        out.append(Question(qid, q["kind"], q["text"].strip(), q["hint"].strip(),
                            choices, float(q.get("points", 1))))
    return out


def render_markdown(questions: list[Question]) -> str:
    """The questions as Markdown, for the notes and exercises.md."""
    parts = []
    for q in questions:
        block = f"**{q.id}.** {q.text}"
        if q.choices:
            block += "\n\n" + "\n".join(f"   {chr(97 + i)}) {c}"
                                        for i, c in enumerate(q.choices))
        block += f"\n\n   *Answer:* {FORMAT[q.kind]}."
        parts.append(block)
    return "\n\n".join(parts)


# -- answers files --------------------------------------------------------

@dataclass
class AnswerSheet:
    answers: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (text, line)
    problems: list[str] = field(default_factory=list)
    missing: bool = False


def parse_sheet(path: Path, valid_ids: list[str] | None = None) -> AnswerSheet:
    sheet = AnswerSheet()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        sheet.missing = True
        sheet.problems.append(f"{path.name} is missing: it holds one line per question, "
                              "like `q1: listen`")
        return sheet
    except OSError as exc:
        sheet.missing = True
        sheet.problems.append(f"{path.name} cannot be read: {exc.strerror}")
        return sheet
    text = raw.decode("utf-8", "replace").lstrip("\ufeff")
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _LINE.match(stripped)
        if not m:
            shown = stripped if len(stripped) < 60 else stripped[:57] + "..."
            sheet.problems.append(f"{path.name} line {no}: `{shown}` is not of the form "
                                  "`qN: answer`")
            continue
        qid, value = f"q{int(m.group(1))}", m.group(2).strip()
        if valid_ids is not None and qid not in valid_ids:
            sheet.problems.append(f"{path.name} line {no}: this chapter has no question "
                                  f"{qid} (it has {valid_ids[0]}-{valid_ids[-1]})")
            continue
        if qid in sheet.answers:
            sheet.problems.append(f"{path.name} line {no}: {qid} is answered again "
                                  f"(first on line {sheet.answers[qid][1]}); the first "
                                  "answer counts")
            continue
        sheet.answers[qid] = (value, no)
    return sheet


# -- grading ----------------------------------------------------------------

def _norm(item: str) -> str:
    item = item.strip().strip("`'\"").strip().lower()
    item = re.sub(r"\(\s*\)$", "", item).rstrip(".").strip()
    return re.sub(r"\s+", " ", item)


def _items(text: str) -> list[frozenset[str]]:
    """The items of a list answer, each a set of alternatives (`a|b`)."""
    parts = re.split(r",|->|→|;", text)
    return [frozenset(_alternatives(p)) for p in parts if _alternatives(p)]


def _alternatives(key_item: str) -> set[str]:
    return {_norm(a) for a in key_item.split("|") if _norm(a)}


def _all_in(given: str, key: set[str]) -> bool:
    """A given answer may list alternatives too (the key graded as an
    answer does): every one of them must be right, so guessing never pays."""
    alts = _alternatives(given)
    return bool(alts) and alts <= key


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str


def grade(q: Question, given: str, key: str) -> Verdict:
    """Compare one answer with the key; a wrong answer gets a helpful message
    that does not give the answer away."""
    if not given.strip():
        return Verdict(False, f"{q.id} has no answer yet ({FORMAT[q.kind]}).")
    wrong = f"{q.id}: `{given.strip()}` is not right. Hint: {q.hint}"
    if q.kind == "choice":
        m = re.fullmatch(r"\(?\s*([a-z])\s*\)?\.?", given.strip().lower())
        letters = [chr(97 + i) for i in range(len(q.choices))]
        if not m or m.group(1) not in letters:
            return Verdict(False, f"{q.id}: answer with one letter, {letters[0]} to "
                                  f"{letters[-1]} (got `{given.strip()}`).")
        return Verdict(m.group(1) in _alternatives(key), wrong)
    if q.kind == "number":
        try:
            values = {int(v.strip().rstrip("."), 10) for v in given.split("|")}
        except ValueError:
            return Verdict(False, f"{q.id}: answer with a whole number in decimal "
                                  f"(got `{given.strip()}`).")
        return Verdict(values <= {int(a) for a in _alternatives(key)}, wrong)
    if q.kind == "word":
        return Verdict(_all_in(given, _alternatives(key)), wrong)
    got, want = _items(given), [_alternatives(k) for k in key.split(",")]
    if q.kind == "set":
        hits = sum(1 for g in got if any(g <= w for w in want))
        matched = sum(1 for w in want if any(g <= w for g in got))
        if hits == len(got) == matched == len(want):
            return Verdict(True, "")
        return Verdict(False, f"{wrong} ({hits} of your {len(got)} are right; "
                              f"the answer has {len(want)}.)")
    # sequence
    if len(got) == len(want) and all(g <= w for g, w in zip(got, want)):
        return Verdict(True, "")
    known = sum(1 for g in got if any(g <= w for w in want))
    if known == len(want) == len(got):
        return Verdict(False, f"{wrong} (the right names, not in the right order.)")
    return Verdict(False, f"{wrong} ({len(got)} given, {len(want)} expected.)")
