"""The hashed answer keys of the handout grade exactly as the plain keys do."""

import json
import re

import pytest

from harness.answers import Question, grade, load_questions
from harness.chapters import CHAPTERS, ROOT
from harness.keys import HashedKey, KeyFileError, PlainKey, load_key, make_hashed_key


def _first_alternatives(key: str) -> str:
    return ", ".join(item.split("|")[0].strip() for item in key.split(","))


def _candidates(q: Question, key: str) -> list[str]:
    """Right answers in several spellings, and wrong ones of every sort."""
    items = [i.strip() for i in key.split(",")]
    out = ["", "  ", "zzz", "listen|accept", "12", "twelve", "a", "(b)", "Z", "a, b",
           _first_alternatives(key), _first_alternatives(key).upper(), key]
    out += [alt.strip() + "()" for alt in items[0].split("|")]
    if q.kind == "choice":
        out += [chr(97 + i) for i in range(len(q.choices) + 1)]
    if q.kind == "number":
        n = int(items[0].split("|")[0])
        out += [str(n + 1), str(n - 1), f" {n}. ", f"{n}|{n + 1}"]
    if len(items) > 1:
        firsts = [i.split("|")[0] for i in items]
        out += [", ".join(reversed(firsts)), ", ".join(firsts[:-1]),
                ", ".join(firsts + ["fin"]), " -> ".join(firsts), "; ".join(firsts),
                ", ".join(firsts[1:] + firsts[:1])]
        out += [", ".join(i.split("|")[-1] for i in items)]
        out += [", ".join("|".join(i.split("|")[:2]) for i in items)]   # two guesses each
    return out


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_hashed_key_agrees_with_the_plain_key(chapter):
    questions = load_questions(ROOT / "chapters" / chapter / "questions.toml")
    key_file = ROOT / "solutions" / chapter / "answers.txt"
    plain = PlainKey.load(key_file)
    hashed_data = make_hashed_key(chapter, questions, key_file, salt="fixed-for-the-test")
    hashed = HashedKey(hashed_data["salt"], hashed_data["questions"])
    checked = 0
    for q in questions:
        for given in _candidates(q, plain.answers[q.id]):
            want, got = grade(q, given, plain.answers[q.id]), hashed.grade(q, given)
            assert (got.ok, got.message) == (want.ok, want.message), (q.id, given)
            checked += 1
        assert hashed.grade(q, _first_alternatives(plain.answers[q.id])).ok, q.id
    assert checked > 10 * len(questions)


def test_hashed_key_reveals_no_answer():
    for chapter in CHAPTERS:
        questions = load_questions(ROOT / "chapters" / chapter / "questions.toml")
        data = make_hashed_key(chapter, questions, ROOT / "solutions" / chapter / "answers.txt")
        text = json.dumps(data["questions"])
        # nothing but hex digests, counts and field names
        leftovers = re.sub(r'"[0-9a-f]{64}"|"(q\d+|accepted|unordered|names|items)"|\d+|[\s\[\]{}:,]',
                           "", text)
        assert leftovers == "", leftovers[:200]
        assert set(data) == {"format", "chapter", "about", "salt", "questions"}


def test_each_key_file_gets_its_own_salt():
    questions = load_questions(ROOT / "chapters" / "01_hello" / "questions.toml")
    key = ROOT / "solutions" / "01_hello" / "answers.txt"
    a, b = make_hashed_key("01_hello", questions, key), make_hashed_key("01_hello", questions, key)
    assert a["salt"] != b["salt"] and a["questions"]["q2"] != b["questions"]["q2"]


def test_load_key_prefers_the_plain_key_then_the_hashed_one(tmp_path):
    questions = load_questions(ROOT / "chapters" / "01_hello" / "questions.toml")
    (tmp_path / "tests" / "keys").mkdir(parents=True)
    assert load_key(tmp_path, "01_hello") is None
    data = make_hashed_key("01_hello", questions, ROOT / "solutions" / "01_hello" / "answers.txt")
    (tmp_path / "tests" / "keys" / "01_hello.json").write_text(json.dumps(data))
    assert isinstance(load_key(tmp_path, "01_hello"), HashedKey)
    (tmp_path / "solutions" / "01_hello").mkdir(parents=True)
    (tmp_path / "solutions" / "01_hello" / "answers.txt").write_text("q1: x\n")
    assert isinstance(load_key(tmp_path, "01_hello"), PlainKey)


def test_a_broken_hashed_key_says_so(tmp_path):
    (tmp_path / "tests" / "keys").mkdir(parents=True)
    (tmp_path / "tests" / "keys" / "01_hello.json").write_text("{not json")
    with pytest.raises(KeyFileError):
        load_key(tmp_path, "01_hello")
