"""Review questions of every chapter: one test per question.

The questions come from the instructor's copy (chapters/<ch>/questions.toml
in this repository) and the key from solutions/<ch>/answers.txt, or, in a
student's handout (no solutions/), from the hashed key tests/keys/<ch>.json
(harness/keys.py); only the answers file comes from the submission."""

from __future__ import annotations

from functools import lru_cache

import pytest

from harness.answers import QuestionError, load_questions, parse_sheet
from harness.chapters import CHAPTERS, ROOT
from harness.keys import HashedKey, KeyFileError, PlainKey, load_key

CHAPTERS = CHAPTERS  # noqa: PLW0127 - every chapter has review questions


@lru_cache(maxsize=None)
def _questions(chapter: str):
    return load_questions(ROOT / "chapters" / chapter / "questions.toml")


@lru_cache(maxsize=None)
def _key(chapter: str) -> PlainKey | HashedKey | None:
    return load_key(ROOT, chapter)


def cases(ex):
    try:
        return [(q.id, q) for q in _questions(ex.chapter)]
    except QuestionError as exc:  # reported by the test, not as a crash
        return [("questions", exc)]


@pytest.mark.role("review")
def test_review(prog):
    question = prog.case
    if isinstance(question, QuestionError):
        pytest.fail(f"the chapter's questions cannot be read: {question}", pytrace=False)
    ids = [q.id for q in _questions(prog.ex.chapter)]
    sheet = parse_sheet(prog.src_dir / "answers.txt", ids)
    where = f"{prog.ex.chapter}/answers.txt"
    if sheet.missing:
        pytest.fail(f"{where}: {sheet.problems[0]}", pytrace=False)
    try:
        key = _key(prog.ex.chapter)
    except KeyFileError as exc:
        pytest.fail(f"the answer key cannot be read: {exc} (a problem of the workbook, "
                    "not of your answers)", pytrace=False)
    if key is None:
        pytest.fail(f"there is no answer key for {prog.ex.chapter}: neither "
                    f"solutions/{prog.ex.chapter}/answers.txt nor tests/keys/"
                    f"{prog.ex.chapter}.json (a problem of the workbook, not of your "
                    "answers)", pytrace=False)
    if not key.has(question.id):
        pytest.fail(f"the answer key has no {question.id} (a problem of the workbook, "
                    "not of your answers)", pytrace=False)
    given, line = sheet.answers.get(question.id, ("", 0))
    verdict = key.grade(question, given)
    if not verdict.ok:
        extra = "".join(f"\n  note: {p}" for p in sheet.problems)
        at = f" (line {line})" if line else " (no line for it yet)"
        pytest.fail(f"{where}{at}: {verdict.message}{extra}", pytrace=False)
